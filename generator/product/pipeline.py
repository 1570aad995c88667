"""The deployment pipeline: Source -> Build -> staging (deploy, test, approve) -> prod."""

from __future__ import annotations

from typing import Any

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
from troposphere.sns import Topic

from generator import contract
from generator.config import RenderConfig
from generator.contract import Variables
from generator.naming import Stage
from generator.product.parameters import ProductParameters
from generator.product.source import source_action
from generator.product.stacksets import deploy_action


def build_action(
    name: str, project: Project, inputs: list[str], outputs: list[str], run_order: int, namespace: str | None = None
) -> Actions:
    """A CodeBuild action; the first input is the primary source. With `namespace`, the variables its
    buildspec exports (`env: exported-variables`) are readable downstream as `#{namespace.NAME}`."""
    action = Actions(
        Name=name,
        ActionTypeId=ActionTypeId(Category="Build", Owner="AWS", Provider="CodeBuild", Version="1"),
        Configuration={"ProjectName": Ref(project)},
        InputArtifacts=[InputArtifacts(Name=n) for n in inputs],
        RunOrder=run_order,
    )
    if outputs:
        action.OutputArtifacts = [OutputArtifacts(Name=n) for n in outputs]
    if namespace:
        action.Namespace = namespace
    return action


#: CodePipeline: an action configuration value, variable syntax included, may hold 1000 characters.
#: https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html
CONFIGURATION_VALUE_MAX = 1000


def approval_custom_data(cfg: RenderConfig, params: ProductParameters) -> str:
    """The approver's evidence (an `Fn::Sub` pattern with CodePipeline variables in it): which package,
    why this one (a rollback says so), the staging test's summary, and links to the package and report."""

    def build(name: str) -> str:
        return Variables.ref(Variables.BUILD_NAMESPACE, name)

    def test(name: str) -> str:
        return Variables.ref(Variables.TEST_NAMESPACE, name)

    regions = ", ".join(cfg.deploy_regions)
    return (
        f"Deploy version {build('MODEL_PACKAGE_VERSION')} of model package group "
        f"{cfg.names.model_package_group.pattern} to production (OU ${{{params.ou[Stage.PROD].title}}})? "
        f"{build('DEPLOY_REASON')}. "
        f"Staging test: {test('PASS_COUNT')} of {test('TARGET_COUNT')} endpoint(s) passed "
        f"(OU ${{{params.ou[Stage.STAGING].title}}}, {regions}), worst p95 latency {test('P95_MS')} ms. "
        f"Package: {build('MODEL_PACKAGE_ARN')} {build('MODEL_PACKAGE_URL')} "
        f"Test report: {test('REPORT_URL')}"
    )


def approval_action(
    cfg: RenderConfig, params: ProductParameters, run_order: int, topic: Topic | None = None
) -> Actions:
    """Manual approval before prod, with the evidence: the package and the staging test's summary
    (variables of the build and test actions), and an email to the approvers when there is a topic."""
    custom_data = approval_custom_data(cfg, params)
    if len(custom_data) > CONFIGURATION_VALUE_MAX:  # pragma: no cover - a change of the text above
        raise ValueError(f"CustomData is {len(custom_data)} characters; CodePipeline allows {CONFIGURATION_VALUE_MAX}")
    configuration: dict[str, Any] = {
        "CustomData": Sub(custom_data),
        # The review link the console and the email show: the staging test's report.
        "ExternalEntityLink": Variables.ref(Variables.TEST_NAMESPACE, "REPORT_URL"),
    }
    if topic is not None:
        configuration["NotificationArn"] = Ref(topic)
    return Actions(
        Name="ApproveDeployment",
        ActionTypeId=ActionTypeId(Category="Approval", Owner="AWS", Provider="Manual", Version="1"),
        Configuration=configuration,
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
    deploy_projects: dict[Stage, Project] | None = None,
    approval_topic: Topic | None = None,
) -> Pipeline:
    """A V2 pipeline in QUEUED mode, so two approvals in a row never collide on a stack-set operation."""
    stages = [
        Stages(Name="Source", Actions=[source_action(cfg, repository)]),
        Stages(
            Name="Build",
            Actions=[
                build_action(
                    "BuildDeploymentTemplates",
                    build_project,
                    [contract.SOURCE_ARTIFACT],
                    [contract.BUILD_ARTIFACT],
                    1,
                    Variables.BUILD_NAMESPACE,
                )
            ],
        ),
        Stages(
            Name="DeployStaging",
            Actions=[
                deploy_action(cfg, params, deploy_projects or {}, Stage.STAGING, run_order=1),
                build_action("TestStaging", test_project, [contract.SOURCE_ARTIFACT], [], 2, Variables.TEST_NAMESPACE),
                approval_action(cfg, params, run_order=3, topic=approval_topic),
            ],
        ),
        Stages(Name="DeployProd", Actions=[deploy_action(cfg, params, deploy_projects or {}, Stage.PROD, run_order=1)]),
    ]
    return template.add_resource(
        Pipeline(
            "ModelDeployPipeline",
            Name=Sub(cfg.names.pipeline.pattern),
            RoleArn=params.role_arns["pipeline"],
            PipelineType="V2",
            ExecutionMode="QUEUED",
            ArtifactStore=ArtifactStore(Type="S3", Location=Ref(bucket)),
            RestartExecutionOnUpdate=False,
            Stages=stages,
        )
    )
