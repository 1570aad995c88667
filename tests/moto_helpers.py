"""moto helpers: SageMaker APIs moto 5.2.5 lacks (see shared aws-facts.md), and deploying a stack-set template.

Only the shape is emulated: the request is validated by botocore against the real service model
before moto sees it, and the responses carry exactly the fields the real API returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse

from generator.live.rehearse.server import libyaml_stack_templates


def _group(response: SageMakerResponse) -> Any:
    name = response._get_param("ModelPackageGroupName")
    group = response.sagemaker_backend.model_package_groups.get(name)
    if group is None:
        raise ValidationError(message=f"Model Package Group {name} does not exist.")
    return group


def put_model_package_group_policy(self: SageMakerResponse) -> ActionResult:
    group = _group(self)
    group.mlops_gen_policy = self._get_param("ResourcePolicy")
    return ActionResult({"ModelPackageGroupArn": group.arn})


def get_model_package_group_policy(self: SageMakerResponse) -> ActionResult:
    group = _group(self)
    policy = getattr(group, "mlops_gen_policy", None)
    if policy is None:
        raise ValidationError(message="Cannot find resource policy.")
    return ActionResult({"ResourcePolicy": policy})


@pytest.fixture
def model_package_group_policies(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make moto answer Put/GetModelPackageGroupPolicy (it raises NotImplementedError otherwise)."""
    monkeypatch.setattr(
        SageMakerResponse, "put_model_package_group_policy", put_model_package_group_policy, raising=False
    )
    monkeypatch.setattr(
        SageMakerResponse, "get_model_package_group_policy", get_model_package_group_policy, raising=False
    )
    yield


def create_stack_set_from_template(cfn: Any, wrapper: dict[str, Any], account_id: str) -> str:
    """What an engineer's `aws cloudformation deploy` of a stack-set wrapper template does, through the API.

    The template's one AWS::CloudFormation::StackSet resource becomes CreateStackSet and CreateStackInstances
    (`Ref: AWS::AccountId` in its parameters resolved to `account_id`, the account the stack runs in).
    Returns the stack set's name.
    """
    ((_, resource),) = [(k, r) for k, r in wrapper["Resources"].items() if r["Type"] == "AWS::CloudFormation::StackSet"]
    props = resource["Properties"]
    account_ref = {"Ref": "AWS::AccountId"}
    parameters = [
        {**p, "ParameterValue": account_id if p["ParameterValue"] == account_ref else p["ParameterValue"]}
        for p in props.get("Parameters", [])
    ]
    optional = {k: props[k] for k in ("AutoDeployment", "AdministrationRoleARN", "ExecutionRoleName") if k in props}
    # Speed only: moto parses the template again for each stack instance with PyYAML's pure-Python parser (the
    # rehearsal's libyaml parse, the same data: tests/test_rehearse_clients.py).
    with libyaml_stack_templates():
        cfn.create_stack_set(
            StackSetName=props["StackSetName"],
            TemplateBody=props["TemplateBody"],
            Parameters=parameters,
            PermissionModel=props["PermissionModel"],
            Capabilities=props["Capabilities"],
            **optional,
        )
        for group in props["StackInstancesGroup"]:
            cfn.create_stack_instances(
                StackSetName=props["StackSetName"],
                DeploymentTargets=group["DeploymentTargets"],
                Regions=group["Regions"],
                OperationPreferences=props["OperationPreferences"],
            )
    return str(props["StackSetName"])


#: A real built-in XGBoost image URI (eu-west-1), for model packages registered in tests.
XGBOOST_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def register_model_package(sm: Any, group: str, status: str) -> str:
    """Register a model package version (CSV in and out, the iris model's contract); its ARN."""
    arn: str = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": XGBOOST_IMAGE}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return arn
