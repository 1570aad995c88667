"""What the pipeline's steps call, as data: the one list both sets of roles that run them are granted from.

The project's own roles (project_roles.py) and the prerequisites' grants to the SageMaker-provided roles
(generator/companions/prerequisites.py) allow the same calls of the same steps: the stack-set deploy, the
endpoint test's organisation walk and report, the build's regional buckets and model package group. Here,
in the product wing, so that the product's roles read them without importing a companion.
"""

from __future__ import annotations

from functools import cache

from generator.config import PermissionModel, RenderConfig
from generator.naming import Stage

#: What CodePipeline's CloudFormationStackSet action calls on its stack set (the set aws-cdk grants
#: the action's role, aws-codepipeline-actions SingletonPolicy.grantCreateUpdateStackSet), plus the
#: operation results it reads to report a failed account.
STACK_SET_ACTIONS = (
    "UpdateStackSet",
    "DescribeStackSet",
    "DescribeStackSetOperation",
    "ListStackInstances",
    "CreateStackInstances",
    "ListStackSetOperationResults",
)
#: The stack-set actions CloudFormation also authorizes against each deployment target (`stackset-target`)
#: and each resource type of the template (`type`): generator/iam/call_resources.py cites the guide.
TARGETED_STACK_SET_ACTIONS = ("UpdateStackSet", "CreateStackInstances")
#: What seedcode/modeldeploy/test/test.py calls to find the staging accounts (it walks child OUs).
ORGANIZATIONS_ACTIONS = ("ListAccountsForParent", "ListOrganizationalUnitsForParent", "DescribeOrganizationalUnit")
#: What CodeBuild calls to publish the test's JUnit report (test/buildspec.yml `reports:`).
REPORT_ACTIONS = ("CreateReportGroup", "CreateReport", "UpdateReport", "BatchPutTestCases", "BatchPutCodeCoverages")
#: What build.py (seed regions.py) calls on the regional artifact buckets `<artifact bucket>-<region>` it creates
#: in the pipeline account: the CodeBuild service role's managed policy allows CreateBucket, GetObject and
#: PutObject on `sagemaker-*` but none of the bucket settings (Block Public Access, encryption, policy).
REGIONAL_BUCKET_ACTIONS = (
    "CreateBucket",
    "PutBucketPublicAccessBlock",
    "PutEncryptionConfiguration",
    "PutBucketPolicy",
    "GetObject",
    "PutObject",
)
#: What build.py calls when the product could not create the group (standard launch role).
GROUP_ACTIONS = ("DescribeModelPackageGroup", "CreateModelPackageGroup", "PutModelPackageGroupPolicy")


def deployment_targets(cfg: RenderConfig) -> tuple[str, ...]:
    """What the stack sets deploy to: each stage's OU (service-managed) and the listed accounts."""
    ous = () if cfg.permission_model is PermissionModel.SELF_MANAGED else (cfg.staging_ou, cfg.prod_ou)
    return (*ous, *(a for stage in Stage for a in cfg.accounts(stage)))


def endpoint_template_types(cfg: RenderConfig) -> tuple[str, ...]:
    """The resource types of the stack sets' template, as the seed repository ships it.

    The template is a plain file of the seed (seed.py refuses a file both plain and templated), the same for
    every `cfg`: read from the seed's folder, not through the bundle, whose build needs the product's
    parameters (which need these roles)."""
    from generator.contract import EXPORT_TEMPLATE
    from generator.shipped import SEED_DIR

    return _types_of((SEED_DIR / EXPORT_TEMPLATE).read_text(encoding="utf-8"))


@cache
def _types_of(text: str) -> tuple[str, ...]:
    """Parsed once per text: a render asks four times (each stage's roles, the prerequisites)."""
    from generator.contract import EXPORT_TEMPLATE
    from generator.iam.call_resources import template_resource_types
    from generator.iam.resolve import load_template

    return template_resource_types(load_template(text, EXPORT_TEMPLATE))
