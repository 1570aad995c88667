"""The model registry side: the project's model package group and the rule that deploys approvals."""

from __future__ import annotations

from typing import Any

from awacs.aws import Action, Allow, Condition, PolicyDocument, Principal, Statement
from troposphere import Sub, Template, encode_to_dict
from troposphere.codepipeline import Pipeline
from troposphere.events import Rule, Target
from troposphere.sagemaker import ModelPackageGroup

from generator.config import RenderConfig
from generator.product.parameters import ProductParameters

MODEL_STATE_CHANGE = "SageMaker Model Package State Change"


def add_model_package_group(
    template: Template, cfg: RenderConfig, readers: Condition | None = None
) -> ModelPackageGroup:
    """The group data scientists register models into, named after the project.

    `readers` (roles of the stage accounts, generator/product/grants.py) may deploy its versions: the endpoint
    stacks in staging and prod create their model from a model package of this account.
    """
    group = ModelPackageGroup(
        "ModelPackageGroup",
        ModelPackageGroupName=Sub(cfg.names.model_package_group.pattern),
        ModelPackageGroupDescription=Sub("Models of SageMaker project ${SageMakerProjectName}"),
    )
    if readers is not None:
        group.ModelPackageGroupPolicy = encode_to_dict(model_package_group_policy(cfg, readers))
    return template.add_resource(group)


def model_package_group_policy(cfg: RenderConfig, readers: Condition) -> PolicyDocument:
    """Cross-account deployment from the group: what SageMaker's documented example grants, to `readers`.

    "Deploy a Model Version from a Different Account" (SageMaker developer guide,
    https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-deploy-xaccount.html) grants the
    deploying account sagemaker:DescribeModelPackageGroup on the group, and DescribeModelPackage,
    ListModelPackages, UpdateModelPackage and CreateModel on its model packages: CreateModel with a
    ModelPackageName of another account is authorized against this policy too. UpdateModelPackage is
    left out on purpose: it changes a version's approval status, which belongs to the data-science account
    (an approval here is what deploys to prod).
    """
    arn = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}"
    group = cfg.names.model_package_group.pattern
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="StageAccountsReadModelPackageGroup",
                Effect=Allow,
                Principal=Principal("*"),
                Action=[Action("sagemaker", "DescribeModelPackageGroup")],
                Resource=[Sub(f"{arn}:model-package-group/{group}")],
                Condition=readers,
            ),
            Statement(
                Sid="StageAccountsDeployModelPackages",
                Effect=Allow,
                Principal=Principal("*"),
                Action=[Action("sagemaker", a) for a in ("DescribeModelPackage", "ListModelPackages", "CreateModel")],
                Resource=[Sub(f"{arn}:model-package/{group}/*")],
                Condition=readers,
            ),
        ],
    )


#: The approval statuses that start a deployment: Approved deploys the version; Rejected (of a version
#: that may be live) redeploys the newest version still Approved (seedcode/modeldeploy/build.py), so a
#: bad model is reversible from the registry. PendingManualApproval (a new registration) never does.
DEPLOYING_STATUSES = ("Approved", "Rejected")


def approved_model_pattern(group_name: Any) -> dict[str, Any]:
    """Approvals and rejections of the group's versions; a new registration must not start a deployment."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": [MODEL_STATE_CHANGE],
        "detail": {"ModelPackageGroupName": [group_name], "ModelApprovalStatus": list(DEPLOYING_STATUSES)},
    }


def add_model_approved_rule(
    template: Template, cfg: RenderConfig, params: ProductParameters, pipeline: Pipeline
) -> Rule:
    """Start the pipeline when a version of the project's group is approved, or rejected (a rollback)."""
    return template.add_resource(
        Rule(
            "ModelApprovedRule",
            Name=Sub(cfg.names.model_rule.pattern),
            Description=(
                "Deploy a model when it is approved in the project's model package group; when one is rejected, "
                "redeploy the newest version still approved."
            ),
            EventPattern=approved_model_pattern(Sub(cfg.names.model_package_group.pattern)),
            State="ENABLED",
            Targets=[pipeline_target(pipeline, params)],
        )
    )


def pipeline_target(pipeline: Pipeline, params: ProductParameters) -> Target:
    """An EventBridge target that starts the pipeline as the events service role."""
    return Target(
        Arn=Sub(f"arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:${{{pipeline.title}}}"),
        Id="ModelDeployPipeline",
        RoleArn=params.role_arns["events"],
    )
