"""Check: a stage that captures data writes it to a bucket every target account has, as a role that may.

SageMaker writes an endpoint's data capture to its DataCaptureConfig.DestinationS3Uri as the model's
execution role (the role of CreateModel's ExecutionRoleArn, the target role here), and adds
`<endpoint>/<variant>/yyyy/mm/dd/hh/` under it. Captures to a bucket that does not exist, or that the
role may not write, are lost while the endpoint looks healthy. So, for each stage whose config enables
data capture and each deploy region, in a sample target account:

1. the destination the endpoint template resolves to (with the parameters build.py gives it) must be
   a bucket the target-role template creates, in a region its stack set deploys to
   (`DATA-CAPTURE-DESTINATION`);
2. the model's execution role must be the target role, whose policies must allow `s3:PutObject` on the
   capture objects, and the bucket's policy must not deny it (`DATA-CAPTURE-WRITE`).

Everything is read from the rendered files: the product (the build project's environment), the seed
bundle (the stage configs and the endpoint template) and the target-role templates.
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import contract
from generator.checks.finding import Finding
from generator.checks.runtime_iam import SAMPLE_TARGET_ACCOUNT
from generator.contract import Env
from generator.iam.iam_eval import Decision, evaluate
from generator.iam.resolve import UnresolvableError, sample_resolver
from generator.manifest import Manifest
from generator.naming import Stage

DESTINATION_RULE = "DATA-CAPTURE-DESTINATION"
WRITE_RULE = "DATA-CAPTURE-WRITE"
DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html"
ROLE_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms"
#: A capture object under the destination (SageMaker's layout: endpoint, variant, date, hour).
SAMPLE_CAPTURE = "{endpoint}/AllTraffic/2026/11/29/17/capture.jsonl"


@dataclass(frozen=True)
class Capture:
    """One stage's data-capture settings as build.py passes them to the endpoint template."""

    stage: Stage
    parameters: Mapping[str, str]
    endpoint: str


def capture_parameters(build_env: Mapping[str, str], stage: Stage, data_capture: Mapping[str, Any]) -> dict[str, str]:
    """The endpoint-template parameters that decide where a stage's captures go and who writes them.

    The same values as seedcode/modeldeploy/build.py `stage_parameters` (a test holds the two together).
    """
    return {
        "DataCaptureEnabled": str(bool(data_capture.get("enabled"))).lower(),
        "DataCaptureSamplingPercentage": str(data_capture.get("sampling_percentage", 0)),
        "DataCaptureS3Uri": str(data_capture.get("s3_uri", "")),
        "DataCaptureBucketStem": build_env.get(Env.DATA_CAPTURE_BUCKET_STEM) or "none",
        "EndpointName": build_env[Env.endpoint(stage)],
        "ModelExecutionRoleName": build_env[Env.role(stage)],
        "StageName": stage.value,
    }


def build_environment(product: Mapping[str, Any], region: str) -> dict[str, str]:
    """The build project's environment (the project that exports the endpoint template), for a sample launch."""
    resolver = sample_resolver(product, region)
    for resource in product.get("Resources", {}).values():
        if resource.get("Type") != "AWS::CodeBuild::Project":
            continue
        variables = resource.get("Properties", {}).get("Environment", {}).get("EnvironmentVariables", [])
        names = {v.get("Name") for v in variables}
        if Env.EXPORT_TEMPLATE in names:
            return {str(v["Name"]): str(resolver.resolve(v["Value"])) for v in variables}
    raise KeyError("no CodeBuild project of the product exports the endpoint template")


def stack_set_regions(stack_set: Mapping[str, Any]) -> set[str]:
    """Every region the target-role stack set deploys an instance to."""
    regions: set[str] = set()
    for resource in stack_set.get("Resources", {}).values():
        if resource.get("Type") == "AWS::CloudFormation::StackSet":
            for group in resource.get("Properties", {}).get("StackInstancesGroup", []):
                regions.update(str(r) for r in group.get("Regions", []))
    return regions


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key.strip("/")


def _finding(path: str, rule: str, message: str, logical_id: str) -> Finding:
    return Finding(path, 0, rule, message, logical_id=logical_id)


@dataclass(frozen=True)
class Rendered:
    """What the check reads from a render folder."""

    endpoint_template: Mapping[str, Any]
    build_env: Mapping[str, str]
    target_template: Mapping[str, Any]
    target_path: str
    stack_set_regions: set[str] | None
    deploy_regions: tuple[str, ...]
    bundle_path: str


def stage_findings(rendered: Rendered, target: Any, capture: Capture) -> list[Finding]:
    """The findings for one capturing stage in every deploy region (target: iam_check.TargetRole)."""
    from generator.checks.iam_check import _TemplateValues

    findings: list[Finding] = []
    config_file = f"{rendered.bundle_path}:{contract.STAGE_CONFIG[capture.stage]}"
    for region in rendered.deploy_regions:
        endpoint = _TemplateValues(rendered.endpoint_template, region, SAMPLE_TARGET_ACCOUNT, capture.parameters)
        resources = rendered.endpoint_template.get("Resources", {})
        capture_config = endpoint.value(resources["EndpointConfig"]["Properties"].get("DataCaptureConfig", {}))
        uri = str((capture_config or {}).get("DestinationS3Uri", ""))
        writer = str(endpoint.value(resources["Model"]["Properties"]["ExecutionRoleArn"]))
        bucket, key = _split(uri)
        targets = _TemplateValues(rendered.target_template, region, SAMPLE_TARGET_ACCOUNT)
        created = {
            str(targets.value(r.get("Properties", {}).get("BucketName"))): logical_id
            for logical_id, r in rendered.target_template.get("Resources", {}).items()
            if r.get("Type") == "AWS::S3::Bucket"
        }
        where = f"{capture.stage.value} data capture ({config_file}) in {region}, account {SAMPLE_TARGET_ACCOUNT}"
        if bucket not in created:
            findings.append(
                _finding(
                    config_file,
                    DESTINATION_RULE,
                    f"{where} writes to {uri or '(no destination)'}, which is not a bucket the target-role template "
                    f"({rendered.target_path}) creates in every stage account and deploy region "
                    f"(it creates {', '.join(sorted(created)) or 'none'}); captures to a missing or foreign bucket are "
                    f'lost. Set data_capture.s3_uri to "" to use the bucket it creates ({DOC})',
                    "EndpointConfig",
                )
            )
            continue
        if rendered.stack_set_regions is not None and region not in rendered.stack_set_regions:
            findings.append(
                _finding(
                    rendered.target_path,
                    DESTINATION_RULE,
                    f"{where} writes to bucket {bucket}, but the target-role stack set deploys to "
                    f"{', '.join(sorted(rendered.stack_set_regions))} only, so the bucket does not exist in {region}",
                    created[bucket],
                )
            )
        findings += _write_findings(rendered, target, capture, where, writer, bucket, key, created[bucket], region)
    return findings


def _write_findings(
    rendered: Rendered,
    target: Any,
    capture: Capture,
    where: str,
    writer: str,
    bucket: str,
    key: str,
    bucket_id: str,
    region: str,
) -> list[Finding]:
    """May the model's execution role put a capture object into `bucket` under `key`?"""
    from generator.checks.iam_check import _TemplateValues

    obj = "/".join(p for p in (key, SAMPLE_CAPTURE.format(endpoint=capture.endpoint)) if p)
    arn = f"arn:aws:s3:::{bucket}/{obj}"
    if target is None or writer != target.arn:
        known = "no target role was rendered" if target is None else f"the target role is {target.arn}"
        message = (
            f"{where}: SageMaker writes captures as the model's execution role {writer} ({DOC}), whose policies "
            f"mlops-gen does not know ({known}): s3:PutObject on {arn} not checked"
        )
        return [_finding(rendered.target_path, WRITE_RULE, message, "Model")]
    result = evaluate(target.policies, "s3:PutObject", arn)
    findings: list[Finding] = []
    if not result.allowed:
        findings.append(
            Finding(
                rendered.target_path,
                target.line,
                WRITE_RULE,
                f"{where}: SageMaker writes captures as the model's execution role {target.name} ({DOC}; {ROLE_DOC}), "
                f"whose policies do not allow s3:PutObject on {arn}: grant it in the target-role template",
                role=target.name,
                action="s3:PutObject",
                resource=arn,
                logical_id=target.logical_id,
                kind="missing",
            )
        )
    findings += _key_findings(rendered, target, where, bucket_id, region)
    values = _TemplateValues(rendered.target_template, region, SAMPLE_TARGET_ACCOUNT)
    for logical_id, resource in rendered.target_template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::S3::BucketPolicy":
            continue
        props = resource.get("Properties", {})
        if props.get("Bucket") != {"Ref": bucket_id}:
            continue
        denied = evaluate(
            {logical_id: values.value(props["PolicyDocument"])}, "s3:PutObject", arn, {"aws:SecureTransport": "true"}
        )
        if denied.decision is Decision.EXPLICIT_DENY:
            message = (
                f"{where}: the bucket policy {logical_id} denies s3:PutObject on {arn} ({', '.join(denied.statements)})"
            )
            findings.append(_finding(rendered.target_path, WRITE_RULE, message, logical_id))
    return findings


def _key_findings(rendered: Rendered, target: Any, where: str, bucket_id: str, region: str) -> list[Finding]:
    """--kms-key: S3 encrypts each capture with the bucket's key as the writer, which needs kms:GenerateDataKey.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"""
    from generator.product.kms import bucket_data_key

    key = bucket_data_key(rendered.target_template, bucket_id, region, SAMPLE_TARGET_ACCOUNT)
    if key is None:
        return []
    arn, context = key
    if evaluate(target.policies, "kms:GenerateDataKey", arn, context).allowed:
        return []
    message = (
        f"{where}: the capture bucket encrypts with {arn} (SSE-KMS), so SageMaker's write as {target.name} needs "
        f"kms:GenerateDataKey on it: grant it in the target-role template"
    )
    return [
        Finding(
            rendered.target_path,
            target.line,
            WRITE_RULE,
            message,
            role=target.name,
            action="kms:GenerateDataKey",
            resource=arn,
            logical_id=target.logical_id,
            kind="missing",
        )
    ]


def _bundle(folder: Path, manifest: Manifest) -> tuple[str, dict[str, bytes]]:
    import io
    import zipfile

    path = manifest.path_of("seed-bundle")
    with zipfile.ZipFile(io.BytesIO((folder / path).read_bytes())) as archive:
        return path, {name: archive.read(name) for name in archive.namelist()}


def check_folder(folder: Path, manifest: Manifest) -> list[Finding]:
    """Every data-capture finding of the render in `folder` (none without a product and seed bundle)."""
    from generator.checks.decoded import decode
    from generator.checks.iam_check import TARGET_ROLE_KIND, TARGET_STACK_SET_KIND, _load_target_role, decode_template

    kinds = {a.kind for a in manifest.artifacts}
    if not {"product-template", "seed-bundle"} <= kinds:
        return []
    bundle_path, bundle = _bundle(folder, manifest)
    captures: dict[Stage, Mapping[str, Any]] = {}
    for stage in Stage:
        name = contract.STAGE_CONFIG[stage]
        try:
            data_capture = json.loads(bundle[name])["data_capture"]
        except (KeyError, ValueError, TypeError) as exc:
            return [_finding(f"{bundle_path}:{name}", DESTINATION_RULE, f"cannot read data_capture ({exc})", "")]
        if isinstance(data_capture, Mapping) and data_capture.get("enabled") is True:
            captures[stage] = data_capture
    if not captures:
        return []
    region = manifest.home_region
    product_path = manifest.path_of("product-template")
    if TARGET_ROLE_KIND not in kinds:
        message = "data capture is enabled, but no target-role template was rendered: where it writes was not checked"
        return [_finding(product_path, DESTINATION_RULE, message, "")]
    try:
        build_env = build_environment(decode_template(folder / product_path), region)
        endpoint_template, _ = decode(bundle[contract.EXPORT_TEMPLATE].decode("utf-8"))
        target_path = manifest.path_of(TARGET_ROLE_KIND)
        stack_set = (
            decode_template(folder / manifest.path_of(TARGET_STACK_SET_KIND))
            if TARGET_STACK_SET_KIND in kinds
            else None
        )
        rendered = Rendered(
            endpoint_template=dict(endpoint_template or {}),
            build_env=build_env,
            target_template=decode_template(folder / target_path),
            target_path=target_path,
            stack_set_regions=stack_set_regions(stack_set) if stack_set is not None else None,
            deploy_regions=manifest.deploy_regions,
            bundle_path=bundle_path,
        )
        target, _, _problems = _load_target_role(folder, manifest, kinds, region)
        findings: list[Finding] = []
        for stage, data_capture in captures.items():
            parameters = capture_parameters(build_env, stage, data_capture)
            capture = Capture(stage, parameters, parameters["EndpointName"])
            findings += stage_findings(rendered, target, capture)
    except (UnresolvableError, KeyError, ValueError) as exc:
        message = f"where data capture writes cannot be worked out from the rendered files ({exc}): not checked"
        return [_finding(product_path, DESTINATION_RULE, message, "")]
    return sorted(findings)
