"""The deployment pipeline: Source -> Build -> staging (deploy, test, approve) -> prod."""

from __future__ import annotations

from troposphere import Ref, Sub, Template
from troposphere.codebuild import Project
from troposphere.codecommit import Repository
from troposphere.codepipeline import (
    Actions,
    ActionTypeId,
    ArtifactStore,
    InputArtifacts,
    OutputArtifacts,
    Pipeline,
    Stages,
)
from troposphere.s3 import Bucket

from generator import contract
from generator.config import RenderConfig
from generator.naming import Stage
from generator.parameters import ProductParameters
from generator.roles import service_role_arn
from generator.source import source_action
from generator.stacksets import stack_set_action


def build_action(name: str, project: Project, inputs: list[str], outputs: list[str], run_order: int) -> Actions:
    """A CodeBuild action; the first input is the primary source."""
    action = Actions(
        Name=name,
        ActionTypeId=ActionTypeId(Category="Build", Owner="AWS", Provider="CodeBuild", Version="1"),
        Configuration={"ProjectName": Ref(project)},
        InputArtifacts=[InputArtifacts(Name=n) for n in inputs],
        RunOrder=run_order,
    )
    if outputs:
        action.OutputArtifacts = [OutputArtifacts(Name=n) for n in outputs]
    return action


def approval_action(cfg: RenderConfig, params: ProductParameters, run_order: int) -> Actions:
    """Manual approval before prod: says which model group and which staging targets were tested."""
    regions = ", ".join(cfg.deploy_regions)
    return Actions(
        Name="ApproveDeployment",
        ActionTypeId=ActionTypeId(Category="Approval", Owner="AWS", Provider="Manual", Version="1"),
        Configuration={
            "CustomData": Sub(
                f"Approve deploying the newest approved model of model package group "
                f"{cfg.names.model_package_group.pattern} to production (OU ${{{params.ou[Stage.PROD].title}}}). "
                f"It passed the endpoint test in every account of staging OU "
                f"${{{params.ou[Stage.STAGING].title}}}, regions {regions}."
            ),
            "ExternalEntityLink": Sub(
                "https://${AWS::Region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/"
                f"{cfg.names.pipeline.pattern}/view?region=${{AWS::Region}}"
            ),
        },
        RunOrder=run_order,
    )


def add_pipeline(
    template: Template,
    cfg: RenderConfig,
    params: ProductParameters,
    bucket: Bucket,
    repository: Repository | None,
    build_project: Project,
    test_project: Project,
) -> Pipeline:
    """A V2 pipeline in QUEUED mode, so two approvals in a row never collide on a stack-set operation."""
    stages = [
        Stages(Name="Source", Actions=[source_action(cfg, repository)]),
        Stages(
            Name="Build",
            Actions=[
                build_action(
                    "BuildDeploymentTemplates", build_project, [contract.SOURCE_ARTIFACT], [contract.BUILD_ARTIFACT], 1
                )
            ],
        ),
        Stages(
            Name="DeployStaging",
            Actions=[
                stack_set_action(cfg, params, Stage.STAGING, run_order=1),
                build_action("TestStaging", test_project, [contract.SOURCE_ARTIFACT], [], 2),
                approval_action(cfg, params, run_order=3),
            ],
        ),
        Stages(Name="DeployProd", Actions=[stack_set_action(cfg, params, Stage.PROD, run_order=1)]),
    ]
    return template.add_resource(
        Pipeline(
            "ModelDeployPipeline",
            Name=Sub(cfg.names.pipeline.pattern),
            RoleArn=service_role_arn(params.pipeline_role),
            PipelineType="V2",
            ExecutionMode="QUEUED",
            ArtifactStore=ArtifactStore(Type="S3", Location=Ref(bucket)),
            RestartExecutionOnUpdate=False,
            Stages=stages,
        )
    )
