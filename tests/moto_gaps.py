"""Fill SageMaker APIs moto 5.2.5 lacks, for the tests that need them (see shared aws-facts.md).

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
