"""The S3 uploads: the seed bundle and the product template, at content-addressed keys, tagged for the launch role.

A key holds the sha256 of its bytes, so a new version never overwrites an object an older product
version still reads, and an object already at the key needs no upload (only its tags checked).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from generator.live.publish.errors import NOT_FOUND, PublishError, error_code
from generator.live.publish.plan import PROVISIONING_TAG
from generator.live.publish.release import LocalFile
from generator.live.publish.state import CREATED, UNCHANGED, UPDATED, Result, Run, tag_list, tag_map

#: Object metadata holding the content's sha256 (for the one key that is not content-addressed).
SHA_METADATA = "sha256"


def seed_bundle(run: Run) -> Result:
    release = run.plan.release
    assert release.seed is not None and release.seed_key is not None
    return _upload(run, "seed-bundle", release.seed_key, release.seed, dict([PROVISIONING_TAG]))


def template(run: Run) -> Result:
    return _upload(run, "template", run.plan.template_key, run.plan.release.template, dict([PROVISIONING_TAG]))


def _upload(run: Run, step: str, key: str, file: LocalFile, tags: Mapping[str, str]) -> Result:
    """Upload to a content-addressed key: an existing object there already holds these bytes."""
    where = s3_uri(run, key)
    head = head_object(run, key)
    if head is None:
        put_object(run, key, file, tags)
        return CREATED, where
    if head.get("ContentLength") != len(file.data):
        raise PublishError(
            step,
            f"{where} exists with other content ({head.get('ContentLength')} bytes, not {len(file.data)})",
            "delete that object or use another --prefix",
        )
    return tag_existing(run, key, tags)


def s3_uri(run: Run, key: str) -> str:
    return f"s3://{run.opts.bucket}/{key}"


def head_object(run: Run, key: str) -> dict[str, Any] | None:
    """The object's metadata, or None if there is no object at `key`."""
    try:
        head: dict[str, Any] = run.clients.s3.head_object(Bucket=run.opts.bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return None
        raise
    return head


def put_object(run: Run, key: str, file: LocalFile, tags: Mapping[str, str]) -> None:
    run.clients.s3.put_object(
        Bucket=run.opts.bucket,
        Key=key,
        Body=file.data,
        Tagging=urlencode(sorted(tags.items())),
        Metadata={SHA_METADATA: file.sha256},
    )


def tag_existing(run: Run, key: str, wanted: Mapping[str, str]) -> Result:
    """Add missing tags to the existing object at `key`, keeping others (someone may have removed ours)."""
    s3, bucket, where = run.clients.s3, run.opts.bucket, s3_uri(run, key)
    current = tag_map(s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"])
    if all(current.get(k) == v for k, v in wanted.items()):
        return UNCHANGED, where
    s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tag_list({**current, **wanted})})
    return UPDATED, f"{where} (tags added)"
