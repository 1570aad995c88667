"""The deploy repository's seed bundle: the zip the CodeCommit repository's first commit comes from.

Plain files come from `seedcode/modeldeploy/` as they are; files that depend on the render options
or on the names in `contract.py` come from Jinja2 sources in `templates/modeldeploy/` (`*.j2`),
rendered with `StrictUndefined` so a missing variable is an error, not an empty string.

The zip is deterministic (sorted entries, fixed timestamps and permissions, stored uncompressed so the
bytes do not depend on the zlib build): the same inputs give the same sha256, which names the
bundle's key in the seed bucket, so a changed bundle never overwrites the one older products use.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from troposphere import Template
from troposphere.s3 import Bucket

from generator import contract
from generator.config import LaunchRole, RenderConfig
from generator.manifest import sha256
from generator.naming import BootstrapNames, PhysicalName, Stage
from generator.product.codebuild import build_environment, test_environment
from generator.shipped import SEED_DIR, TEMPLATE_DIR

TEMPLATE_SUFFIX = ".j2"

#: The oldest timestamp a zip entry can hold; any fixed value makes the archive reproducible.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: Regular file, rw-r--r--: scripts are run with `python`, so nothing needs the executable bit.
FILE_MODE = 0o100644
_SKIPPED = ("__pycache__", ".pyc", ".DS_Store")

#: The CodeBuild runtime both buildspecs install (aws/codebuild/standard:7.0 offers 3.12).
PYTHON_VERSION = "3.12"
#: Folder (in the build's source folder) that build.py writes BuildArtifact's files into.
EXPORT_DIR = "export"
#: Report group (CodeBuild prefixes it with the test project's name) and the JUnit file test.py writes.
REPORT_GROUP = "endpoint-tests"
REPORT_DIR = "test-results"
REPORT_FILE = "endpoint-tests.xml"

BUNDLE_KEY_PREFIX = "mlops-gen/seedcode"


class SeedError(RuntimeError):
    """The seed sources are inconsistent (a file both plain and templated)."""


def _shown(name: PhysicalName) -> str:
    """A name pattern as users read it: `sagemaker-{SageMakerProjectName}-...`."""
    return name.pattern.replace("${", "{")


def _env_names(variables: Mapping[str, Any]) -> list[str]:
    return sorted(variables)


def seed_context(cfg: RenderConfig) -> dict[str, Any]:
    """Everything the Jinja2 sources may use (and nothing else: StrictUndefined)."""
    names = cfg.names
    # The environment the rendered CodeBuild projects declare, built from the same functions.
    from generator.product.parameters import add_parameters

    params = add_parameters(Template(), cfg, "unused")
    bucket = Bucket("ArtifactBucket")
    regions = list(cfg.deploy_regions)
    regions_text = ", ".join(f"`{r}`" for r in regions)
    return {
        "branch": cfg.branch,
        "regions_text": regions_text,
        "target_role_name": cfg.target_role_name,
        "capture_bucket_stem": BootstrapNames(cfg.name_prefix).data_capture_bucket_stem,
        "creates_group": cfg.launch_role is LaunchRole.STANDARD,
        "names": {
            "pipeline": _shown(names.pipeline),
            "build_project": _shown(names.build_project),
            "test_project": _shown(names.test_project),
            "stack_set_staging": _shown(names.stack_set(Stage.STAGING)),
            "stack_set_prod": _shown(names.stack_set(Stage.PROD)),
            "endpoint_staging": _shown(names.endpoint(Stage.STAGING)),
            "endpoint_prod": _shown(names.endpoint(Stage.PROD)),
        },
        "build_project": _shown(names.build_project),
        "test_project": _shown(names.test_project),
        "deploy_projects": " and ".join(_shown(names.deploy_project(s)) for s in Stage),
        "build_artifact": contract.BUILD_ARTIFACT,
        "stage_names": " and ".join(s.value for s in Stage),
        "python_version": PYTHON_VERSION,
        "export_dir": EXPORT_DIR,
        "export_template": contract.EXPORT_TEMPLATE,
        "export_parameters": [contract.EXPORT_PARAMETERS[s] for s in Stage],
        "export_files": [contract.EXPORT_TEMPLATE, *(contract.EXPORT_PARAMETERS[s] for s in Stage)],
        "config_files": [contract.STAGE_CONFIG[s] for s in Stage],
        "report_group": REPORT_GROUP,
        "report_dir": REPORT_DIR,
        "report_file": REPORT_FILE,
        "build_namespace": contract.Variables.BUILD_NAMESPACE,
        "build_variables": list(contract.Variables.BUILD),
        "build_variables_file": contract.Variables.BUILD_FILE,
        "test_namespace": contract.Variables.TEST_NAMESPACE,
        "test_variables": list(contract.Variables.TEST),
        "test_variables_file": contract.Variables.TEST_FILE,
        "build_env": _env_names(build_environment(cfg, params, bucket)),
        "test_env": _env_names(test_environment(cfg, params)),
    }


def _files_under(folder: Path) -> dict[str, Path]:
    """Relative POSIX path -> file, skipping caches."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part in _SKIPPED or part.endswith(".pyc") for part in path.parts):
            found[path.relative_to(folder).as_posix()] = path
    return found


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def bundle_files(cfg: RenderConfig) -> dict[str, bytes]:
    """Path in the repository -> content, for every file of the seed bundle."""
    files = {path: source.read_bytes() for path, source in _files_under(SEED_DIR).items()}
    env = _environment()
    context = seed_context(cfg)
    for name in _files_under(TEMPLATE_DIR):
        if not name.endswith(TEMPLATE_SUFFIX):
            continue
        target = name.removesuffix(TEMPLATE_SUFFIX)
        if target in files:
            raise SeedError(f"{target} is both in {SEED_DIR} and templated in {TEMPLATE_DIR}")
        files[target] = env.get_template(name).render(context).encode("utf-8")
    return dict(sorted(files.items()))


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A reproducible zip of `files`: sorted names, fixed dates and modes, no compression."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so the mode below is what unzip applies
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def build_bundle(cfg: RenderConfig) -> bytes:
    """The seed bundle's bytes for `cfg`."""
    return zip_bytes(bundle_files(cfg))


def bundle_key(bundle: bytes) -> str:
    """The bundle's key in the seed bucket, named by its content (publish uploads it there)."""
    return f"{BUNDLE_KEY_PREFIX}/{sha256(bundle)[:16]}/{contract.SEED_BUNDLE}"
