"""The endpoint stacks' cross-account calls against the resource policies (generator/checks/cross_account.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.checks.cross_account import (
    SAMPLE_ORG_ID,
    SAMPLE_SERVICE_MANAGED_EXECUTION_ROLE,
    caller_context,
    cross_account_needs,
    evaluate_cross_account,
    gaps,
    seed_templates,
)
from generator.checks.iam_check import check_folder
from generator.checks.runtime_iam import SAMPLE_TARGET_ACCOUNT, Need
from generator.iam.iam_eval import Decision
from generator.manifest import read_manifest
from generator.render import build_manifest, write_output
from tests.conftest import PROD_OU, STAGING_OU, make_config, rendered_files
from tests.edit import reseal

ORG_ID = "o-a1b2c3d4e5"
SELF_MANAGED = {"permission_model": "self-managed", "staging_accounts": "111111111111", "prod_accounts": "222222222222"}


def render_to(folder: Path, **overrides: Any) -> Path:
    cfg = make_config(format="json", **overrides)
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), folder, force=True)
    return folder


def edit_product(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "product-template.json"
    product = json.loads(path.read_text())
    change(product)
    path.write_text(json.dumps(product))
    reseal(folder)


def loaded(folder: Path) -> tuple[dict[str, Any], list[Any]]:
    import zipfile

    product = json.loads((folder / "product-template.json").read_text())
    with zipfile.ZipFile(folder / read_manifest(folder).path_of("seed-bundle")) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return product, seed_templates(files)


def cross_findings(folder: Path) -> list[Any]:
    return [
        f
        for f in check_folder(folder, read_manifest(folder))
        if "cross-account" in f.message or "model data" in f.message
    ]


@pytest.mark.parametrize("overrides", [{"org_id": None}, {}, SELF_MANAGED, {"service_roles": "use-role"}])
@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_rendered_products_grant_what_the_endpoint_stacks_need(tmp_path: Path, overrides: dict[str, Any]) -> None:
    folder = render_to(tmp_path / "out", **overrides)
    product, templates = loaded(folder)
    needs, launch = cross_account_needs(product, templates, "eu-west-1")
    assert launch is not None and launch.org_id == (SAMPLE_ORG_ID if "org_id" in overrides else ORG_ID)
    assert launch.staging_ou == STAGING_OU
    assert {(n.action, n.logical_id) for n in needs} == {
        ("sagemaker:CreateModel", "ModelPackageGroup"),
        ("sagemaker:DescribeModelPackage", "ModelPackageGroup"),
        ("s3:GetObject", "ArtifactBucketPolicy"),
    }
    executor = "AWSCloudFormationStackSetExecutionRole" if overrides is SELF_MANAGED else "stacksets-exec-"
    assert any(executor in n.role_arn for n in needs)
    assert gaps(product, templates, "eu-west-1") == []
    assert cross_findings(folder) == []


def test_standard_launch_role_has_no_group_in_the_product(tmp_path: Path) -> None:
    """The build creates the group and its policy: tests/test_seed_build.py checks that policy against these rules."""
    product, templates = loaded(render_to(tmp_path / "out", launch_role="standard"))
    needs, _ = cross_account_needs(product, templates, "eu-west-1")
    assert {n.action for n in needs} == {"s3:GetObject"}


def drop_action(action: str) -> Callable[[dict[str, Any]], None]:
    def change(product: dict[str, Any]) -> None:
        for item in product["Resources"]["ModelPackageGroup"]["Properties"]["ModelPackageGroupPolicy"]["Statement"]:
            item["Action"] = [a for a in item["Action"] if a != action]

    return change


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_failing_fixture_a_group_policy_without_create_model(tmp_path: Path) -> None:
    """Case 3 of issue 11: the group granted Describe/List only, so CreateModel from a stage account was denied."""
    folder = render_to(tmp_path / "out", org_id=ORG_ID)
    edit_product(folder, drop_action("sagemaker:CreateModel"))
    (finding,) = cross_findings(folder)
    assert (finding.rule, finding.kind, finding.action, finding.logical_id) == (
        "IAM-RUNTIME",
        "missing",
        "sagemaker:CreateModel",
        "ModelPackageGroup",
    )
    assert finding.role.startswith("stacksets-exec-") and finding.blocks_render
    assert "model-registry-deploy-xaccount" in finding.message


def test_a_bucket_policy_that_names_another_role_denies_the_model_data(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", org_id=ORG_ID)

    def other_role(product: dict[str, Any]) -> None:
        (read, _) = product["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        read["Condition"]["ArnLike"]["aws:PrincipalArn"] = ["arn:aws:iam::*:role/someone-else"]

    edit_product(folder, other_role)
    (finding,) = cross_findings(folder)
    assert (finding.action, finding.logical_id, finding.role) == (
        "s3:GetObject",
        "ArtifactBucketPolicy",
        "sagemaker-multi-account-deploy",
    )


def test_the_target_role_must_allow_the_model_data_too(tmp_path: Path) -> None:
    """Cross-account access needs both policies: a bucket grant is not enough without the role's own."""
    folder = render_to(tmp_path / "out", org_id=ORG_ID)
    path = folder / "target-role-template.json"
    template = json.loads(path.read_text())
    policy = template["Resources"]["TargetRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "ReadModelArtifacts"]
    path.write_text(json.dumps(template))
    reseal(folder)
    (finding,) = cross_findings(folder)
    assert (finding.action, finding.role, finding.kind) == ("s3:GetObject", "sagemaker-multi-account-deploy", "missing")
    assert "as the target role" in finding.message


NEED = Need(
    f"arn:aws:iam::{SAMPLE_TARGET_ACCOUNT}:role/{SAMPLE_SERVICE_MANAGED_EXECUTION_ROLE}",
    "sagemaker:CreateModel",
    "arn:aws:sagemaker:eu-west-1:123456789012:model-package/iris/1",
    "ModelPackageGroup",
    "test",
    "test",
)
POLICY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["sagemaker:CreateModel"],
            "Resource": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/iris/*",
            "Condition": {
                "StringEquals": {"aws:PrincipalOrgID": ORG_ID},
                "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"*/{STAGING_OU}/*", f"*/{PROD_OU}/*"]},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/stacksets-exec-*"},
            },
        }
    ]
}


@pytest.mark.parametrize(
    ("org", "ou", "decision"),
    [
        (ORG_ID, STAGING_OU, Decision.ALLOW),
        (ORG_ID, PROD_OU, Decision.ALLOW),
        ("o-zzzzzzzzzz", STAGING_OU, Decision.IMPLICIT_DENY),  # another organisation
        (ORG_ID, "ou-ab12-99999999", Decision.IMPLICIT_DENY),  # an account outside the stage OUs
    ],
)
def test_the_caller_s_organisation_and_ou_decide(org: str, ou: str, decision: Decision) -> None:
    assert evaluate_cross_account(POLICY, NEED, caller_context(NEED.role_arn, org, ou)).decision is decision


def test_a_principal_block_naming_another_account_does_not_apply() -> None:
    policy = {"Statement": [{**POLICY["Statement"][0], "Principal": {"AWS": "arn:aws:iam::999999999999:root"}}]}
    result = evaluate_cross_account(policy, NEED, caller_context(NEED.role_arn, ORG_ID, STAGING_OU))
    assert result.decision is Decision.IMPLICIT_DENY
    named = {"Statement": [{**POLICY["Statement"][0], "Principal": {"AWS": SAMPLE_TARGET_ACCOUNT}}]}
    assert evaluate_cross_account(named, NEED, caller_context(NEED.role_arn, ORG_ID, STAGING_OU)).allowed
