"""Publish's errors: every AWS failure becomes one PublishError naming the step, the problem and the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from generator.errors import MlopsGenError

if TYPE_CHECKING:
    from generator.live.publish.state import Run

ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403"})
BAD_CREDENTIALS = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch"})
NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


class PublishError(MlopsGenError):
    """An AWS problem during one step: exit 1 with one line naming the step, the problem and the fix."""

    exit_code = 1

    def __init__(self, step: str, problem: str, fix: str) -> None:
        self.step = step
        self.problem = problem
        self.fix = fix
        super().__init__(f"publish step '{step}': {problem}. Fix: {fix}")


def error_code(exc: ClientError) -> str:
    """The AWS error code of `exc` ("" if the response has none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


#: What boto raises that publish explains; anything else is a bug and shows its traceback.
AWS_FAILURES = (NoCredentialsError, EndpointConnectionError, ClientError)


def as_publish_error(
    step: str, exc: NoCredentialsError | EndpointConnectionError | ClientError, run: Run
) -> PublishError:
    """The PublishError for what boto raised during `step`."""
    if isinstance(exc, NoCredentialsError):
        return PublishError(
            step,
            "no AWS credentials found",
            "pass --profile, set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure`",
        )
    if isinstance(exc, EndpointConnectionError):
        return PublishError(
            step, f"cannot reach {exc.kwargs.get('endpoint_url')}", "check --endpoint-url, --region and the network"
        )
    return _client_error(step, exc, run)


def _client_error(step: str, exc: ClientError, run: Run) -> PublishError:
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))
    action = f"{_service_of(exc.operation_name, run)}:{exc.operation_name}"
    who = run.caller or "the caller"
    if code in ACCESS_DENIED:
        return PublishError(step, f"access denied to {action}", f"allow {action} for {who} and run publish again")
    if code in BAD_CREDENTIALS:
        return PublishError(step, f"the credentials were refused ({code})", "refresh them (aws sso login, or new keys)")
    if code == "NoSuchBucket":
        bucket, region = run.opts.bucket, run.plan.region
        return PublishError(
            step,
            f"bucket {bucket} does not exist",
            f"create it in {region} (aws s3 mb s3://{bucket} --region {region})",
        )
    return PublishError(step, f"{action} failed: {code}: {message}", _fix_for(code, action, who))


#: AWS error codes -> what to do about them (every code not here: read AWS's message and run again).
_FIXES = {
    "ResourceNotFound": "check the name or id the step names (it must exist in this account and region)",
    "ResourceNotFoundException": "check the name or id the step names (it must exist in this account and region)",
    "ValidationException": "AWS refused the request's values: correct the flag or render option the message names",
    "InvalidParametersException": "AWS refused the request's values: correct the flag or render option it names",
    "LimitExceededException": "delete unused ones or raise the quota in Service Quotas, then run publish again",
    "ThrottlingException": "wait a minute and run publish again (it resumes where it stopped)",
    "Throttling": "wait a minute and run publish again (it resumes where it stopped)",
    "DuplicateResourceException": "rename or delete the existing one, or publish under its name",
}


def _fix_for(code: str, action: str, who: str) -> str:
    fix = _FIXES.get(code)
    if fix is not None:
        return fix
    return (
        f"read AWS's message for {action} above, correct what it names (as {who}), and run publish again: "
        "it resumes where it stopped"
    )


def _service_of(operation: str, run: Run) -> str:
    """The IAM service prefix of `operation` (for "allow s3:PutObject"): the client that has it."""
    for client in run.clients.all():
        if operation in client.meta.service_model.operation_names:
            return str(client.meta.service_model.service_name)
    return "aws"
