"""Time the seed build's multi-region step (seedcode/modeldeploy/regions.py) for a 100 MB artifact, on moto.

A model package whose model.tar.gz (100 MB of random bytes, so nothing compresses it away) is in the home
region's bucket; `prepare_regions` for home + two other regions creates and protects one bucket per other
region and copies the artifact into each. The second run is the pipeline's next execution for the same
version (the copies are there: only HEAD requests). Prints wall times and the bytes stored per region.

    .venv/bin/python benchmarks/region_copy_bench.py [--mb 100] [--server]

`--server` runs against moto's threaded HTTP server (the rehearsal's set-up: bytes go through HTTP) instead
of moto's in-process mock. Neither measures AWS: a real copy runs inside S3 (CopyObject moves no bytes
through the build), at S3's cross-region throughput.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

SEED = Path(__file__).resolve().parent.parent / "seedcode" / "modeldeploy"
HOME, OTHERS = "eu-west-1", ("eu-central-1", "us-east-1")
BUCKET = "sagemaker-project-p-bench00000000-artifacts"
KEY = "model-build/iris-v1/model.tar.gz"


def package(sm: Any, s3: Any, size: int) -> dict[str, Any]:
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": HOME})
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=os.urandom(size))
    sm.create_model_package_group(ModelPackageGroupName="bench")
    arn = sm.create_model_package(
        ModelPackageGroupName="bench",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                    "ModelDataUrl": f"s3://{BUCKET}/{KEY}",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return dict(sm.describe_model_package(ModelPackageName=arn))


def run(size: int, endpoint: str | None) -> None:
    import boto3

    sys.path.insert(0, str(SEED))
    import regions  # the seed's module, as build.py imports it

    def s3_for(region: str) -> Any:
        return boto3.client("s3", region_name=region, endpoint_url=endpoint)

    described = package(boto3.client("sagemaker", region_name=HOME, endpoint_url=endpoint), s3_for(HOME), size)
    plan = regions.RegionPlan(HOME, (HOME, *OTHERS), BUCKET, "o-a1b2c3d4e5", ("sagemaker-multi-account-deploy",))
    for label in ("first build (create buckets, copy)", "next build (copies already there)"):
        started = time.perf_counter()
        models = regions.prepare_regions(plan, described, s3_for, log=lambda _: None)
        print(f"{label}: {time.perf_counter() - started:.2f} s")
    for model in models:
        bucket, key = regions.split_s3_url(model.model_data_url)
        stored = s3_for(model.region).head_object(Bucket=bucket, Key=key)["ContentLength"]
        print(f"  {model.region}: {model.source}, {stored / 1e6:.1f} MB in s3://{bucket}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="artifact size in MB (default 100)")
    parser.add_argument("--server", action="store_true", help="through moto's HTTP server, as rehearse does")
    args = parser.parse_args()
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    from moto.server import ThreadedMotoServer

    from generator.live.rehearse.regions import region_behaviour

    with region_behaviour():  # moto checks bucket policies without their conditions (TLS-only Deny)
        if args.server:
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
            server.start()
            try:
                host, port = server.get_host_and_port()
                run(args.mb * 1_000_000, f"http://{host}:{port}")
            finally:
                server.stop()
        else:
            from moto import mock_aws

            with mock_aws():
                run(args.mb * 1_000_000, None)


if __name__ == "__main__":
    main()
