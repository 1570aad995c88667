"""The pipeline's deploy actions: one stack set per stage, deployed one of two ways.

`deploy_mode` is the one place that decides how:

- **native**: CodePipeline's own `CloudFormationStackSet` action. Used from the management account
  with whole OUs (`SERVICE_MANAGED`, auto-deployment on) and for self-managed stack sets, whose
  explicit account lists the action takes in `DeploymentTargets` with `AdministrationRoleArn` and
  `ExecutionRoleName`. Configuration keys and value formats:
  https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-StackSets.html
  Every value is a string (troposphere does not check this dict; our lint rule E9001 does).
- **api**: a CodeBuild action running the seed's `deploy/deploy.py`, which calls the CloudFormation
  API itself. Needed where the action cannot follow: a delegated StackSets administrator (the action
  has no `CallAs`; cloudformation-coverage-roadmap issue 796) and accounts chosen inside an OU (its
  `DeploymentTargets` takes only OU ids for `SERVICE_MANAGED`, with no `AccountFilterType`). It reads
  the same template and parameter files from BuildArtifact, so the build step does not change.

Region order: `--deploy-regions` is deployed in the order given. The api mode passes it as
`OperationPreferences.RegionOrder`; the native action deploys its `Regions` list in that order when
`RegionConcurrencyType` is `SEQUENTIAL` (with `PARALLEL` there is no order to keep).
"""

from __future__ import annotations

from enum import StrEnum

from troposphere import Join, Ref, Sub
from troposphere.codebuild import Project
from troposphere.codepipeline import Actions, ActionTypeId, InputArtifacts

from generator import contract
from generator.config import DEFAULT_ADMINISTRATION_ROLE, PermissionModel, RenderConfig, StackSetAdmin
from generator.naming import Stage
from generator.parameters import ProductParameters


class DeployMode(StrEnum):
    """How the deploy actions create and update the stack sets (see the module docstring)."""

    NATIVE = "native"
    API = "api"


def deploy_mode(cfg: RenderConfig) -> DeployMode:
    """native for the management account with whole OUs and for self-managed account lists; api for a
    delegated administrator or accounts filtered inside an OU (what the CodePipeline action cannot do)."""
    if cfg.permission_model is PermissionModel.SELF_MANAGED:
        return DeployMode.NATIVE
    if cfg.stackset_admin is StackSetAdmin.DELEGATED or cfg.filters_accounts:
        return DeployMode.API
    return DeployMode.NATIVE


def call_as(cfg: RenderConfig) -> str:
    """The CloudFormation API's `CallAs` for this configuration's stack-set calls."""
    return "DELEGATED_ADMIN" if cfg.stackset_admin is StackSetAdmin.DELEGATED else "SELF"


def failure_tolerance(cfg: RenderConfig, stage: Stage) -> int:
    """Production tolerates no failed account: a half-deployed prod is worse than a stopped pipeline."""
    return cfg.preferences.failure_tolerance_percentage if stage is Stage.STAGING else 0


def action_name(stage: Stage) -> str:
    """The deploy action's name, the same in both modes (the approval text and graphs name it)."""
    return f"DeployResources{stage.value.capitalize()}"


def description(stage: Stage) -> Sub:
    return Sub(f"{stage.value.capitalize()} endpoint of SageMaker project ${{SageMakerProjectName}}")


def administration_role_arn(cfg: RenderConfig) -> str | Sub:
    """Self-managed: the chosen administration role, else CloudFormation's standard one in the pipeline's account."""
    if cfg.administration_role_arn:
        return cfg.administration_role_arn
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{DEFAULT_ADMINISTRATION_ROLE}")


def stack_set_action(cfg: RenderConfig, params: ProductParameters, stage: Stage, run_order: int) -> Actions:
    """Native mode: create or update the stage's stack set and its instances (the OU, or the listed accounts)."""
    prefs = cfg.preferences
    configuration: dict[str, object] = {
        "StackSetName": Sub(cfg.names.stack_set(stage).pattern),
        "Description": description(stage),
        "TemplatePath": f"{contract.BUILD_ARTIFACT}::{contract.EXPORT_TEMPLATE}",
        "Parameters": f"{contract.BUILD_ARTIFACT}::{contract.EXPORT_PARAMETERS[stage]}",
        "PermissionModel": cfg.permission_model.api_value,
    }
    if cfg.permission_model is PermissionModel.SELF_MANAGED:
        configuration["AdministrationRoleArn"] = administration_role_arn(cfg)
        configuration["ExecutionRoleName"] = cfg.execution_role_name
        configuration["DeploymentTargets"] = Join(",", Ref(params.accounts[stage]))
    else:
        # Accounts that join the OU later get the endpoint without anyone signing in to them.
        configuration["OrganizationsAutoDeployment"] = "Enabled"
        configuration["DeploymentTargets"] = Ref(params.ou[stage])
    configuration.update(
        {
            # In this order; kept when RegionConcurrencyType is SEQUENTIAL (see the module docstring).
            "Regions": ",".join(cfg.deploy_regions),
            "FailureTolerancePercentage": str(failure_tolerance(cfg, stage)),
            "MaxConcurrentPercentage": str(prefs.max_concurrent_percentage),
            "RegionConcurrencyType": prefs.region_concurrency.value.upper(),
        }
    )
    return Actions(
        Name=action_name(stage),
        ActionTypeId=ActionTypeId(Category="Deploy", Owner="AWS", Provider="CloudFormationStackSet", Version="1"),
        Configuration=configuration,
        InputArtifacts=[InputArtifacts(Name=contract.BUILD_ARTIFACT)],
        RunOrder=run_order,
    )


def api_deploy_action(project: Project, stage: Stage, run_order: int) -> Actions:
    """Api mode: the stage's deploy project runs deploy/deploy.py from the source, on BuildArtifact's files."""
    return Actions(
        Name=action_name(stage),
        ActionTypeId=ActionTypeId(Category="Build", Owner="AWS", Provider="CodeBuild", Version="1"),
        Configuration={"ProjectName": Ref(project), "PrimarySource": contract.SOURCE_ARTIFACT},
        InputArtifacts=[InputArtifacts(Name=contract.SOURCE_ARTIFACT), InputArtifacts(Name=contract.BUILD_ARTIFACT)],
        RunOrder=run_order,
    )


def deploy_action(
    cfg: RenderConfig, params: ProductParameters, projects: dict[Stage, Project], stage: Stage, run_order: int
) -> Actions:
    """The stage's deploy action in this configuration's mode (`projects` holds the api mode's projects)."""
    if deploy_mode(cfg) is DeployMode.API:
        return api_deploy_action(projects[stage], stage, run_order)
    return stack_set_action(cfg, params, stage, run_order)
