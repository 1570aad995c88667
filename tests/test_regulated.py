"""Regulated environments (issue 17): models in each target account's own VPC, and serverless staging.

The stage configs choose `"network": "vpc"` and `"inference": "serverless"`; build.py passes them to the
endpoint template, whose SSM-typed parameters read each account's subnets and security groups. The moto tests
deploy build.py's files as the stack sets do, with the SSM parameters published in each target account.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from generator import contract
from generator.naming import Names, Stage
from tests.test_seed_build import GROUP, ROLE, aws, parameters, register, repo, run_build
from tests.test_seed_support import PROJECT, PROJECT_ID, REGION, Seed, assumed_session, make_org, seed

__all__ = ["aws", "repo", "seed"]  # fixtures, imported for pytest

SERVERLESS = {"memory_size_mb": 2048, "max_concurrency": 5}


def staging(repo: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((repo / contract.STAGE_CONFIG[Stage.STAGING]).read_text())
    return data


def serverless_config(repo: Path) -> dict[str, Any]:
    """The seeded staging config made serverless: the instance settings removed, a size given."""
    data = staging(repo)
    for key in ("instance_type", "instance_count", "autoscaling"):
        del data[key]
    return {**data, "inference": "serverless", "serverless": dict(SERVERLESS)}


def write_staging(repo: Path, data: dict[str, Any]) -> None:
    (repo / contract.STAGE_CONFIG[Stage.STAGING]).write_text(json.dumps(data))


def parse(seed: Seed, data: dict[str, Any]) -> Any:
    import stage_config  # the seed fixture puts the bundle's root on sys.path

    return stage_config.parse_stage_config(data, Path("staging-config.json"))


def test_seeded_configs_keep_the_default_network_and_instances(seed: Seed, repo: Path) -> None:
    config = parse(seed, staging(repo))
    assert config.network == "default" and config.serverless is None and config.test.warmup_calls == 0


def test_serverless_stage_is_parsed_with_a_warmup_call(seed: Seed, repo: Path) -> None:
    config = parse(seed, serverless_config(repo))
    assert (config.serverless.memory_size_mb, config.serverless.max_concurrency) == (2048, 5)
    assert config.test.warmup_calls == 1  # the cold start is checked but not timed
    assert config.deployment.traffic_routing == "all_at_once"
    assert parse(seed, {**staging(repo), "network": "vpc"}).network == "vpc"


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = data
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("serverless", "memory_size_mb"), 1500, "serverless.memory_size_mb: must be one of 1024, 2048"),
        (("serverless", "memory_size_mb"), 8192, "serverless.memory_size_mb: must be one of"),
        (("serverless", "max_concurrency"), 201, "serverless.max_concurrency: must be a whole number from 1 to 200"),
        (("serverless", "max_concurrency"), 0, "serverless.max_concurrency: must be a whole number from 1 to 200"),
        (("network",), "vpc", "network: cannot be vpc with serverless inference"),
        (("instance_type",), "ml.m5.large", "instance_type: does not apply to a serverless endpoint"),
        (("instance_count",), 1, "instance_count: does not apply to a serverless endpoint"),
        (("autoscaling",), {"enabled": True, "min_capacity": 1, "max_capacity": 2,
                            "target_invocations_per_instance": 70}, "autoscaling.enabled: must be false"),
        (("data_capture", "enabled"), True, "data_capture.enabled: must be false"),
        (("deployment", "traffic_routing"), "canary", "deployment.traffic_routing: must be all_at_once"),
        (("test", "warmup_calls"), 20, "test.warmup_calls: must be fewer than test.calls (20)"),
        (("inference",), "lambda", "inference: must be one of instances, serverless"),
    ],
)  # fmt: skip
def test_serverless_refuses_what_does_not_apply(
    seed: Seed, repo: Path, path: tuple[str, ...], value: Any, message: str
) -> None:
    import stage_config

    with pytest.raises(stage_config.StageConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(seed, _set(serverless_config(repo), path, value))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"network": "private"}, "network: must be one of default, vpc"),
        ({"serverless": SERVERLESS}, 'serverless: applies only with "inference": "serverless"'),
    ],
)
def test_instance_stage_refuses_bad_network_and_stray_serverless(
    seed: Seed, repo: Path, data: dict[str, Any], message: str
) -> None:
    import stage_config

    with pytest.raises(stage_config.StageConfigError, match=message):
        parse(seed, {**staging(repo), **data})


def test_endpoint_test_leaves_warmup_calls_out_of_the_latency(seed: Seed) -> None:
    import stage_config

    test = seed.endpoint_test
    settings = stage_config.EndpointTest(p95_latency_ms=100, calls=4, warmup_calls=1)
    ticks = iter([0.0, 5.0, 10.0, 10.01, 20.0, 20.01, 30.0, 30.01])  # a 5 s cold start, then 10 ms calls

    class Runtime:
        def invoke_endpoint(self, **_: Any) -> dict[str, Any]:
            import io

            class Body(io.BytesIO):
                pass

            return {"Body": Body(b"0.9,0.05,0.05")}

    class Waiter:
        def wait(self, **_: Any) -> None:
            return None

    class Sm:
        def get_waiter(self, _: str) -> Waiter:
            return Waiter()

    result = test.TargetResult("111111111111", "a", REGION, "e")
    checked = test.check_endpoint(Sm(), Runtime(), result, settings, lambda: next(ticks))
    assert checked.passed, checked.reason
    assert checked.calls == 4 and checked.p95_ms == pytest.approx(10.0, abs=0.01)
    untimed = iter([0.0, 5.0, 10.0, 10.01, 20.0, 20.01, 30.0, 30.01])
    slow = test.check_endpoint(
        Sm(), Runtime(), test.TargetResult("111111111111", "a", REGION, "e"),
        stage_config.EndpointTest(p95_latency_ms=100, calls=4, warmup_calls=0), lambda: next(untimed),
    )  # fmt: skip
    assert not slow.passed and "too slow: p95 latency 5000.0 ms over 4 timed calls" in slow.reason


def build_with(seed: Seed, repo: Path, out: Path, staging_config: dict[str, Any]) -> int:
    write_staging(repo, staging_config)
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    register(sm, "Approved")
    return run_build(seed, repo, out, sm)


def test_build_passes_the_network_and_serverless_choices(seed: Seed, repo: Path, tmp_path: Path, aws: None) -> None:
    assert build_with(seed, repo, tmp_path / "out", serverless_config(repo)) == 0
    values = parameters(tmp_path / "out", Stage.STAGING)
    assert values["InferenceMode"] == "serverless" and values["EndpointInstanceType"] == ""
    assert (values["ServerlessMemorySizeInMB"], values["ServerlessMaxConcurrency"]) == ("2048", "5")
    assert parameters(tmp_path / "out", Stage.PROD)["InferenceMode"] == "instances"
    assert values["SubnetIds"] == "/mlops-gen/network/subnet-ids"
    assert values["SecurityGroupIds"] == "/mlops-gen/network/security-group-ids"
    # No stage in a VPC: the network parameters are plain lists, so accounts need not publish them.
    text = (tmp_path / "out" / contract.EXPORT_TEMPLATE).read_text()
    assert "AWS::SSM::Parameter::Value" not in text and text.count("Type: CommaDelimitedList") == 2


def test_a_vpc_stage_keeps_the_ssm_parameter_types(seed: Seed, repo: Path, tmp_path: Path, aws: None) -> None:
    assert build_with(seed, repo, tmp_path / "out", {**staging(repo), "network": "vpc"}) == 0
    text = (tmp_path / "out" / contract.EXPORT_TEMPLATE).read_text()
    assert "Type: AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>" in text
    assert "Type: AWS::SSM::Parameter::Value<List<AWS::EC2::SecurityGroup::Id>>" in text
    assert parameters(tmp_path / "out", Stage.STAGING)["NetworkMode"] == "vpc"
    assert parameters(tmp_path / "out", Stage.PROD)["NetworkMode"] == "default"


def publish_network(account: str) -> tuple[list[str], list[str]]:
    """What the platform team does in one target account: a VPC's subnets and a security group, in SSM."""
    session = assumed_session(account, ROLE)
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2)
    ]
    group = ec2.create_security_group(GroupName="models", Description="models", VpcId=vpc)["GroupId"]
    ssm = session.client("ssm")
    ssm.put_parameter(Name="/mlops-gen/network/subnet-ids", Type="StringList", Value=",".join(subnets))
    ssm.put_parameter(Name="/mlops-gen/network/security-group-ids", Type="StringList", Value=group)
    return subnets, [group]


def test_vpc_stage_deploys_into_each_account_s_own_subnets(
    seed: Seed, repo: Path, tmp_path: Path, aws: None
) -> None:
    org = make_org()
    out = tmp_path / "out"
    assert build_with(seed, repo, out, {**staging(repo), "network": "vpc"}) == 0
    # moto deploys to the OU's SUSPENDED account too (CloudFormation would skip it): it publishes as well.
    published = {a: publish_network(a) for a in (*org.staging_accounts, org.suspended)}
    cfn = boto3.client("cloudformation")
    name = Names().stack_set(Stage.STAGING).render(PROJECT, PROJECT_ID)
    cfn.create_stack_set(
        StackSetName=name,
        TemplateBody=(out / contract.EXPORT_TEMPLATE).read_text(),
        Parameters=json.loads((out / contract.EXPORT_PARAMETERS[Stage.STAGING]).read_text()),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    cfn.create_stack_instances(
        StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [org.staging_ou]}, Regions=[REGION]
    )
    for account in org.staging_accounts:
        target = assumed_session(account, ROLE).client("sagemaker")
        (model,) = target.list_models()["Models"]
        described = target.describe_model(ModelName=model["ModelName"])
        subnets, groups = published[account]
        assert described["VpcConfig"] == {"Subnets": subnets, "SecurityGroupIds": groups}
