"""The s3-template steps: the template object Studio lists, the CORS rule Studio's pages need, the domain tag.

Studio (since 2025) reads project templates straight from S3: the domain's
`sagemaker:projectS3TemplatesLocation` tag names the folder, objects there tagged
`sagemaker:studio-visibility=true` are listed, and the browser fetches them, hence the CORS rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from generator.live.publish.errors import PublishError, error_code
from generator.live.publish.plan import PROVISIONING_TAG, STUDIO_ORIGIN, TEMPLATES_LOCATION_TAG, VISIBILITY_TAG
from generator.live.publish.state import CREATED, UNCHANGED, UPDATED, Result, Run, paginate, tag_list, tag_map
from generator.live.publish.uploads import SHA_METADATA, head_object, put_object, s3_uri, tag_existing

CORS_RULE_ID = "mlops-gen-sagemaker-studio"
CORS_METHODS = ("GET", "HEAD")


def studio_template(run: Run) -> Result:
    """The object Studio lists: one per product name, replaced only when the template changed."""
    key, file = run.plan.studio_key, run.plan.release.template
    tags = dict([VISIBILITY_TAG, PROVISIONING_TAG])
    head = head_object(run, key)
    if head is None:
        put_object(run, key, file, tags)
        return CREATED, s3_uri(run, key)
    if head.get("Metadata", {}).get(SHA_METADATA) != file.sha256:
        put_object(run, key, file, tags)
        return UPDATED, f"{s3_uri(run, key)} (template changed)"
    return tag_existing(run, key, tags)


def cors(run: Run) -> Result:
    s3, bucket = run.clients.s3, run.opts.bucket
    try:
        rules: list[dict[str, Any]] = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchCORSConfiguration":
            raise
        rules = []
    if any(_allows_studio(rule) for rule in rules):
        return UNCHANGED, f"a CORS rule of {bucket} already allows {STUDIO_ORIGIN}"
    ours = {
        "ID": CORS_RULE_ID,
        "AllowedOrigins": [STUDIO_ORIGIN],
        "AllowedMethods": list(CORS_METHODS),
        "AllowedHeaders": ["*"],
        "MaxAgeSeconds": 3000,
    }
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [*rules, ours]})
    kept = f", kept {len(rules)} existing rule(s)" if rules else ""
    return (UPDATED if rules else CREATED), f"rule {CORS_RULE_ID} added{kept}"


def _allows_studio(rule: Mapping[str, Any]) -> bool:
    origins = set(rule.get("AllowedOrigins", []))
    return bool(origins & {STUDIO_ORIGIN, "*"}) and set(CORS_METHODS) <= set(rule.get("AllowedMethods", []))


def domain(run: Run) -> Result:
    """Read the domain before anything is written: an unknown domain, or one that already reads
    templates from elsewhere, is refused before any upload or CORS change."""
    from botocore.exceptions import ClientError

    sm, domain_id, region = run.clients.sagemaker, run.opts.domain_id, run.plan.region
    try:
        arn = sm.describe_domain(DomainId=domain_id)["DomainArn"]
    except ClientError as exc:
        if error_code(exc) not in ("ResourceNotFound", "ResourceNotFoundException", "ValidationException"):
            raise
        raise PublishError(
            "domain",
            f"SageMaker domain {domain_id} does not exist in account {run.account}, region {region}",
            f"pass the id of an existing domain (aws sagemaker list-domains --region {region})",
        ) from None
    run.outputs["domain_arn"] = arn
    current = tag_map(list(paginate(sm, "list_tags", "Tags", ResourceArn=arn))).get(TEMPLATES_LOCATION_TAG)
    location = run.plan.templates_location
    if current is not None and current != location:
        raise PublishError(
            "domain",
            f"domain {domain_id} already reads templates from {current}",
            f"publish with the --bucket/--prefix of that location, or remove the tag first "
            f"(aws sagemaker delete-tags --resource-arn {arn} --tag-keys {TEMPLATES_LOCATION_TAG})",
        )
    return UNCHANGED, f"domain {domain_id} ({arn})"


def domain_tag(run: Run) -> Result:
    """Point the domain (read by the `domain` step) at our templates folder."""
    sm, arn = run.clients.sagemaker, run.outputs["domain_arn"]
    current = tag_map(list(paginate(sm, "list_tags", "Tags", ResourceArn=arn))).get(TEMPLATES_LOCATION_TAG)
    location = run.plan.templates_location
    if current == location:
        return UNCHANGED, f"{TEMPLATES_LOCATION_TAG}={location}"
    sm.add_tags(ResourceArn=arn, Tags=tag_list({TEMPLATES_LOCATION_TAG: location}))
    return CREATED, f"{TEMPLATES_LOCATION_TAG}={location}"
