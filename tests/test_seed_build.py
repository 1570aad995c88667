"""build.py of the deploy repository, run from the rendered bundle against moto.

The last test feeds build.py's exported template and parameter files to a SERVICE_MANAGED stack set
targeting the staging and prod OUs, and looks at the result from inside each target account.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from generator import contract
from generator.naming import BootstrapNames, Names, Stage
from tests.cfn_resolve import Resolver, product_template
from tests.conftest import make_config, rendered_files
from tests.moto_helpers import register_model_package
from tests.test_seed_support import PROJECT, PROJECT_ID, REGION, Seed, assumed_session, make_org, seed

__all__ = ["seed"]  # the fixture, imported for pytest

GROUP = PROJECT
ROLE = "sagemaker-multi-account-deploy"
STAGING_OU, PROD_OU = "ou-ab12-11111111", "ou-ab12-22222222"
ORG_ID = "o-a1b2c3d4e5"


def build_environ(**overrides: str) -> dict[str, str]:
    """The build project's environment as the rendered template sets it, for project `iris`."""
    names = Names()
    env = {
        contract.Env.PROJECT_NAME: PROJECT,
        contract.Env.PROJECT_ID: PROJECT_ID,
        contract.Env.MODEL_PACKAGE_GROUP: GROUP,
        contract.Env.CREATE_MODEL_PACKAGE_GROUP: "false",
        contract.Env.EXPORT_TEMPLATE: contract.EXPORT_TEMPLATE,
        contract.Env.ORG_ID: ORG_ID,
        contract.Env.EXECUTION_ROLE: "stacksets-exec-*",
        contract.Env.DATA_CAPTURE_BUCKET_STEM: BootstrapNames().data_capture_bucket_stem,
        contract.Env.ENDPOINT_KMS_KEY: "none",
    }
    for stage, ou in zip(Stage, (STAGING_OU, PROD_OU), strict=True):
        env[contract.Env.ou(stage)] = ou
    for stage in Stage:
        env[contract.Env.role(stage)] = ROLE
        env[contract.Env.endpoint(stage)] = names.endpoint(stage).render(PROJECT, PROJECT_ID)
        env[contract.Env.params(stage)] = contract.EXPORT_PARAMETERS[stage]
        env[contract.Env.config(stage)] = contract.STAGE_CONFIG[stage]
    env.update(overrides)
    return env


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def repo(seed: Seed, tmp_path: Path) -> Path:
    """A writable copy of the seeded repository."""
    return Path(shutil.copytree(seed.root, tmp_path / "repo"))


def register(sm: Any, status: str) -> str:
    return register_model_package(sm, GROUP, status)


def product_group_policy() -> dict[str, Any]:
    """The ModelPackageGroupPolicy of the rendered product (generated launch role), for project `iris`."""
    files = rendered_files(make_config(staging_ou=STAGING_OU, prod_ou=PROD_OU, org_id=ORG_ID))
    template = product_template(files)
    resolver = Resolver(template, {"SageMakerProjectName": PROJECT, "SageMakerProjectId": PROJECT_ID})
    (group,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    return dict(resolver.resolve(group["Properties"]["ModelPackageGroupPolicy"]))


def run_build(seed: Seed, repo: Path, out: Path, sm: Any, **env: str) -> int:
    return int(seed.build.main(["--repo", str(repo), "--out", str(out)], environ=build_environ(**env), sm=sm))


def parameters(out: Path, stage: Stage) -> dict[str, str]:
    entries = json.loads((out / contract.EXPORT_PARAMETERS[stage]).read_text())
    assert isinstance(entries, list)
    return {e["ParameterKey"]: e["ParameterValue"] for e in entries}


def test_newest_approved_wins_over_newer_pending_and_rejected(
    seed: Seed, repo: Path, tmp_path: Path, aws: None
) -> None:
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    register(sm, "Approved")
    newest_approved = register(sm, "Approved")
    register(sm, "PendingManualApproval")
    register(sm, "Rejected")
    assert run_build(seed, repo, tmp_path / "out", sm) == 0
    for stage in Stage:
        assert parameters(tmp_path / "out", stage)["ModelPackageArn"] == newest_approved


def test_more_packages_than_one_page(seed: Seed, aws: None) -> None:
    """The one still-Approved version sits on the second page, behind 105 newer rejected ones."""
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    approved = register(sm, "Approved")
    rejected = [register(sm, "Rejected") for _ in range(105)]
    pages = list(sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=GROUP))
    assert len(pages) == 2  # the packages really span two pages
    selection = seed.build.newest_approved_package(sm, GROUP)
    assert selection.package["ModelPackageArn"] == approved
    assert [p["ModelPackageArn"] for p in selection.passed_over] == rejected[::-1]


def test_empty_first_page_is_walked_past(seed: Seed, aws: None) -> None:
    """A filtered list may answer an empty page with a NextToken: the paginator's next page counts."""
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    newest = [register(sm, "Approved") for _ in range(3)][-1]
    real = sm.get_paginator("list_model_packages")
    seen: list[dict[str, Any]] = []

    class Paginator:
        def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
            seen.append(kwargs)
            yield {"ModelPackageSummaryList": [], "NextToken": "t"}
            yield from real.paginate(**kwargs)

    class Client:
        def get_paginator(self, name: str) -> Paginator:
            assert name == "list_model_packages"
            return Paginator()

    assert seed.build.newest_approved_package(Client(), GROUP).package["ModelPackageArn"] == newest
    assert seen == [{"ModelPackageGroupName": GROUP, "SortBy": "CreationTime", "SortOrder": "Descending"}]


def test_no_approved_package_fails_naming_the_group(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    register(sm, "PendingManualApproval")
    register(sm, "Rejected")
    assert run_build(seed, repo, tmp_path / "out", sm) == 1
    err = capsys.readouterr().err
    # Nothing left to deploy or roll back to: says so, lists the versions, and what to do.
    assert (
        f"no Approved model package left in model package group {GROUP} "
        "(version 2 Rejected, version 1 PendingManualApproval)" in err
    )
    assert "Approve a version" in err and "mlops-gen destroy" in err
    assert not (tmp_path / "out").exists()


def test_empty_group_asks_for_a_first_approval(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    assert run_build(seed, repo, tmp_path / "out", sm) == 1
    assert f"no Approved model package in model package group {GROUP}: register a model" in capsys.readouterr().err


def test_rejecting_the_live_version_rolls_back_and_says_so(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """v2 was deployed, then set to Rejected: the build picks v1 and exports why for the approver."""
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    v1, v2 = register(sm, "Approved"), register(sm, "Approved")
    sm.update_model_package(ModelPackageArn=v2, ModelApprovalStatus="Rejected")
    variables = tmp_path / "build-variables.sh"
    env = build_environ()
    code = seed.build.main(
        ["--repo", str(repo), "--out", str(tmp_path / "out"), "--variables", str(variables)], env, sm
    )
    assert code == 0
    out = capsys.readouterr().out
    assert f"rollback: version 2 Rejected; deploying version 1 ({v1})" in out
    assert "version 1 replaces version 2 where it is live" in out
    for stage in Stage:
        assert parameters(tmp_path / "out", stage)["ModelPackageArn"] == v1
    exported = sourced(variables, contract.Variables.BUILD)
    assert exported == {
        "MODEL_PACKAGE_ARN": v1,
        "MODEL_PACKAGE_VERSION": "1",
        "MODEL_PACKAGE_URL": seed.build.model_package_url(v1),
        "DEPLOY_REASON": "rollback to version 1: newer version(s) 2 Rejected",
    }
    assert exported["MODEL_PACKAGE_URL"].startswith(f"https://{REGION}.console.aws.amazon.com/sagemaker/")


def sourced(script: Path, names: tuple[str, ...]) -> dict[str, str]:
    """The variables a shell has after sourcing `script` (as the buildspec does), by name."""
    import subprocess

    dump = "; ".join(f'printf "%s\\0" "${{{n}}}"' for n in names)
    done = subprocess.run(["sh", "-c", f". {script}; {dump}"], capture_output=True, text=True, check=True, env={})
    return dict(zip(names, done.stdout.split("\0")[: len(names)], strict=True))


def test_missing_group_is_created_when_asked(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, model_package_group_policies: None
) -> None:
    sm = boto3.client("sagemaker")
    create = {contract.Env.CREATE_MODEL_PACKAGE_GROUP: "true"}
    # Without the flag the build does not touch the registry's groups (the product made the group).
    assert run_build(seed, repo, tmp_path / "out", sm) == 1
    assert sm.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    # With it (standard launch role), the group appears; nothing is approved yet, so the build still fails.
    assert run_build(seed, repo, tmp_path / "out", sm, **create) == 1
    assert sm.describe_model_package_group(ModelPackageGroupName=GROUP)["ModelPackageGroupName"] == GROUP
    # The group the build made gets the same cross-account read policy the product would have given it.
    policy = json.loads(sm.get_model_package_group_policy(ModelPackageGroupName=GROUP)["ResourcePolicy"])
    assert policy == product_group_policy()
    # An existing group is used as is.
    package = register(sm, "Approved")
    assert run_build(seed, repo, tmp_path / "out", sm, **create) == 0
    assert parameters(tmp_path / "out", Stage.PROD)["ModelPackageArn"] == package
    assert len(sm.list_model_package_groups()["ModelPackageGroupSummaryList"]) == 1


@pytest.mark.parametrize(
    ("file", "key", "value", "message"),
    [
        ("staging-config.json", ("instance_type",), "m5.large", "instance_type: must be a SageMaker instance type"),
        ("prod-config.json", ("instance_count",), 0, "instance_count: must be a whole number from 1 to 100, got 0"),
        ("prod-config.json", ("autoscaling", "max_capacity"), 1,
         "autoscaling.max_capacity: must be at least autoscaling.min_capacity (2), got 1"),
        ("staging-config.json", ("data_capture", "sampling_percentage"), 101,
         "data_capture.sampling_percentage: must be a whole number from 0 to 100, got 101"),
        ("staging-config.json", ("data_capture", "enabled"), "yes",
         'data_capture.enabled: must be true or false, got "yes"'),
        ("staging-config.json", ("test", "p95_latency_ms"), -5, "test.p95_latency_ms: must be a number greater than 0"),
        ("staging-config.json", ("autoscaling", "enabeld"), True, "autoscaling.enabeld: unknown key"),
        ("prod-config.json", ("deployment", "traffic_routing"), "linear",
         'deployment.traffic_routing: must be one of canary, all_at_once, got "linear"'),
        ("prod-config.json", ("deployment", "canary_percent"), 60,
         "deployment.canary_percent: must be a whole number from 1 to 50, got 60"),
        ("prod-config.json", ("deployment", "maximum_execution_timeout_seconds"), 1200,
         "deployment.maximum_execution_timeout_seconds: must be more than the waits it contains (1200 s: "
         "termination_wait_seconds + wait_interval_seconds), got 1200"),
        ("prod-config.json", ("deployment", "max_model_latency_p99_ms"), 0,
         "deployment.max_model_latency_p99_ms: must be a number greater than 0 and at most 60000, got 0"),
        ("prod-config.json", ("deployment", "canary_pct"), 5, "deployment.canary_pct: unknown key"),
    ],
)  # fmt: skip
def test_bad_stage_config_fails_naming_file_and_key(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, capsys: pytest.CaptureFixture[str],
    file: str, key: tuple[str, ...], value: Any, message: str,
) -> None:  # fmt: skip
    data = json.loads((repo / file).read_text())
    target = data
    for part in key[:-1]:
        target = target[part]
    target[key[-1]] = value
    (repo / file).write_text(json.dumps(data))
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    register(sm, "Approved")
    assert run_build(seed, repo, tmp_path / "out", sm) == 1
    assert f"build failed: {file}: {message}" in capsys.readouterr().err


def test_parameter_files_name_every_template_parameter(seed: Seed, repo: Path, tmp_path: Path, aws: None) -> None:
    from cfnlint.decode import decode_str

    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    register(sm, "Approved")
    out = tmp_path / "out"
    assert run_build(seed, repo, out, sm) == 0
    template, _ = decode_str((out / contract.EXPORT_TEMPLATE).read_text())
    assert template is not None
    # No stage config asks for a VPC: the SSM-typed network parameters become plain lists (build.py).
    seeded, _ = decode_str(seed.build.with_network_types((repo / contract.EXPORT_TEMPLATE).read_text(), False))
    assert seeded is not None
    # The template is exported as seeded but for its RegionModel mapping, written for the deploy regions.
    assert {k: v for k, v in template.items() if k != "Mappings"} == {
        k: v for k, v in seeded.items() if k != "Mappings"
    }
    assert template["Mappings"] == {
        "RegionModel": {REGION: {"Source": "registry", "ModelDataUrl": "none", "Image": "none"}}
    }
    for stage in Stage:
        entries = json.loads((out / contract.EXPORT_PARAMETERS[stage]).read_text())
        assert [e["ParameterKey"] for e in entries] == list(template["Parameters"])
        assert all(set(e) == {"ParameterKey", "ParameterValue"} for e in entries)
        assert all(isinstance(e["ParameterValue"], str) for e in entries)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [contract.EXPORT_TEMPLATE, *contract.EXPORT_PARAMETERS.values()]
    )
    # A template parameter build.py does not know would silently take its default: refuse instead.
    text = (repo / contract.EXPORT_TEMPLATE).read_text()
    (repo / contract.EXPORT_TEMPLATE).write_text(
        text.replace("Parameters:\n", "Parameters:\n  Extra:\n    Type: String\n    Default: x\n", 1)
    )
    assert run_build(seed, repo, tmp_path / "out2", sm) == 1


def test_stack_set_creates_the_endpoint_in_every_account_of_each_ou(
    seed: Seed, repo: Path, tmp_path: Path, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """build.py's files, as the CloudFormationStackSet action uses them, deploy real resources per account."""
    from moto.sagemaker.models import FakeEndpoint

    # moto 5.2.5 names CloudFormation-created endpoints after the stack and ignores EndpointName,
    # which CloudFormation honours: make moto honour it too, so the name is checked end to end.
    monkeypatch.setattr(FakeEndpoint, "cloudformation_name_type", staticmethod(lambda: "EndpointName"))
    org = make_org()
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    package = register(sm, "Approved")
    out = tmp_path / "out"
    assert run_build(seed, repo, out, sm) == 0

    cfn = boto3.client("cloudformation")
    template = (out / contract.EXPORT_TEMPLATE).read_text()
    ous = {Stage.STAGING: org.staging_ou, Stage.PROD: org.prod_ou}
    for stage in Stage:
        name = Names().stack_set(stage).render(PROJECT, PROJECT_ID)
        cfn.create_stack_set(
            StackSetName=name,
            TemplateBody=template,
            Parameters=json.loads((out / contract.EXPORT_PARAMETERS[stage]).read_text()),
            PermissionModel="SERVICE_MANAGED",
            AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        )
        cfn.create_stack_instances(
            StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [ous[stage]]}, Regions=[REGION]
        )

    staging_config = json.loads((repo / contract.STAGE_CONFIG[Stage.STAGING]).read_text())
    prod_config = json.loads((repo / contract.STAGE_CONFIG[Stage.PROD]).read_text())
    expected = {
        **{a: (Stage.STAGING, staging_config) for a in org.staging_accounts},
        **{a: (Stage.PROD, prod_config) for a in org.prod_accounts},
    }
    for account, (stage, config) in expected.items():
        target = assumed_session(account, ROLE).client("sagemaker")
        endpoints = target.list_endpoints()["Endpoints"]
        assert [e["EndpointName"] for e in endpoints] == [Names().endpoint(stage).render(PROJECT, PROJECT_ID)]
        endpoint = target.describe_endpoint(EndpointName=endpoints[0]["EndpointName"])
        assert endpoint["EndpointStatus"] == "InService"
        endpoint_config = target.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        variant = endpoint_config["ProductionVariants"][0]
        assert variant["InstanceType"] == config["instance_type"]
        assert int(variant["InitialInstanceCount"]) == config["instance_count"]
        capture = endpoint_config.get("DataCaptureConfig") or {}
        assert bool(capture.get("EnableCapture")) is config["data_capture"]["enabled"]
        if config["data_capture"]["enabled"]:
            # The bucket the target-role stack set creates in this account and region (BootstrapNames).
            bucket = BootstrapNames().data_capture_bucket(REGION).replace("${AWS::AccountId}", account)
            assert capture["DestinationS3Uri"] == f"s3://{bucket}/{contract.DATA_CAPTURE_PREFIX}"
        model = target.describe_model(ModelName=variant["ModelName"])
        assert model["ExecutionRoleArn"] == f"arn:aws:iam::{account}:role/{ROLE}"
        containers = [model.get("PrimaryContainer", {}), *model.get("Containers", [])]
        assert package in [c.get("ModelPackageName") for c in containers]
    # Nothing lands outside the OUs: not in the management account, not in the closed account's OU peers.
    assert boto3.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_the_build_s_group_policy_is_bound_and_lets_the_stages_deploy(seed: Seed) -> None:
    """Under the standard launch role the build puts the group's policy: same rules as the product's."""
    from generator.checks.cross_account import caller_context, evaluate_cross_account
    from generator.checks.runtime_iam import Need
    from generator.checks.s3_public import PRINCIPAL_KEYS, public_statements

    group = f"arn:aws:sagemaker:{REGION}:123456789012:model-package-group/{GROUP}"
    env = seed.build.BuildEnv.from_environ(build_environ(**{contract.Env.CREATE_MODEL_PACKAGE_GROUP: "true"}))
    policy = seed.build.group_read_policy(group, env.reader_ous, env.org_id, env.reader_roles)
    assert public_statements(policy, {}, PRINCIPAL_KEYS) == []
    package = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/1"
    executor = "arn:aws:iam::444455556666:role/stacksets-exec-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    for role, ou, allowed in [(executor, PROD_OU, True), (f"arn:aws:iam::444455556666:role/{ROLE}", STAGING_OU, True),
                              (executor, "ou-ab12-99999999", False), ("arn:aws:iam::444455556666:role/other", PROD_OU,
                                                                     False)]:  # fmt: skip
        need = Need(role, "sagemaker:CreateModel", package, "ModelPackageGroup", "build", "test")
        assert evaluate_cross_account(policy, need, caller_context(role, ORG_ID, ou)).allowed is allowed


def test_creating_the_group_needs_the_org_id(seed: Seed) -> None:
    environ = build_environ(**{contract.Env.CREATE_MODEL_PACKAGE_GROUP: "true"})
    del environ[contract.Env.ORG_ID]
    with pytest.raises(seed.build.BuildError, match="ORGANIZATION_ID is not set"):
        seed.build.BuildEnv.from_environ(environ)
    del environ[contract.Env.CREATE_MODEL_PACKAGE_GROUP]
    environ[contract.Env.CREATE_MODEL_PACKAGE_GROUP] = "false"
    assert seed.build.BuildEnv.from_environ(environ).org_id == ""  # not read when the product made the group


def test_the_endpoint_key_reaches_the_stack_set_parameters(seed: Seed) -> None:
    """--kms-key: the build passes the stage accounts' data key alias as KmsKeyId; "none" passes no key."""
    import importlib

    config = importlib.import_module("stage_config").load_stage_config(seed.root / "staging-config.json")
    package = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/1"
    for declared, expected in (("none", ""), ("alias/sagemaker-mlops-gen-data", "alias/sagemaker-mlops-gen-data")):
        env = seed.build.BuildEnv.from_environ(build_environ(**{contract.Env.ENDPOINT_KMS_KEY: declared}))
        assert env.endpoint_kms_key == expected
        values = seed.build.stage_parameters(env, env.stages[0], config, package)
        assert values["KmsKeyId"] == expected
