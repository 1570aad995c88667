"""Call-time authorization in `rehearse` (generator/live/rehearse/authorize.py).

Removing one permission from one role of the product makes the rehearsal fail at the step that uses it,
naming role, action and resource: one test per role (pipeline, CodeBuild, EventBridge target, the target
role assumed in the staging accounts). `validate` would refuse these folders first (it checks the same
policies from its tables); these tests turn that off to show the call-time net catches them on its own.
Also here: the evidence that moto's own IAM enforcement cannot do this part.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from generator.live.rehearse import Options, rehearse
from generator.live.rehearse.authorize import Authorizer, Identity, Request, resources_of
from generator.live.rehearse.report import FAILED, Report, SilentTimeline
from tests.conftest import STAGING_OU
from tests.edit import reseal
from tests.test_rehearse import render_folder, steps

PIPELINE_ROLE = "AmazonSageMakerServiceCatalogProductsCodePipelineRole"
CODEBUILD_ROLE = "AmazonSageMakerServiceCatalogProductsCodeBuildRole"
EVENTS_ROLE = "AmazonSageMakerServiceCatalogProductsEventsRole"
TARGET_ROLE = "sagemaker-multi-account-deploy"
#: A model package of another account, named by its ARN in the request.
PACKAGE = "arn:aws:sagemaker:eu-west-1:444455556666:model-package/g/3"


@pytest.fixture(scope="module")
def default_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SageMaker-provided per-service roles (the tests below take a permission from one of them); the
    project's own roles, the default, are tested at the end of this file."""
    return render_folder(tmp_path_factory.mktemp("render") / "dist", service_roles="per-service")


@pytest.fixture(scope="module")
def project_render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_folder(tmp_path_factory.mktemp("project") / "dist", service_roles="project")


def without(policies: Mapping[str, Any] | None, action: str) -> dict[str, Any] | None:
    """`policies` with `action` taken out of every statement that lists it."""
    if policies is None:
        return None
    out: dict[str, Any] = {}
    for name, document in policies.items():
        statements = []
        for statement in document.get("Statement", []):
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else list(actions)
            kept = [a for a in actions if a.lower() != action.lower()]
            if actions and not kept:
                continue
            statements.append({**statement, "Action": kept} if actions else statement)
        out[name] = {**document, "Statement": statements}
    return out


def remove_from_service_role(monkeypatch: pytest.MonkeyPatch, role: str, action: str) -> None:
    """The role's policies (packaged and added by the prerequisites template) without `action`."""
    from generator.checks import iam_check

    original: Callable[..., Any] = iam_check.role_policies

    def patched(name: str, added: Mapping[str, Any]) -> Any:
        policies = original(name, added)
        return without(policies, action) if name == role else policies

    monkeypatch.setattr(iam_check, "role_policies", patched)


def remove_from_target_role(monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    """The target role's policies (as the rendered stack set created it in each account) without `action`."""
    from generator.live.rehearse import authorize

    original = authorize.moto_role_policies

    def patched(account: str, role_arn: str) -> Any:
        policies = original(account, role_arn)
        return without(policies, action) if role_arn.endswith(f"/{TARGET_ROLE}") else policies

    monkeypatch.setattr(authorize, "moto_role_policies", patched)


def play(folder: Path, **options: Any) -> Report:
    chosen = Options(approval="approve", accounts_per_ou=1, validate_first=False, **options)
    return rehearse(folder, chosen, SilentTimeline())


def assert_denied(report: Report, stage: str, action_name: str, role: str, action: str, resource: str) -> None:
    assert not report.as_expected and not report.reached_prod
    step = steps(report)[(stage, action_name)]
    assert step.result == FAILED
    assert step.detail.startswith(f"AccessDenied: role {role} may not {action} on {resource}"), step.detail
    assert {"role": role, "action": action} == {k: report.authorization["denied"][0][k] for k in ("role", "action")}


@pytest.mark.slow
def test_pipeline_role_without_create_stack_instances(default_render: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remove_from_service_role(monkeypatch, PIPELINE_ROLE, "cloudformation:CreateStackInstances")
    report = play(default_render)
    resource = (
        "arn:aws:cloudformation:eu-west-1:123456789012:stackset/sagemaker-iris-multi-01-p-abcdefghijkl-deploy-staging:"
    )
    assert_denied(
        report,
        "DeployStaging",
        "DeployResourcesStaging",
        PIPELINE_ROLE,
        "cloudformation:CreateStackInstances",
        resource,
    )
    assert report.stopped_at == "staging-deploy"


@pytest.mark.slow
def test_codebuild_role_without_list_model_packages(default_render: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remove_from_service_role(monkeypatch, CODEBUILD_ROLE, "sagemaker:ListModelPackages")
    report = play(default_render)
    resource = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/iris-multi-01/*"
    assert_denied(report, "Build", "BuildDeploymentTemplates", CODEBUILD_ROLE, "sagemaker:ListModelPackages", resource)


@pytest.mark.slow
def test_events_role_without_start_pipeline_execution(default_render: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remove_from_service_role(monkeypatch, EVENTS_ROLE, "codepipeline:StartPipelineExecution")
    report = play(default_render)
    trigger = steps(report)[("EventBridge", "Model package state change")]
    assert trigger.result == FAILED and not report.as_expected
    pipeline = "arn:aws:codepipeline:eu-west-1:123456789012:sagemaker-iris-multi-01-p-abcdefghijkl"
    assert f"role {EVENTS_ROLE} may not codepipeline:StartPipelineExecution on {pipeline}" in trigger.detail


@pytest.mark.slow
def test_target_role_without_invoke_endpoint(default_render: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remove_from_target_role(monkeypatch, "sagemaker:InvokeEndpoint")
    report = play(default_render)
    staging = next(iter(report.organisation["organizational_units"]["staging"]["accounts"]))
    resource = f"arn:aws:sagemaker:eu-west-1:{staging}:endpoint/sagemaker-iris-multi-01-p-abcdefghijkl-staging"
    assert_denied(report, "DeployStaging", "TestStaging", TARGET_ROLE, "sagemaker:InvokeEndpoint", resource)
    assert report.stopped_at == "staging-test"


# --- the stack-set execution in the target accounts (generator/live/rehearse/execution.py) ---------------------------


def assert_instance_denied(report: Report, role: str, action: str, resource: str) -> None:
    """The staging deploy failed because creating the endpoint's model was denied `action` on `resource`."""
    assert not report.as_expected and not report.reached_prod
    assert report.stopped_at == "staging-deploy"
    step = steps(report)[("DeployStaging", "DeployResourcesStaging")]
    assert step.result == FAILED
    assert step.detail.startswith(f"AccessDenied: role {role}"), step.detail
    assert f"may not {action} on {resource}" in step.detail, step.detail
    denied = [(c["role"], c["action"], c["resource"]) for c in report.authorization["denied"]]
    assert any(r.startswith(role) and a == action and res == resource for r, a, res in denied), denied


@pytest.mark.slow
def test_group_policy_without_create_model_fails_the_stack_instance(default_render: Path, tmp_path: Path) -> None:
    """The model package group's policy no longer lets the stage accounts CreateModel from its packages."""
    folder = tmp_path / "dist"
    shutil.copytree(default_render, folder)
    product = folder / "product-template.yaml"
    text = product.read_text(encoding="utf-8")
    granted = "              - sagemaker:ListModelPackages\n              - sagemaker:CreateModel\n"
    assert text.count(granted) == 1
    product.write_text(text.replace(granted, "              - sagemaker:ListModelPackages\n"), encoding="utf-8")
    reseal(folder)
    report = play(folder)
    package = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/iris-multi-01/1"
    assert_instance_denied(report, "stacksets-exec-", "sagemaker:CreateModel", package)


@pytest.mark.slow
def test_target_role_without_get_object_fails_the_stack_instance(
    default_render: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SageMaker reads the model data as the model's execution role: the target role must allow it."""
    remove_from_target_role(monkeypatch, "s3:GetObject")
    report = play(default_render)
    obj = "arn:aws:s3:::sagemaker-project-p-abcdefghijkl-artifacts/model-build/iris-v1/model.tar.gz"
    assert_instance_denied(report, TARGET_ROLE, "s3:GetObject", obj)


@pytest.mark.slow
def test_a_role_sagemaker_may_not_assume_fails_the_stack_instance(
    default_render: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The target role's trust policy without its SageMaker statement: SageMaker cannot run the model."""
    from generator.live.rehearse import execution

    original = execution.trust_policy

    def without_sagemaker(role_arn: str) -> Any:
        policy = original(role_arn)
        if policy is None or not role_arn.endswith(f"/{TARGET_ROLE}"):
            return policy
        kept = [s for s in policy["Statement"] if "Service" not in s.get("Principal", {})]
        return {**policy, "Statement": kept}

    monkeypatch.setattr(execution, "trust_policy", without_sagemaker)
    report = play(default_render)
    staging = next(iter(report.organisation["organizational_units"]["staging"]["accounts"]))
    assert_instance_denied(
        report, "sagemaker.amazonaws.com", "sts:AssumeRole", f"arn:aws:iam::{staging}:role/{TARGET_ROLE}"
    )


@pytest.mark.slow
def test_target_role_without_put_object_cannot_capture_in_prod(
    default_render: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prod's endpoint config captures data: SageMaker writes it as the model's execution role."""
    remove_from_target_role(monkeypatch, "s3:PutObject")
    report = play(default_render)
    assert not report.as_expected and not report.reached_prod
    step = steps(report)[("DeployProd", "DeployResourcesProd")]
    assert step.result == FAILED
    assert step.detail.startswith(f"AccessDenied: role {TARGET_ROLE} may not s3:PutObject on arn:aws:s3:::"), (
        step.detail
    )
    assert "/data-capture/" in step.detail, step.detail


def test_the_execution_role_is_the_stack_sets_own() -> None:
    from types import SimpleNamespace

    from generator.live.rehearse.execution import ADMINISTRATOR_ACCESS, executor

    managed = executor(SimpleNamespace(name="s", permission_model="SERVICE_MANAGED"), "111122223333")
    assert managed.role_arn.startswith("arn:aws:iam::111122223333:role/stacksets-exec-")
    stack_set = SimpleNamespace(name="s", permission_model="SELF_MANAGED", execution_role_name="Exec")
    own = executor(stack_set, "111122223333")
    assert own.role_arn == "arn:aws:iam::111122223333:role/Exec" and own.policies == ADMINISTRATOR_ACCESS


# --- the resource of a call, from the request -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "operation", "params", "expected"),
    [
        ("sagemaker", "DescribeModelPackageGroup", {"ModelPackageGroupName": "g"},
         ["arn:aws:sagemaker:eu-west-1:111122223333:model-package-group/g"]),
        ("sagemaker", "ListModelPackages", {"ModelPackageGroupName": "g"},
         ["arn:aws:sagemaker:eu-west-1:111122223333:model-package/g/*"]),
        ("sagemaker", "DescribeModelPackage", {"ModelPackageName": PACKAGE}, [PACKAGE]),
        ("sts", "AssumeRole", {"RoleArn": "arn:aws:iam::444455556666:role/r", "RoleSessionName": "s"},
         ["arn:aws:iam::444455556666:role/r"]),
        ("organizations", "ListAccountsForParent", {"ParentId": "ou-ab12-11111111"},
         ["arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-11111111"]),
        ("cloudformation", "DescribeStackSet", {"StackSetName": "s"},
         ["arn:aws:cloudformation:eu-west-1:111122223333:stackset/s:00000000-0000-0000-0000-000000000000"]),
        ("cloudformation", "CreateStackSet", {"StackSetName": "s"}, ["*"]),
    ],
)  # fmt: skip
def test_resources_are_derived_with_the_authorization_reference_formats(
    prefix: str, operation: str, params: dict[str, str], expected: list[str]
) -> None:
    known = {"OrganizationId": "abcdefghij"}
    assert resources_of(Request(prefix, operation, params, "eu-west-1", "111122223333", known)) == (expected, "")


def test_an_underivable_resource_is_named_not_allowed_silently() -> None:
    arns, why = resources_of(Request("sagemaker", "DescribeEndpoint", {}, "eu-west-1", "111122223333"))
    assert arns == [] and why == "the endpoint ARN of sagemaker:DescribeEndpoint cannot be derived from the request"


def test_cross_account_calls_need_the_resource_policy_too() -> None:
    authorizer = Authorizer()
    role = Identity("arn:aws:iam::444455556666:role/t", "target role", {"p": {"Statement": [
        {"Effect": "Allow", "Action": "sagemaker:DescribeModelPackage", "Resource": "*"}]}})  # fmt: skip
    package = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/g/1"
    group_policy = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                                   "Action": "sagemaker:DescribeModelPackage", "Resource": package}]}  # fmt: skip
    assert authorizer.check(role, "sagemaker:DescribeModelPackage", package, None, group_policy, "111122223333") is None
    denied = authorizer.check(role, "sagemaker:DescribeModelPackage", package, None, None, "111122223333")
    assert denied is not None and denied.role == "t" and authorizer.allowed == 1


# --- why not moto's own IAM enforcement ---------------------------------------------------------------------------


def test_moto_enforcement_authorizes_against_star_not_the_resource() -> None:
    """moto 5.2.5 with its enforcement on (`/moto-api/reset-auth` 0): a role allowed DescribeStackSet only on
    stackset/sagemaker-* is denied on sagemaker-x (a false denial), a role allowed on * with a Deny on
    stackset/other-* is allowed on other-x (a false allow), and the default keys are refused. The decision
    in generator/live/rehearse/authorize.py rests on this."""
    import boto3

    from generator.live.rehearse.server import local_aws

    scoped = [{"Effect": "Allow", "Action": "cloudformation:DescribeStackSet",
               "Resource": "arn:aws:cloudformation:*:*:stackset/sagemaker-*:*"}]  # fmt: skip
    star = [{"Effect": "Allow", "Action": "cloudformation:DescribeStackSet", "Resource": "*"},
            {"Effect": "Deny", "Action": "cloudformation:DescribeStackSet",
             "Resource": "arn:aws:cloudformation:*:*:stackset/other-*:*"}]  # fmt: skip
    admin_arn = "arn:aws:iam::123456789012:user/admin"
    version = "2012-10-17"
    trust = {
        "Version": version,
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "sts:AssumeRole"}],
    }
    results: dict[tuple[str, str], str] = {}
    with local_aws("eu-west-1") as aws:
        iam, cfn = aws.client("iam"), aws.client("cloudformation")
        for name in ("sagemaker-x", "other-x"):
            cfn.create_stack_set(
                StackSetName=name, TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}})
            )
        for role, statements in (("scoped", scoped), ("star", star)):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
            iam.put_role_policy(
                RoleName=role, PolicyName="p", PolicyDocument=json.dumps({"Version": version, "Statement": statements})
            )
        iam.create_user(UserName="admin")
        everything = {"Version": version, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(everything))
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        aws.post("/moto-api/reset-auth", b"0")
        try:
            with pytest.raises(aws.client("sts").exceptions.ClientError, match="InvalidClientTokenId"):
                aws.client("sts").get_caller_identity()
            admin = boto3.Session(key["AccessKeyId"], key["SecretAccessKey"], region_name="eu-west-1")
            for role in ("scoped", "star"):
                arn = f"arn:aws:iam::123456789012:role/{role}"
                credentials = admin.client("sts", endpoint_url=aws.url).assume_role(
                    RoleArn=arn, RoleSessionName="session"
                )["Credentials"]
                client = aws.client("cloudformation", aws.session(credentials))
                for name in ("sagemaker-x", "other-x"):
                    try:
                        client.describe_stack_set(StackSetName=name)
                        results[(role, name)] = "allowed"
                    except client.exceptions.ClientError as exc:
                        results[(role, name)] = exc.response["Error"]["Code"]
        finally:
            aws.post("/moto-api/reset-auth", b"inf")
    assert results == {
        ("scoped", "sagemaker-x"): "AccessDenied",  # AWS allows it
        ("scoped", "other-x"): "AccessDenied",
        ("star", "sagemaker-x"): "allowed",
        ("star", "other-x"): "allowed",  # AWS denies it (explicit Deny)
    }


# --- scenarios: the exit code is the verdict --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "actual", "stopped_at", "verdict"),
    [
        ("approve", "prod gets the new version", "", True),
        ("approve", "prod untouched", "staging-test", False),  # a broken pipeline
        ("reject", "prod untouched", "approval", True),
        ("reject", "prod gets the new version", "", False),  # the pipeline let the rejected model through
        ("fail-test", "prod untouched", "staging-test", True),
        ("fail-test", "prod untouched", "build", False),  # stopped, but not by the fault under test
        ("break-account", "prod untouched", "staging-deploy", True),
        ("break-account", "prod untouched", "staging-test", True),
        ("no-approved-model", "prod untouched", "build", True),
        ("reject-live", "every endpoint rolled back", "", True),
        ("reject-live", "prod gets the new version", "", False),
    ],
)
def test_the_verdict_compares_the_outcome_with_the_scenario(
    name: str, actual: str, stopped_at: str, verdict: bool
) -> None:
    from generator.live.rehearse import scenario

    assert scenario.verdict(scenario.expectation(name), actual, stopped_at) is verdict


def test_options_name_their_conflicting_scenarios() -> None:
    assert Options(approval="approve").conflict() == ""
    assert Options(approval="reject", break_account=True).conflict() == (
        "--reject and --break-account are different scenarios: give at most one of them"
    )


# --- the project's own roles (--service-roles project, issue 13) -----------------------------------------------

PROJECT_PIPELINE_ROLE = "sagemaker-iris-multi-01-p-abcdefghijkl-pipeline"


@pytest.mark.slow
def test_project_role_boundary_is_enforced_at_call_time(project_render: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pipeline role's own policy still grants CreateStackInstances; its boundary no longer does: denied."""
    from generator.live.rehearse import roles

    original = roles.rendered_managed_policies

    def patched(rendered: Any) -> Any:
        return without(original(rendered), "cloudformation:CreateStackInstances")

    monkeypatch.setattr(roles, "rendered_managed_policies", patched)
    report = play(project_render)
    resource = (
        "arn:aws:cloudformation:eu-west-1:123456789012:stackset/sagemaker-iris-multi-01-p-abcdefghijkl-deploy-staging:"
    )
    assert_denied(
        report,
        "DeployStaging",
        "DeployResourcesStaging",
        PROJECT_PIPELINE_ROLE,
        "cloudformation:CreateStackInstances",
        resource,
    )


def test_second_projects_roles_are_denied_the_first_projects_resources_at_call_time(project_render: Path) -> None:
    """A second launch of the product (another project name and id) in the same account: the call-time
    authorizer, with its roles' rendered policies and boundary, refuses every call on the first project's
    stack sets, artifacts, model packages and pipeline, and allows the first project's own roles."""
    from generator.checks.iam_check import decode_template, managed_policies, product_role_policies
    from generator.manifest import read_manifest

    manifest = read_manifest(project_render)
    product = decode_template(project_render / manifest.path_of("product-template"))
    managed = managed_policies(
        decode_template(project_render / manifest.path_of("prerequisites-template")), "eu-west-1"
    )
    other = {"SageMakerProjectName": "fraud-02", "SageMakerProjectId": "p-zyxwvutsrqpo"}
    account, region = "123456789012", "eu-west-1"
    pipeline = f"arn:aws:codepipeline:{region}:{account}:sagemaker-iris-multi-01-p-abcdefghijkl-modeldeploy"

    def identities(launch: Mapping[str, str] | None) -> dict[str, Identity]:
        policies, boundaries = product_role_policies(product, region, launch)
        return {
            name.rsplit("-", 1)[-1]: Identity(
                f"arn:aws:iam::{account}:role/mlops-gen/{name}",
                name,
                policies[name],
                {boundaries[name]: managed[boundaries[name]]},
            )
            for name in policies
        }

    first, second = identities(None), identities(other)
    base = "sagemaker-iris-multi-01-p-abcdefghijkl"
    stack_set = f"arn:aws:cloudformation:{region}:{account}:stackset/{base}-deploy-staging:0a1b"
    calls = [
        ("pipeline", "cloudformation:UpdateStackSet", stack_set),
        ("pipeline", "cloudformation:CreateStackInstances", stack_set),
        ("pipeline", "cloudformation:CreateStackInstances",
         f"arn:aws:cloudformation:{region}:{account}:stackset-target/{base}-deploy-staging:0a1b/{STAGING_OU}"),
        ("pipeline", "s3:GetObject", f"arn:aws:s3:::sagemaker-project-p-abcdefghijkl-artifacts/{base}-modeldeploy/x"),
        ("build", "s3:PutObject", f"arn:aws:s3:::sagemaker-project-p-abcdefghijkl-artifacts/{base}-modeldeploy/x"),
        ("build", "sagemaker:ListModelPackages", f"arn:aws:sagemaker:{region}:{account}:model-package/iris-multi-01/*"),
        ("events", "codepipeline:StartPipelineExecution", pipeline),
    ]  # fmt: skip
    authorizer = Authorizer()
    for kind, action, resource in calls:
        assert authorizer.check(first[kind], action, resource) is None, (kind, action)  # the owner may
        for intruder in second.values():
            denied = authorizer.check(intruder, action, resource)
            assert denied is not None and denied.decision == "implicit-deny", (intruder.name, action)


@pytest.mark.slow
def test_a_second_project_launched_in_the_same_rehearsal_cannot_reach_the_first(project_render: Path) -> None:
    """Issue 13: the second project's own roles, over the wire, against the first project's stack set, artifacts,
    staging endpoint and the target role (claiming the first project's id, no id, a prod account): all refused;
    its own legitimate assume works (so the refusals are decisions, not a broken authorizer)."""
    report = play(project_render, second_project=True)
    assert report.reached_prod, report.cause
    outcomes = {a["call"]: a["outcome"] for a in report.isolation}
    assert outcomes == {
        "cloudformation:UpdateStackSet": "denied",
        "cloudformation:CreateStackInstances": "denied",
        "s3:GetObject": "denied",
        "sts:AssumeRole+TagSession (the first project's id)": "denied",
        "sts:AssumeRole (no project tag)": "denied",
        "sts:AssumeRole+TagSession (own id, a prod account)": "denied",
        "sts:AssumeRole+TagSession (own id, a staging account)": "allowed",
        "sagemaker:DescribeEndpoint (the first project's, as the target role, own id)": "denied",
        "sagemaker:InvokeEndpoint (the first project's, as the target role, own id)": "denied",
    }, report.isolation
    assert all(a["as_expected"] for a in report.isolation)


@pytest.mark.slow
def test_a_target_role_trusting_any_project_id_is_caught_by_the_second_project(
    project_render: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failing fixture: the target role's trust without `aws:RequestTag` = `${aws:PrincipalTag}` (any project
    test role may claim any project): the second project assumes it as the first and calls its endpoint."""
    from generator.live.rehearse import authorize

    original = authorize.trust_policy

    def any_project(role_arn: str) -> dict[str, Any] | None:
        policy = original(role_arn)
        for statement in (policy or {}).get("Statement", []):
            statement.get("Condition", {}).pop("StringEquals", None)
        return policy

    monkeypatch.setattr(authorize, "trust_policy", any_project)
    report = play(project_render, second_project=True)
    assert not report.as_expected
    assert "isolation:" in report.cause, report.cause
    assert "sts:AssumeRole+TagSession (the first project's id)" in report.cause
    wrong = [a["call"] for a in report.isolation if not a["as_expected"]]
    assert (
        "sagemaker:InvokeEndpoint (the first project's, as the target role, claiming the first project's id)" in wrong
    )


def test_an_access_key_stands_for_the_target_role_s_session_and_nothing_else(aws: None) -> None:
    """Authorizer.identity_of names a key's role through moto's own lookup of the key's account; a key of another
    role is remembered as not the target role's, as is asked again for a key found nowhere."""
    from unittest import mock

    import boto3
    from moto.iam import models

    member = "111111111111"  # a member account, not the one moto serves unknown keys as
    entry = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole", RoleSessionName="admin"
    )["Credentials"]
    signed = {
        "aws_access_key_id": entry["AccessKeyId"],
        "aws_secret_access_key": entry["SecretAccessKey"],
        "aws_session_token": entry["SessionToken"],
    }
    iam, sts = boto3.client("iam", **signed), boto3.client("sts", **signed)
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    arns = {
        name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        for name in ("target", "administration")
    }
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    iam.put_role_policy(RoleName="target", PolicyName="p", PolicyDocument=json.dumps(policy))
    keys = {
        name: sts.assume_role(RoleArn=arn, RoleSessionName="session")["Credentials"]["AccessKeyId"]
        for name, arn in arns.items()
    }
    iam.create_user(UserName="u")
    user_key = iam.create_access_key(UserName="u")["AccessKey"]["AccessKeyId"]
    authorizer = Authorizer(target_role="target")
    identity = authorizer.identity_of(keys["target"])
    assert identity is not None and identity.role_arn == arns["target"] == f"arn:aws:iam::{member}:role/target"
    assert identity.label == f"target role in account {member}" and identity.policies == {"p": policy}
    assert authorizer.identity_of(keys["target"]) is identity
    for key in (keys["administration"], user_key, entry["AccessKeyId"], "testing", "ASIANOSUCHKEY0000000"):
        assert authorizer.identity_of(key) is None
    assert authorizer.other_roles == {keys["administration"], entry["AccessKeyId"]}
    with mock.patch.object(models, "get_account_id_from", side_effect=AssertionError("looked up again")):
        assert authorizer.identity_of(keys["administration"]) is None  # remembered: a key's role never changes
    # what the former search of every account's keys answered, key by key
    for key in (keys["target"], keys["administration"], user_key, "testing"):
        found = [
            str(getattr(k, "role_arn", "") or "")
            for account in models.iam_backends.values()
            for k in [account["aws"].access_keys.get(key)]
            if k is not None
        ]
        expected = found[0] if found and found[0].endswith("/target") else None
        answer = authorizer.identity_of(key)
        assert (answer.role_arn if answer else None) == expected
    assert Authorizer().identity_of(keys["target"]) is None  # no target role rendered: nothing is its session
