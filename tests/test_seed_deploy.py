"""deploy/deploy.py (deploy mode "api") against moto, and its failure path against a Stubber.

moto ignores CallAs and AccountFilterType: the rehearsal's fidelity patches make it resolve the
filter as CloudFormation does, and a botocore before-parameter-build hook records the CallAs each call sends.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from generator.iam.resolve import Resolver
from generator.live import destroy
from generator.live.rehearse import fidelity
from generator.naming import Stage
from generator.product.codebuild import deploy_environment
from generator.product.parameters import add_parameters
from generator.shipped import SEED_DIR
from tests.conftest import make_config

REGION = "eu-west-1"
TEMPLATE = json.dumps(
    {
        "Parameters": {"Suffix": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "t-${Suffix}"}}}},
    }
)


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_py", SEED_DIR / "deploy" / "deploy.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["deploy_py"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


deploy_py = _load()


def rendered_env(**overrides: Any) -> dict[str, str]:
    """The staging deploy project's environment as the product declares it, resolved for a launch."""
    from troposphere import Template

    cfg = make_config(**overrides)
    template = Template()
    params = add_parameters(template, cfg, "key")
    env = deploy_environment(cfg, params, Stage.STAGING)
    resolver = Resolver(
        json.loads(template.to_json()), {"SageMakerProjectName": "iris", "SageMakerProjectId": "p-1"}, region=REGION
    )
    return {name: str(resolver.resolve(json.loads(json.dumps(value, default=lambda o: o.to_dict()))))
            for name, value in env.items()}  # fmt: skip


class Org:
    def __init__(self) -> None:
        self.orgs = boto3.client("organizations", region_name=REGION)
        self.orgs.create_organization(FeatureSet="ALL")
        root = self.orgs.list_roots()["Roots"][0]["Id"]
        self.ou = self.orgs.create_organizational_unit(ParentId=root, Name="staging")["OrganizationalUnit"]["Id"]
        self.accounts = []
        for n in range(3):
            status = self.orgs.create_account(AccountName=f"s{n}", Email=f"s{n}@example.com")["CreateAccountStatus"]
            self.orgs.move_account(AccountId=status["AccountId"], SourceParentId=root, DestinationParentId=self.ou)
            self.accounts.append(status["AccountId"])


@pytest.fixture
def org() -> Iterator[Org]:
    with mock_aws(), fidelity.aws_behaviour():
        yield Org()


def recording_client() -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
    """A CloudFormation client that records (operation, params) of every call it makes."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    calls: list[tuple[str, dict[str, Any]]] = []
    cfn.meta.events.register(
        "before-parameter-build.cloudformation.*", lambda model, params, **_: calls.append((model.name, dict(params)))
    )
    return cfn, calls


def artifact(tmp_path: Path, suffix: str = "a") -> Path:
    folder = tmp_path / "BuildArtifact"
    folder.mkdir(exist_ok=True)
    (folder / "endpoint-config-template.yml").write_text(TEMPLATE)
    (folder / "staging-stackset-parameters.json").write_text(
        json.dumps([{"ParameterKey": "Suffix", "ParameterValue": suffix}])
    )
    return folder


def instances(name: str) -> set[tuple[str, str]]:
    cfn = boto3.client("cloudformation", region_name=REGION)
    return {(i["Account"], i["Region"]) for i in cfn.list_stack_instances(StackSetName=name)["Summaries"]}


def test_delegated_filtered_deploy_creates_then_updates(org: Org, tmp_path: Path, capsys: Any) -> None:
    env = rendered_env(**{"stackset-admin": "delegated", "staging-accounts": "111111111111",
                          "deploy-regions": "us-east-1,eu-west-1", "region-concurrency": "sequential"})  # fmt: skip
    assert env["DEPLOY_ACCOUNT_IDS"] == "111111111111" and env["DEPLOY_AUTO_DEPLOYMENT"] == "false"
    env.update({"DEPLOY_OU_IDS": org.ou, "DEPLOY_ACCOUNT_IDS": org.accounts[0]})  # the local organisation
    cfn, calls = recording_client()
    assert deploy_py.main(["--artifact-dir", str(artifact(tmp_path))], env, cfn) == 0
    name = env["STACK_SET_NAME"]
    assert name == "sagemaker-iris-p-1-deploy-staging"
    # only the listed account of the OU, in both regions
    assert instances(name) == {(org.accounts[0], "us-east-1"), (org.accounts[0], "eu-west-1")}
    created = dict(calls)
    assert created["CreateStackSet"]["PermissionModel"] == "SERVICE_MANAGED"
    assert created["CreateStackSet"]["AutoDeployment"] == {"Enabled": False}
    assert created["CreateStackInstances"]["DeploymentTargets"] == {
        "OrganizationalUnitIds": [org.ou], "Accounts": [org.accounts[0]], "AccountFilterType": "INTERSECTION"
    }  # fmt: skip
    assert created["CreateStackInstances"]["OperationPreferences"] == {
        "FailureTolerancePercentage": 0, "MaxConcurrentPercentage": 100, "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
        "RegionConcurrencyType": "SEQUENTIAL", "RegionOrder": ["us-east-1", "eu-west-1"],
    }  # fmt: skip
    assert {params.get("CallAs") for _, params in calls} == {"DELEGATED_ADMIN"}  # moto ignores it: we check
    # A second deployment updates in place and creates no instance.
    calls.clear()
    assert deploy_py.main(["--artifact-dir", str(artifact(tmp_path, "b"))], env, cfn) == 0
    operations = [op for op, _ in calls]
    assert "UpdateStackSet" in operations and "CreateStackSet" not in operations
    assert "CreateStackInstances" not in operations
    described = cfn.describe_stack_set(StackSetName=name)["StackSet"]
    assert described["Parameters"] == [{"ParameterKey": "Suffix", "ParameterValue": "b"}]
    assert '"stack_set_action": "updated"' in capsys.readouterr().out


def test_whole_ou_from_the_management_account(org: Org, tmp_path: Path) -> None:
    env = rendered_env(**{"stackset-admin": "management", "prod-accounts": "222222222222"})  # staging: whole OU
    env["DEPLOY_OU_IDS"] = org.ou
    cfn, calls = recording_client()
    assert deploy_py.main(["--artifact-dir", str(artifact(tmp_path))], env, cfn) == 0
    assert instances(env["STACK_SET_NAME"]) == {(a, REGION) for a in org.accounts}
    assert {params.get("CallAs") for _, params in calls} == {"SELF"}
    assert dict(calls)["CreateStackInstances"]["DeploymentTargets"] == {"OrganizationalUnitIds": [org.ou]}


def _operation(status: str) -> dict[str, Any]:
    return {"StackSetOperation": {"OperationId": "op-1", "StackSetId": "s:1", "Action": "CREATE", "Status": status,
                                  "StatusReason": "The Account 111111111111 failed"}}  # fmt: skip


def test_failed_operation_prints_each_failed_instance(tmp_path: Path, capsys: Any) -> None:
    env = rendered_env(**{"stackset-admin": "delegated"})
    env["DEPLOY_OU_IDS"] = "ou-ab12-11111111"
    cfn = boto3.client("cloudformation", region_name=REGION)
    name, call_as = env["STACK_SET_NAME"], "DELEGATED_ADMIN"
    stub = Stubber(cfn)
    missing = {"StackSetName": name, "CallAs": call_as}
    stub.add_client_error("describe_stack_set", "StackSetNotFoundException", "not found", 404, expected_params=missing)
    stub.add_response("create_stack_set", {"StackSetId": f"{name}:1"})
    stub.add_response("list_stack_instances", {"Summaries": []})
    stub.add_response("create_stack_instances", {"OperationId": "op-1"})
    which = {"StackSetName": name, "OperationId": "op-1", "CallAs": call_as}
    stub.add_response("describe_stack_set_operation", _operation("RUNNING"), which)
    stub.add_response("describe_stack_set_operation", _operation("FAILED"), which)
    stub.add_response("describe_stack_set_operation", _operation("FAILED"), which)
    results = [
        {"Account": "111111111111", "Region": REGION, "Status": "FAILED", "OrganizationalUnitId": "ou-ab12-11111111",
         "StatusReason": "ResourceLogicalId:Endpoint, ResourceType:AWS::SageMaker::Endpoint, "
                         "ResourceStatusReason:Could not assume role."},
        {"Account": "444444444444", "Region": REGION, "Status": "CANCELLED",
         "StatusReason": "Cancelled since failure tolerance has exceeded"},
        {"Account": "555555555555", "Region": REGION, "Status": "SUCCEEDED"},
    ]  # fmt: skip
    stub.add_response("list_stack_set_operation_results", {"Summaries": results}, which)
    with stub:
        waiter = deploy_py.operation_waiter(cfn, delay=0, max_attempts=5)
        env_obj = deploy_py.DeployEnv.from_environ(env)
        template, parameters = deploy_py.read_inputs(env_obj, artifact(tmp_path))
        with pytest.raises(deploy_py.DeployError, match=r"ended FAILED .*2 instance\(s\) did not succeed"):
            deploy_py.deploy(cfn, env_obj, template, parameters, waiter)
        stub.assert_no_pending_responses()
    err = capsys.readouterr().err
    assert f"FAILED account 111111111111, region {REGION}: FAILED: ResourceLogicalId:Endpoint" in err
    assert f"FAILED account 444444444444, region {REGION}: CANCELLED: Cancelled since" in err
    assert "555555555555" not in err


def test_waiter_is_bounded_and_shared_with_destroy() -> None:
    assert deploy_py.WAITER_MODEL == destroy.WAITER_MODEL
    waiter = deploy_py.operation_waiter(boto3.client("cloudformation", region_name=REGION))
    assert (waiter.config.delay, waiter.config.max_attempts) == (30, 200)
    assert waiter.config.operation == "DescribeStackSetOperation"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"STACK_SET_CALL_AS": "ROOT"}, "STACK_SET_CALL_AS must be one of SELF, DELEGATED_ADMIN"),
        ({"DEPLOY_ACCOUNT_IDS": ""}, "lists no account"),
        ({"STACK_SET_NAME": ""}, "STACK_SET_NAME is not set"),
    ],
)
def test_bad_environment_is_reported(change: dict[str, str], message: str, tmp_path: Path, capsys: Any) -> None:
    env = {**rendered_env(**{"staging-accounts": "111111111111"}), **change}
    assert deploy_py.main(["--artifact-dir", str(artifact(tmp_path))], env, object()) == 1
    assert message in capsys.readouterr().err
