"""The model registry side: the project's model package group and the rule that deploys approvals."""

from __future__ import annotations

from typing import Any

from troposphere import Sub, Template
from troposphere.codepipeline import Pipeline
from troposphere.events import Rule, Target
from troposphere.sagemaker import ModelPackageGroup

from generator.config import RenderConfig
from generator.parameters import ProductParameters
from generator.roles import service_role_arn

MODEL_STATE_CHANGE = "SageMaker Model Package State Change"


def add_model_package_group(template: Template, cfg: RenderConfig) -> ModelPackageGroup:
    """The group data scientists register models into, named after the project."""
    return template.add_resource(
        ModelPackageGroup(
            "ModelPackageGroup",
            ModelPackageGroupName=Sub(cfg.names.model_package_group.pattern),
            ModelPackageGroupDescription=Sub("Models of SageMaker project ${SageMakerProjectName}"),
        )
    )


def approved_model_pattern(group_name: Any) -> dict[str, Any]:
    """Only approvals: a new registration (PendingManualApproval) must not start a deployment."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": [MODEL_STATE_CHANGE],
        "detail": {"ModelPackageGroupName": [group_name], "ModelApprovalStatus": ["Approved"]},
    }


def add_model_approved_rule(
    template: Template, cfg: RenderConfig, params: ProductParameters, pipeline: Pipeline
) -> Rule:
    """Start the pipeline when a model package of the project's group is approved."""
    return template.add_resource(
        Rule(
            "ModelApprovedRule",
            Name=Sub(cfg.names.model_rule.pattern),
            Description="Deploy a model when it is approved in the project's model package group.",
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
        RoleArn=service_role_arn(params.events_role),
    )
