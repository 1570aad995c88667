"""`mlops-gen doctor --check-network` (generator/live/doctor/network.py) against moto's organisation, SSM and EC2.

A sample account per stage (the lowest id the stage's stack set reaches) is read through the account-access
role: its SSM parameters must name its own subnets and security groups, and its VPC must reach AWS through a
NAT/internet gateway or the VPC endpoints models need.
"""

from __future__ import annotations

from typing import Any

import boto3
from typer.testing import CliRunner

from generator.cli import app
from generator.live.doctor.network import NEEDED_ENDPOINTS, sample_accounts
from generator.network import SECURITY_GROUPS_PARAMETER, SUBNETS_PARAMETER
from tests.test_doctor import REGION, Org, aws, credentials_kwargs, failed, member_credentials, org, run

__all__ = ["aws", "org"]  # fixtures, imported for pytest


def member(org: Org, account: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, **credentials_kwargs(member_credentials(account)))


def samples(org: Org) -> dict[str, str]:
    staging = sorted([org.accounts["staging-1"], org.accounts["staging-eu-1"]])[0]
    return {"staging": staging, "prod": org.accounts["prod-1"]}


def publish(org: Org, account: str, *, endpoints: bool = True, nat: bool = False, foreign: bool = False) -> str:
    """The platform team's setup in one account: a private VPC, its SSM parameters, endpoints or a NAT."""
    ec2, ssm = member(org, account, "ec2"), member(org, account, "ssm")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2)]
    group = ec2.create_security_group(GroupName="models", Description="models", VpcId=vpc)["GroupId"]
    if foreign:
        subnets.append("subnet-0123456789abcdef0")  # not this account's
    ssm.put_parameter(Name=SUBNETS_PARAMETER, Type="StringList", Value=",".join(subnets))
    ssm.put_parameter(Name=SECURITY_GROUPS_PARAMETER, Type="StringList", Value=group)
    if endpoints:
        for _, suffix in NEEDED_ENDPOINTS:
            kind = "Gateway" if suffix == "s3" else "Interface"
            ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.{suffix}", VpcEndpointType=kind)
    if nat:
        gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
        main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]
        ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    return vpc


def test_sample_accounts_are_the_lowest_active_id_per_stage(org: Org) -> None:
    from generator.live.doctor.organization import read_ou_tree

    orgs = boto3.client("organizations", region_name=REGION)
    trees = {"staging": read_ou_tree(orgs, org.staging_ou), "prod": read_ou_tree(orgs, org.prod_ou)}
    assert sample_accounts(trees, "123456789012") == samples(org)


def test_network_is_not_checked_without_the_flag(org: Org) -> None:
    assert not any(name.startswith(("network-parameters:", "vpc-endpoints:")) for name in run(org))


def test_published_networks_with_endpoints_pass(org: Org) -> None:
    for account in samples(org).values():
        publish(org, account)
    results = run(org, check_network=True)
    for stage, account in samples(org).items():
        assert results[f"network-parameters:{account}"].ok, results[f"network-parameters:{account}"]
        assert f"{stage} account {account}" in results[f"network-parameters:{account}"].detail
        endpoints = results[f"vpc-endpoints:{account}"]
        assert endpoints.ok and "every needed VPC endpoint is there" in endpoints.detail
    assert failed(results) == set()


def test_missing_parameters_fail_with_the_commands_to_publish_them(org: Org) -> None:
    publish(org, samples(org)["prod"])
    results = run(org, check_network=True)
    staging = samples(org)["staging"]
    result = results[f"network-parameters:{staging}"]
    assert (
        not result.ok and f"SSM parameter(s) {SUBNETS_PARAMETER}, {SECURITY_GROUPS_PARAMETER} missing" in result.detail
    )
    assert "aws ssm put-parameter --name /mlops-gen/network/subnet-ids --type StringList" in result.fix
    assert f"vpc-endpoints:{staging}" not in results  # nothing to look at without a VPC
    assert failed(results) == {f"network-parameters:{staging}"}


def test_a_subnet_of_another_account_fails(org: Org) -> None:
    for account in samples(org).values():
        publish(org, account, foreign=True)
    results = run(org, check_network=True)
    result = results[f"network-parameters:{samples(org)['prod']}"]
    assert not result.ok and "subnet-0123456789abcdef0 named in SSM are not subnets or security groups" in result.detail


def test_no_internet_route_lists_the_missing_endpoints(org: Org) -> None:
    for account in samples(org).values():
        publish(org, account, endpoints=False)
    result = run(org, check_network=True)[f"vpc-endpoints:{samples(org)['prod']}"]
    assert not result.ok
    assert result.detail.endswith(
        "no internet route, and no VPC endpoint for S3 (model artifacts), SageMaker API, SageMaker runtime, STS, "
        "CloudWatch Logs"
    )
    assert f"com.amazonaws.{REGION}.sagemaker.runtime" in result.fix


def test_an_internet_route_reaches_aws_without_endpoints(org: Org) -> None:
    for account in samples(org).values():
        publish(org, account, endpoints=False, nat=True)
    result = run(org, check_network=True)[f"vpc-endpoints:{samples(org)['prod']}"]
    assert result.ok and "reaches AWS through igw-" in result.detail and "VPC endpoints missing" in result.detail


def test_cli_check_network_exits_1_on_a_failure(org: Org) -> None:
    result = CliRunner().invoke(
        app,
        ["doctor", "--staging-ou", org.staging_ou, "--prod-ou", org.prod_ou, "--region", REGION, "--check-network",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"network-parameters:{samples(org)['staging']}" in result.output


def test_an_account_doctor_cannot_enter_fails_with_the_role_to_use() -> None:
    """moto grants AssumeRole of any role; AWS refuses one the caller may not assume."""
    from botocore.exceptions import ClientError

    from generator.live.doctor.network import check_networks

    class Sts:
        def assume_role(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")

    (result,) = check_networks(Sts(), None, "aws", REGION, "PlatformAdmin", {"prod": "222222222222"})
    assert result.name == "network-parameters:222222222222" and not result.ok
    assert "cannot assume arn:aws:iam::222222222222:role/PlatformAdmin (AccessDenied)" in result.detail
    assert "--account-access-role" in result.fix
