"""The portfolio's launch role: generated from what the product needs, or the standard one checked.

Service Catalog creates a product's resources as the launch role of the portfolio's launch
constraint. `generated` renders a template with a role whose policy is derived from
generator/iam/iam_table.py applied to the rendered product: every action the product's resources
need, on their `sagemaker-` name patterns, plus what Service Catalog and CloudFormation need to
run the stack. `standard` renders nothing, but refuses a product the standard
`AmazonSageMakerServiceCatalogProductsLaunchRole` could not launch (its policy ships as
generator/data/standard-launch-role-policy.json).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.resources import files
from typing import Any

from awacs.aws import Action, Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import GetAtt, Output, Ref, Sub, Template
from troposphere.iam import Policy, Role

from generator.config import LaunchRole, RenderConfig
from generator.contract import SEED_BUNDLE
from generator.errors import InputError
from generator.iam.calls import Call
from generator.iam.iam_eval import Result, evaluate
from generator.iam.iam_table import Requirement, required_permissions
from generator.iam.resolve import SAMPLE_ACCOUNT
from generator.iam.schemas import Operation
from generator.naming import launch_role_name
from generator.product.seed import BUNDLE_KEY_PREFIX
from generator.rendered import RenderedFile, template_file

KIND = "launch-role-template"
STEM = "launch-role-template"
SERVICE_CATALOG = "servicecatalog.amazonaws.com"
DESCRIPTION = (
    "Launch role (mlops-gen) for the SageMaker project product: allows exactly what the product's "
    "resources need. Use it in the portfolio's launch constraint."
)
_PARTITION = "arn:${AWS::Partition}"
_STACKS = f"{_PARTITION}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/SC-*"
#: Service Catalog tags the template objects it copies (and `mlops-gen publish` tags what it uploads).
_PROVISIONING_TAG = "s3:ExistingObjectTag/servicecatalog:provisioning"


# --- the policy, as data -------------------------------------------------------------------


#: What Service Catalog calls as the launch role to run the product's stack: the stack calls on its
#: `SC-<account>-pp-<id>` stacks, the template checks, and the template object it copied and tagged.
#: https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html
STACK_ACTIONS = (
    "CreateStack",
    "DeleteStack",
    "DescribeStackEvents",
    "DescribeStacks",
    "SetStackPolicy",
    "TagResource",
    "UntagResource",
    "UpdateStack",
)
TEMPLATE_ACTIONS = ("GetTemplateSummary", "ValidateTemplate")


def _service_catalog_statements() -> list[Statement]:
    """What Service Catalog needs to run the product's stack as this role (`service_catalog_calls`)."""
    return [
        Statement(
            Sid="ServiceCatalogStack",
            Effect=Allow,
            Action=[Action("cloudformation", name) for name in STACK_ACTIONS],
            Resource=[Sub(_STACKS)],
        ),
        Statement(
            Sid="ServiceCatalogTemplate",
            Effect=Allow,
            Action=[Action("cloudformation", name) for name in TEMPLATE_ACTIONS],
            Resource=["*"],
        ),
        Statement(
            Sid="ServiceCatalogTemplateObjects",
            Effect=Allow,
            Action=[Action("s3", "GetObject")],
            Resource=["*"],
            Condition=Condition(StringEquals(_PROVISIONING_TAG, "true")),
        ),
    ]


def service_catalog_calls(region: str) -> list[Call]:
    """The calls Service Catalog makes as the launch role for one sample launch (see `STACK_ACTIONS`)."""
    stack = (
        f"arn:aws:cloudformation:{region}:{SAMPLE_ACCOUNT}:stack/SC-{SAMPLE_ACCOUNT}-pp-{_LAUNCH_VALUE}/{_LAUNCH_VALUE}"
    )
    template_object = f"arn:aws:s3:::{_LAUNCH_VALUE}/{_LAUNCH_VALUE}"
    return [
        *(Call(f"cloudformation:{name}", stack) for name in STACK_ACTIONS),
        *(Call(f"cloudformation:{name}", "*") for name in TEMPLATE_ACTIONS),
        Call("s3:GetObject", template_object, ((_PROVISIONING_TAG, "true"),)),
    ]


def launch_calls(product: Mapping[str, Any], region: str) -> list[Call]:
    """Every call made as the launch role for one sample launch of `product`: CloudFormation's for each
    resource (generator/iam/iam_table.py, every handler) and Service Catalog's own."""
    calls = [
        Call(
            req.action,
            sample_arn(req.resource, region),
            tuple(
                sorted(
                    (key, sample_value(value, region))
                    for key, value in {
                        **dict(req.context),
                        **LAUNCH_CONTEXT.get((req.resource_type, req.action), {}),
                    }.items()
                )
            ),
        )
        for req in required_permissions(product)
        if not req.policy_of  # granted by a key's own policy, not the role's (generator/product/kms.py)
    ]
    return sorted(set(calls)) + service_catalog_calls(region)


def _sid(text: str) -> str:
    return "".join(ch for ch in text.title() if ch.isalnum())


def _resource_statements(requirements: Iterable[Requirement]) -> list[Statement]:
    """One statement per (condition, resource set) group: same actions on the same ARNs stay together."""
    by_key: dict[tuple[tuple[tuple[str, str], ...], str], set[str]] = defaultdict(set)
    for req in requirements:
        by_key[(req.context, req.resource)].add(req.action)
    # Merge resources that need exactly the same actions under the same condition.
    by_actions: dict[tuple[tuple[tuple[str, str], ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for (context, resource), names in sorted(by_key.items()):
        by_actions[(context, tuple(sorted(names)))].append(resource)
    statements: list[Statement] = []
    for (context, actions), resources in sorted(by_actions.items(), key=lambda kv: (kv[0][0], kv[1], kv[0][1])):
        service = actions[0].split(":")[0]
        sid = _sid(f"{service} {len(statements) + 1}")
        kwargs: dict[str, Any] = {}
        if context:
            kwargs["Condition"] = Condition(
                [StringEquals(key, Sub(value) if "${" in value else value) for key, value in context]
            )
        statements.append(
            Statement(
                Sid=sid,
                Effect=Allow,
                Action=[Action(*action.split(":", 1)) for action in actions],
                Resource=[Sub(r) if "${" in r else r for r in sorted(resources)],
                **kwargs,
            )
        )
    return statements


#: The seed bundle's key, any version: `SeedCodeKey` defaults to a content-addressed key
#: (`mlops-gen/seedcode/<sha256 prefix>/seedcode-modeldeploy.zip`, generator/product/seed.py `bundle_key`), which
#: changes with every bundle, while a launch role is deployed once and serves every product version.
SEED_KEY_PATTERN = f"{BUNDLE_KEY_PREFIX}/*/{SEED_BUNDLE}"


def product_for_launch_role(cfg: RenderConfig) -> Template:
    """The product whose needs the launch role is made of: the rendered one, with any bundle version's key."""
    from generator.product.compose import build_product

    return build_product(cfg, seed_key=SEED_KEY_PATTERN)


def launch_role_policy_document(cfg: RenderConfig) -> PolicyDocument:
    """The generated launch role's policy for `cfg`'s product (awacs)."""
    # What a key's own policy grants the launch role (generator/product/kms.py) stays out of its IAM policy.
    requirements = [r for r in required_permissions(product_for_launch_role(cfg).to_dict()) if not r.policy_of]
    return PolicyDocument(
        Version="2012-10-17",
        Statement=_service_catalog_statements() + _resource_statements(requirements),
    )


def launch_role_policy(cfg: RenderConfig) -> dict[str, Any]:
    """The generated launch role's policy as a plain dict (`Fn::Sub` resources), for validators."""
    role = build_launch_role_template(cfg).to_dict()["Resources"]["LaunchRole"]
    document: dict[str, Any] = role["Properties"]["Policies"][0]["PolicyDocument"]
    return document


def build_launch_role_template(cfg: RenderConfig) -> Template:
    """The template an administrator deploys once, in the home region, before the portfolio."""
    template = Template(Description=DESCRIPTION)
    template.set_version("2010-09-09")
    role = template.add_resource(
        Role(
            "LaunchRole",
            RoleName=launch_role_name(cfg.name_prefix),
            Description="Service Catalog launch role of the mlops-gen SageMaker project product.",
            AssumeRolePolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Effect=Allow,
                        Principal=Principal("Service", [SERVICE_CATALOG]),
                        Action=[Action("sts", "AssumeRole")],
                    )
                ],
            ),
            Policies=[Policy(PolicyName="launch-product", PolicyDocument=launch_role_policy_document(cfg))],
        )
    )
    template.add_output(Output("LaunchRoleArn", Value=GetAtt(role, "Arn"), Description="Launch constraint role."))
    template.add_output(Output("LaunchRoleName", Value=Ref(role), Description="Name of the launch role."))
    return template


# --- the standard launch role ----------------------------------------------------------------

#: Put in place of `*` (a value only known at launch, such as the project's name) before evaluating.
_LAUNCH_VALUE = "x1"
#: Condition keys a launch's calls are known to carry beyond the table's own (`Requirement.context`),
#: by (resource type, action). `mlops-gen publish` tags every object it uploads
#: `servicecatalog:provisioning=true`, so the seed bundle is readable under the standard role's
#: `AmazonSageMakerServiceCatalogS3ReadPermission` statement wherever it is published.
LAUNCH_CONTEXT: Mapping[tuple[str, str], Mapping[str, str]] = {
    ("AWS::CodeCommit::Repository", "s3:GetObject"): {_PROVISIONING_TAG: "true"},
    ("AWS::CodeCommit::Repository", "s3:GetObjectVersion"): {_PROVISIONING_TAG: "true"},
}


@cache
def standard_policy() -> dict[str, Any]:
    """The standard launch role's policy (AmazonSageMakerAdmin-ServiceCatalogProductsServiceRolePolicy)."""
    text = files("generator").joinpath("data/standard-launch-role-policy.json").read_text(encoding="utf-8")
    policy: dict[str, Any] = json.loads(text)
    return policy


def sample_value(text: str, region: str = "us-east-1") -> str:
    """A condition value of a requirement (an `Fn::Sub` pattern, such as a boundary's ARN) for one launch."""
    return sample_arn(text, region) if "${" in text else text


def sample_arn(pattern: str, region: str = "us-east-1") -> str:
    """A requirement's `Fn::Sub` ARN pattern as one launch's ARN: sample pseudo parameters, `*` filled.

    A lone "*" (an action without resource-level permissions) stays "*".
    """
    if pattern == "*":
        return pattern
    for pseudo, sample in (
        ("${AWS::Partition}", "aws"),
        ("${AWS::Region}", region),
        ("${AWS::AccountId}", SAMPLE_ACCOUNT),
    ):
        pattern = pattern.replace(pseudo, sample)
    return pattern.replace("*", _LAUNCH_VALUE)


def evaluate_requirement(
    policies: Mapping[str, Mapping[str, Any]], req: Requirement, region: str = "us-east-1"
) -> Result:
    """Evaluate `req` against named identity policies with generator/iam/iam_eval.py."""
    context = {**dict(req.context), **LAUNCH_CONTEXT.get((req.resource_type, req.action), {})}
    context = {key: sample_value(value, region) for key, value in context.items()}
    return evaluate(policies, req.action, sample_arn(req.resource, region), context)


def allows(policy: Mapping[str, Any], req: Requirement) -> bool:
    """Whether `policy` allows `req` (allow, not conditional: an unevaluable condition is no grant)."""
    return evaluate_requirement({"policy": policy}, req).allowed


#: What the standard role must allow: the handlers a launch, an update and a termination call.
#: The read handler (drift detection, resource import) is left out: the standard role has none
#: of those reads, and a product launches without them.
STANDARD_CHECKED_OPERATIONS = frozenset({Operation.CREATE, Operation.UPDATE, Operation.DELETE})

_UNTAG = (
    "listed in the type schema's tagging permissions; called only when a stack tag is removed, and SageMaker's "
    "project tags (sagemaker:project-name, sagemaker:project-id) are set at launch and never change"
)
_TAG_FIRST_PARTY = (
    "listed in the type schema's tagging permissions, yet SageMaker's first-party project templates create this "
    "type, tagged with the project's stack tags, under this very role (which grants s3:PutBucketTagging for buckets "
    "and events:PutRule for rules, not this action); not verified on a live account: if a launch fails tagging, "
    "this is the permission to add"
)

#: Requirements of today's standard product that the standard policy does not grant, accepted on
#: purpose (type, action, operation) -> why. REVIEW: each one widens the check; delete an entry to
#: make the check refuse it. Each reason is either "never called for this product" or "AWS's own
#: SageMaker project templates need the same call under this same role" (AWS keeps those working).
STANDARD_ACCEPTED_GAPS: Mapping[tuple[str, str, Operation], str] = {
    ("AWS::S3::Bucket", "s3:ListBucket", Operation.CREATE): (
        "listed in the bucket schema's create handler, yet SageMaker's first-party project templates create "
        "their sagemaker-* artifact buckets with this very role, so a create does not depend on it"
    ),
    ("AWS::S3::Bucket", "s3:ListBucket", Operation.UPDATE): (
        "listed in the bucket schema's update handler (derived from the schema since issue 16; the hand-kept table "
        "had left it out): as for create, first-party project templates are updated (new product versions) with "
        "this role"
    ),
    ("AWS::CodePipeline::Pipeline", "iam:GetRole", Operation.CREATE): (
        "listed in the pipeline schema's create handler (it reads the pipeline's service role), yet "
        "SageMaker's first-party project templates create pipelines with service roles under this very role"
    ),
    ("AWS::CodePipeline::Pipeline", "iam:GetRole", Operation.UPDATE): (
        "as for create: first-party project templates are updated (new product versions) with this role"
    ),
    ("AWS::Events::Rule", "events:ListTargetsByRule", Operation.DELETE): (
        "listed in the rule schema's delete handler, yet SageMaker's first-party project templates create rules "
        "with targets under this very role and their projects are deleted with it (not verified on a live "
        "account: if a termination fails on a rule, this is the permission to add)"
    ),
    ("AWS::CodeCommit::Repository", "codecommit:UpdateRepositoryName", Operation.UPDATE): (
        "called only when RepositoryName changes; it is the name prefix, the project's name and its id, and "
        "SageMaker never changes a project's name or id (keep --name-prefix across product versions)"
    ),
    ("AWS::CodeCommit::Repository", "codecommit:UpdateRepositoryDescription", Operation.UPDATE): (
        "called only when RepositoryDescription changes; it is fixed text and the project's name, which never changes"
    ),
    # Stack tags (iam_table.STACK_TAGS): every project's stack is tagged, so every taggable resource is tagged.
    **{
        (rtype, action, Operation.UPDATE): _UNTAG
        for rtype, action in (
            ("AWS::S3::Bucket", "s3:UntagResource"),
            ("AWS::Events::Rule", "events:UntagResource"),
            ("AWS::CodePipeline::Pipeline", "codepipeline:UntagResource"),
            ("AWS::CodeCommit::Repository", "codecommit:UntagResource"),
        )
    },
    **{
        (rtype, action, operation): _TAG_FIRST_PARTY
        for rtype, action in (("AWS::S3::Bucket", "s3:TagResource"), ("AWS::Events::Rule", "events:TagResource"))
        for operation in (Operation.CREATE, Operation.UPDATE)
    },
}


def missing_permissions(
    template: Mapping[str, Any], policy: Mapping[str, Any], accepted: Mapping[tuple[str, str, Operation], str] = {}
) -> list[Requirement]:
    """The product's requirements (checked operations) that `policy` does not allow, less `accepted` gaps."""
    return [
        req
        for req in required_permissions(template)
        if req.operation in STANDARD_CHECKED_OPERATIONS
        and (req.resource_type, req.action, req.operation) not in accepted
        and not allows(policy, req)
    ]


def check_standard_launch_role(template: Mapping[str, Any]) -> None:
    """Refuse a product the standard launch role cannot create, naming each missing permission."""
    missing = missing_permissions(template, standard_policy(), STANDARD_ACCEPTED_GAPS)
    if not missing:
        return
    grouped: dict[tuple[str, str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for req in missing:
        grouped[(req.logical_id, req.resource_type, req.resource)][req.action].add(req.operation.value)
    lines = [
        f"{logical_id} ({rtype}) needs "
        + ", ".join(f"{action} ({'/'.join(sorted(ops))})" for action, ops in sorted(actions.items()))
        + f" on {resource}"
        for (logical_id, rtype, resource), actions in sorted(grouped.items())
    ]
    raise InputError(
        "--launch-role standard",
        "the standard AmazonSageMakerServiceCatalogProductsLaunchRole does not allow what the product needs; "
        "use --launch-role generated, or remove the resource/property:\n  " + "\n  ".join(lines),
    )


def launch_role_files(cfg: RenderConfig) -> list[RenderedFile]:
    """The launch-role template (generated), or nothing after checking the product (standard)."""
    if cfg.launch_role is LaunchRole.STANDARD:
        check_standard_launch_role(product_for_launch_role(cfg).to_dict())
        return []
    return [template_file(KIND, STEM, build_launch_role_template(cfg), cfg)]
