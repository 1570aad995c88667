"""The data scientist's part: register an iris model package, approve (or reject) it, and the
`SageMaker Model Package State Change` event SageMaker then sends, built from the package itself."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from datetime import UTC, datetime
from typing import Any

from generator.live.rehearse.server import MANAGEMENT_ACCOUNT, LocalAws

#: SageMaker's XGBoost 1.7-1 image account per region (SageMaker docs, "Docker Registry Paths").
XGBOOST_ACCOUNTS = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-central-1": "492215442770",
}


def xgboost_image(region: str) -> str:
    account = XGBOOST_ACCOUNTS.get(region, XGBOOST_ACCOUNTS["eu-west-1"])
    return f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:1.7-1"


def model_artifact(version: int) -> bytes:
    """A small model.tar.gz: the flow needs an artifact in S3, not a trained model."""
    content = json.dumps({"model": "iris", "version": version, "note": "rehearsal stand-in"}).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def registration_creates_group(aws: LocalAws, group: str, declared: bool) -> str:
    """ "" when the product's group exists; else who creates it, or StepFailed when nobody should.

    The rehearsal never creates what the product should have created. A product launched with the
    standard launch role cannot create the group (see aws-facts.md) and says so: its build project has
    CREATE_MODEL_PACKAGE_GROUP=true (`declared`). Then the data scientist's registration creates it, as
    the SageMaker SDK's registration does (sagemaker 3.27.0, `sagemaker.core.model_registry.
    create_model_package_from_containers`: CreateModelPackageGroup when no group of that name exists).
    """
    from generator.live.rehearse.report import StepFailed

    sm = aws.client("sagemaker")
    try:
        sm.describe_model_package_group(ModelPackageGroupName=group)
        return ""
    except sm.exceptions.ClientError:
        if not declared:
            raise StepFailed(
                f"model package group {group} does not exist: the product did not create it and does not say that "
                "something else does (no build project with CREATE_MODEL_PACKAGE_GROUP=true)"
            ) from None
    sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription="iris models")
    return "the SageMaker SDK's registration creates a missing group; the product's build adds its policy"


def register(aws: LocalAws, group: str, bucket: str, version: int) -> str:
    """Upload a model artifact and register it in `group`, pending approval; the package ARN."""
    key = f"model-build/iris-v{version}/model.tar.gz"
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=model_artifact(version))
    arn = aws.client("sagemaker").create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=f"iris classifier, version {version} (rehearsal)",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": xgboost_image(aws.region), "ModelDataUrl": f"s3://{bucket}/{key}"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
            "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
        },
    )["ModelPackageArn"]
    return str(arn)


def set_status(aws: LocalAws, arn: str, status: str) -> None:
    aws.client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=f"{status} in the rehearsal"
    )


def _jsonable(value: Any) -> Any:
    """The event's form of a describe answer: timestamps as epoch milliseconds, as SageMaker sends them."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def state_change_event(aws: LocalAws, arn: str) -> dict[str, Any]:
    """The EventBridge event for the package's current state (detail = the package's description)."""
    described = aws.client("sagemaker").describe_model_package(ModelPackageName=arn)
    detail = _jsonable({k: v for k, v in described.items() if k != "ResponseMetadata"})
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": MANAGEMENT_ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": aws.region,
        "resources": [arn],
        "detail": detail,
    }
