"""`mlops-gen destroy`'s part for the regional artifact buckets the build creates (seedcode regions.py).

With deploy regions beyond the home region, the deploy repository's build copies each approved model to
`<artifact bucket>-<region>` in the pipeline account. Deleting the SageMaker project removes the home
artifact bucket's stack, not these buckets (the build, not CloudFormation, created them), so destroy finds
them by name among the account's buckets (ListBuckets: no need to know the deploy regions), empties them
and deletes them. Clients are injected: `s3_for(region)` gives an S3 client of that region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from generator.config import known_regions
from generator.naming import Names


@dataclass
class BucketReport:
    """What was (or would be) removed, and what could not be."""

    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def regional_buckets(s3: Any, prefix: str, project_name: str, project_id: str) -> list[tuple[str, str]]:
    """(region, bucket) of every bucket of the account named `<artifact bucket>-<region>` for the project."""
    stem = Names(prefix).artifact_bucket.render(project_name, project_id)
    regions = known_regions()
    found = []
    # Paginated: "unpaginated ListBuckets requests are only supported for accounts at the default quota of
    # 10,000 buckets" (botocore's s3 ListBuckets documentation; its paginator follows ContinuationToken).
    listed = (b for page in s3.get_paginator("list_buckets").paginate() for b in page.get("Buckets", []))
    for bucket in listed:
        name = str(bucket["Name"])
        region = name.removeprefix(f"{stem}-") if name.startswith(f"{stem}-") else ""
        if region in regions:
            found.append((region, name))
    return sorted(found)


def _objects(s3: Any, bucket: str) -> list[dict[str, str]]:
    keys: list[dict[str, str]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [{"Key": str(o["Key"])} for o in page.get("Contents", [])]
    return keys


def remove(s3_for: Callable[[str], Any], buckets: list[tuple[str, str]], dry_run: bool) -> BucketReport:
    """Empty and delete each bucket (or, in a dry run, say what would go)."""
    report = BucketReport()
    for region, bucket in buckets:
        s3 = s3_for(region)
        try:
            keys = _objects(s3, bucket)
            if not dry_run:
                for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
                s3.delete_bucket(Bucket=bucket)
            report.removed.append(f"regional artifact bucket {bucket} ({region}, {len(keys)} object(s))")
        except ClientError as exc:
            report.failed.append(f"regional artifact bucket {bucket} ({region}): {exc}")
    return report


def after_instances(
    s3_for: Callable[[str], Any], buckets: list[tuple[str, str]], yes: bool, instances_failed: bool
) -> BucketReport:
    """Remove the regional buckets once the stack instances are gone; when deleting some failed, keep the
    buckets: the endpoints left read their model data from them again on every scale-out, instance
    replacement and rollback (generator/contract.py)."""
    if yes and instances_failed:
        report = BucketReport()
        report.failed = [f"regional bucket {b} kept: stack instances remain, and their endpoints read from it"
                         for _, b in buckets]  # fmt: skip
        return report
    return remove(s3_for, buckets, dry_run=not yes)


def s3_factory(profile: str | None, endpoint_url: str | None) -> Callable[[str], Any]:
    """`s3_for(region)`: S3 clients of one boto3 session (the profile), per region."""
    import boto3

    session = boto3.Session(profile_name=profile)
    return lambda region: session.client("s3", region_name=region, endpoint_url=endpoint_url)
