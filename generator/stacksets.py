"""The pipeline's deploy actions: CodePipeline's `CloudFormationStackSet` to an organizational unit.

Configuration keys and value formats: https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-StackSets.html
Every value is a string (troposphere does not check this dict; our lint rule E9001 does).
"""

from __future__ import annotations

from troposphere import Ref, Sub
from troposphere.codepipeline import Actions, ActionTypeId, InputArtifacts

from generator import contract
from generator.config import RenderConfig
from generator.naming import Stage
from generator.parameters import ProductParameters


def stack_set_action(cfg: RenderConfig, params: ProductParameters, stage: Stage, run_order: int) -> Actions:
    """Create or update the stage's stack set and its instances in every account of the stage's OU."""
    prefs = cfg.preferences
    # Production tolerates no failed account: a half-deployed prod is worse than a stopped pipeline.
    tolerance = prefs.failure_tolerance_percentage if stage is Stage.STAGING else 0
    return Actions(
        Name=f"DeployResources{stage.value.capitalize()}",
        ActionTypeId=ActionTypeId(Category="Deploy", Owner="AWS", Provider="CloudFormationStackSet", Version="1"),
        Configuration={
            "StackSetName": Sub(cfg.names.stack_set(stage).pattern),
            "Description": Sub(f"{stage.value.capitalize()} endpoint of SageMaker project ${{SageMakerProjectName}}"),
            "TemplatePath": f"{contract.BUILD_ARTIFACT}::{contract.EXPORT_TEMPLATE}",
            "Parameters": f"{contract.BUILD_ARTIFACT}::{contract.EXPORT_PARAMETERS[stage]}",
            "PermissionModel": "SERVICE_MANAGED",
            # Accounts that join the OU later get the endpoint without anyone signing in to them.
            "OrganizationsAutoDeployment": "Enabled",
            "DeploymentTargets": Ref(params.ou[stage]),
            "Regions": ",".join(cfg.deploy_regions),
            "FailureTolerancePercentage": str(tolerance),
            "MaxConcurrentPercentage": str(prefs.max_concurrent_percentage),
            "RegionConcurrencyType": prefs.region_concurrency.value.upper(),
        },
        InputArtifacts=[InputArtifacts(Name=contract.BUILD_ARTIFACT)],
        RunOrder=run_order,
    )
