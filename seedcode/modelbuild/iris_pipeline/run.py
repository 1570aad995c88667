"""Upsert and start the iris pipeline: `run_pipeline(...)` or `python -m iris_pipeline.run`.

Run from seedcode/modelbuild (or wherever this folder is checked out) with AWS credentials of
the data-science account, e.g.

    python -m iris_pipeline.run --project-name iris-multi-01 --project-id p-abcdef123456 \\
        --bucket sagemaker-project-p-abcdef123456-artifacts --region eu-west-1
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence

import boto3

from iris_pipeline import project


def run_pipeline(
    project_name: str,
    bucket: str,
    region: str,
    *,
    project_id: str | None = None,
    role_arn: str | None = None,
    parameters: Mapping[str, str | int] | None = None,
    boto_session: boto3.Session | None = None,
) -> str:
    """Create or update the project's pipeline, start it and return the execution ARN.

    `role_arn` defaults to the project use role; `parameters` override pipeline parameters
    (names in `iris_pipeline.project`). The model package group is created if missing.
    """
    # The SDK creates a boto3 client while it is imported, which fails without a default region.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    # The SDK takes seconds to import: only callers that run the pipeline pay for it.
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    from iris_pipeline.pipeline import get_pipeline

    boto_session = boto_session or boto3.Session(region_name=region)
    role_arn = role_arn or project.default_role_arn(boto_session.client("sts"))
    # These tags are how Studio lists the pipeline and the model group under the project.
    tags = {"sagemaker:project-name": project_name}
    if project_id:
        tags["sagemaker:project-id"] = project_id
    project.ensure_model_package_group(
        boto_session.client("sagemaker"), project.model_package_group_name(project_name), tags
    )
    session = PipelineSession(boto_session=boto_session, default_bucket=bucket)
    pipeline = get_pipeline(project_name, bucket, role_arn, region, session)
    pipeline.upsert(
        role_arn=role_arn,
        description=f"Trains and registers the iris model of project {project_name}",
        tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return str(pipeline.start(parameters=dict(parameters or {})).arn)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m iris_pipeline.run", description=__doc__.splitlines()[0])
    parser.add_argument("--project-name", required=True)
    parser.add_argument("--bucket", required=True, help="the project's artifact bucket")
    parser.add_argument("--region", required=True)
    parser.add_argument("--project-id")
    parser.add_argument("--role-arn", help="default: the project use role of this account")
    parser.add_argument("--input-data-uri", dest=project.INPUT_DATA, metavar="S3_URI", help="the iris CSV")
    parser.add_argument("--training-instance-type", dest=project.TRAINING_INSTANCE_TYPE, metavar="TYPE")
    parser.add_argument("--training-instance-count", dest=project.TRAINING_INSTANCE_COUNT, metavar="N", type=int)
    parser.add_argument(
        "--model-approval-status", dest=project.MODEL_APPROVAL_STATUS, choices=[project.PENDING, project.APPROVED]
    )
    args = vars(parser.parse_args(argv))
    overrides = (
        project.INPUT_DATA,
        project.TRAINING_INSTANCE_TYPE,
        project.TRAINING_INSTANCE_COUNT,
        project.MODEL_APPROVAL_STATUS,
    )
    arn = run_pipeline(
        args["project_name"],
        args["bucket"],
        args["region"],
        project_id=args["project_id"],
        role_arn=args["role_arn"],
        parameters={k: args[k] for k in overrides if args[k] is not None},
    )
    print(arn)


if __name__ == "__main__":
    main()
