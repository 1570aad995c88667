"""IAM findings of `validate` (generator/checks/iam_check.py): launch role and run-time roles, from rendered files."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from generator.checks.finding import Finding
from generator.checks.iam_check import (
    SERVICE_ROLE_POLICIES,
    STANDARD_LAUNCH_ROLE,
    check_folder,
    decode_template,
    prerequisite_policies,
    service_role_policy,
)
from generator.cli import app
from generator.errors import ValidationFailed
from generator.manifest import Manifest, read_manifest
from generator.render import build_manifest, validation_step, write_output
from tests.conftest import CONFIGS, CONNECTION_ARN, TEST_DATA, make_config, rendered_files
from tests.edit import reseal

REFERENCE = TEST_DATA / "iam"
FIXTURES = Path(__file__).parent / "iam_fixtures"
PIPELINE_ROLE = "AmazonSageMakerServiceCatalogProductsCodePipelineRole"
BUILD_ROLE = "AmazonSageMakerServiceCatalogProductsCodeBuildRole"
EVENTS_ROLE = "AmazonSageMakerServiceCatalogProductsEventsRole"
USE_ROLE = "AmazonSageMakerServiceCatalogProductsUseRole"
STACK_SET_ACTIONS = {
    "cloudformation:CreateStackSet",
    "cloudformation:UpdateStackSet",
    "cloudformation:DescribeStackSet",
    "cloudformation:DescribeStackSetOperation",
    "cloudformation:ListStackInstances",
    "cloudformation:CreateStackInstances",
}

RENDERS: dict[str, dict[str, Any]] = {
    "generated per-service": {},
    "generated use-role": {"service-roles": "use-role"},
    "standard per-service": {"launch-role": "standard"},
    "standard use-role": {"launch-role": "standard", "service-roles": "use-role"},
    "standard seed bucket": {"launch-role": "standard", "seed-bucket": "acme-seed"},
}


def render_to(folder: Path, **overrides: Any) -> Path:
    """Render (JSON templates, easy to edit) into `folder` without validating.

    With the SageMaker-provided per-service roles unless told otherwise: these tests are about the shared roles
    and the prerequisites; tests/test_project_roles.py checks the project's own roles (the default)."""
    if "service-roles" not in overrides and "service_roles" not in overrides:
        overrides["service_roles"] = "per-service"
    cfg = make_config(format="json", **overrides)
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), folder, force=True)
    return folder


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))
    if path.name != "manifest.json":
        reseal(path.parent)  # the check under test must fire, not the manifest gate


def drop_artifact(folder: Path, kind: str) -> None:
    edit_json(folder / "manifest.json", lambda m: m.update(artifacts=[a for a in m["artifacts"] if a["kind"] != kind]))


def findings_of(folder: Path) -> list[Finding]:
    return check_folder(folder, read_manifest(folder))


def summary(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.kind, f.role, f.action) for f in findings}


# --- data ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(SERVICE_ROLE_POLICIES))
def test_shipped_service_role_policies_are_the_reference(role: str) -> None:
    reference = REFERENCE / SERVICE_ROLE_POLICIES[role]
    if not reference.exists():
        pytest.skip("shared reference not present")
    assert service_role_policy(role) == json.loads(reference.read_text())


# --- good renders ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RENDERS))
@pytest.mark.slow  # renders whole configurations (about a second each)
def test_rendered_products_pass(tmp_path: Path, name: str) -> None:
    folder = render_to(tmp_path / "out", **RENDERS[name])
    assert findings_of(folder) == []


def test_without_prerequisites_the_known_gaps_need_them(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    drop_artifact(folder, "prerequisites-template")
    findings = findings_of(folder)
    assert {f.kind for f in findings} == {"needs-prerequisites"}
    assert {f.rule for f in findings} == {"IAM-RUNTIME"}
    by_role: dict[str, set[str]] = {}
    for f in findings:
        by_role.setdefault(f.role, set()).add(f.action)
    assert by_role[PIPELINE_ROLE] == STACK_SET_ACTIONS
    assert by_role[BUILD_ROLE] == {
        "sts:AssumeRole",
        "sts:TagSession",  # the project session tag (generator/companions/target_role.py)
        "organizations:ListAccountsForParent",
        "organizations:ListOrganizationalUnitsForParent",
        "codebuild:CreateReportGroup",
        "codebuild:CreateReport",
        "codebuild:UpdateReport",
        "codebuild:BatchPutTestCases",
        # The regional artifact buckets' settings (seed regions.py); the managed policy allows CreateBucket only.
        "s3:PutBucketPublicAccessBlock",
        "s3:PutBucketPolicy",
        "s3:PutEncryptionConfiguration",
    }
    assert EVENTS_ROLE not in by_role  # the standard Events role may start sagemaker-* pipelines
    stack_set = next(f for f in findings if f.action == "cloudformation:UpdateStackSet")
    assert stack_set.logical_id == "ModelDeployPipeline" and stack_set.line > 0
    assert "needs the prerequisites template" in stack_set.message and PIPELINE_ROLE in stack_set.message


def test_standard_launch_role_build_creates_the_group_only_with_prerequisites(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", **{"launch-role": "standard"})
    drop_artifact(folder, "prerequisites-template")
    assert {("needs-prerequisites", BUILD_ROLE, "sagemaker:CreateModelPackageGroup")} <= summary(findings_of(folder))


# --- bad fixtures --------------------------------------------------------------------------------------------

BAD_STANDARD = json.loads((FIXTURES / "standard-role-refuses.json").read_text())["cases"]


@pytest.mark.parametrize("case", BAD_STANDARD, ids=[c["name"] for c in BAD_STANDARD])
def test_standard_launch_role_refuses(tmp_path: Path, case: dict[str, Any]) -> None:
    folder = render_to(tmp_path / "out", **{"launch-role": "standard"})
    edit_json(folder / "product-template.json", lambda t: t["Resources"].update({case["logical_id"]: case["resource"]}))
    launch = [f for f in findings_of(folder) if f.rule == "IAM-LAUNCH-ROLE"]
    hit = [f for f in launch if f.action == case["missing"] and f.logical_id == case["logical_id"]]
    assert hit, launch
    assert hit[0].kind == "missing" and hit[0].role == STANDARD_LAUNCH_ROLE
    assert case["missing"] in hit[0].message and STANDARD_LAUNCH_ROLE in hit[0].message


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_generated_launch_role_missing_one_action(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")

    def remove_create_pipeline(template: dict[str, Any]) -> None:
        for statement in template["Resources"]["LaunchRole"]["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"
        ]:
            statement["Action"] = [a for a in statement["Action"] if a != "codepipeline:CreatePipeline"]

    edit_json(folder / "launch-role-template.json", remove_create_pipeline)
    findings = findings_of(folder)
    assert summary(findings) == {("missing", "sagemaker-mlops-gen-launch-role", "codepipeline:CreatePipeline")}
    assert findings[0].logical_id == "ModelDeployPipeline" and "(create)" in findings[0].message


def test_stack_set_action_by_the_standard_pipeline_role_needs_prerequisites(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    drop_artifact(folder, "prerequisites-template")
    pipeline = [f for f in findings_of(folder) if f.role == PIPELINE_ROLE]
    assert {f.action for f in pipeline} == STACK_SET_ACTIONS
    assert all(f.kind == "needs-prerequisites" and "(CloudFormationStackSet)" in f.message for f in pipeline)


def test_explicit_deny_in_prerequisites_is_missing(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    path = folder / "prerequisites-template.json"

    def deny_assume(template: dict[str, Any]) -> None:
        document = template["Resources"]["BuildRolePolicy"]["Properties"]["PolicyDocument"]
        document["Statement"].append({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"})

    edit_json(path, deny_assume)
    (finding,) = findings_of(folder)
    assert (finding.kind, finding.role, finding.action) == ("missing", BUILD_ROLE, "sts:AssumeRole")
    assert "explicitly denies" in finding.message


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_connection_tag_condition_is_reported_not_allowed(tmp_path: Path) -> None:
    folder = render_to(
        tmp_path / "out", source="codeconnections", **{"connection-arn": CONNECTION_ARN, "repository": "acme/iris"}
    )
    (finding,) = findings_of(folder)
    assert (finding.kind, finding.role, finding.action) == (
        "conditional",
        PIPELINE_ROLE,
        "codeconnections:UseConnection",
    )
    assert "aws:ResourceTag/sagemaker" in finding.message and finding.resource == CONNECTION_ARN


def test_unknown_role_is_unchecked(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    edit_json(
        folder / "product-template.json",
        lambda t: t["Parameters"]["EventsRoleName"].update(Default="acme-events-role"),
    )
    unchecked = [f for f in findings_of(folder) if f.kind == "unchecked"]
    assert {f.logical_id for f in unchecked} == {"ModelApprovedRule", "CodePushedRule"}
    assert all(f.role == "acme-events-role" for f in unchecked)


# --- the prerequisites hook ----------------------------------------------------------------------------------


def test_hook_reads_managed_and_inline_policies() -> None:
    template = decode_template(FIXTURES / "prerequisites-small.yaml")
    added = prerequisite_policies(template, "eu-west-1")
    assert set(added) == {PIPELINE_ROLE, "sagemaker-helper"}  # ExtraPolicy's Fn::If has no roles by default
    assert set(added[PIPELINE_ROLE]) == {"StackSetPolicy (prerequisites)"}
    statements = added[PIPELINE_ROLE]["StackSetPolicy (prerequisites)"]["Statement"]
    assert statements[1]["Resource"] == "arn:aws:cloudformation:eu-west-1:123456789012:stackset/sagemaker-*"
    assert set(added["sagemaker-helper"]) == {"inline (prerequisites)", "StackSetPolicy (prerequisites)"}


def test_hook_follows_conditions_on_parameter_defaults() -> None:
    template = decode_template(FIXTURES / "prerequisites-small.yaml")
    template["Parameters"]["ExtraRoleNames"]["Default"] = f"{BUILD_ROLE},{EVENTS_ROLE}"
    added = prerequisite_policies(template, "eu-west-1")
    assert "ExtraPolicy (prerequisites)" in added[BUILD_ROLE] and "ExtraPolicy (prerequisites)" in added[EVENTS_ROLE]


def test_small_prerequisites_template_covers_only_what_it_grants(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    target = folder / "prerequisites-template.json"
    shutil.copy(FIXTURES / "prerequisites-small.yaml", target)

    def point_at_fixture(manifest: dict[str, Any]) -> None:
        for artifact in manifest["artifacts"]:
            if artifact["kind"] == "prerequisites-template":
                artifact["path"] = target.name

    edit_json(folder / "manifest.json", point_at_fixture)
    findings = findings_of(folder)
    assert PIPELINE_ROLE not in {f.role for f in findings}  # the stack-set policy is added
    # With a prerequisites template rendered, what it leaves out is missing, not "needs prerequisites".
    assert {(f.kind, f.role) for f in findings} == {("missing", BUILD_ROLE)}
    assert "sts:AssumeRole" in {f.action for f in findings}


# --- the target role: calls made with its credentials, and its trust -----------------------------------------

TARGET_ROLE = "sagemaker-multi-account-deploy"
TEST_PROJECT = "ModelDeployTestProject"


def target_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = template["Resources"]["TargetRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    return statements


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.slow  # renders whole configurations (about a second each)
def test_every_config_passes_with_its_target_role_checked(tmp_path: Path, name: str) -> None:
    folder = render_to(tmp_path / "out", **CONFIGS[name])

    def findings() -> set[tuple[str, str, str]]:
        # (a CodeConnections source needs the connection tag SageMaker's pipeline role requires: conditional)
        return {(f.kind, f.action, f.logical_id) for f in findings_of(folder) if "UseConnection" not in f.action}

    assert findings() == set()
    # ... and the check ran: without the role's policies, the test's endpoint calls are not allowed, nor
    # SageMaker's read of the model data as the role (generator/checks/cross_account.py).
    edit_json(folder / "target-role-template.json", lambda t: target_statements(t).clear())
    assert findings() == {
        ("missing", "sagemaker:DescribeEndpoint", TEST_PROJECT),
        ("missing", "sagemaker:InvokeEndpoint", TEST_PROJECT),
        ("missing", "s3:GetObject", "ArtifactBucketPolicy"),
        # --kms-key generated: S3 decrypts the model data with the project key as the role (its own policy too)
        *([("missing", "kms:Decrypt", "ProjectKey")] if CONFIGS[name].get("kms-key") == "generated" else []),
    }


def test_target_role_without_invoke_endpoint_is_that_finding(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")

    def drop_invoke(template: dict[str, Any]) -> None:
        for statement in target_statements(template):
            statement["Action"] = [a for a in statement["Action"] if a != "sagemaker:InvokeEndpoint"]

    edit_json(folder / "target-role-template.json", drop_invoke)
    (finding,) = findings_of(folder)
    assert (finding.rule, finding.kind, finding.role, finding.action, finding.logical_id) == (
        "IAM-RUNTIME",
        "missing",
        TARGET_ROLE,
        "sagemaker:InvokeEndpoint",
        TEST_PROJECT,
    )
    # A staging account that is not the pipeline's, the endpoint name from the test project's environment.
    assert finding.resource == (
        "arn:aws:sagemaker:eu-west-1:444455556666:endpoint/sagemaker-iris-multi-01-p-abcdefghijkl-staging"
    )
    assert "test/test.py" in finding.message and "InvokeEndpoint" in finding.message
    assert finding.path == "product-template.json" and finding.line > 0


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_endpoints_in_every_deploy_region_are_checked(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", **{"deploy-regions": "eu-west-1,us-east-1"})

    def only_home_region(template: dict[str, Any]) -> None:
        for statement in target_statements(template):
            if statement.get("Sid") == "TestProjectEndpoints":
                statement["Resource"] = [
                    {"Fn::Sub": r["Fn::Sub"].replace(":*:", ":eu-west-1:", 1)} for r in statement["Resource"]
                ]

    edit_json(folder / "target-role-template.json", only_home_region)
    findings = findings_of(folder)
    assert {(f.action, f.resource.split(":")[3]) for f in findings} == {
        ("sagemaker:DescribeEndpoint", "us-east-1"),
        ("sagemaker:InvokeEndpoint", "us-east-1"),
    }


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_endpoint_in_the_pipeline_account_only_is_missing(tmp_path: Path) -> None:
    """${AWS::AccountId} in the target-role template is the staging account, never the pipeline's."""
    folder = render_to(tmp_path / "out")

    def pipeline_account(template: dict[str, Any]) -> None:
        for statement in target_statements(template):
            if statement.get("Sid") == "TestProjectEndpoints":
                statement["Resource"] = [
                    {"Fn::Sub": r["Fn::Sub"].replace("${AWS::AccountId}", "${PipelineAccountId}")}
                    for r in statement["Resource"]
                ]

    edit_json(folder / "target-role-template.json", pipeline_account)
    assert summary(findings_of(folder)) == {
        ("missing", TARGET_ROLE, "sagemaker:DescribeEndpoint"),
        ("missing", TARGET_ROLE, "sagemaker:InvokeEndpoint"),
    }


def test_trust_that_does_not_admit_the_build_role_is_a_finding(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")

    def admit_another_role(template: dict[str, Any]) -> None:
        trust = template["Resources"]["TargetRole"]["Properties"]["AssumeRolePolicyDocument"]
        pipeline = next(s for s in trust["Statement"] if s["Sid"] == "PipelineRolesTestEndpoints")
        pipeline["Condition"]["ArnEquals"]["aws:PrincipalArn"] = [
            {"Fn::Sub": "arn:${AWS::Partition}:iam::${PipelineAccountId}:role/service-role/acme-other"}
        ]

    edit_json(folder / "target-role-template.json", admit_another_role)
    (finding,) = findings_of(folder)
    assert (finding.kind, finding.role, finding.action, finding.logical_id) == (
        "missing",
        TARGET_ROLE,
        "sts:AssumeRole",
        "TargetRole",
    )
    assert finding.resource == f"arn:aws:iam::444455556666:role/{TARGET_ROLE}"
    assert finding.path == "target-role-template.json" and finding.line > 0
    assert f"arn:aws:iam::123456789012:role/service-role/{BUILD_ROLE}" in finding.message


def test_stack_set_passing_another_pipeline_role_fails_the_trust(tmp_path: Path) -> None:
    """The trust is checked with the parameters the target-role stack set deploys it with."""
    folder = render_to(tmp_path / "out")

    def other_role(template: dict[str, Any]) -> None:
        for parameter in template["Resources"]["TargetRoleStackSet"]["Properties"]["Parameters"]:
            if parameter["ParameterKey"] == "PipelineRoleName":
                parameter["ParameterValue"] = "acme-other"

    edit_json(folder / "target-role-stackset.json", other_role)
    assert summary(findings_of(folder)) == {("missing", TARGET_ROLE, "sts:AssumeRole")}


def test_test_assuming_another_role_is_unchecked(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    edit_json(
        folder / "product-template.json",
        lambda t: t["Parameters"]["SageMakerExecutionRoleStagingName"].update(Default="acme-staging"),
    )
    findings = findings_of(folder)
    assert {(f.kind, f.role, f.action) for f in findings} == {
        ("unchecked", "acme-staging", "sagemaker:DescribeEndpoint"),
        ("unchecked", "acme-staging", "sagemaker:InvokeEndpoint"),
        ("missing", BUILD_ROLE, "sts:AssumeRole"),  # the prerequisites let it assume the target role only
        ("unused", BUILD_ROLE, "sts:AssumeRole"),  # ... which the test no longer assumes (IAM-UNUSED-STATEMENT)
        ("missing", BUILD_ROLE, "sts:TagSession"),  # and tag its session, likewise
        ("unused", BUILD_ROLE, "sts:TagSession"),
    }
    unchecked = [f for f in findings if f.kind == "unchecked"]
    assert all(f"makes arn:aws:iam::444455556666:role/{TARGET_ROLE}" in f.message for f in unchecked)


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_without_target_role_template_assumed_calls_are_unchecked(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    drop_artifact(folder, "target-role-template")
    findings = findings_of(folder)
    assert summary(findings) == {
        ("unchecked", TARGET_ROLE, "sagemaker:DescribeEndpoint"),
        ("unchecked", TARGET_ROLE, "sagemaker:InvokeEndpoint"),
    }
    assert all("no target-role template" in f.message for f in findings)
    with pytest.raises(ValidationFailed, match="IAM-RUNTIME"):
        validation_step(folder)  # like a role whose policies are unknown: render refuses


# --- validate and render --------------------------------------------------------------------------------------


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_validate_json_lists_iam_findings(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    drop_artifact(folder, "prerequisites-template")
    result = CliRunner().invoke(app, ["validate", str(folder), "--json"])
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    assert findings and all(
        set(f) == {"path", "line", "rule", "message", "kind", "role", "action", "resource", "logical_id"}
        for f in findings
    )
    assert {
        "kind": "needs-prerequisites",
        "role": PIPELINE_ROLE,
        "action": "cloudformation:CreateStackSet",
    }.items() <= (next(f for f in findings if f["action"] == "cloudformation:CreateStackSet").items())


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_validate_text_names_action_and_role(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", **{"launch-role": "standard"})
    case = BAD_STANDARD[1]
    edit_json(folder / "product-template.json", lambda t: t["Resources"].update({case["logical_id"]: case["resource"]}))
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1
    line = next(x for x in result.stdout.splitlines() if "sns:CreateTopic" in x)
    assert line.startswith("IAM-LAUNCH-ROLE product-template.json:") and STANDARD_LAUNCH_ROLE in line


@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_render_accepts_needs_prerequisites_but_not_missing(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out")
    drop_artifact(folder, "prerequisites-template")
    validation_step(folder)  # needs-prerequisites only: render keeps the files
    edit_json(
        folder / "launch-role-template.json",
        lambda t: t["Resources"]["LaunchRole"]["Properties"]["Policies"][0]["PolicyDocument"].update(Statement=[]),
    )
    with pytest.raises(ValidationFailed, match="IAM-LAUNCH-ROLE"):
        validation_step(folder)


def test_yaml_render_is_checked_the_same(tmp_path: Path) -> None:
    cfg = make_config()
    files = rendered_files(cfg)
    write_output(files, build_manifest(cfg, files), tmp_path / "out", force=True)
    manifest: Manifest = read_manifest(tmp_path / "out")
    assert manifest.path_of("product-template").endswith(".yaml")
    assert check_folder(tmp_path / "out", manifest) == []
    assert yaml.safe_load((tmp_path / "out" / "manifest.json").read_text())["home_region"] == "eu-west-1"
