"""The CodeBuild projects: the build step (exports the endpoint template and stack-set parameters)
and the staging endpoint test. Their environment is the seed code's interface (see contract.py)."""

from __future__ import annotations

from typing import Any

from troposphere import Ref, Sub, Template
from troposphere.codebuild import Artifacts, Environment, EnvironmentVariable, Project, Source
from troposphere.s3 import Bucket

from generator import contract
from generator.config import LaunchRole, RenderConfig
from generator.contract import Env
from generator.naming import Stage
from generator.parameters import ProductParameters
from generator.roles import service_role_arn

#: A current CodeBuild standard image (Ubuntu 22.04) with the Python 3.12 runtime.
#: https://docs.aws.amazon.com/codebuild/latest/userguide/available-runtimes.html
IMAGE = "aws/codebuild/standard:7.0"
COMPUTE = "BUILD_GENERAL1_SMALL"
BUILD_TIMEOUT_MINUTES = 20
TEST_TIMEOUT_MINUTES = 60


def _env(variables: dict[str, Any]) -> list[EnvironmentVariable]:
    return [EnvironmentVariable(Name=name, Type="PLAINTEXT", Value=value) for name, value in variables.items()]


def build_environment(cfg: RenderConfig, params: ProductParameters, bucket: Bucket) -> dict[str, Any]:
    """What build.py reads: the project, its registry group, the stages and the export file names."""
    names = cfg.names
    variables: dict[str, Any] = {
        Env.PROJECT_NAME: Ref(params.project_name),
        Env.PROJECT_ID: Ref(params.project_id),
        Env.MODEL_PACKAGE_GROUP: Sub(names.model_package_group.pattern),
        # Under the standard launch role the product cannot create the group: the build does.
        Env.CREATE_MODEL_PACKAGE_GROUP: "true" if cfg.launch_role is LaunchRole.STANDARD else "false",
        Env.ARTIFACT_BUCKET: Ref(bucket),
        Env.DEPLOY_REGIONS: ",".join(cfg.deploy_regions),
        Env.EXPORT_TEMPLATE: contract.EXPORT_TEMPLATE,
    }
    for stage in Stage:
        variables[Env.ou(stage)] = Ref(params.ou[stage])
        variables[Env.role(stage)] = Ref(params.execution_role[stage])
        variables[Env.endpoint(stage)] = Sub(names.endpoint(stage).pattern)
        variables[Env.params(stage)] = contract.EXPORT_PARAMETERS[stage]
        variables[Env.config(stage)] = contract.STAGE_CONFIG[stage]
    return variables


def test_environment(cfg: RenderConfig, params: ProductParameters) -> dict[str, Any]:
    """What test/test.py reads: where the staging endpoints are and the staging settings."""
    stage = Stage.STAGING
    return {
        Env.PROJECT_NAME: Ref(params.project_name),
        Env.PROJECT_ID: Ref(params.project_id),
        Env.STAGE: stage.value,
        Env.DEPLOY_REGIONS: ",".join(cfg.deploy_regions),
        Env.ou(stage): Ref(params.ou[stage]),
        Env.role(stage): Ref(params.execution_role[stage]),
        Env.endpoint(stage): Sub(cfg.names.endpoint(stage).pattern),
        Env.config(stage): contract.STAGE_CONFIG[stage],
    }


def _project(
    title: str,
    name: str,
    description: str,
    buildspec: str,
    timeout: int,
    env: dict[str, Any],
    params: ProductParameters,
) -> Project:
    project = Project(
        title,
        Name=Sub(name),
        Description=description,
        ServiceRole=service_role_arn(params.build_role),
        Artifacts=Artifacts(Type="CODEPIPELINE"),
        Source=Source(Type="CODEPIPELINE", BuildSpec=buildspec),
        Environment=Environment(
            Type="LINUX_CONTAINER",
            ComputeType=COMPUTE,
            Image=IMAGE,
            ImagePullCredentialsType="CODEBUILD",
            EnvironmentVariables=_env(env),
        ),
        TimeoutInMinutes=timeout,
    )
    return project


def add_build_project(template: Template, cfg: RenderConfig, params: ProductParameters, bucket: Bucket) -> Project:
    """Finds the newest approved model and writes the endpoint template and per-stage parameters."""
    return template.add_resource(
        _project(
            "ModelDeployBuildProject",
            cfg.names.build_project.pattern,
            "Exports the endpoint template and stack-set parameters of the newest approved model.",
            contract.BUILD_SPEC,
            BUILD_TIMEOUT_MINUTES,
            build_environment(cfg, params, bucket),
            params,
        )
    )


def add_test_project(template: Template, cfg: RenderConfig, params: ProductParameters) -> Project:
    """Invokes the staging endpoint in every staging account and region."""
    return template.add_resource(
        _project(
            "ModelDeployTestProject",
            cfg.names.test_project.pattern,
            "Tests the staging endpoints in every staging account and deploy region.",
            contract.TEST_BUILD_SPEC,
            TEST_TIMEOUT_MINUTES,
            test_environment(cfg, params),
            params,
        )
    )
