"""Data capture writes to a bucket every target account has, as a role that may (issue 11, case 7).

Passing fixture: every named configuration as rendered (prod captures to the target-role stack set's
bucket). Failing fixtures: the destination the product used to render (`sagemaker-<region>-<account>`),
a custom `s3_uri`, a target role without the grant, a stack set that misses a deploy region, a model that
runs as another role. Each is a finding, and `render` refuses it.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator import contract
from generator.checks.data_capture import DESTINATION_RULE, WRITE_RULE, build_environment, capture_parameters
from generator.checks.data_capture import check_folder as capture_check
from generator.checks.finding import Finding
from generator.errors import ValidationFailed
from generator.manifest import read_manifest
from generator.naming import BootstrapNames, Stage
from generator.render import build_manifest, validation_step, write_output
from tests.conftest import CONFIGS, config_params, make_config, rendered_files
from tests.edit import reseal
from tests.test_seed_support import Seed, seed

__all__ = ["seed"]  # the fixture, imported for pytest

#: The default destination the endpoint template had before the fix: SageMaker's default bucket.
YESTERDAYS_DESTINATION = "!Sub s3://sagemaker-${AWS::Region}-${AWS::AccountId}/data-capture/${EndpointName}"


def render_to(folder: Path, **overrides: Any) -> Path:
    cfg = make_config(format="json", **overrides)
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), folder, force=True)
    return folder


def findings_of(folder: Path) -> list[Finding]:
    return capture_check(folder, read_manifest(folder))


def edit_bundle(folder: Path, name: str, change: Callable[[str], str]) -> None:
    """Change one file of the rendered seed bundle, then re-seal the manifest."""
    path = folder / contract.SEED_BUNDLE
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    files[name] = change(files[name].decode("utf-8")).encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n, content in files.items():
            archive.writestr(n, content)
    path.write_bytes(buffer.getvalue())
    reseal(folder)


def edit_template(folder: Path, name: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))
    reseal(folder)


def set_capture(stage: Stage, **values: Any) -> Callable[[str], str]:
    def change(text: str) -> str:
        data = json.loads(text)
        data["data_capture"].update(values)
        return json.dumps(data, indent=2)

    return change


@pytest.mark.parametrize("name", config_params())
def test_every_configuration_captures_where_it_may_write(tmp_path: Path, name: str) -> None:
    folder = render_to(tmp_path / "out", **CONFIGS[name])
    assert findings_of(folder) == []


def test_prod_captures_by_default_and_the_target_role_template_makes_the_bucket(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", **{"deploy-regions": "eu-west-1,us-east-1"})
    prod = json.loads(zipfile.ZipFile(folder / contract.SEED_BUNDLE).read(contract.STAGE_CONFIG[Stage.PROD]))
    assert prod["data_capture"] == {"enabled": True, "sampling_percentage": 20, "s3_uri": ""}
    target = json.loads((folder / "target-role-template.json").read_text())
    bucket = target["Resources"]["DataCaptureBucket"]["Properties"]
    assert bucket["BucketName"] == {"Fn::Sub": BootstrapNames().data_capture_bucket("${AWS::Region}")}
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert target["Resources"]["TargetRole"]["Condition"] == "InRoleRegion"
    stack_set = json.loads((folder / "target-role-stackset.json").read_text())
    [group] = stack_set["Resources"]["TargetRoleStackSet"]["Properties"]["StackInstancesGroup"]
    assert group["Regions"] == ["eu-west-1", "us-east-1"]


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_yesterdays_default_destination_is_a_finding_and_render_refuses(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    today = "!Sub s3://${DataCaptureBucketStem}-${AWS::AccountId}-${AWS::Region}/data-capture"
    edit_bundle(
        folder, contract.EXPORT_TEMPLATE, lambda t: t.replace(today, YESTERDAYS_DESTINATION) if today in t else ""
    )
    [finding] = findings_of(folder)
    assert finding.rule == DESTINATION_RULE
    assert "s3://sagemaker-eu-west-1-444455556666/data-capture/" in finding.message
    assert "prod data capture" in finding.message and "https://docs.aws.amazon.com/sagemaker/" in finding.message
    with pytest.raises(ValidationFailed, match=DESTINATION_RULE):
        validation_step(folder)


def test_custom_destination_is_a_finding(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    edit_bundle(
        folder, contract.STAGE_CONFIG[Stage.STAGING], set_capture(Stage.STAGING, enabled=True, s3_uri="s3://x-y")
    )
    [finding] = findings_of(folder)
    assert finding.rule == DESTINATION_RULE and "staging data capture" in finding.message
    assert "s3://x-y" in finding.message


def test_no_capture_no_finding(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    edit_bundle(folder, contract.STAGE_CONFIG[Stage.PROD], set_capture(Stage.PROD, enabled=False, s3_uri="s3://x-y"))
    assert findings_of(folder) == []


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_target_role_without_the_grant_is_a_finding(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")

    def drop_grant(template: dict[str, Any]) -> None:
        [policy] = template["Resources"]["TargetRole"]["Properties"]["Policies"]
        statements = policy["PolicyDocument"]["Statement"]
        policy["PolicyDocument"]["Statement"] = [s for s in statements if s.get("Sid") != "WriteDataCapture"]

    edit_template(folder, "target-role-template.json", drop_grant)
    [finding] = findings_of(folder)
    assert finding.rule == WRITE_RULE and finding.action == "s3:PutObject" and finding.kind == "missing"
    assert finding.resource.startswith("arn:aws:s3:::sagemaker-capture-444455556666-eu-west-1/data-capture/")
    with pytest.raises(ValidationFailed, match=WRITE_RULE):
        validation_step(folder)


def test_bucket_policy_that_denies_the_write_is_a_finding(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")

    def deny_puts(template: dict[str, Any]) -> None:
        statements = template["Resources"]["DataCaptureBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        statements.append(
            {"Sid": "NoPuts", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}
        )

    edit_template(folder, "target-role-template.json", deny_puts)
    [finding] = findings_of(folder)
    assert finding.rule == WRITE_RULE and "NoPuts" in finding.message


def test_stack_set_without_a_deploy_region_is_a_finding(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", **{"deploy-regions": "eu-west-1,us-east-1"})

    def home_only(template: dict[str, Any]) -> None:
        for group in template["Resources"]["TargetRoleStackSet"]["Properties"]["StackInstancesGroup"]:
            group["Regions"] = ["eu-west-1"]

    edit_template(folder, "target-role-stackset.json", home_only)
    [finding] = findings_of(folder)
    assert finding.rule == DESTINATION_RULE and "does not exist in us-east-1" in finding.message


def test_model_running_as_another_role_is_a_finding(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")

    def other_role(text: str) -> str:
        line = "ExecutionRoleArn: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ModelExecutionRoleName}"
        assert line in text
        return text.replace(line, line.replace("${ModelExecutionRoleName}", "another-role"))

    edit_bundle(folder, contract.EXPORT_TEMPLATE, other_role)
    [finding] = findings_of(folder)
    assert finding.rule == WRITE_RULE and "another-role" in finding.message


def test_check_reads_what_build_py_passes(seed: Seed, tmp_path: Path) -> None:
    """capture_parameters and build.py's stage_parameters agree on every parameter the check uses."""
    folder = render_to(tmp_path / "out")
    from cfnlint.decode import decode_str

    product, _ = decode_str((folder / "product-template.json").read_text())
    env = build_environment(dict(product or {}), "eu-west-1")
    parsed = seed.build.BuildEnv.from_environ(env)
    import stage_config  # the seed fixture puts the bundle's root on sys.path

    for stage in Stage:
        settings = next(s for s in parsed.stages if s.name == stage.value)
        config = stage_config.load_stage_config(seed.root / contract.STAGE_CONFIG[stage])
        built = seed.build.stage_parameters(parsed, settings, config, "arn:aws:sagemaker:eu-west-1:1:model-package/g/1")
        data_capture = json.loads((seed.root / contract.STAGE_CONFIG[stage]).read_text())["data_capture"]
        ours = capture_parameters(env, stage, data_capture)
        assert {k: built[k] for k in ours} == ours


def test_capture_bucket_name_fits_s3_for_the_longest_prefix_and_region() -> None:
    """The artifact bucket bounds the prefix (config refuses longer ones); the capture bucket then always fits."""
    from generator.config import known_regions
    from generator.naming import BUCKET_NAME_LIMIT

    longest = "sagemaker-" + "a" * 14 + "-"  # 25 characters: the most the artifact bucket's 63 allow
    make_config(**{"name-prefix": longest})
    with pytest.raises(Exception, match="too long"):
        make_config(**{"name-prefix": longest[:-1] + "a-"})
    region = max(known_regions(), key=len)
    name = BootstrapNames(longest).data_capture_bucket(region).replace("${AWS::AccountId}", "123456789012")
    assert len(name) <= BUCKET_NAME_LIMIT
    with pytest.raises(ValueError, match="more than S3's 63"):
        BootstrapNames(longest + "x" * 10).data_capture_bucket(region)
