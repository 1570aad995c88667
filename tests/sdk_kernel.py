"""The notebook test's kernel: ipykernel, with the SageMaker SDK's config validated once (tests/sdk_config.py)."""

from ipykernel import kernelapp

from tests.sdk_config import patch_jsonschema

if __name__ == "__main__":
    patch_jsonschema()
    kernelapp.launch_new_instance()
