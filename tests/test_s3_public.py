"""S3's "meaning of public" (generator/checks/s3_public.py): the rules one by one, the fixtures, and the render."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from generator.checks.s3_public import (
    DOC_URL,
    GROUP_RULE,
    NARROWING_KEYS,
    RULE,
    block_settings,
    check_folder,
    parameter_is_fixed,
    pattern_admits_wildcard,
    public_statements,
    template_findings,
    value_is_fixed,
)
from generator.checks.validate import validate_dir
from generator.manifest import read_manifest
from generator.render import build_manifest, write_output
from tests.conftest import make_config, rendered_files
from tests.edit import reseal

FIXTURES = Path(__file__).parent / "policy_fixtures" / "s3_public"
ORG_ID = "o-a1b2c3d4e5"
EMPTY: dict[str, Any] = {}

#: A fixed value of each key S3 lists (s3:DataAccessPointArn with the wildcard name the page allows).
FIXED_VALUES = {
    "aws:sourceip": "192.0.2.0/24",
    "aws:sourcearn": "arn:aws:sns:eu-west-1:111122223333:topic",
    "aws:sourcevpc": "vpc-91237329",
    "aws:sourcevpce": "vpce-1a2b3c4d",
    "aws:sourceowner": "111122223333",
    "aws:sourceaccount": "111122223333",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:eu-west-1:111122223333:key/abc",
    "aws:userid": "AIDAEXAMPLE",
    "s3:dataaccesspointarn": "arn:aws:s3:us-west-2:123456789012:accesspoint/*",
    "s3:dataaccesspointaccount": "123456789012",
    "aws:principalorgid": ORG_ID,
    "aws:principalaccount": "111122223333",
    "aws:principalarn": "arn:aws:iam::111122223333:role/reader",
}
WILDCARD_VALUES = {
    **{key: value + "*" for key, value in FIXED_VALUES.items()},
    "aws:userid": "AROAEXAMPLE:*",  # the page's "AROLEID:*" pattern
    "s3:dataaccesspointarn": "arn:aws:s3:us-west-2:*:accesspoint/*",  # the account is not fixed
}


def statement(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*", **fields}


def is_public(*statements: dict[str, Any], template: dict[str, Any] = EMPTY) -> bool:
    return bool(public_statements({"Version": "2012-10-17", "Statement": list(statements)}, template))


def operator_for(key: str) -> str:
    return "IpAddress" if key == "aws:sourceip" else "StringLike" if "arn" not in key else "ArnLike"


def test_the_key_list_is_the_pages() -> None:
    assert set(FIXED_VALUES) == NARROWING_KEYS


@pytest.mark.parametrize("key", sorted(NARROWING_KEYS))
def test_a_fixed_value_of_each_listed_key_makes_the_grant_non_public(key: str) -> None:
    assert not is_public(statement(Condition={operator_for(key): {key: FIXED_VALUES[key]}}))


@pytest.mark.parametrize("key", sorted(NARROWING_KEYS))
def test_a_wildcard_value_of_each_listed_key_does_not(key: str) -> None:
    assert is_public(statement(Condition={operator_for(key): {key: WILDCARD_VALUES[key]}}))


@pytest.mark.parametrize(
    ("condition", "public"),
    [
        ({}, True),
        ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["*/ou-ab12-11111111/*"]}}, True),  # not listed
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/reader"}}, True),  # wildcard account
        ({"StringEquals": {"aws:PrincipalOrgID": [ORG_ID, "o-*"]}}, True),  # one value with a wildcard
        ({"StringEquals": {"aws:PrincipalAccount": "${aws:SourceAccount}"}}, True),  # a policy variable
        ({"StringEqualsIfExists": {"aws:PrincipalOrgID": ORG_ID}}, True),  # true for anonymous callers
        ({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ORG_ID}}, True),  # true when absent
        ({"StringNotEquals": {"aws:PrincipalOrgID": ORG_ID}}, True),  # excludes, does not narrow
        ({"Bool": {"aws:SecureTransport": "true"}}, True),  # not a listed key
        ({"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}, False),
        ({"StringEquals": {"AWS:PrincipalOrgId": ORG_ID}}, False),  # keys are case-insensitive
        ({"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": ORG_ID}}, False),
        (
            {
                "StringEquals": {"aws:PrincipalOrgID": ORG_ID},
                "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["*/ou-ab12-11111111/*"]},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/reader"},
            },
            False,  # the fixed org id is enough; the wildcard keys beside it narrow further
        ),
    ],
)
def test_conditions(condition: dict[str, Any], public: bool) -> None:
    assert is_public(statement(Condition=condition)) is public


@pytest.mark.parametrize(
    ("principal", "public"),
    [
        ("*", True),
        ({"AWS": "*"}, True),
        ({"AWS": ["arn:aws:iam::111122223333:root", "*"]}, True),
        ({"Federated": "graph.facebook.com"}, True),  # the page's first public example
        ({"AWS": "arn:aws:iam::111122223333:root"}, False),
        ({"AWS": "arn:aws:iam::111122223333:role/reader"}, False),
        ({"Service": "logging.s3.amazonaws.com"}, False),
    ],
)
def test_principals(principal: Any, public: bool) -> None:
    assert is_public(statement(Principal=principal)) is public


def test_not_principal_in_an_allow_is_everyone_else() -> None:
    grant = statement(NotPrincipal={"AWS": "arn:aws:iam::111122223333:root"})
    del grant["Principal"]
    assert is_public(grant)


def test_deny_statements_never_make_a_policy_public() -> None:
    assert not is_public(statement(Effect="Deny"), statement(Effect="Deny", Condition={"Bool": {"x": "y"}}))


def test_one_public_statement_makes_the_policy_public() -> None:
    fixed = statement(Condition={"StringEquals": {"aws:PrincipalOrgID": ORG_ID}})
    assert is_public(fixed, statement(Sid="Open"))


# --- CloudFormation values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "admits"),
    [
        (r"^o-[a-z0-9]{10,32}$", False),
        (r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$", False),
        (r"^[\w+=,.@-]{1,64}$", False),
        (r"^\d{12}$", False),
        (r"^(o-[a-z]+|root)$", False),
        (r".*", True),
        (r"^[^/]+$", True),  # a negated class admits "*"
        (r"^\S+$", True),
        (r"^[a-z*]+$", True),
        (r"^o-[a-z0-9?]{10}$", True),
        (r"^a\$b$", True),  # a literal $ can start a policy variable
        (r"(", True),  # unparsable: proves nothing
    ],
)
def test_allowed_patterns(pattern: str, admits: bool) -> None:
    assert pattern_admits_wildcard(pattern) is admits


TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Org": {"Type": "String", "AllowedPattern": r"^o-[a-z0-9]{10,32}$"},
        "Free": {"Type": "String", "Default": ORG_ID},  # a default can be overridden at launch
        "Listed": {"Type": "String", "AllowedValues": [ORG_ID, "o-b2c3d4e5f6"]},
        "Wild": {"Type": "String", "AllowedValues": [ORG_ID, "*"]},
    },
    "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
}


@pytest.mark.parametrize(
    ("value", "fixed"),
    [
        ({"Ref": "Org"}, True),
        ({"Ref": "Free"}, False),
        ({"Ref": "Listed"}, True),
        ({"Ref": "Wild"}, False),
        ({"Ref": "AWS::AccountId"}, True),
        ({"Ref": "Missing"}, False),
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, True),
        ({"Fn::Sub": "${Org}"}, True),
        ({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/r"}, True),
        ({"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/r"}, False),
        ({"Fn::Sub": "${!aws:PrincipalAccount}"}, False),  # the literal policy variable
        ({"Fn::Sub": ["${X}", {"X": {"Ref": "Org"}}]}, True),
        ({"Fn::Sub": ["${X}", {"X": {"Ref": "Free"}}]}, False),
        ({"Fn::Sub": "${Bucket.Arn}"}, True),
        ({"Fn::Join": ["", ["o-", {"Ref": "Org"}]]}, True),
        ({"Fn::If": ["C", {"Ref": "Org"}, "o-*"]}, False),
        ({"Fn::ImportValue": "shared-org-id"}, False),
        ([ORG_ID, {"Ref": "Org"}], True),
    ],
)
def test_template_values(value: Any, fixed: bool) -> None:
    assert value_is_fixed(value, TEMPLATE) is fixed


def test_a_parameter_without_pattern_or_values_is_not_fixed() -> None:
    assert not parameter_is_fixed({"Type": "String"})


# --- the bucket's public access block -------------------------------------------------------------


def bucket_template(block: dict[str, Any] | None) -> dict[str, Any]:
    props = {} if block is None else {"PublicAccessBlockConfiguration": block}
    return {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": props}}}


@pytest.mark.parametrize(
    ("block", "ref", "policy", "restrict"),
    [
        (None, {"Ref": "B"}, True, True),  # S3's defaults for a new bucket
        ({"BlockPublicPolicy": False, "RestrictPublicBuckets": True}, {"Ref": "B"}, False, True),
        ({"BlockPublicPolicy": "false", "RestrictPublicBuckets": "false"}, {"Ref": "B"}, False, False),
        ({"BlockPublicPolicy": False}, "some-other-bucket", True, True),  # not this template's: assumed blocked
    ],
)
def test_block_settings(block: dict[str, Any] | None, ref: Any, policy: bool, restrict: bool) -> None:
    settings = block_settings(bucket_template(block), ref)
    assert (settings.block_public_policy, settings.restrict_public_buckets) == (policy, restrict)


@pytest.mark.parametrize(
    ("block", "says"),
    [
        ({"BlockPublicPolicy": True}, "S3 refuses PutBucketPolicy"),
        ({"BlockPublicPolicy": False, "RestrictPublicBuckets": True}, "blocks every cross-account request"),
        ({"BlockPublicPolicy": False, "RestrictPublicBuckets": False}, "the bucket is public"),
    ],
)
def test_the_finding_says_what_the_block_does(block: dict[str, Any], says: str) -> None:
    template = bucket_template(block)
    policy = {"Statement": [statement()]}
    template["Resources"]["P"] = {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {"Bucket": {"Ref": "B"}, "PolicyDocument": policy},
    }
    (finding,) = template_findings(template, "t.yaml")
    assert finding.rule == RULE and finding.logical_id == "P" and says in finding.message and DOC_URL in finding.message


# --- fixtures ---------------------------------------------------------------------------------------


def fixture(name: str) -> dict[str, Any]:
    template, problems = decode_str((FIXTURES / name).read_text())
    assert not problems
    return dict(template)


def test_bad_fixture_today_s_policy_is_public() -> None:
    (finding,) = template_findings(fixture("bad.yaml"), "bad.yaml")
    assert finding.rule == RULE
    assert finding.logical_id == "ArtifactBucketPolicy" and finding.line > 0
    assert "StageAccountsReadModelArtifacts" in finding.message and "S3 refuses PutBucketPolicy" in finding.message
    assert finding.blocks_render


def test_good_fixture_the_fixed_org_id_is_not_public() -> None:
    assert template_findings(fixture("good.yaml"), "good.yaml") == []


def test_a_group_policy_needs_a_fixed_principal_key() -> None:
    policy = {"Statement": [statement(Condition={"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["*/ou-a/*"]}})]}
    group = {"Type": "AWS::SageMaker::ModelPackageGroup", "Properties": {"ModelPackageGroupPolicy": policy}}
    (finding,) = template_findings({"Resources": {"Group": group}}, "t.yaml")
    assert finding.rule == GROUP_RULE and finding.logical_id == "Group"
    # A source key S3 accepts does not bind a group policy's principals.
    policy["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceVpc": "vpc-1"}}
    assert [f.rule for f in template_findings({"Resources": {"Group": group}}, "t.yaml")] == [GROUP_RULE]
    policy["Statement"][0]["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}
    assert template_findings({"Resources": {"Group": group}}, "t.yaml") == []


# --- the render ------------------------------------------------------------------------------------


def render_to(folder: Path, **overrides: Any) -> Path:
    cfg = make_config(format="json", **overrides)
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), folder, force=True)
    return folder


@pytest.mark.parametrize(
    "overrides",
    [
        {"org_id": None},
        {},
        {"launch_role": "standard"},
        {"permission_model": "self-managed", "staging_accounts": "111111111111", "prod_accounts": "222222222222"},
    ],
)
@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_rendered_policies_are_not_public(tmp_path: Path, overrides: dict[str, Any]) -> None:
    folder = render_to(tmp_path / "out", **overrides)
    assert check_folder(folder, read_manifest(folder)) == []


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_dropping_the_org_id_condition_is_reported_by_validate(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", org_id=ORG_ID)
    path = folder / "product-template.json"
    product = json.loads(path.read_text())
    for logical_id in ("ArtifactBucketPolicy", "ModelPackageGroup"):
        props = product["Resources"][logical_id]["Properties"]
        document = props.get("PolicyDocument") or props["ModelPackageGroupPolicy"]
        for item in document["Statement"]:
            item.get("Condition", {}).pop("StringEquals", None)
    path.write_text(json.dumps(product))
    reseal(folder)
    findings = [f for f in validate_dir(folder) if f.rule in (RULE, GROUP_RULE)]
    assert {(f.rule, f.logical_id) for f in findings} == {
        (RULE, "ArtifactBucketPolicy"),
        (GROUP_RULE, "ModelPackageGroup"),
    }
    assert all(f.blocks_render for f in findings)


def test_the_seed_bundle_templates_are_checked(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    bundle = folder / read_manifest(folder).path_of("seed-bundle")
    extra = json.dumps(
        {
            "Resources": {
                "CaptureBucket": {"Type": "AWS::S3::Bucket"},
                "CapturePolicy": {
                    "Type": "AWS::S3::BucketPolicy",
                    "Properties": {"Bucket": {"Ref": "CaptureBucket"}, "PolicyDocument": {"Statement": [statement()]}},
                },
            }
        }
    )
    buffer = io.BytesIO(bundle.read_bytes())
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("capture-template.json", extra)
    bundle.write_bytes(buffer.getvalue())
    reseal(folder)
    (finding,) = check_folder(folder, read_manifest(folder))
    assert finding.path == f"{bundle.name}:capture-template.json" and finding.logical_id == "CapturePolicy"
    assert "S3's defaults for a new bucket" in finding.message
