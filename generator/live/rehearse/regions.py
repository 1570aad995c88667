"""SageMaker's region rule at CreateModel time, which moto 5.2.5 does not enforce.

SageMaker creates a model only from what is in the model's own region: the `ModelDataUrl` "must be in the
same region as the model", the inference image must come from an ECR registry of that region, and a
model package is a regional resource (botocore's sagemaker service model, `ContainerDefinition`;
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html). moto creates the
model whatever the regions, so a multi-region rehearsal would stay green while every region but the home
region fails on AWS.

`check_model_regions` reads an `AWS::SageMaker::Model`'s resolved properties and names the first container
whose artifacts, image or package are in another region; `model_regions_enforced` applies it while a
rehearsal runs, so the stack instance's CreateModel fails with that message as SageMaker's would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

NOTE = (
    "SageMaker CreateModel refuses model artifacts, an image or a model package from another region than the "
    "model's; moto 5.2.5 does not check. Patched: an AWS::SageMaker::Model whose container reads another "
    "region's bucket, registry or package fails its stack instance with the reason."
)
DOC = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html"
_IMAGE_REGION = re.compile(r"^\d{12}\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/")
_S3_URL = re.compile(r"^s3://(?P<bucket>[^/]+)/")


def local_bucket_region(bucket: str) -> str | None:
    """The region of a bucket of the local AWS (any account), None if no account has it."""
    from moto.s3.models import s3_backends

    for by_partition in s3_backends.values():
        for backend in by_partition.values():
            found = backend.buckets.get(bucket)
            if found is not None:
                return str(found.region_name)
    return None


def _containers(properties: dict[str, Any]) -> list[dict[str, Any]]:
    primary = properties.get("PrimaryContainer")
    return [c for c in [primary, *properties.get("Containers", [])] if isinstance(c, dict)]


def check_model_regions(
    region: str,
    model_properties: dict[str, Any],
    bucket_region: Callable[[str], str | None] = local_bucket_region,
) -> str | None:
    """Why SageMaker would refuse this model in `region` (its first cross-region container), or None."""
    for container in _containers(model_properties):
        package = str(container.get("ModelPackageName", ""))
        if package.startswith("arn:") and package.split(":")[3] != region:
            return (
                f"CreateModel in {region}: model package {package} is in {package.split(':')[3]}; a model can only "
                f"use a model package of its own region ({DOC})"
            )
        url = str(container.get("ModelDataUrl", ""))
        match = _S3_URL.match(url)
        if match:
            where = bucket_region(match["bucket"])
            if where is None:
                return f"CreateModel in {region}: model data {url}: bucket {match['bucket']} does not exist"
            if where != region:
                return (
                    f"CreateModel in {region}: model data {url} is in a bucket of {where}; the model artifacts must "
                    f"be in the model's region, copy them to a bucket in {region} ({DOC})"
                )
        image = str(container.get("Image", ""))
        found = _IMAGE_REGION.match(image)
        if found and found["region"] != region:
            return (
                f"CreateModel in {region}: image {image} is in the ECR registry of {found['region']}; the image "
                f"must come from a registry of the model's region ({DOC})"
            )
    return None


def _check_on_create() -> Any:
    """A hook on moto's CloudFormation creation of AWS::SageMaker::Model (the stack-set execution's CreateModel)."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import Model

    original = Model.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
               **kwargs: Any) -> Any:  # fmt: skip
        problem = check_model_regions(region_name, cloudformation_json.get("Properties", {}))
        if problem:
            raise ValidationError(message=f"account {account_id}: {problem}")
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    return mock.patch.object(Model, "create_from_cloudformation_json", classmethod(create))


BUCKET_POLICY_NOTE = (
    "moto 5.2.5 checks a bucket policy's statements without their conditions, so a TLS-only Deny "
    "(aws:SecureTransport false) denies every request to the bucket. Patched: moto's own check leaves out "
    "statements with a Condition (it cannot evaluate them; the rehearsal's call-time authorization does)."
)


def _unconditional_statements(policy: str) -> str:
    """The policy with only its statements that have no Condition (what moto can evaluate)."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    document["Statement"] = [s for s in statements if isinstance(s, dict) and "Condition" not in s]
    return json.dumps(document)


def _bucket_policy_conditions() -> Any:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        text = self.policy.decode() if isinstance(self.policy, bytes) else str(self.policy)
        return IAMPolicy(_unconditional_statements(text)).is_action_permitted(action, resource)

    return mock.patch.object(FakeBucket, "get_permission", get_permission)


NOTES = (NOTE, BUCKET_POLICY_NOTE)


@contextmanager
def region_behaviour() -> Iterator[None]:
    """For the duration of a rehearsal: the CreateModel region rule, and bucket policies moto can check."""
    with _check_on_create(), _bucket_policy_conditions():
        yield
