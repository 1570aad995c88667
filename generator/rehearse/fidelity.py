"""Where moto 5.2.5 differs from AWS in ways the rehearsal would otherwise hide, and the fixes.

Each patch makes moto behave as AWS documents, only while a rehearsal runs (the server runs in this
process, so patching its classes patches the server), and is undone afterwards. The rehearsal's
report lists them (`NOTES`) so nobody mistakes a patched behaviour for moto's own. One gap is not a
patch but a check the stack-set runner makes: `model_role_problems`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

NOTES = (
    "CloudFormation names an AWS::SageMaker::Endpoint after its EndpointName property; moto 5.2.5 names it "
    "after the stack. Patched to honour EndpointName.",
    "UpdateStackSet updates every stack instance's resources; moto 5.2.5 only records the new template and "
    "parameters. Patched to re-create each instance's resources from them, which ends where CloudFormation's "
    "update ends (same endpoint name, new endpoint config and model), without its in-place steps.",
    "sts:AssumeRole of a role that does not exist is denied by AWS; moto 5.2.5 grants it. Patched to answer "
    "AccessDenied when the role is not in the target account.",
    "SageMaker CreateModel fails when it cannot assume the model's execution role; moto 5.2.5 does not check. "
    "After each stack-set deployment the rehearsal checks (iam:GetRole) that every model's execution role "
    "exists in its account, and counts a missing one as a failed stack instance.",
)


def _honour_endpoint_name() -> Any:
    from moto.sagemaker.models import FakeEndpoint

    return mock.patch.object(FakeEndpoint, "cloudformation_name_type", staticmethod(lambda: "EndpointName"))


def _update_instances() -> Any:
    from moto.cloudformation.models import StackInstance, StackSet

    original = StackSet.update

    def update(self: Any, *args: Any, **kwargs: Any) -> Any:
        operation = original(self, *args, **kwargs)
        # Instances created later must use the new template and parameters too (moto keeps old copies).
        self.instances.template = self.template
        self.instances.parameters = self.parameters
        for index, old in enumerate(self.instances.stack_instances):
            old.delete()
            self.instances.stack_instances[index] = StackInstance(
                account_id=old.account_id,
                region_name=old.region_name,
                stackset_id=self.id,
                stack_name=old.stack_name,
                name=self.name,
                template=self.template,
                parameters=dict(self.parameters),  # type: ignore[arg-type]  # moto accepts a dict too
                permission_model=self.permission_model,
            )
        return operation

    return mock.patch.object(StackSet, "update", update)


def _deny_missing_roles() -> Any:
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    original = STSBackend.assume_role

    def assume_role(self: Any, region_name: str, role_session_name: str, role_arn: str, *args: Any, **kw: Any) -> Any:
        parts = role_arn.split(":")
        if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
            iam = iam_backends[parts[4]][parts[1]]
            if not any(role.arn == role_arn for role in iam.get_roles()):
                raise STSClientError(
                    "AccessDenied", f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
                )
        return original(self, region_name, role_session_name, role_arn, *args, **kw)

    return mock.patch.object(STSBackend, "assume_role", assume_role)


@contextmanager
def aws_behaviour() -> Iterator[None]:
    """Apply every patch for the duration of a rehearsal."""
    with ExitStack() as stack:
        for patch in (_honour_endpoint_name(), _update_instances(), _deny_missing_roles()):
            stack.enter_context(patch)
        yield


def model_role_problems(aws: Any, session: Any, account: str, region: str) -> list[str]:
    """Models in `account`/`region` whose execution role is missing there (SageMaker's CreateModel check)."""
    sm = aws.client("sagemaker", session, region)
    iam = aws.client("iam", session, region)
    problems: list[str] = []
    for page in sm.get_paginator("list_models").paginate():
        for summary in page["Models"]:
            role_arn = sm.describe_model(ModelName=summary["ModelName"]).get("ExecutionRoleArn", "")
            role_name = role_arn.rsplit("/", 1)[-1]
            try:
                iam.get_role(RoleName=role_name)
            except iam.exceptions.NoSuchEntityException:
                problems.append(
                    f"SageMaker CreateModel: Could not assume role {role_arn}: the role does not exist in "
                    f"account {account}"
                )
    return problems
