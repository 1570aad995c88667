"""The CodeBuild projects: the build step (exports the endpoint template and stack-set parameters)
and the staging endpoint test. Their environment is the seed code's interface (see contract.py)."""

from __future__ import annotations

from typing import Any

from troposphere import Join, Ref, Sub, Template
from troposphere.codebuild import Artifacts, Environment, EnvironmentVariable, Project, Source
from troposphere.s3 import Bucket

from generator import contract
from generator.build_network import in_vpc
from generator.config import DeployMode, LaunchRole, RenderConfig, deploy_mode
from generator.contract import Env
from generator.naming import BootstrapNames, Stage
from generator.product.grants import execution_role_name
from generator.product.kms import data_key_alias, uses_key
from generator.product.org_id import ORG_ID_PARAMETER
from generator.product.parameters import ProductParameters
from generator.product.stacksets import call_as, description, failure_tolerance

#: A current CodeBuild standard image (Ubuntu 22.04) with the Python 3.12 runtime.
#: https://docs.aws.amazon.com/codebuild/latest/userguide/available-runtimes.html
IMAGE = "aws/codebuild/standard:7.0"
COMPUTE = "BUILD_GENERAL1_SMALL"
BUILD_TIMEOUT_MINUTES = 20
TEST_TIMEOUT_MINUTES = 60
#: deploy.py's waiter is bounded below this (see seedcode/modeldeploy/deploy/deploy.py).
DEPLOY_TIMEOUT_MINUTES = 120


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
        Env.ORG_ID: Ref(ORG_ID_PARAMETER),
        Env.EXECUTION_ROLE: execution_role_name(cfg),
        Env.DATA_CAPTURE_BUCKET_STEM: BootstrapNames(cfg.name_prefix).data_capture_bucket_stem,
    }
    # --kms-key: the stage accounts' data key for the endpoints (generator/product/kms.py); "none": AWS managed keys.
    variables[Env.ENDPOINT_KMS_KEY] = data_key_alias(cfg) if uses_key(cfg) else "none"
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
    variables: dict[str, Any] = {
        Env.PROJECT_NAME: Ref(params.project_name),
        Env.PROJECT_ID: Ref(params.project_id),
        Env.STAGE: stage.value,
        Env.DEPLOY_REGIONS: ",".join(cfg.deploy_regions),
        Env.ou(stage): Ref(params.ou[stage]),
        Env.role(stage): Ref(params.execution_role[stage]),
        Env.endpoint(stage): Sub(cfg.names.endpoint(stage).pattern),
        Env.config(stage): contract.STAGE_CONFIG[stage],
        # Listed accounts got the endpoint: test them, not the whole OU (empty: every account of the OU).
        Env.accounts(stage): Join(",", Ref(params.accounts[stage])) if stage in params.accounts else "",
    }
    return variables


def deploy_environment(cfg: RenderConfig, params: ProductParameters, stage: Stage) -> dict[str, Any]:
    """What deploy/deploy.py reads (deploy mode "api"): the stack set, its targets, regions and preferences."""
    prefs = cfg.preferences
    listed = stage in params.accounts
    return {
        Env.STAGE: stage.value,
        Env.STACK_SET_NAME: Sub(cfg.names.stack_set(stage).pattern),
        Env.STACK_SET_DESCRIPTION: description(stage),
        Env.EXPORT_TEMPLATE: contract.EXPORT_TEMPLATE,
        Env.STACK_SET_PARAMETERS: contract.EXPORT_PARAMETERS[stage],
        Env.CALL_AS: call_as(cfg),
        Env.TARGET_OUS: Ref(params.ou[stage]),
        Env.TARGET_ACCOUNTS: Join(",", Ref(params.accounts[stage])) if listed else "",
        Env.ACCOUNT_FILTER: "INTERSECTION" if listed else "NONE",
        # Auto-deployment would also reach accounts outside the list as they join the OU.
        Env.AUTO_DEPLOYMENT: "false" if listed else "true",
        # Comma-separated, in the order given: deploy.py passes it as RegionOrder.
        Env.DEPLOY_REGIONS: ",".join(cfg.deploy_regions),
        Env.FAILURE_TOLERANCE: str(failure_tolerance(cfg, stage)),
        Env.MAX_CONCURRENT: str(prefs.max_concurrent_percentage),
        Env.REGION_CONCURRENCY: prefs.region_concurrency.value.upper(),
    }


def _project(
    title: str,
    name: str,
    description: str,
    buildspec: str,
    timeout: int,
    env: dict[str, Any],
    params: ProductParameters,
    cfg: RenderConfig,
    role: str = "build",
) -> Project:
    project = Project(
        title,
        Name=Sub(name),
        Description=description,
        ServiceRole=params.role_arns[role],
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
    return in_vpc(project, cfg)  # --build-vpc-id (generator/build_network.py)


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
            cfg,
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
            cfg,
            role="test",
        )
    )


def add_deploy_projects(template: Template, cfg: RenderConfig, params: ProductParameters) -> dict[Stage, Project]:
    """Deploy mode "api" only: one project per stage that creates or updates its stack set (deploy.py)."""
    if deploy_mode(cfg) is not DeployMode.API:
        return {}
    return {
        stage: template.add_resource(
            _project(
                f"ModelDeploy{stage.value.capitalize()}DeployProject",
                cfg.names.deploy_project(stage).pattern,
                f"Creates or updates the {stage.value} endpoint's stack set and its instances (CloudFormation API).",
                contract.DEPLOY_BUILD_SPEC,
                DEPLOY_TIMEOUT_MINUTES,
                deploy_environment(cfg, params, stage),
                params,
                cfg,
            )
        )
        for stage in Stage
    }
