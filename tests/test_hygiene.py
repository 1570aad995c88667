"""IAM hygiene (generator/checks/hygiene.py): each rule's failing and passing fixture, the data behind the
suppression, and the rendered templates (issue 13, "Checks")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from generator.checks import hygiene
from generator.checks.hygiene import (
    ADMIN_RULE,
    ASSUME_RULE,
    PUBLIC_RULE,
    TRUST_RULE,
    account_is_any,
    expand,
    is_permissions_management,
    is_wildcard_resource,
    template_findings,
    unavoidable,
)
from generator.companions.launch_role import build_launch_role_template
from generator.manifest import read_manifest
from generator.render import build_manifest, write_output
from tests.conftest import make_config, rendered_files

FIXTURES = Path(__file__).parent / "policy_fixtures" / "hygiene"
RULES = {
    "public-principal": (PUBLIC_RULE, "BucketPolicy"),
    "assume-any-account": (ASSUME_RULE, "BuildPolicy"),
    "wildcard-admin": (ADMIN_RULE, "LaunchRole"),
    "trust-account": (TRUST_RULE, "TargetRole"),
}


def fixture(name: str) -> dict[str, Any]:
    template, problems = decode_str((FIXTURES / name).read_text())
    assert not problems
    return dict(template)


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_bad_fixture_fails_its_rule_only(name: str) -> None:
    rule, logical_id = RULES[name]
    findings = template_findings(fixture(f"bad-{name}.yaml"), f"bad-{name}.yaml")
    assert findings, name
    assert {(f.rule, f.logical_id) for f in findings} == {(rule, logical_id)}
    assert all(f.line > 0 and f.blocks_render and "https://docs.aws.amazon.com/" in f.message for f in findings)


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_good_fixture_passes(name: str) -> None:
    assert template_findings(fixture(f"good-{name}.yaml"), f"good-{name}.yaml") == []


def test_the_wildcard_admin_finding_names_each_permissions_management_action() -> None:
    findings = template_findings(fixture("bad-wildcard-admin.yaml"), "t.yaml")
    admin = ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion")
    named = sorted(action for f in findings for action in admin if action in f.message)
    assert named == ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"]
    assert not any("kms:DescribeKey" in f.message for f in findings)  # a read, not administration


def test_permissions_management_comes_from_the_reference() -> None:
    assert is_permissions_management("kms:PutKeyPolicy")  # access level "Permissions management, Write"
    assert is_permissions_management("iam:PutRolePolicy")
    assert is_permissions_management("kms:ScheduleKeyDeletion")  # "Write", named by the issue
    assert not is_permissions_management("kms:Decrypt")
    assert not is_permissions_management("s3:GetObject")


def test_the_suppression_is_the_reference_s_data() -> None:
    """An action with no resource type can only be granted on "*": suppressed, with the reason cited."""
    reason = unavoidable("s3:PutAccountPublicAccessBlock")
    assert reason is not None and "service-authorization" in reason
    assert unavoidable("kms:PutKeyPolicy") is None  # it has the `key` resource type: scope it
    assert unavoidable("nosuch:Action") is None


def test_wildcard_actions_expand_from_the_reference() -> None:
    assert "kms:PutKeyPolicy" in expand("kms:Put*")
    assert "kms:Decrypt" not in expand("kms:Put*")
    assert expand("kms:Decrypt") == ("kms:Decrypt",)
    policy = {"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    role = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": policy}}
    findings = template_findings({"Resources": {"P": role}}, "t.yaml")
    assert any("kms:PutKeyPolicy" in f.message for f in findings)


@pytest.mark.parametrize(
    ("resource", "wildcard", "any_account"),
    [
        ("*", True, True),
        ("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*", True, False),
        ("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/1234", False, False),
        ("arn:aws:iam::*:role/deploy", False, True),
        ("arn:aws:sns:eu-west-1:111122223333:*", True, False),
        ("arn:aws:codebuild:eu-west-1:111122223333:project/sagemaker-*", False, False),
    ],
)
def test_resource_shapes(resource: str, wildcard: bool, any_account: bool) -> None:
    assert is_wildcard_resource(resource) is wildcard
    assert account_is_any(resource) is any_account


def test_deny_statements_and_service_principals_pass() -> None:
    trust = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"},
        ]
    }
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}}
    assert template_findings({"Resources": {"R": role}}, "t.yaml") == []


def test_the_launch_role_administers_keys_only_through_their_own_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 4 as a class: no key administration on `key/*` in the launch role's IAM policy (hygiene), and a key
    whose policy does not name the launch role is caught by validate (the launch role could not administer it)."""
    from generator.checks.iam_check import LAUNCH_RULE, _launch_findings, generated_launch_policies
    from generator.companions.launch_role import product_for_launch_role
    from generator.product.kms import default_key_policy

    cfg = make_config(approver_email=["a@example.com"], format="json")
    launch = json.loads(json.dumps(build_launch_role_template(cfg).to_dict()))
    assert [f for f in template_findings(launch, "launch.json") if f.rule == ADMIN_RULE] == []
    actions = {a for st in launch["Resources"]["LaunchRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
               for a in st["Action"]}  # fmt: skip
    assert not actions & {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKeyRotation"}

    role, policies = generated_launch_policies(launch, cfg.region)
    product = json.loads(json.dumps(product_for_launch_role(cfg).to_dict()))
    assert [f for f in _launch_findings(product, "p", role, policies, False, cfg.region) if "kms:" in f.message] == []
    monkeypatch.setattr("generator.product.notifications.launched_key_policy", lambda cfg: default_key_policy())
    unnamed = json.loads(json.dumps(product_for_launch_role(cfg).to_dict()))
    findings = [f for f in _launch_findings(unnamed, "p", role, policies, False, cfg.region) if f.rule == LAUNCH_RULE]
    assert any("kms:PutKeyPolicy" in f.message for f in findings)
    assert any("kms:ScheduleKeyDeletion" in f.message for f in findings)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"approver_email": ["a@example.com"]},
        {"launch_role": "standard"},
        {"stackset_admin": "delegated"},
        {"permission_model": "self-managed", "staging_accounts": "111111111111", "prod_accounts": "222222222222"},
    ],
)
def test_rendered_templates_pass(tmp_path: Path, overrides: dict[str, Any]) -> None:
    cfg = make_config(format="json", **overrides)
    files = rendered_files(cfg)
    folder = tmp_path / "out"
    write_output(files, build_manifest(cfg, files), folder, force=True)
    assert hygiene.check_folder(folder, read_manifest(folder)) == []
