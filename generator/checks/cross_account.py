"""Cross-account calls of the endpoint stacks, checked against the resource policies they cross.

A call from a stage account to a resource of the data-science account is allowed only if the caller's
own policies allow it **and** the resource's policy does
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
generator/checks/iam_check.py checks the first half for the target role; this module adds the second, for what
the seed's endpoint template does in every staging and prod account:

- its `AWS::SageMaker::Model` names a model package of the project's group (`ModelPackageName`):
  CloudFormation calls sagemaker:CreateModel as the stack-set execution role, and SageMaker's
  cross-account example grants the deploying account sagemaker:CreateModel and DescribeModelPackage on
  the group's model packages (model-registry-deploy-xaccount): both must be in the group's policy;
- SageMaker then reads the model data from the artifact bucket as the model's `ExecutionRoleArn` (the
  target role): s3:GetObject must be allowed by the bucket policy and by the target role's policy.

The caller is a sample role in a sample staging account (`SAMPLE_TARGET_ACCOUNT`) of the rendered
staging OU, in an organisation whose id is the product's `OrganizationId` default (or a sample id when
the render has none: a launch passes the real one). Its request context is what IAM sets for a
principal of an organisation: aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalOrgID and
aws:PrincipalOrgPaths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generator.checks.runtime_iam import SAMPLE_TARGET_ACCOUNT, Need
from generator.contract import Env
from generator.iam import iam_eval
from generator.iam.iam_eval import Decision, Result
from generator.iam.resolve import SAMPLE_ACCOUNT, SAMPLE_KEY_ID, SAMPLE_ORG_ID, Resolver, sample_resolver
from generator.iam.trust import TrustPrincipal, principal_matches
from generator.naming import Stage
from generator.product.org_id import ORG_ID_PARAMETER

#: Used for `OrganizationId` when the render has no default, and for the sample root of the org paths.
SAMPLE_ROOT = "r-ab12"
#: A SERVICE_MANAGED stack set's execution role in a target account (`stacksets-exec-<id>`).
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-custom-execution-role.html
SAMPLE_SERVICE_MANAGED_EXECUTION_ROLE = "stacksets-exec-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
DEFAULT_SELF_MANAGED_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
SAMPLE_MODEL_VERSION = "1"
SAMPLE_MODEL_DATA_KEY = "iris-multi-01/model/pipelines-sample/output/model.tar.gz"
XACCOUNT_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-deploy-xaccount.html"
#: What sagemaker:CreateModel with another account's ModelPackageName needs on the model package.
CREATE_MODEL_FROM_PACKAGE = ("sagemaker:CreateModel", "sagemaker:DescribeModelPackage")


@dataclass(frozen=True)
class SampleLaunch:
    """The sample launch the needs are made in: its resolver, organisation and staging OU."""

    resolver: Resolver
    org_id: str
    staging_ou: str


@dataclass(frozen=True)
class Gap:
    """A cross-account need the resource's policy does not allow."""

    need: Need
    result: Result


def caller_context(role_arn: str, org_id: str, ou_id: str) -> dict[str, Any]:
    """The request context of a role in an account of `ou_id` (directly under the root)."""
    return {
        "aws:PrincipalArn": role_arn,
        "aws:PrincipalAccount": role_arn.split(":")[4],
        "aws:PrincipalOrgID": org_id,
        "aws:PrincipalOrgPaths": [f"{org_id}/{SAMPLE_ROOT}/{ou_id}/"],
        "aws:PrincipalType": "AssumedRole",
        "aws:SecureTransport": "true",  # the SDKs and CloudFormation call over HTTPS
    }


def resource_statements(policy: Mapping[str, Any], role_arn: str) -> list[dict[str, Any]]:
    """The resource policy's statements that apply to the role, without their principal block."""
    who = TrustPrincipal("AWS", role_arn)
    kept = []
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if "Principal" in statement:
            applies = principal_matches(statement["Principal"], who)
        else:
            applies = "NotPrincipal" in statement and not principal_matches(statement["NotPrincipal"], who)
        if applies:
            kept.append({k: v for k, v in statement.items() if k not in ("Principal", "NotPrincipal")})
    return kept


def evaluate_cross_account(policy: Mapping[str, Any], need: Need, context: Mapping[str, Any]) -> Result:
    """The resource policy's decision on one cross-account need."""
    statements = resource_statements(policy, need.role_arn)
    return iam_eval.evaluate({"resource-policy": {"Statement": statements}}, need.action, need.resource, context)


# --- the needs, from the rendered files -------------------------------------------------------------


def _parameter_default(template: Mapping[str, Any], name: str) -> str | None:
    spec = template.get("Parameters", {}).get(name)
    default = spec.get("Default") if spec else None
    return None if default is None else str(default)


def org_id_of(product: Mapping[str, Any]) -> str:
    """The organisation a launch is for: the OrganizationId default, else a sample id (the launch passes one)."""
    return _parameter_default(product, ORG_ID_PARAMETER) or SAMPLE_ORG_ID


def product_resolver(product: Mapping[str, Any], region: str) -> Resolver:
    """A sample launch of the product, with an organisation id even when the render has no default."""
    extra = {} if _parameter_default(product, ORG_ID_PARAMETER) else {ORG_ID_PARAMETER: SAMPLE_ORG_ID}
    if ORG_ID_PARAMETER not in product.get("Parameters", {}):
        extra = {}
    return sample_resolver(product, region=region, **extra)


def execution_role_name(product: Mapping[str, Any], resolver: Resolver) -> str:
    """The stack-set execution role in the target accounts, as the pipeline's stack-set actions configure it."""
    for resource in product.get("Resources", {}).values():
        if resource.get("Type") != "AWS::CodePipeline::Pipeline":
            continue
        for stage in resource.get("Properties", {}).get("Stages", []):
            for action in stage.get("Actions", []):
                if action.get("ActionTypeId", {}).get("Provider") != "CloudFormationStackSet":
                    continue
                config = resolver.resolve(action.get("Configuration", {}))
                if str(config.get("PermissionModel", "")).upper() == "SELF_MANAGED":
                    return str(config.get("ExecutionRoleName") or DEFAULT_SELF_MANAGED_EXECUTION_ROLE)
    return SAMPLE_SERVICE_MANAGED_EXECUTION_ROLE


def _build_environment(product: Mapping[str, Any], resolver: Resolver) -> dict[str, str]:
    """The environment of the CodeBuild project that runs build.py (the one that sets MODEL_PACKAGE_GROUP_NAME)."""
    for resource in product.get("Resources", {}).values():
        if resource.get("Type") != "AWS::CodeBuild::Project":
            continue
        variables = resource.get("Properties", {}).get("Environment", {}).get("EnvironmentVariables", [])
        names = {v["Name"] for v in variables}
        if Env.MODEL_PACKAGE_GROUP in names and Env.role(Stage.STAGING) in names:
            return {str(v["Name"]): str(resolver.resolve(v["Value"])) for v in variables if v["Name"] in names}
    return {}


def seed_templates(files: Mapping[str, bytes] | None) -> list[Mapping[str, Any]]:
    """The CloudFormation templates among the seed bundle's files (YAML or JSON with typed Resources)."""
    from generator.checks.decoded import decode

    found: list[Mapping[str, Any]] = []
    for name, data in sorted((files or {}).items()):
        if not name.endswith((".yml", ".yaml", ".json")):
            continue
        template, _ = decode(data.decode("utf-8", errors="replace"))
        resources = template.get("Resources") if isinstance(template, Mapping) else None
        if isinstance(resources, Mapping) and all(isinstance(r, Mapping) and "Type" in r for r in resources.values()):
            found.append(template)
    return found


def endpoint_models(seed_templates: list[Mapping[str, Any]]) -> list[str]:
    """Logical ids of the seed templates' `AWS::SageMaker::Model`s that deploy a model package."""
    found = []
    for template in seed_templates:
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("Type") != "AWS::SageMaker::Model":
                continue
            props = resource.get("Properties", {})
            containers = _branches([props.get("PrimaryContainer", {}), *props.get("Containers", [])])
            if any("ModelPackageName" in c for c in containers):
                found.append(str(logical_id))
    return found


def _branches(values: list[Any]) -> list[Mapping[str, Any]]:
    """Containers, with each `Fn::If` counted by both its branches (the endpoint template chooses the model
    package in the home region and a regional copy elsewhere: generator/checks/regions.py)."""
    found: list[Mapping[str, Any]] = []
    for value in values:
        if isinstance(value, Mapping) and set(value) == {"Fn::If"} and isinstance(value["Fn::If"], list):
            found += _branches(list(value["Fn::If"][1:]))
        elif isinstance(value, Mapping):
            found.append(value)
    return found


def cross_account_needs(
    product: Mapping[str, Any], seed_templates: list[Mapping[str, Any]], region: str
) -> tuple[list[Need], SampleLaunch | None]:
    """What a staging account's endpoint stack needs from the pipeline account's group and bucket, and its context.

    Empty when the seed deploys no model package. The group need is listed only when the product creates
    the group (with the standard launch role, build.py puts the policy: tests/test_seed_build.py checks it).
    """
    models = endpoint_models(seed_templates)
    resolver = product_resolver(product, region)
    env = _build_environment(product, resolver)
    if not models or not env:
        return [], None
    partition = resolver.partition
    stage_role = env[Env.role(Stage.STAGING)]
    target_role = f"arn:{partition}:iam::{SAMPLE_TARGET_ACCOUNT}:role/{stage_role}"
    executor = f"arn:{partition}:iam::{SAMPLE_TARGET_ACCOUNT}:role/{execution_role_name(product, resolver)}"
    group = env[Env.MODEL_PACKAGE_GROUP]
    package = f"arn:{partition}:sagemaker:{region}:{SAMPLE_ACCOUNT}:model-package/{group}/{SAMPLE_MODEL_VERSION}"
    needs = []
    resources = product.get("Resources", {})
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::SageMaker::ModelPackageGroup":
            subject = f"endpoint stack's {models[0]} (CloudFormation, as the stack-set execution role)"
            needs += [
                Need(executor, action, package, logical_id, subject, "CreateModel from the group's package")
                for action in CREATE_MODEL_FROM_PACKAGE
            ]
        if resource.get("Type") == "AWS::S3::BucketPolicy":
            bucket = str(resolver.resolve(resource["Properties"]["Bucket"]))
            if bucket == env.get(Env.ARTIFACT_BUCKET):
                obj = f"arn:{partition}:s3:::{bucket}/{SAMPLE_MODEL_DATA_KEY}"
                subject = f"endpoint stack's {models[0]} (SageMaker, as the model's execution role)"
                needs.append(Need(target_role, "s3:GetObject", obj, logical_id, subject, "read the model data"))
                needs += _bucket_key_needs(product, resource["Properties"]["Bucket"], target_role, subject, region)
    return needs, SampleLaunch(resolver, org_id_of(product), env[Env.ou(Stage.STAGING)])


def _bucket_key_needs(
    product: Mapping[str, Any], bucket_ref: Any, role_arn: str, subject: str, region: str
) -> list[Need]:
    """With --kms-key generated: S3 decrypts the model data with the product's key, as the reading role, so
    the key policy must allow kms:Decrypt through S3 (and the role's policy too: both are checked).
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html"""
    name = bucket_ref.get("Ref") if isinstance(bucket_ref, Mapping) else None
    bucket = product.get("Resources", {}).get(name, {}) if isinstance(name, str) else {}
    rules = bucket.get("Properties", {}).get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    needs = []
    for rule in rules:
        key = rule.get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
        target = key.get("Fn::GetAtt") if isinstance(key, Mapping) else None
        if not target:
            continue  # no key, or a key outside the product: its policy is not in the render
        key_id = str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
        arn = f"arn:{role_arn.split(':')[1]}:kms:{region}:{SAMPLE_ACCOUNT}:key/{SAMPLE_KEY_ID}"
        via = (("kms:ViaService", f"s3.{region}.amazonaws.com"), ("kms:CallerAccount", SAMPLE_TARGET_ACCOUNT))
        needs.append(Need(role_arn, "kms:Decrypt", arn, key_id, subject, "decrypt the model data", via))
    return needs


def resource_policy(product: Mapping[str, Any], logical_id: str, resolver: Resolver) -> Mapping[str, Any]:
    """The resolved policy of a group (ModelPackageGroupPolicy), bucket policy (PolicyDocument) or key (KeyPolicy)."""
    props = product["Resources"][logical_id].get("Properties", {})
    document = props.get("ModelPackageGroupPolicy", props.get("PolicyDocument", props.get("KeyPolicy", {})))
    resolved: Mapping[str, Any] = resolver.resolve(document)
    return resolved


def gaps(product: Mapping[str, Any], seed_templates: list[Mapping[str, Any]], region: str) -> list[Gap]:
    """Every cross-account need of the endpoint stacks the resource's policy does not allow."""
    needs, launch = cross_account_needs(product, seed_templates, region)
    found = []
    for need in needs:
        assert launch is not None  # needs come with their launch
        policy = resource_policy(product, need.logical_id, launch.resolver)
        context = {**caller_context(need.role_arn, launch.org_id, launch.staging_ou), **dict(need.context)}
        result = evaluate_cross_account(policy, need, context)
        if not result.allowed:
            found.append(Gap(need, result))
    return found


def describe(gap: Gap) -> str:
    """One line for a finding: who, what, on which resource, and why both policies are needed."""
    need, result = gap.need, gap.result
    if result.decision is Decision.EXPLICIT_DENY:
        verdict = f"denies it ({', '.join(result.statements)})"
    elif result.decision is Decision.CONDITIONAL:
        verdict = "allows it only if " + "; ".join(result.unevaluated) + " (cannot be evaluated)"
    else:
        verdict = "does not allow it"
    return (
        f"{need.subject} needs {need.action} on {need.resource} ({need.why}) as {need.role_arn}, a role of a "
        f"staging account: the resource policy of {need.logical_id} {verdict}; cross-account access needs the "
        f"resource policy as well as the role's ({XACCOUNT_DOC})"
    )
