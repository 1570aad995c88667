"""The pipeline's deploy actions: one stack set per stage, deployed one of two ways.

`deploy_mode` (generator/config.py, a rule of the configuration) is the one place that decides how:

- **native**: CodePipeline's own `CloudFormationStackSet` action. Used from the management account
  with whole OUs (`SERVICE_MANAGED`) and for self-managed stack sets, whose explicit account lists the
  action takes in `DeploymentTargets` with `AdministrationRoleArn` and `ExecutionRoleName`. It sets only
  the configuration keys the action reference documents (E9101 checks each against its page):
  https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-StackSets.html
  Every value is a string (troposphere does not check this dict; E9101 does). No
  `OrganizationsAutoDeployment`: the reference says "If OrganizationsAutoDeployment is specified, do not
  specify DeploymentTargets and Regions", and the action needs both to deploy to the stage's OU. An
  account that joins the OU later gets the endpoint at the next deployment, which adds stack instances
  for the OU's accounts of the moment.
- **api**: a CodeBuild action running the seed's `deploy/deploy.py`, which calls the CloudFormation
  API itself. Needed where the action cannot follow: a delegated StackSets administrator (the action
  has no `CallAs`; cloudformation-coverage-roadmap issue 796) and accounts chosen inside an OU (its
  `DeploymentTargets` takes only OU ids for `SERVICE_MANAGED`, with no `AccountFilterType`). It reads
  the same template and parameter files from BuildArtifact, so the build step does not change.

Region order: `--deploy-regions` is deployed in the order given. The api mode passes it as
`OperationPreferences.RegionOrder`; the native action has no `RegionConcurrencyType` key (not in the
action reference) and deploys its `Regions` list one after another, in that order, so
`--region-concurrency parallel` is refused there (see `check_region_concurrency` in generator/config.py).

Account concurrency: both modes set `ConcurrencyMode` `SOFT_FAILURE_TOLERANCE`. Under the default,
STRICT_FAILURE_TOLERANCE, the concurrency is at most the failure tolerance + 1, so prod (tolerance 0)
would deploy to one account at a time whatever `--max-concurrent-percentage` says. SOFT runs at
`MaxConcurrentPercentage` "regardless of the number of failures" (StackSetOperationPreferences):
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html
The price: up to a whole batch of accounts can fail before the operation stops, so a failure can leave
more than the tolerated accounts failed; `--max-concurrent-percentage` bounds that batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from troposphere import Join, Ref, Sub
from troposphere.codebuild import Project
from troposphere.codepipeline import Actions, ActionTypeId, InputArtifacts

from generator import contract
from generator.config import (
    DEFAULT_ADMINISTRATION_ROLE,
    DeployMode,
    PermissionModel,
    RenderConfig,
    StackSetAdmin,
    deploy_mode,
)
from generator.naming import Stage

if TYPE_CHECKING:  # a type only: parameters' role defaults reach stacksets through the project roles
    from generator.product.parameters import ProductParameters


def call_as(cfg: RenderConfig) -> str:
    """The CloudFormation API's `CallAs` for this configuration's stack-set calls."""
    return "DELEGATED_ADMIN" if cfg.stackset_admin is StackSetAdmin.DELEGATED else "SELF"


def failure_tolerance(cfg: RenderConfig, stage: Stage) -> int:
    """Production tolerates no failed account: a half-deployed prod is worse than a stopped pipeline."""
    return cfg.preferences.failure_tolerance_percentage if stage is Stage.STAGING else 0


#: The StackSetOperationPreferences ConcurrencyMode every deployment uses (see the module docstring).
CONCURRENCY_MODE = "SOFT_FAILURE_TOLERANCE"


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
        configuration["DeploymentTargets"] = Ref(params.ou[stage])
    configuration.update(
        {
            # Deployed one after another, in this order (the action has no RegionConcurrencyType).
            "Regions": ",".join(cfg.deploy_regions),
            "FailureTolerancePercentage": str(failure_tolerance(cfg, stage)),
            "MaxConcurrentPercentage": str(prefs.max_concurrent_percentage),
            "ConcurrencyMode": CONCURRENCY_MODE,
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
