"""Make the approved model version deployable in every deploy region (build step; see README "Regions").

SageMaker creates a model only from artifacts and an image in the model's own region: CreateModel's
`ModelDataUrl` "must be in the same region as the model", and the inference image must be in an ECR
registry of that region (botocore sagemaker service model, `ContainerDefinition.ModelDataUrl` and `Image`;
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html). A model package
is a regional resource too, so the home region's package cannot serve another region.

So, for each deploy region other than the home region, this module:

- creates (once) the regional artifact bucket `<ARTIFACT_BUCKET>-<region>` in the pipeline account:
  S3 default encryption (SSE-S3), all four Block Public Access settings, a TLS-only policy, and a read grant
  to the stage roles (the endpoints' execution roles) of the organisation only (a fixed
  `aws:PrincipalOrgID` with `aws:PrincipalArn`: a policy S3 does not consider public);
- copies the package's model.tar.gz there (same key; skipped when the copy already holds the same
  source ETag), with the package ARN and source URL as object metadata (the lineage);
- resolves the inference image for the region: SageMaker's built-in XGBoost image from its per-region
  registry table (`image-registries.json`), or the same repository of the pipeline account's own registry
  (which needs ECR cross-region replication set up by you);

and returns one `RegionModel` per deploy region. `mappings_section` turns them into the endpoint
template's `RegionModel` mapping, keyed by region: the stack set reads its own region's entry, so one
stack-set operation still covers every region. The home region keeps serving the model package itself.

Encryption is SSE-S3 for now; `ENCRYPTION` is the single place a KMS key option would change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: S3's limit on bucket names (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
BUCKET_NAME_LIMIT = 63
#: CopyObject copies at most 5 GB in one call; larger objects go part by part (UploadPartCopy).
#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/copy-object.html
SINGLE_COPY_LIMIT = 5 * 1024**3
PART_SIZE = 512 * 1024**2
#: Object metadata of a regional copy: where it came from (lineage back to the approved version).
SOURCE_PACKAGE = "source-model-package-arn"
SOURCE_URL = "source-model-data-url"
SOURCE_ETAG = "source-etag"
#: Default encryption of the regional buckets. KMS hook: a `--kms-key` option would pass
#: {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": <key in that region>} here and grant the stage roles
#: kms:Decrypt on it; the image pull and model download then use that key.
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]}
#: SageMaker's built-in algorithm registries per region (from the SageMaker Python SDK's image_uri_config,
#: the data behind `sagemaker.image_uris.retrieve`).
REGISTRIES_FILE = Path(__file__).with_name("image-registries.json")
_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.(?P<domain>amazonaws\.com(\.cn)?)/(?P<rest>.+)$"
)
_S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]+)/(?P<key>.+)$")


class RegionError(RuntimeError):
    """A problem the build reports as is (one line naming what is wrong and what to do)."""


@dataclass(frozen=True)
class RegionModel:
    """What the endpoint in one region serves: the package itself (home) or a regional copy."""

    region: str
    #: "registry" (the home region's model package) or "copy" (this region's artifacts and image).
    source: str
    model_data_url: str
    image: str

    def as_mapping(self) -> dict[str, str]:
        return {"Source": self.source, "ModelDataUrl": self.model_data_url, "Image": self.image}


def regional_bucket(stem: str, region: str) -> str:
    """`<stem>-<region>`: unique per region as bucket names must be; RegionError past S3's 63 characters."""
    name = f"{stem}-{region}"
    if len(name) > BUCKET_NAME_LIMIT:
        raise RegionError(
            f"the regional artifact bucket name {name} is {len(name)} characters, more than S3's {BUCKET_NAME_LIMIT} "
            "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): render with a shorter "
            "--name-prefix"
        )
    return name


def load_registries(path: Path = REGISTRIES_FILE) -> dict[str, dict[str, str]]:
    """repository -> region -> account of SageMaker's built-in images."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {repo: dict(regions) for repo, regions in data["repositories"].items()}


def regional_image(image: str, region: str, pipeline_account: str, registries: dict[str, dict[str, str]]) -> str:
    """The image URI to use in `region` for the home region's `image`, or RegionError.

    A built-in image (its account is SageMaker's registry for the home region) maps to that repository's
    registry in `region`. An image of the pipeline account's own registry maps to the same repository in
    `region` (ECR cross-region replication puts it there:
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html). Anything else is refused.
    """
    match = _IMAGE.match(image)
    if not match:
        raise RegionError(f"inference image {image}: not an ECR image URI (<account>.dkr.ecr.<region>.<domain>/...)")
    account, home, domain, rest = match["account"], match["region"], match["domain"], match["rest"]
    repository = rest.split("@", 1)[0].split(":", 1)[0]
    regions = registries.get(repository, {})
    if regions.get(home) == account:
        if region not in regions:
            raise RegionError(f"SageMaker's {repository} image is not published in {region} (image-registries.json)")
        return f"{regions[region]}.dkr.ecr.{region}.{domain}/{rest}"
    if account == pipeline_account:
        return f"{account}.dkr.ecr.{region}.{domain}/{rest}"
    raise RegionError(
        f"inference image {image}: neither a SageMaker built-in image nor one of this account's registry, so its "
        f"copy in {region} is unknown; push it to this account's ECR and replicate the repository to every deploy "
        "region (https://docs.aws.amazon.com/AmazonECR/latest/userguide/replication.html)"
    )


def bucket_policy(
    bucket: str, partition: str, org_id: str, reader_roles: tuple[str, ...], reader_ous: tuple[str, ...] = ()
) -> dict[str, Any]:
    """TLS only; the stage roles in the stage OUs of the organisation may read objects (nobody else is granted
    anything): the same narrow read as the home bucket's policy.

    Principal "*" narrowed by a fixed aws:PrincipalOrgID and aws:PrincipalArn: S3 does not count such a
    statement as public, so Block Public Access allows it
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).
    """
    arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "StageRolesReadModelArtifacts",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"{arn}/*",
                "Condition": {
                    "StringEquals": {"aws:PrincipalOrgID": org_id},
                    "ArnLike": {"aws:PrincipalArn": [f"arn:{partition}:iam::*:role/{r}" for r in reader_roles]},
                    **(
                        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"*/{ou}/*" for ou in reader_ous]}}
                        if reader_ous
                        else {}
                    ),
                },
            },
        ],
    }


def ensure_bucket(s3: Any, bucket: str, region: str, policy: dict[str, Any]) -> None:
    """Create the regional bucket if needed and (every build, so a changed stage role reaches it) set its
    protections. CreateBucket of a bucket one already owns answers BucketAlreadyOwnedByYou (200 in us-east-1)."""
    try:
        if region == "us-east-1":  # the one region CreateBucket refuses as a LocationConstraint
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ENCRYPTION)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy, sort_keys=True))


def split_s3_url(url: str) -> tuple[str, str]:
    match = _S3_URL.match(url)
    if not match:
        raise RegionError(f"model artifacts {url}: not an s3://bucket/key URL")
    return match["bucket"], match["key"]


def copy_artifact(home_s3: Any, region_s3: Any, source_url: str, bucket: str, package_arn: str) -> tuple[str, bool]:
    """Copy the artifact to `bucket` under the same key; (its URL, copied?). Skipped if already there."""
    source_bucket, key = split_s3_url(source_url)
    source = home_s3.head_object(Bucket=source_bucket, Key=key)
    etag = str(source["ETag"]).strip('"')
    try:
        existing = region_s3.head_object(Bucket=bucket, Key=key)
        if existing.get("Metadata", {}).get(SOURCE_ETAG) == etag:
            return f"s3://{bucket}/{key}", False
    except region_s3.exceptions.ClientError as exc:
        # Not there: 404, or 403 for a caller without s3:ListBucket (HeadObject's documented answer).
        if exc.response.get("Error", {}).get("Code") not in ("403", "404", "NoSuchKey", "NotFound", "Forbidden"):
            raise
    metadata = {SOURCE_PACKAGE: package_arn, SOURCE_URL: source_url, SOURCE_ETAG: etag}
    copy_source = {"Bucket": source_bucket, "Key": key}
    size = int(source["ContentLength"])
    if size <= SINGLE_COPY_LIMIT:
        region_s3.copy_object(
            Bucket=bucket, Key=key, CopySource=copy_source, Metadata=metadata, MetadataDirective="REPLACE"
        )
    else:
        upload = region_s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=metadata)["UploadId"]
        parts = []
        for number, start in enumerate(range(0, size, PART_SIZE), start=1):
            end = min(start + PART_SIZE, size) - 1
            part = region_s3.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=upload,
                PartNumber=number,
                CopySource=copy_source,
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"PartNumber": number, "ETag": part["CopyPartResult"]["ETag"]})
        region_s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    return f"s3://{bucket}/{key}", True


@dataclass(frozen=True)
class RegionPlan:
    """What the build needs to prepare the regions: read from its environment and the package."""

    home_region: str
    deploy_regions: tuple[str, ...]
    bucket_stem: str
    org_id: str
    reader_roles: tuple[str, ...]
    #: The stage OUs whose accounts read the copies (aws:PrincipalOrgPaths, as the home bucket's policy).
    reader_ous: tuple[str, ...] = ()

    @property
    def other_regions(self) -> tuple[str, ...]:
        return tuple(r for r in self.deploy_regions if r != self.home_region)


def package_container(package: dict[str, Any]) -> tuple[str, str]:
    """(image, model data URL) of the package's one inference container, or RegionError."""
    containers = package.get("InferenceSpecification", {}).get("Containers", [])
    if len(containers) != 1 or not containers[0].get("ModelDataUrl") or not containers[0].get("Image"):
        raise RegionError(
            f"model package {package.get('ModelPackageArn')}: expected one inference container with an Image and a "
            f"ModelDataUrl to copy to the other deploy regions, found {len(containers)} container(s)"
        )
    if containers[0].get("Environment"):
        # The other regions' models are made from Image + ModelDataUrl (the RegionModel mapping, whose values
        # can only be strings or lists), so a container environment would be lost there; with source code it
        # also names the home region's S3 (SAGEMAKER_SUBMIT_DIRECTORY): refused rather than served differently.
        names = ", ".join(sorted(containers[0]["Environment"]))
        raise RegionError(
            f"model package {package.get('ModelPackageArn')}: its container sets environment variables ({names}), "
            "which the copies in the other deploy regions would not carry; register the model without them, or "
            "deploy it to its home region only"
        )
    return str(containers[0]["Image"]), str(containers[0]["ModelDataUrl"])


def s3_client(region: str) -> Any:
    """boto3's S3 client of `region` (the copy is written by a client of the destination's region)."""
    import boto3

    return boto3.client("s3", region_name=region)


def prepare_regions(
    plan: RegionPlan,
    package: dict[str, Any],
    s3_for: Callable[[str], Any] = s3_client,
    registries: dict[str, dict[str, str]] | None = None,
    log: Callable[[str], None] = print,
) -> list[RegionModel]:
    """One RegionModel per deploy region (in order), copying the artifacts to every non-home region."""
    arn = str(package["ModelPackageArn"])
    if not plan.other_regions:  # the package itself serves: nothing to copy or resolve
        return [RegionModel(plan.home_region, "registry", "none", "none")]
    image, url = package_container(package)
    partition, pipeline_account = arn.split(":")[1], arn.split(":")[4]
    registries = load_registries() if registries is None else registries
    models = []
    for region in plan.deploy_regions:
        if region == plan.home_region:
            models.append(RegionModel(region, "registry", url, image))
            continue
        bucket = regional_bucket(plan.bucket_stem, region)
        region_image = regional_image(image, region, pipeline_account, registries)
        s3 = s3_for(region)
        policy = bucket_policy(bucket, partition, plan.org_id, plan.reader_roles, plan.reader_ous)
        ensure_bucket(s3, bucket, region, policy)
        copied_url, copied = copy_artifact(s3_for(plan.home_region), s3, url, bucket, arn)
        log(
            f"{region}: bucket {bucket} (encrypted, public access blocked, TLS only); "
            f"{'copied' if copied else 'already has'} {copied_url}; image {region_image}"
        )
        models.append(RegionModel(region, "copy", copied_url, region_image))
    return models


#: The endpoint template's mapping the build writes (the template reads it with FindInMap on AWS::Region).
MAPPING = "RegionModel"


def mappings_section(models: list[RegionModel]) -> str:
    """The template's `Mappings:` section for `models` (JSON-style YAML flow values: always valid YAML)."""
    lines = [
        "Mappings:",
        "  # Written by build.py: what the endpoint serves in each deploy region (README, Regions).",
        f"  {MAPPING}:",
    ]
    for model in models:
        lines.append(f"    {model.region}: {json.dumps(model.as_mapping(), sort_keys=True)}")
    return "\n".join(lines) + "\n"


def with_mappings(template_text: str, section: str) -> str:
    """The template with its top-level `Mappings:` section replaced by `section` (RegionError if none)."""
    lines = template_text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "Mappings:"), None)
    if start is None:
        raise RegionError(f"the endpoint template has no top-level Mappings section for {MAPPING}")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1].strip() and not lines[i].startswith("#")),
        len(lines),
    )
    return "".join(lines[:start]) + section + "\n" + "".join(lines[end:])
