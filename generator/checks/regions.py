"""Check: with deploy regions beyond the home region, every region's model reads that region's artifacts and image.

SageMaker creates a model only from what is in the model's own region: `ModelDataUrl` "must be in the same
region as the model", the inference image comes from an ECR registry of that region, and a model package
is a regional resource (botocore's sagemaker model, `ContainerDefinition`; `DOC`). One stack set deploys the
endpoint template to every deploy region with the same parameters, so a container value taken from a
parameter (the home region's `ModelPackageArn`) or a literal is the home region's everywhere: the stack
instances of every other region fail at CreateModel, while cfn-lint, checkov and moto see nothing wrong.

The seed's build writes a `RegionModel` mapping into the endpoint template, keyed by region (seedcode
regions.py). A container value is *region-bound* when it is read from a mapping with `!Ref AWS::Region` as
its first key, or a `!Sub` that names `${AWS::Region}`; a branch of `!If` whose condition reads such a
mapping entry (the build chooses, per region, between the registry package and the regional copy) counts
as region-bound too. Anything else, with more than one deploy region, is a finding (`REGION-CONTRACT`).

Also checked: the regional bucket `<artifact bucket>-<region>` fits S3's 63 characters for the longest
project id in every deploy region beyond the home region (`REGION-BUCKET-NAME`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from generator import contract
from generator.checks.finding import Finding
from generator.manifest import Manifest

RULE = "REGION-CONTRACT"
NAME_RULE = "REGION-BUCKET-NAME"
DOC = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ContainerDefinition.html"
BUCKET_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
#: The container properties SageMaker reads from the model's region.
REGIONAL_KEYS = ("ModelPackageName", "ModelDataUrl", "Image")
BUCKET_NAME_LIMIT = 63


def _reads_region(node: Any) -> bool:
    """Is `node` a FindInMap keyed by AWS::Region, or a Sub naming ${AWS::Region}?"""
    if not isinstance(node, Mapping) or len(node) != 1:
        return False
    ((name, args),) = node.items()
    if name == "Fn::FindInMap" and isinstance(args, list) and len(args) >= 2:
        return bool(args[1] == {"Ref": "AWS::Region"})
    if name == "Fn::Sub":
        text = args[0] if isinstance(args, list) and args else args
        return isinstance(text, str) and "${AWS::Region}" in text
    return False


def _condition_reads_region(name: Any, conditions: Mapping[str, Any]) -> bool:
    """Does the condition compare a region-keyed value (so each region chooses its branch)?"""
    found = conditions.get(str(name))
    if not isinstance(found, Mapping) or len(found) != 1:
        return False
    ((function, args),) = found.items()
    if function == "Fn::Equals" and isinstance(args, list):
        return any(_reads_region(a) or a == {"Ref": "AWS::Region"} for a in args)
    if function in ("Fn::And", "Fn::Or", "Fn::Not") and isinstance(args, list):
        return any(
            _condition_reads_region(a.get("Condition"), conditions) if isinstance(a, Mapping) and "Condition" in a
            else False
            for a in args
        )  # fmt: skip
    return False


def _containers(
    node: Any, conditions: Mapping[str, Any], guarded: bool = False
) -> Iterator[tuple[Mapping[str, Any], bool]]:
    """(container, chosen per region?) for a PrimaryContainer or Containers value, through `Fn::If` branches."""
    if isinstance(node, list):
        for item in node:
            yield from _containers(item, conditions, guarded)
    elif isinstance(node, Mapping) and set(node) == {"Fn::If"} and isinstance(node["Fn::If"], list):
        condition, *branches = node["Fn::If"]
        by_region = guarded or _condition_reads_region(condition, conditions)
        for branch in branches:
            yield from _containers(branch, conditions, by_region)
    elif isinstance(node, Mapping) and node != {"Ref": "AWS::NoValue"}:
        yield node, guarded


def template_findings(template: Mapping[str, Any], path: str, regions: tuple[str, ...], home: str) -> list[Finding]:
    """The REGION-CONTRACT findings of an endpoint template deployed to `regions` (home region `home`)."""
    others = [r for r in regions if r != home]
    if not others:
        return []
    conditions = template.get("Conditions", {}) or {}
    findings = []
    for logical_id, resource in (template.get("Resources", {}) or {}).items():
        if not isinstance(resource, Mapping) or resource.get("Type") != "AWS::SageMaker::Model":
            continue
        props = resource.get("Properties", {}) or {}
        for container, guarded in _containers([props.get("PrimaryContainer"), props.get("Containers")], conditions):
            for key in REGIONAL_KEYS:
                value = container.get(key)
                if value is None or guarded or _reads_region(value):
                    continue
                mark = getattr(value, "start_mark", None) or getattr(container, "start_mark", None)
                line = int(mark.line) + 1 if mark is not None else 0
                what = {"ModelPackageName": "package", "ModelDataUrl": "artifacts"}.get(key, "image")
                findings.append(
                    Finding(
                        path,
                        line,
                        RULE,
                        f"{logical_id}: the container's {key} is the same in every deploy region "
                        f"({', '.join(regions)}), so in {', '.join(others)} CreateModel reads the {home} "
                        f"{what} and fails: SageMaker requires a model's artifacts, image and model package in "
                        "the model's region. Read it per region: !FindInMap [RegionModel, !Ref AWS::Region, ...] "
                        f"as the seed's build writes it, or an !If on a condition that does ({DOC})",
                        logical_id=logical_id,
                    )
                )
    return findings


def bucket_name_findings(path: str, longest_bucket: int, regions: tuple[str, ...], home: str) -> list[Finding]:
    """REGION-BUCKET-NAME: `<artifact bucket>-<region>` past S3's limit for a deploy region beyond home."""
    too_long = [r for r in regions if r != home and longest_bucket + 1 + len(r) > BUCKET_NAME_LIMIT]
    if not too_long:
        return []
    worst = max(too_long, key=len)
    return [
        Finding(
            path,
            0,
            NAME_RULE,
            f"the regional artifact bucket <artifact bucket>-<region> would be up to {longest_bucket + 1 + len(worst)} "
            f"characters in {', '.join(too_long)}, more than S3's {BUCKET_NAME_LIMIT} ({BUCKET_DOC}); render with a "
            "shorter --name-prefix",
            logical_id="ArtifactBucket",
        )
    ]


def _endpoint_template(folder: Path, manifest: Manifest) -> tuple[str, Any]:
    from generator.checks.decoded import decode

    path = manifest.path_of("seed-bundle")
    with zipfile.ZipFile(io.BytesIO((folder / path).read_bytes())) as archive:
        text = archive.read(contract.EXPORT_TEMPLATE).decode("utf-8")
    template, _ = decode(text)
    return f"{path}:{contract.EXPORT_TEMPLATE}", template


def longest_artifact_bucket(prefix: str) -> int:
    """The artifact bucket's longest rendered name (naming.py: no project name, the longest project id)."""
    from generator.naming import Names

    return Names(prefix).artifact_bucket.length_at(0)


def check_folder(folder: Path, manifest: Manifest) -> list[Finding]:
    """The region-contract findings of the render in `folder` (none with only the home region)."""
    kinds = {a.kind for a in manifest.artifacts}
    if "seed-bundle" not in kinds or not any(r != manifest.home_region for r in manifest.deploy_regions):
        return []
    try:
        path, template = _endpoint_template(folder, manifest)
    except (KeyError, zipfile.BadZipFile) as exc:
        return [Finding(manifest.path_of("seed-bundle"), 0, RULE, f"no endpoint template to check ({exc})")]
    findings = template_findings(dict(template or {}), path, manifest.deploy_regions, manifest.home_region)
    prefix = str(manifest.settings.get("name-prefix", "sagemaker-"))
    findings += bucket_name_findings(
        manifest.path_of("product-template") if "product-template" in kinds else path,
        longest_artifact_bucket(prefix),
        manifest.deploy_regions,
        manifest.home_region,
    )
    return sorted(findings)
