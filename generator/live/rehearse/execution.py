"""Stack-set execution in the target accounts, authorized when CloudFormation creates the endpoint's model.

moto creates a stack instance's resources inside the server, with no request the call-time authorizer
(authorize.py) could see. The one resource of the endpoint stack whose creation crosses accounts and roles
is its `AWS::SageMaker::Model`; while a rehearsal runs, moto's CloudFormation creation of it is wrapped and
the calls AWS makes for it are decided with the evaluator, with the policies the local AWS holds:

1. CloudFormation calls sagemaker:CreateModel **as the stack set's execution role** in the target account
   (SERVICE_MANAGED: "StackSets with service-managed permissions creates an execution role named
   `stacksets-exec-*` in each target account. StackSets attaches the `AdministratorAccess` policy to this
   role", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-custom-execution-role.html;
   SELF_MANAGED: the execution role the stack set
   names, AdministratorAccess in AWS's sample template,
   https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-prereqs-self-managed.html).
   It passes the model's `ExecutionRoleArn` (iam:PassRole) and, for another account's model package,
   needs sagemaker:CreateModel and sagemaker:DescribeModelPackage on the package allowed by its own policy
   **and** by the model package group's resource policy
   (https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-deploy-xaccount.html).
2. SageMaker assumes the execution role: its trust policy must let sagemaker.amazonaws.com assume it, with
   the model's ARN as aws:SourceArn (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html).
3. SageMaker reads the model data (the package's `ModelDataUrl`) as the execution role: s3:GetObject must
   be allowed by the role's policy and, for a bucket of another account, by the bucket's policy
   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).

4. The endpoint config's data capture: SageMaker writes the captured requests under `DestinationS3Uri` as the
   role it assumes for the hosted model, the model's execution role (docs/aws-facts-additions.md, "Data
   capture"): s3:PutObject there must be allowed by that role's policy and the bucket's policy.

A denial fails the stack instance (recorded per account and region in `Authorizer.instance_failures`; the
stack-set runner rolls the instance back like CloudFormation does, actions._check_instances), and is listed
in the report's `authorization.denied` with role, action and resource.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

from generator.iam.trust import TrustPrincipal, evaluate_trust
from generator.live.rehearse import authorize
from generator.live.rehearse.authorize import Authorizer, Call, Identity, bucket_policy, request_context, trust_policy

#: AdministratorAccess, the policy of a stack set's execution role in a target account (see the docstring).
ADMINISTRATOR_ACCESS = {"AdministratorAccess": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}
#: The name of a SERVICE_MANAGED stack set's execution role: StackSets appends an id moto does not make.
SERVICE_MANAGED_EXECUTION_ROLE = "stacksets-exec-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SAGEMAKER = "sagemaker.amazonaws.com"


def stack_set_of(stack_id: str) -> Any | None:
    """The stack set a stack instance's stack belongs to (moto names it after the stack set)."""
    from moto.cloudformation.models import cloudformation_backends

    stack_name = stack_id.split(":stack/", 1)[-1].split("/", 1)[0]
    name = stack_name.removeprefix("hiddenstackfor").removeprefix("StackSet:")
    for account in list(cloudformation_backends):
        for backend in list(cloudformation_backends[account].values()):
            for stack_set in list(backend.stacksets.values()):
                if stack_set.name == name:
                    return stack_set
    return None


def executor(stack_set: Any, account: str) -> Identity:
    """The role CloudFormation creates the instance's resources as, in `account`."""
    if str(getattr(stack_set, "permission_model", "")) == "SELF_MANAGED":
        name = str(stack_set.execution_role_name)
        label = f"stack set {stack_set.name}'s execution role in account {account}"
    else:
        name = SERVICE_MANAGED_EXECUTION_ROLE
        label = f"stack set {stack_set.name}'s service-managed execution role in account {account}"
    return Identity(f"arn:aws:iam::{account}:role/{name}", label, ADMINISTRATOR_ACCESS)


def _package(arn: str) -> Any | None:
    from moto.sagemaker.models import sagemaker_backends

    parts = arn.split(":")
    if len(parts) != 6:
        return None
    return sagemaker_backends[parts[4]][parts[3]].model_packages.get(arn)


def model_data_urls(package: Any) -> list[str]:
    """The S3 URLs of a model package's containers' model data."""
    spec = getattr(package, "inference_specification", None) or {}
    return [str(c["ModelDataUrl"]) for c in spec.get("Containers", []) if c.get("ModelDataUrl")]


def _containers(properties: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = [properties.get("PrimaryContainer") or {}, *properties.get("Containers", [])]
    return [c for c in found if isinstance(c, Mapping)]


def authorize_model(authorizer: Authorizer, properties: Mapping[str, Any], name: str, stack_id: str,
                    account: str, region: str) -> list[Call]:  # fmt: skip
    """Decide the calls CloudFormation and SageMaker make to create one model; the denials."""
    stack_set = stack_set_of(stack_id)
    if stack_set is None:  # a stack of the rehearsal's own, not a stack instance: not the product's execution
        return []
    who = executor(stack_set, account)
    model_arn = f"arn:aws:sagemaker:{region}:{account}:model/{name.lower()}"
    role_arn = str(properties.get("ExecutionRoleArn", ""))
    context = request_context(who)
    calls = [
        authorizer.check(who, "sagemaker:CreateModel", model_arn, context),
        authorizer.check(who, "iam:PassRole", role_arn, context | {"iam:PassedToService": SAGEMAKER}),
    ]
    packages = [str(c["ModelPackageName"]) for c in _containers(properties) if c.get("ModelPackageName")]
    for package_arn in packages:
        owner = package_arn.split(":")[4] if package_arn.startswith("arn:") else account
        policy = _group_policy(package_arn)
        for action in ("sagemaker:CreateModel", "sagemaker:DescribeModelPackage"):
            calls.append(authorizer.check(who, action, package_arn, context, policy, owner))
    calls.append(_assume(authorizer, role_arn, model_arn, account))
    role = Identity(role_arn, f"model execution role in account {account}", _role_policies(role_arn))
    role_context = request_context(role)
    urls = [str(c["ModelDataUrl"]) for c in _containers(properties) if c.get("ModelDataUrl")]
    urls += [url for arn in packages for url in model_data_urls(_package(arn))]
    for url in dict.fromkeys(urls):
        bucket, _, key = url.removeprefix("s3://").partition("/")
        policy, owner = bucket_policy(bucket)
        # s3:ResourceAccount: the bucket owner's account, set by S3 for every request
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html#amazons3-policy-keys)
        context = role_context | ({"s3:ResourceAccount": owner} if owner else {})
        obj = f"arn:aws:s3:::{bucket}/{key}"
        calls.append(authorizer.check(role, "s3:GetObject", obj, context, policy, owner))
    denied = [call for call in calls if call is not None]
    if denied:
        with authorizer.lock:
            authorizer.instance_failures.setdefault((account, region), []).extend(denied)
    return denied


def _group_policy(package_arn: str) -> dict[str, Any] | None:
    from generator.live.rehearse.fidelity import group_policy

    parts = package_arn.split(":", 5)
    if len(parts) != 6:
        return None
    policy = group_policy(parts[4], parts[3], parts[5].partition("/")[2].split("/")[0])
    return json.loads(policy) if policy else None


def _role_policies(role_arn: str) -> dict[str, Any] | None:
    parts = role_arn.split(":")
    return authorize.moto_role_policies(parts[4], role_arn) if len(parts) == 6 else None


def _assume(authorizer: Authorizer, role_arn: str, model_arn: str, account: str) -> Call | None:
    """SageMaker assumes the model's execution role: decided by the role's trust policy alone."""
    policy = trust_policy(role_arn) if role_arn.count(":") == 5 else None
    if policy is None:  # a missing role: fidelity.model_role_problems fails the instance with its own message
        return None
    service = TrustPrincipal("Service", SAGEMAKER, {"aws:SourceArn": model_arn, "aws:SourceAccount": account})
    result = evaluate_trust(policy, service, role_arn)
    with authorizer.lock:
        if result.allowed:
            authorizer.allowed += 1
            return None
        call = Call(SAGEMAKER, "sts:AssumeRole", role_arn, result.decision.value,
                    f"the role's trust policy does not let SageMaker assume it ({result.decision.value})")  # fmt: skip
        authorizer.denied.append(call)
        return call


def _enabled(value: Any) -> bool:
    return str(value).lower() == "true"


def authorize_capture(authorizer: Authorizer, properties: Mapping[str, Any], name: str, stack_id: str,
                      account: str, region: str) -> list[Call]:  # fmt: skip
    """Decide SageMaker's write of captured data as the models' execution roles; the denials."""
    from moto.sagemaker.models import sagemaker_backends

    capture = properties.get("DataCaptureConfig") or {}
    if stack_set_of(stack_id) is None or not capture or not _enabled(capture.get("EnableCapture", True)):
        return []
    bucket, _, prefix = str(capture.get("DestinationS3Uri", "")).removeprefix("s3://").partition("/")
    # Where SageMaker writes: <DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl
    obj = f"arn:aws:s3:::{bucket}/{prefix.strip('/')}/{name}/AllTraffic/2026/01/01/00/capture.jsonl".replace("//", "/")
    policy, owner = bucket_policy(bucket)
    models = {m.model_name: m for m in sagemaker_backends[account][region].list_models()}
    calls = []
    for variant in properties.get("ProductionVariants", []):
        model = models.get(str(variant.get("ModelName", "")))
        role_arn = str(getattr(model, "execution_role_arn", "") or "")
        if not role_arn:
            continue
        role = Identity(role_arn, f"model execution role in account {account}", _role_policies(role_arn))
        context = request_context(role)
        context |= {"s3:ResourceAccount": owner} if owner else {}
        calls.append(authorizer.check(role, "s3:PutObject", obj, context, policy, owner or account))
    denied = [call for call in calls if call is not None]
    if denied:
        with authorizer.lock:
            authorizer.instance_failures.setdefault((account, region), []).extend(denied)
    return denied


@contextmanager
def authorizing_models(authorizer: Authorizer) -> Iterator[None]:
    """Wrap moto's CloudFormation creation of AWS::SageMaker::Model and ::EndpointConfig with the checks above."""
    from moto.sagemaker.models import FakeEndpointConfig, Model

    original = Model.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
               **kwargs: Any) -> Any:  # fmt: skip
        properties = cloudformation_json.get("Properties", {})
        authorize_model(authorizer, properties, resource_name, str(kwargs.get("StackId", "")), account_id, region_name)
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    original_config = FakeEndpointConfig.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_config(cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                      **kwargs: Any) -> Any:  # fmt: skip
        properties = cloudformation_json.get("Properties", {})
        stack_id = str(kwargs.get("StackId", ""))
        authorize_capture(authorizer, properties, resource_name, stack_id, account_id, region_name)
        return original_config(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    with (
        mock.patch.object(Model, "create_from_cloudformation_json", classmethod(create)),
        mock.patch.object(FakeEndpointConfig, "create_from_cloudformation_json", classmethod(create_config)),
    ):
        yield
