"""What the data scientist does around the pipeline: put data in S3, approve the model.

Names here must match what the product creates (generator/naming.py): the seed code runs
where the generator is not installed, so it repeats the patterns and a test pins them.
Every function takes its boto3 client, so tests run them against moto.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

PENDING = "PendingManualApproval"
APPROVED = "Approved"
DEFAULT_PREFIX = "sagemaker-"
#: The role SageMaker creates for project resources; the first-party templates run pipelines with it.
USE_ROLE_NAME = "service-role/AmazonSageMakerServiceCatalogProductsUseRole"


# Pipeline parameters a run may override (`run_pipeline(parameters=...)`, the CLI, Studio).
TRAINING_INSTANCE_TYPE = "TrainingInstanceType"
TRAINING_INSTANCE_COUNT = "TrainingInstanceCount"
INPUT_DATA = "InputDataUrl"
MODEL_APPROVAL_STATUS = "ModelApprovalStatus"

#: Where in the artifact bucket a registered version's model.tar.gz and evaluation report go: the product's
#: lifecycle rules never expire this prefix (generator/contract.py MODEL_ARTIFACTS_PREFIX; a test pins it).
#: Everything else this pipeline writes goes under `<pipeline name>/`, which expires as scratch.
MODEL_ARTIFACTS_PREFIX = "models/"


def pipeline_name(project_name: str) -> str:
    """The project's SageMaker Pipeline (Studio shows it under the project through its tags)."""
    return f"{project_name}-iris"


def model_package_group_name(project_name: str) -> str:
    """The product's model package group is named after the project (Studio lists it there)."""
    return project_name


def artifact_bucket_name(project_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The bucket the product creates for the project: training data and pipeline outputs go there."""
    return f"{prefix}project-{project_id}-artifacts"


def deployment_pipeline_name(project_name: str, project_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The CodePipeline that deploys an approved model to staging, then prod."""
    return f"{prefix}{project_name}-{project_id}-modeldeploy"


def deployment_pipeline_url(project_name: str, project_id: str, region: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Where to watch the deployment in the console."""
    name = deployment_pipeline_name(project_name, project_id, prefix)
    return f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{name}/view?region={region}"


def default_role_arn(sts: Any) -> str:
    """The project use role in the caller's account (the pipeline's execution role by default)."""
    account = sts.get_caller_identity()["Account"]
    return f"arn:aws:iam::{account}:role/{USE_ROLE_NAME}"


def iris_csv() -> str:
    """The iris data set in the built-in XGBoost CSV format: label (0, 1, 2) first, no header."""
    from sklearn.datasets import load_iris  # scikit-learn is only in the `sagemaker` extra

    iris = load_iris()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for features, label in zip(iris.data, iris.target, strict=True):
        writer.writerow([int(label), *(float(x) for x in features)])
    return out.getvalue()


def write_iris_csv(s3: Any, bucket: str, key: str = "iris/input/iris.csv") -> str:
    """Upload the iris CSV to `bucket` and return its S3 URI (the pipeline's input data)."""
    s3.put_object(Bucket=bucket, Key=key, Body=iris_csv().encode(), ContentType="text/csv")
    return f"s3://{bucket}/{key}"


def ensure_model_package_group(sm: Any, name: str, tags: dict[str, str] | None = None) -> bool:
    """Create the group if it is missing; True if created.

    The product's launch role may not create model package groups (see aws-facts), and the first
    registration needs one, so the data scientist's first run creates it.
    """
    try:
        sm.describe_model_package_group(ModelPackageGroupName=name)
        return False
    except sm.exceptions.ClientError as err:
        if err.response["Error"]["Code"] != "ValidationException":
            raise
    sm.create_model_package_group(
        ModelPackageGroupName=name,
        ModelPackageGroupDescription=f"Models of SageMaker project {name}",
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )
    return True


def newest_package(sm: Any, group: str, status: str | None = None) -> dict[str, Any] | None:
    """The most recently registered package of `group` (with approval `status` if given), or None."""
    args: dict[str, Any] = {"ModelPackageGroupName": group, "SortBy": "CreationTime", "SortOrder": "Descending"}
    if status:
        args["ModelApprovalStatus"] = status
    summaries = sm.list_model_packages(MaxResults=1, **args)["ModelPackageSummaryList"]
    return summaries[0] if summaries else None


def newest_pending_package(sm: Any, group: str) -> str | None:
    """ARN of the newest package still waiting for approval, or None."""
    package = newest_package(sm, group, PENDING)
    return package["ModelPackageArn"] if package else None


def approve_newest_package(sm: Any, group: str, description: str = "Approved from the notebook") -> str:
    """Approve the newest pending package and return its ARN.

    Approval is what starts the deployment (the product's EventBridge rule listens for it).
    Raises LookupError when nothing waits, rather than re-approving an older model.
    """
    arn = newest_pending_package(sm, group)
    if arn is None:
        raise LookupError(
            f"no model package of group {group!r} is {PENDING}: wait until the pipeline run has registered one"
        )
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=APPROVED, ApprovalDescription=description)
    return arn


def wait_for_execution(sm: Any, execution_arn: str, delay: float = 30, max_attempts: int = 120) -> str:
    """Poll a pipeline execution until it ends; return 'Succeeded' or raise with the failure reason."""
    for attempt in range(max_attempts):
        described = sm.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        status: str = described["PipelineExecutionStatus"]
        if status == "Succeeded":
            return status
        if status in ("Failed", "Stopped"):
            reason = described.get("FailureReason", "no reason given")
            raise RuntimeError(f"pipeline execution {execution_arn} {status.lower()}: {reason}")
        if attempt + 1 < max_attempts:
            time.sleep(delay)
    raise TimeoutError(f"pipeline execution {execution_arn} still running after {max_attempts} checks")
