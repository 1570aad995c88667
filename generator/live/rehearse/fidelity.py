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
    "CreateStackInstances and DeleteStackInstances honour DeploymentTargets (OUs with AccountFilterType "
    "INTERSECTION, DIFFERENCE or UNION); moto 5.2.5 ignores the filter on create (every account of the OU) and "
    "DeploymentTargets entirely on delete. Patched to resolve the targets to accounts as CloudFormation does.",
    "SageMaker PutModelPackageGroupPolicy and GetModelPackageGroupPolicy store and return a group's resource "
    "policy; moto 5.2.5 answers NotImplementedError (HTTP 500). Patched to keep the policy on the group (the "
    "rehearsal's call-time authorization reads it as the group's resource policy).",
    "AWS::KMS::Key takes CloudFormation's tags ({Key, Value}); moto 5.2.5 hands them to CreateKey unconverted "
    "(KMS spells them {TagKey, TagValue}), fails, and reports the key as undefined. Patched to convert them.",
    "moto 5.2.5 ignores CallAs. The rehearsal records the CallAs of every stack-set call it serves "
    "(`stack_set_calls`), so a delegated-administrator deploy is checked to send CallAs=DELEGATED_ADMIN.",
)

#: (operation, CallAs or "") of every stack-set call the local server answered, while `aws_behaviour` is on.
STACK_SET_CALLS: list[tuple[str, str]] = []
_RECORDED = (
    "create_stack_set",
    "update_stack_set",
    "describe_stack_set",
    "delete_stack_set",
    "create_stack_instances",
    "delete_stack_instances",
    "list_stack_instances",
    "describe_stack_set_operation",
    "list_stack_set_operation_results",
)


def _honour_endpoint_name() -> Any:
    from moto.sagemaker.models import FakeEndpoint

    return mock.patch.object(FakeEndpoint, "cloudformation_name_type", staticmethod(lambda: "EndpointName"))


def _kms_key_tags() -> Any:
    """CloudFormation `Tags` of an AWS::KMS::Key as KMS's CreateKey takes them (TagKey/TagValue)."""
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, name: str, cloudformation_json: Any, *args: Any, **kwargs: Any) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        properties["Tags"] = [
            {"TagKey": t.get("Key", t.get("TagKey")), "TagValue": t.get("Value", t.get("TagValue"))}
            for t in properties.get("Tags", [])
        ]
        return original(cls, name, {**cloudformation_json, "Properties": properties}, *args, **kwargs)

    return mock.patch.object(Key, "create_from_cloudformation_json", classmethod(create))


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


def target_accounts(org_backend: Any, targets: dict[str, Any]) -> list[str]:
    """The accounts CloudFormation resolves DeploymentTargets to: the OUs' accounts (and their child OUs',
    as moto deploys), combined with `Accounts` by `AccountFilterType`."""
    ous = list(targets.get("OrganizationalUnitIds", []))
    ous += [ou.id for ou in org_backend.ou if ou.parent_id in ous]
    in_ous = [account.id for account in org_backend.accounts if account.parent_id in ous]
    listed = list(targets.get("Accounts", []))
    kind = targets.get("AccountFilterType", "NONE")
    if kind == "INTERSECTION":
        return [a for a in in_ous if a in listed]
    if kind == "DIFFERENCE":
        return [a for a in in_ous if a not in listed]
    if kind == "UNION":
        return in_ous + [a for a in listed if a not in in_ous]
    return in_ous


def _filter_targets() -> Any:
    from moto.cloudformation.models import StackInstances

    original = StackInstances.create_instances

    def create_instances(self: Any, accounts: list[str], regions: list[str], parameters: Any, targets: Any,
                         permission_model: str) -> Any:  # fmt: skip
        if targets and targets.get("OrganizationalUnitIds"):
            accounts = [*accounts, *target_accounts(self.org_backend, targets)]
            targets = {}
        return original(self, accounts, regions, parameters, targets, permission_model=permission_model)

    return mock.patch.object(StackInstances, "create_instances", create_instances)


def _delete_by_targets() -> Any:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.organizations.models import organizations_backends

    original = CloudFormationResponse.delete_stack_instances

    def delete_stack_instances(self: Any) -> Any:
        targets = self._get_params().get("DeploymentTargets")
        if targets and targets.get("OrganizationalUnitIds"):
            org = organizations_backends[self.current_account][self.partition]
            accounts = target_accounts(org, targets)
            name = self._get_param("StackSetName")
            regions = self._get_param("Regions", [])
            operation = self.cloudformation_backend.delete_stack_instances(name, accounts, regions)
            from moto.core.responses import ActionResult

            return ActionResult({"OperationId": operation.operations[-1]["OperationId"]})
        return original(self)

    return mock.patch.object(CloudFormationResponse, "delete_stack_instances", delete_stack_instances)


def _group_policies() -> Any:
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    def group(response: Any) -> Any:
        name = response._get_param("ModelPackageGroupName")
        found = response.sagemaker_backend.model_package_groups.get(name)
        if found is None:
            raise ValidationError(message=f"Model Package Group {name} does not exist.")
        return found

    def put_model_package_group_policy(self: Any) -> Any:
        found = group(self)
        found.mlops_gen_policy = self._get_param("ResourcePolicy")
        return ActionResult({"ModelPackageGroupArn": found.arn})

    def get_model_package_group_policy(self: Any) -> Any:
        policy = getattr(group(self), "mlops_gen_policy", None)
        if policy is None:
            raise ValidationError(message="Cannot find resource policy.")
        return ActionResult({"ResourcePolicy": policy})

    return mock.patch.multiple(
        SageMakerResponse,
        create=True,
        put_model_package_group_policy=put_model_package_group_policy,
        get_model_package_group_policy=get_model_package_group_policy,
    )


def group_policy(account: str, region: str, group: str) -> str | None:
    """The resource policy stored on a model package group of the local AWS (None without one)."""
    from moto.sagemaker.models import sagemaker_backends

    found = sagemaker_backends[account][region].model_package_groups.get(group)
    return getattr(found, "mlops_gen_policy", None) if found is not None else None


def _record_call_as() -> Any:
    from moto.cloudformation.responses import CloudFormationResponse

    def recording(name: str) -> Any:
        original = getattr(CloudFormationResponse, name)

        def method(self: Any) -> Any:
            STACK_SET_CALLS.append((self._get_action(), self._get_param("CallAs") or ""))
            return original(self)

        return method

    return mock.patch.multiple(CloudFormationResponse, **{name: recording(name) for name in _RECORDED})


@contextmanager
def aws_behaviour() -> Iterator[None]:
    """Apply every patch for the duration of a rehearsal."""
    STACK_SET_CALLS.clear()
    with ExitStack() as stack:
        # Made one after another: a patch may wrap what the one before it patched (CallAs recording).
        for make in (
            _honour_endpoint_name,
            _kms_key_tags,
            _update_instances,
            _deny_missing_roles,
            _filter_targets,
            _delete_by_targets,
            _group_policies,
            _record_call_as,
        ):
            stack.enter_context(make())
        yield


def model_role_problems(
    aws: Any, session: Any, account: str, region: str, models: list[dict[str, Any]] | None = None
) -> list[str]:
    """Models in `account`/`region` whose execution role is missing there (SageMaker's CreateModel check);
    `models`: the account's DescribeModel answers (network.described_models), read here when not given."""
    from generator.live.rehearse.network import described_models

    iam = aws.client("iam", session, region)
    problems: list[str] = []
    for model in described_models(aws, session, region) if models is None else models:
        role_arn = model.get("ExecutionRoleArn", "")
        role_name = role_arn.rsplit("/", 1)[-1]
        try:
            iam.get_role(RoleName=role_name)
        except iam.exceptions.NoSuchEntityException:
            problems.append(
                f"SageMaker CreateModel: Could not assume role {role_arn}: the role does not exist in account {account}"
            )
    return problems
