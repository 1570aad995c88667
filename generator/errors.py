"""Error hierarchy: every error a user can cause names the flag and the rule it broke."""

from __future__ import annotations


class MlopsGenError(Exception):
    """Base class for errors mlops-gen reports without a traceback."""

    exit_code = 1


class InputError(MlopsGenError):
    """Bad user input (a flag, a config-file key or an environment variable): exit code 2."""

    exit_code = 2

    def __init__(self, flag: str, rule: str) -> None:
        self.flag = flag
        self.rule = rule
        super().__init__(f"{flag}: {rule}")


class ValidationFailed(MlopsGenError):
    """A rendered template did not pass validation (cfn-lint or our own rules)."""

    exit_code = 1


class AwsCallFailed(MlopsGenError):
    """An AWS call failed (the service refused it, or an operation did not finish): exit code 1."""

    exit_code = 1
