"""The SageMaker SDK as the tests run it: telemetry off through a config file, that config validated once.

With a config file the SDK validates it against its JSON schema on every config lookup (docs/aws-facts-additions.md,
"SageMaker Python SDK (v3) cost with a config file"): about 180 times per iris pipeline build, 80% of its CPU.
`validate_once` remembers the (instance, schema) pairs that passed; validation is a pure function of both, and a
failure is never remembered. Used by tests/test_iris_pipeline.py and, through `python -m tests.sdk_kernel`, by the
notebook's kernel in tests/test_notebook.py.
"""

from __future__ import annotations

import json
from typing import Any

#: The SDK defaults config of the tests: no telemetry call (aws-facts: the offline settings).
TELEMETRY_OPT_OUT = "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"


def validate_once(validate: Any) -> Any:
    """`jsonschema.validate` that validates each (instance, schema) pair until it passes once."""
    passed: set[tuple[str, int]] = set()

    def once(instance: Any, schema: Any, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:  # another validator class or format checker: not remembered
            validate(instance, schema, *args, **kwargs)
            return
        key = (json.dumps(instance, sort_keys=True, default=repr), id(schema))
        if key not in passed:
            validate(instance, schema)  # raises ValidationError as the SDK expects
            passed.add(key)

    return once


def patch_jsonschema() -> None:
    """Install `validate_once` for the rest of this process (the notebook's kernel)."""
    import jsonschema

    jsonschema.validate = validate_once(jsonschema.validate)
