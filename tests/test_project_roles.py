"""The project's own roles (`--service-roles project`, issue 13): configuration, rendering, the permissions
boundary, the launch role's limits, the target role's trust, and isolation between two projects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from generator.checks.iam_check import product_role_policies
from generator.cli import app
from generator.companions.launch_role import launch_role_policy, sample_arn
from generator.companions.prerequisites import build_prerequisites
from generator.companions.target_role import PIPELINE_ACCOUNT, build_target_role
from generator.config import ServiceRoles
from generator.errors import InputError
from generator.iam.iam_eval import Decision, evaluate, evaluate_all, evaluate_bounded
from generator.iam.resolve import SAMPLE_ACCOUNT, SAMPLE_PROJECT_ID, SAMPLE_PROJECT_NAME, sample_resolver
from generator.iam.trust import evaluate_trust
from generator.naming import PROJECT_ID_MAX, PROJECT_ROLE_KINDS, Names
from generator.product.compose import build_product
from generator.product.project_roles import LOGICAL_IDS, MANAGED_POLICY_MAX_CHARS, boundary_document
from tests.conftest import CONFIGS, ORG_ID, PROD_OU, STAGING_OU, make_config
from tests.test_iam_check import edit_json, findings_of, render_to
from tests.test_trust import PROJECT_ID, tagged_principal

REGION = "eu-west-1"
OTHER = {"SageMakerProjectName": "fraud-02", "SageMakerProjectId": "p-zyxwvutsrqpo"}
BOUNDARY = "sagemaker-mlops-gen-project-role-boundary"


def _role(kind: str, name: str = SAMPLE_PROJECT_NAME, pid: str = SAMPLE_PROJECT_ID) -> str:
    return f"sagemaker-{name}-{pid}-{kind}"


# --- configuration ---------------------------------------------------------------------------------


def test_project_roles_are_the_default_with_the_generated_launch_role_only() -> None:
    assert make_config().service_roles is ServiceRoles.PROJECT
    assert make_config(launch_role="standard").service_roles is ServiceRoles.PER_SERVICE
    assert make_config(service_roles="use-role").service_roles is ServiceRoles.USE_ROLE
    with pytest.raises(InputError, match="--launch-role generated") as raised:
        make_config(launch_role="standard", service_roles="project")
    assert raised.value.flag == "--service-roles" and "may not create IAM roles" in raised.value.rule


def test_cli_refuses_project_roles_with_the_standard_launch_role(tmp_path: Path) -> None:
    args = ["render", "--staging-ou", STAGING_OU, "--prod-ou", PROD_OU, "--region", REGION, "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--launch-role", "standard", "--service-roles", "project"])
    assert result.exit_code == 2
    assert "--service-roles" in result.output and "--launch-role" in result.output
    assert "Traceback" not in result.output


# --- the product's roles ---------------------------------------------------------------------------


def test_product_creates_four_bounded_roles_under_the_mlops_gen_path() -> None:
    template = build_product(make_config()).to_dict()
    resources = template["Resources"]
    for kind in PROJECT_ROLE_KINDS:
        props = resources[LOGICAL_IDS[kind]]["Properties"]
        assert props["Path"] == "/mlops-gen/"
        assert props["RoleName"] == {"Fn::Sub": f"sagemaker-${{SageMakerProjectName}}-${{SageMakerProjectId}}-{kind}"}
        assert props["PermissionsBoundary"] == {
            "Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{BOUNDARY}"
        }
    # No shared-role parameters, and every resource that runs as a role waits for the roles.
    assert not {"CodePipelineRoleName", "CodeBuildRoleName", "EventsRoleName"} & set(template["Parameters"])
    users = [r for r in resources.values() if r["Type"] in ("AWS::CodeBuild::Project", "AWS::CodePipeline::Pipeline")]
    assert users and all(set(LOGICAL_IDS.values()) <= set(r["DependsOn"]) for r in users)
    test_project = resources["ModelDeployTestProject"]["Properties"]["ServiceRole"]["Fn::Sub"]
    assert test_project.endswith("role/mlops-gen/sagemaker-${SageMakerProjectName}-${SageMakerProjectId}-test")


def test_role_names_fit_iam_at_the_longest_project_name_and_id() -> None:
    names = Names()
    longest = "a" * names.max_project_name_length()
    for kind in PROJECT_ROLE_KINDS:
        assert len(names.project_role(kind).render(longest, "p" * PROJECT_ID_MAX)) <= 64


def test_shared_roles_get_no_stack_set_or_cross_account_power_in_project_mode() -> None:
    """Prerequisites in project mode: the boundary and the approver policy; nothing attached to shared roles."""
    template = build_prerequisites(make_config()).to_dict()
    policies = {k: v["Properties"] for k, v in template["Resources"].items()}
    assert set(policies) == {"ProjectRoleBoundary", "ApproverPolicy"}
    assert "Roles" not in policies["ProjectRoleBoundary"]
    assert policies["ProjectRoleBoundary"]["ManagedPolicyName"] == BOUNDARY


@pytest.mark.parametrize("name", [n for n in CONFIGS if CONFIGS[n].get("launch-role") != "standard"])
@pytest.mark.slow  # validates whole renders (cfn-lint and every folder check)
def test_every_configuration_validates_with_project_roles(tmp_path: Path, name: str) -> None:
    """The narrowed roles, within their boundary, still allow every call of the lifecycle (validate's model)."""
    folder = render_to(tmp_path / "out", **{**CONFIGS[name], "service_roles": "project"})
    assert [f.message for f in findings_of(folder)] == []


# --- the boundary ----------------------------------------------------------------------------------


def test_validate_applies_the_boundary_a_role_policy_cannot_exceed_it(tmp_path: Path) -> None:
    folder = render_to(tmp_path / "out", service_roles="project")

    def drop_assume(template: dict[str, Any]) -> None:
        document = template["Resources"]["ProjectRoleBoundary"]["Properties"]["PolicyDocument"]
        document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "TestAssumeTargetRole"]

    edit_json(folder / "prerequisites-template.json", drop_assume)
    findings = [f for f in findings_of(folder) if f.action == "sts:AssumeRole"]
    assert findings and all(f.blocks_render for f in findings)
    assert "permissions boundary (sagemaker-mlops-gen-project-role-boundary) does not allow it" in findings[0].message


def test_effective_permissions_are_identity_and_boundary() -> None:
    allow = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    deny = {"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
    other = {"Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}
    obj = "arn:aws:s3:::b/k"
    assert evaluate_bounded({"id": allow}, None, "s3:GetObject", obj).allowed
    assert evaluate_bounded({"id": allow}, {"b": allow}, "s3:GetObject", obj).allowed
    assert evaluate_bounded({"id": allow}, {"b": other}, "s3:GetObject", obj).decision is Decision.IMPLICIT_DENY
    assert evaluate_bounded({"id": other}, {"b": allow}, "s3:GetObject", obj).decision is Decision.IMPLICIT_DENY
    assert evaluate_bounded({"id": allow}, {"b": deny}, "s3:GetObject", obj).decision is Decision.EXPLICIT_DENY
    assert evaluate_bounded({"id": allow}, {}, "s3:GetObject", obj).decision is Decision.IMPLICIT_DENY


def test_boundary_names_only_this_prefix_and_the_target_role() -> None:
    cfg = make_config(name_prefix="sagemaker-acme-")
    text = json.dumps(build_prerequisites(cfg).to_dict())
    assert "${SageMakerProjectName}" not in text and "${SageMakerProjectId}" not in text  # not parameters there
    assert boundary_document(cfg) is not None
    document = build_prerequisites(cfg).to_dict()["Resources"]["ProjectRoleBoundary"]["Properties"]["PolicyDocument"]
    for statement in document["Statement"]:
        for resource in statement["Resource"]:
            text = resource["Fn::Sub"] if isinstance(resource, dict) else resource
            # This prefix's resources, the target role, the stack sets' template types, the stage OUs, the
            # project's model packages (named after the project, no prefix), or an action without a resource type.
            allowed = ("sagemaker-acme-", ":type/resource/", "role/sagemaker-multi-account-deploy", ":ou/o-*/ou-*")
            assert text == "*" or any(part in text for part in allowed) or ":model-package/*/*" in text, text


# --- the launch role -------------------------------------------------------------------------------


def _launch_policy() -> dict[str, Any]:
    """The generated launch role's policy with `Fn::Sub` texts in the sample account."""

    def plain(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
            return sample_arn(node["Fn::Sub"], REGION).replace("x1", "*")
        if isinstance(node, dict):
            return {k: plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [plain(v) for v in node]
        return node

    return {"launch": plain(launch_role_policy(make_config()))}


@pytest.mark.parametrize("action", ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"])
def test_launch_role_creates_project_roles_only_with_the_boundary(action: str) -> None:
    policy = _launch_policy()
    role = f"arn:aws:iam::{SAMPLE_ACCOUNT}:role/mlops-gen/{_role('build')}"
    boundary = f"arn:aws:iam::{SAMPLE_ACCOUNT}:policy/{BOUNDARY}"
    assert evaluate(policy, action, role, {"iam:PermissionsBoundary": boundary}).allowed
    # Another boundary, no boundary, another path, another name: no.
    admin = f"arn:aws:iam::{SAMPLE_ACCOUNT}:policy/AdministratorAccess"
    assert not evaluate(policy, action, role, {"iam:PermissionsBoundary": admin}).allowed
    assert not evaluate(policy, action, role, {}).allowed
    for elsewhere in ("role/admin", "role/mlops-gen/admin", f"role/{_role('build')}"):
        arn = f"arn:aws:iam::{SAMPLE_ACCOUNT}:{elsewhere}"
        assert not evaluate(policy, action, arn, {"iam:PermissionsBoundary": boundary}).allowed


def test_launch_role_never_removes_a_boundary_and_passes_roles_only_to_their_service() -> None:
    policy = _launch_policy()
    role = f"arn:aws:iam::{SAMPLE_ACCOUNT}:role/mlops-gen/{_role('build')}"
    assert not evaluate(policy, "iam:DeleteRolePermissionsBoundary", role, {}).allowed
    assert evaluate(policy, "iam:PassRole", role, {"iam:PassedToService": "codebuild.amazonaws.com"}).allowed
    assert not evaluate(policy, "iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"}).allowed
    shared = f"arn:aws:iam::{SAMPLE_ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole"
    assert not evaluate(policy, "iam:PassRole", shared, {"iam:PassedToService": "codebuild.amazonaws.com"}).allowed


# --- the target role's trust -----------------------------------------------------------------------


def _trust() -> tuple[dict[str, Any], str]:
    template = build_target_role(make_config()).to_dict()
    assert "PipelineRoleName" not in template["Parameters"]
    resolver = sample_resolver(template, REGION, **{PIPELINE_ACCOUNT: SAMPLE_ACCOUNT})
    trust = resolver.resolve(template["Resources"]["TargetRole"]["Properties"]["AssumeRolePolicyDocument"])
    return trust, "arn:aws:iam::444455556666:role/sagemaker-multi-account-deploy"


OTHER_PROJECT = "iris-multi-01-p-otherproject"


def test_target_role_trusts_only_project_test_roles_of_the_pipeline_account() -> None:
    trust, target = _trust()
    mine = f"arn:aws:iam::{SAMPLE_ACCOUNT}:role/mlops-gen/{_role('test')}"
    assert evaluate_trust(trust, tagged_principal(mine, own=PROJECT_ID), target).allowed
    assert evaluate_trust(trust, tagged_principal(mine, own=PROJECT_ID), target, "sts:TagSession").allowed
    # A project test role names only its own project (its role tag), and must name it.
    claims_another = tagged_principal(mine, OTHER_PROJECT, PROJECT_ID)
    assert not evaluate_trust(trust, claims_another, target).allowed
    assert not evaluate_trust(trust, claims_another, target, "sts:TagSession").allowed
    assert not evaluate_trust(trust, tagged_principal(mine, None, PROJECT_ID), target).allowed
    for other in (
        f"arn:aws:iam::{SAMPLE_ACCOUNT}:role/service-role/AmazonSageMakerServiceCatalogProductsCodeBuildRole",
        f"arn:aws:iam::{SAMPLE_ACCOUNT}:role/mlops-gen/{_role('pipeline')}",
        f"arn:aws:iam::{SAMPLE_ACCOUNT}:role/{_role('test')}",  # not under the mlops-gen path
        f"arn:aws:iam::999988887777:role/mlops-gen/{_role('test')}",  # another account
    ):
        assert not evaluate_trust(trust, tagged_principal(other, own=PROJECT_ID), target).allowed, other


# --- assume-role only inside the organisation (issue 13 point 3) ------------------------------------


def test_test_role_assumes_the_target_role_only_in_the_organisation_under_a_stage_ou() -> None:
    policies, _ = product_role_policies(build_product(make_config()).to_dict(), REGION)
    test = policies[_role("test")]
    target = "arn:aws:iam::444455556666:role/sagemaker-multi-account-deploy"
    inside = {"aws:ResourceOrgID": ORG_ID, "aws:ResourceOrgPaths": [f"{ORG_ID}/r-ab12/{STAGING_OU}/"]}
    assert evaluate(test, "sts:AssumeRole", target, inside).allowed
    elsewhere = {"aws:ResourceOrgID": "o-zzzzzzzzzz", "aws:ResourceOrgPaths": [f"o-zzzzzzzzzz/r-ab12/{STAGING_OU}/"]}
    assert not evaluate(test, "sts:AssumeRole", target, elsewhere).allowed
    sandbox = {"aws:ResourceOrgID": ORG_ID, "aws:ResourceOrgPaths": [f"{ORG_ID}/r-ab12/ou-ab12-sandbox1/"]}
    assert not evaluate(test, "sts:AssumeRole", target, sandbox).allowed


# --- two projects: the second cannot touch the first's (issue 13, rehearsal point) -----------------


def _product_values(template: dict[str, Any], **launch: str) -> Any:
    return sample_resolver(template, REGION, **launch)


@pytest.fixture(scope="module")
def two_projects() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Project A (the sample launch) and project B (another name and id) of the same product, in one account."""
    template = build_product(make_config()).to_dict()
    mine, _ = product_role_policies(template, REGION)
    theirs, _ = product_role_policies(template, REGION, OTHER)
    return template, mine, theirs


def _a_resources(template: dict[str, Any]) -> dict[str, str]:
    values = _product_values(template)
    base = f"sagemaker-{SAMPLE_PROJECT_NAME}-{SAMPLE_PROJECT_ID}"
    bucket = values.resolve(template["Resources"]["ArtifactBucket"]["Properties"]["BucketName"])
    stack_set = f"arn:aws:cloudformation:{REGION}:{SAMPLE_ACCOUNT}:stackset/{base}-deploy-prod:0a1b2c3d"
    here = f"{REGION}:{SAMPLE_ACCOUNT}"
    return {
        "stack_set": stack_set,
        "target": f"arn:aws:cloudformation:{here}:stackset-target/{base}-deploy-prod:0a1b2c3d/{PROD_OU}",
        "type": f"arn:aws:cloudformation:{REGION}:{SAMPLE_ACCOUNT}:type/resource/AWS-SageMaker-Endpoint",
        "object": f"arn:aws:s3:::{bucket}/{base}-modeldeploy/BuildArtifact/x",
        "packages": f"arn:aws:sagemaker:{REGION}:{SAMPLE_ACCOUNT}:model-package/{SAMPLE_PROJECT_NAME}/1",
        "pipeline": f"arn:aws:codepipeline:{REGION}:{SAMPLE_ACCOUNT}:{base}-modeldeploy",
        "bucket_policy": json.dumps(values.resolve(template["Resources"]["ArtifactBucketPolicy"]["Properties"])),
    }


@pytest.mark.parametrize("action", ["cloudformation:UpdateStackSet", "cloudformation:CreateStackInstances"])
def test_second_project_cannot_deploy_the_first_projects_stack_sets(two_projects: Any, action: str) -> None:
    template, mine, theirs = two_projects
    a = _a_resources(template)
    call = [a["stack_set"], a["target"], a["type"]]
    assert evaluate_all(mine[_role("pipeline")], action, call).allowed  # control: A's own pipeline may
    for kind in PROJECT_ROLE_KINDS:
        assert not evaluate_all(theirs[_role(kind, **_other())], action, call).allowed, kind


def _other() -> dict[str, str]:
    return {"name": OTHER["SageMakerProjectName"], "pid": OTHER["SageMakerProjectId"]}


def test_second_project_cannot_read_the_first_projects_bucket_group_or_start_its_pipeline(two_projects: Any) -> None:
    template, mine, theirs = two_projects
    a = _a_resources(template)
    checks = [
        ("build", "s3:GetObject", a["object"]),
        ("build", "s3:PutObject", a["object"]),
        ("pipeline", "s3:GetObject", a["object"]),
        ("build", "sagemaker:ListModelPackages", a["packages"]),
        ("events", "codepipeline:StartPipelineExecution", a["pipeline"]),
    ]
    for kind, action, resource in checks:
        assert evaluate(mine[_role(kind)], action, resource).allowed, (kind, action)  # control
        for other in PROJECT_ROLE_KINDS:
            assert not evaluate(theirs[_role(other, **_other())], action, resource).allowed, (other, action)
    # Nor does A's bucket policy let B's roles in: it names the stage accounts' target role only.
    policy = json.loads(a["bucket_policy"])["PolicyDocument"]
    for kind in PROJECT_ROLE_KINDS:
        arn = f"arn:aws:iam::{SAMPLE_ACCOUNT}:role/mlops-gen/{_role(kind, **_other())}"
        context = {"aws:PrincipalArn": arn, "aws:PrincipalAccount": SAMPLE_ACCOUNT, "aws:PrincipalOrgID": ORG_ID}
        allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
        assert not evaluate({"bucket": {"Statement": allows}}, "s3:GetObject", a["object"], context).allowed


def test_readers_are_the_target_role_in_project_mode_too() -> None:
    """Issue 13 point 2: the bucket and group grants name the target (and stack-set execution) role only."""
    template = build_product(make_config()).to_dict()
    bucket = template["Resources"]["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]
    group = template["Resources"]["ModelPackageGroup"]["Properties"]["ModelPackageGroupPolicy"]
    for document in (bucket, group):
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            arns = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
            texts = {a["Fn::Sub"] if isinstance(a, dict) else a for a in arns}
            assert texts <= {
                "arn:${AWS::Partition}:iam::*:role/${SageMakerExecutionRoleStagingName}",
                "arn:${AWS::Partition}:iam::*:role/${SageMakerExecutionRoleProdName}",
                "arn:${AWS::Partition}:iam::*:role/stacksets-exec-*",
            }, texts


@pytest.mark.parametrize("name", [n for n in CONFIGS if CONFIGS[n].get("launch-role") != "standard"])
def test_boundary_fits_a_managed_policy(name: str) -> None:
    """IAM refuses a managed policy over 6,144 characters (whitespace not counted): the boundary must fit."""
    cfg = make_config(**{**CONFIGS[name], "service_roles": "project"})
    document = build_prerequisites(cfg).to_dict()["Resources"]["ProjectRoleBoundary"]["Properties"]["PolicyDocument"]
    text = json.dumps(document, separators=(",", ":")).replace('{"Fn::Sub":', "").replace('"}', '"')
    assert len(text) <= MANAGED_POLICY_MAX_CHARS, len(text)
