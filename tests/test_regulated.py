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
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2)]
    group = ec2.create_security_group(GroupName="models", Description="models", VpcId=vpc)["GroupId"]
    ssm = session.client("ssm")
    ssm.put_parameter(Name="/mlops-gen/network/subnet-ids", Type="StringList", Value=",".join(subnets))
    ssm.put_parameter(Name="/mlops-gen/network/security-group-ids", Type="StringList", Value=group)
    return subnets, [group]


def test_vpc_stage_deploys_into_each_account_s_own_subnets(seed: Seed, repo: Path, tmp_path: Path, aws: None) -> None:
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


# The rehearsal (slow: it plays the whole pipeline on the embedded moto server).


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_rehearse import render_folder

    return render_folder(tmp_path_factory.mktemp("render") / "dist")


@pytest.mark.slow
def test_rehearsal_deploys_every_account_s_model_into_its_own_network(rendered: Path) -> None:
    from tests.test_rehearse import play, steps

    report = play(rendered, vpc=True)
    assert report.as_expected and report.reached_prod, (report.actual, report.stopped_at, report.cause)
    published = steps(report)[("Setup", "Publish account networks")]
    targets = {a for stage in ("staging", "prod") for a in report.organisation["targets"][stage]}
    assert targets <= set(published.accounts)
    # Each deployment checked that every account's model runs in the subnets that account published.
    for stage, action in (("DeployStaging", "DeployResourcesStaging"), ("DeployProd", "DeployResourcesProd")):
        log = steps(report)[(stage, action)].log
        accounts = report.organisation["targets"]["staging" if stage == "DeployStaging" else "prod"]
        for account in accounts:
            assert any(
                f"in account {account}, region eu-west-1 runs in" in line and line.endswith("publishes in SSM")
                for line in log
            ), (account, log)
    assert any("SSM parameter" in note for note in report.fidelity)


@pytest.mark.slow
def test_rehearsal_fails_the_instance_of_an_account_without_its_network(rendered: Path) -> None:
    from generator.live.rehearse.report import FAILED
    from tests.test_rehearse import assert_prod_untouched, play, steps

    report = play(rendered, break_network=True)
    assert_prod_untouched(report, "staging-deploy")
    staging_accounts = sorted(report.organisation["organizational_units"]["staging"]["accounts"])
    left_out = staging_accounts[-1]
    assert left_out not in steps(report)[("Setup", "Publish account networks")].accounts
    deploy = steps(report)[("DeployStaging", "DeployResourcesStaging")]
    assert deploy.result == FAILED
    assert (
        f"account {left_out}: CloudFormation: SSM parameter /mlops-gen/network/subnet-ids (an SSM parameter type "
        f"of the endpoint template) does not exist in account {left_out}, region eu-west-1" in deploy.detail
    )
    assert report.served["staging"][left_out] == {}  # its failed stack was rolled back


class _InProcess:
    """The rehearsal's LocalAws client interface over moto's in-process mock."""

    def client(self, service: str, session: Any = None, region: str | None = None) -> Any:
        del session
        return boto3.client(service, region_name=region or REGION)


def test_a_model_outside_the_published_network_fails_its_instance(aws: None) -> None:
    from generator.live.rehearse import network

    local = _InProcess()
    published = network.publish(local, None, "123456789012", REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    other = ec2.create_subnet(VpcId=published.vpc, CidrBlock="10.20.9.0/24")["Subnet"]["SubnetId"]
    sm = boto3.client("sagemaker", region_name=REGION)
    role = "arn:aws:iam::123456789012:role/r"
    image = {"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/x:1"}
    groups = list(published.security_groups)
    sm.create_model(ModelName="inside", ExecutionRoleArn=role, PrimaryContainer=image,
                    VpcConfig={"Subnets": list(published.subnets), "SecurityGroupIds": groups})  # fmt: skip
    assert network.instance_problems(local, None, "123456789012", REGION) == []
    assert [
        line.split(" runs in")[0] for line in network.models_in_their_network(local, None, "123456789012", REGION)
    ] == [f"model inside in account 123456789012, region {REGION}"]
    sm.create_model(ModelName="outside", ExecutionRoleArn=role, PrimaryContainer=image,
                    VpcConfig={"Subnets": [other], "SecurityGroupIds": groups})  # fmt: skip
    (problem,) = network.instance_problems(local, None, "123456789012", REGION)
    assert problem.startswith(f"model outside in account 123456789012, region {REGION} runs in")
    assert "not in the network the account publishes in SSM" in problem


def test_a_missing_ssm_parameter_fails_only_its_own_instance(seed: Seed, repo: Path, tmp_path: Path, aws: None) -> None:
    """moto raises inside CreateStackInstances; the rehearsal's patch records the instance instead."""
    from generator.live.rehearse import network

    org = make_org()
    out = tmp_path / "out"
    assert build_with(seed, repo, out, {**staging(repo), "network": "vpc"}) == 0
    with_network, without = org.staging_accounts
    publish_network(with_network)
    name = Names().stack_set(Stage.STAGING).render(PROJECT, PROJECT_ID)
    cfn = boto3.client("cloudformation")
    cfn.create_stack_set(
        StackSetName=name,
        TemplateBody=(out / contract.EXPORT_TEMPLATE).read_text(),
        Parameters=json.loads((out / contract.EXPORT_PARAMETERS[Stage.STAGING]).read_text()),
        PermissionModel="SELF_MANAGED",  # two named accounts of the OU: one with its network, one without
    )
    local = _InProcess()
    with network.resolving_per_instance():
        cfn.create_stack_instances(StackSetName=name, Accounts=[with_network, without], Regions=[REGION])
        assert network.instance_problems(local, None, without, REGION) == [
            f"CloudFormation: SSM parameter /mlops-gen/network/subnet-ids (an SSM parameter type of the endpoint "
            f"template) does not exist in account {without}, region {REGION}: publish the account's subnets and "
            "security groups (README, Regulated environments)",
            f"CloudFormation: SSM parameter /mlops-gen/network/security-group-ids (an SSM parameter type of the "
            f"endpoint template) does not exist in account {without}, region {REGION}: publish the account's "
            "subnets and security groups (README, Regulated environments)",
        ]
        session = assumed_session(with_network, ROLE)
        assert network.instance_problems(_Session(session), None, with_network, REGION) == []
        assert len(network.models_in_their_network(_Session(session), None, with_network, REGION)) == 1


class _Session:
    """The LocalAws client interface as one account's assumed session."""

    def __init__(self, session: boto3.Session) -> None:
        self.session = session

    def client(self, service: str, session: Any = None, region: str | None = None) -> Any:
        del session
        return self.session.client(service, region_name=region or REGION)


def test_serverless_stage_deploys_a_serverless_endpoint(seed: Seed, repo: Path, tmp_path: Path, aws: None) -> None:
    org = make_org()
    out = tmp_path / "out"
    assert build_with(seed, repo, out, serverless_config(repo)) == 0
    cfn = boto3.client("cloudformation")
    name = Names().stack_set(Stage.STAGING).render(PROJECT, PROJECT_ID)
    cfn.create_stack_set(
        StackSetName=name,
        TemplateBody=(out / contract.EXPORT_TEMPLATE).read_text(),
        Parameters=json.loads((out / contract.EXPORT_PARAMETERS[Stage.STAGING]).read_text()),
        PermissionModel="SERVICE_MANAGED",
    )
    cfn.create_stack_instances(
        StackSetName=name, DeploymentTargets={"OrganizationalUnitIds": [org.staging_ou]}, Regions=[REGION]
    )
    for account in org.staging_accounts:
        target = assumed_session(account, ROLE).client("sagemaker")
        (config,) = target.list_endpoint_configs()["EndpointConfigs"]
        (variant,) = target.describe_endpoint_config(EndpointConfigName=config["EndpointConfigName"])[
            "ProductionVariants"
        ]
        assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
        assert "InstanceType" not in variant
        model = target.describe_model(ModelName=variant["ModelName"])
        assert not model.get("VpcConfig")  # no VPC (nor network isolation) for serverless endpoints
