"""`mlops-gen doctor --check-network` (generator/live/doctor/network.py, build_vpc.py) against moto's EC2 and SSM.

Each VPC is checked for what its role needs, as AWS documents it:
- the models' VPC of a sample account per stage (read through the account-access role): the SSM parameters name
  subnets and security groups of that account, in one VPC, within CreateModel's VpcConfig limits; the subnets span
  two Availability Zones (SageMaker requires it); each subnet reaches S3 for the model artifacts through an S3
  gateway endpoint on its route table or a public, available NAT gateway; the security groups let TCP 443 out to
  S3; DNS is on where an endpoint carries S3; in every deploy region. A network-isolated model needs no interface
  endpoint.
- the build VPC of the pipeline's account (`--build-vpc-id`, ...): private subnets with a NAT route (CodeBuild
  cannot use an internet gateway; PyPI and Organizations are out of reach of the region's VPC endpoints), in
  that VPC, over two Availability Zones (recommended: a warning).
moto 5.2.5 models VPCs, subnets with zones, route tables with explicit and main associations, NAT and internet
gateways, transit gateways and gateway/interface VPC endpoints with their route tables, so no answer is stubbed
here except AssumeRole's refusal (moto lets anyone assume any role).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.errors import InputError
from generator.live.doctor import doctor_options
from generator.live.doctor.build_vpc import BUILD_ENDPOINTS
from generator.live.doctor.common import DoctorOptions
from generator.live.doctor.network import sample_accounts
from generator.live.doctor.vpc import Egress, default_target, subnet_routes, vpc_config_limits
from generator.network import SECURITY_GROUPS_PARAMETER, SUBNETS_PARAMETER
from tests.test_doctor import (
    MANAGEMENT,
    REGION,
    Org,
    aws,
    client_factory,
    failed,
    member_credentials,
    org,
    run,
)

__all__ = ["aws", "org"]  # fixtures, imported for pytest

INTERFACES = ("sagemaker.api", "sagemaker.runtime", "sts", "logs")


OTHER_REGION = "eu-central-1"


def member(account: str, service: str, region: str = REGION) -> Any:
    return client_factory(service, member_credentials(account), region=region)


def samples(org: Org) -> dict[str, str]:
    staging = sorted([org.accounts["staging-1"], org.accounts["staging-eu-1"]])[0]
    return {"staging": staging, "prod": org.accounts["prod-1"]}


@dataclass
class Vpc:
    """A VPC built in one account: its ids, for the assertions."""

    ec2: Any
    id: str
    subnets: list[str]
    groups: list[str]
    table: str  # the subnets' own route table (explicitly associated)
    endpoints: dict[str, str] = field(default_factory=dict)  # service suffix -> endpoint id
    nat: str = ""
    igw: str = ""


def build_vpc(
    ec2: Any,
    *,
    zones: int = 2,
    groups: int = 1,
    s3: str = "associated",  # "associated", "unassociated" or ""
    interfaces: tuple[str, ...] = (),
    default_route: str = "",  # "", "nat", "igw", "tgw", "core", "private-nat" or "deleted-nat"
    dns: bool = True,
) -> Vpc:
    """A VPC whose private subnets share one route table; S3 gateway endpoint, interface endpoints and a default
    route as asked; DNS resolution and hostnames on (what endpoints need), unless `dns` is False (EC2's default for
    a new VPC: hostnames off)."""
    region = ec2.meta.region_name
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    if dns:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    azs = [f"{region}{letter}" for letter in "abc"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=azs[i % zones])["Subnet"]["SubnetId"]
        for i in range(2)
    ]
    made = [
        ec2.create_security_group(GroupName=f"models-{i}", Description="models", VpcId=vpc)["GroupId"]
        for i in range(groups)
    ]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    for subnet in subnets:
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    built = Vpc(ec2, vpc, subnets, made, table)
    if s3:
        tables = [table] if s3 == "associated" else []
        built.endpoints["s3"] = ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=f"com.amazonaws.{region}.s3", VpcEndpointType="Gateway", RouteTableIds=tables
        )["VpcEndpoint"]["VpcEndpointId"]
    for suffix in interfaces:
        built.endpoints[suffix] = ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=f"com.amazonaws.{region}.{suffix}", VpcEndpointType="Interface",
            SubnetIds=subnets, SecurityGroupIds=made[:1], PrivateDnsEnabled=True,
        )["VpcEndpoint"]["VpcEndpointId"]  # fmt: skip
    if default_route:
        built.igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=built.igw, VpcId=vpc)
        target: dict[str, str] = {"GatewayId": built.igw}
        if default_route == "nat":  # the NAT gateway sits in a public subnet, whose route table goes to the IGW
            public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.100.0/24", AvailabilityZone=azs[0])["Subnet"]
            public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=public_table, SubnetId=public["SubnetId"])
            ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=built.igw)
            address = ec2.allocate_address(Domain="vpc")["AllocationId"]
            built.nat = ec2.create_nat_gateway(SubnetId=public["SubnetId"], AllocationId=address)["NatGateway"][
                "NatGatewayId"
            ]
            target = {"NatGatewayId": built.nat}
        elif default_route == "tgw":
            target = {"TransitGatewayId": ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]}
        elif default_route == "core":  # Cloud WAN centralised egress (moto keeps the route, drops the ARN)
            target = {"CoreNetworkArn": f"arn:aws:networkmanager::{MANAGEMENT}:core-network/core-network-0a1b2c3d"}
        elif default_route in ("private-nat", "deleted-nat"):
            private = default_route == "private-nat"
            built.nat = ec2.create_nat_gateway(
                SubnetId=subnets[0], **({"ConnectivityType": "private"} if private else {
                    "AllocationId": ec2.allocate_address(Domain="vpc")["AllocationId"]})
            )["NatGateway"]["NatGatewayId"]  # fmt: skip
            if not private:
                ec2.delete_nat_gateway(NatGatewayId=built.nat)
            target = {"NatGatewayId": built.nat}
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", **target)
    return built


def publish(account: str, *, subnets: list[str] | None = None, region: str = REGION, **vpc: Any) -> Vpc:
    """The platform team's setup in one account and region: a private VPC and its two SSM parameters."""
    built = build_vpc(member(account, "ec2", region), **vpc)
    ssm = member(account, "ssm", region)
    ssm.put_parameter(Name=SUBNETS_PARAMETER, Type="StringList", Value=",".join(subnets or built.subnets))
    ssm.put_parameter(Name=SECURITY_GROUPS_PARAMETER, Type="StringList", Value=",".join(built.groups))
    return built


def publish_all(org: Org, **vpc: Any) -> dict[str, Vpc]:
    return {account: publish(account, **vpc) for account in samples(org).values()}


# --- which accounts, and when ------------------------------------------------------------------------------------


def test_sample_accounts_are_the_lowest_active_id_per_stage(org: Org) -> None:
    from generator.live.doctor.organization import read_ou_tree

    orgs = boto3.client("organizations", region_name=REGION)
    trees = {"staging": read_ou_tree(orgs, org.staging_ou), "prod": read_ou_tree(orgs, org.prod_ou)}
    assert sample_accounts(trees, "123456789012") == samples(org)


def test_network_is_not_checked_without_the_flag(org: Org) -> None:
    prefixes = ("network-", "vpc-endpoints:", "build-")
    assert not any(name.startswith(prefixes) for name in run(org))
    # the build VPC's options alone do not check it either (they are render options doctor reads as rendered)
    assert not any(name.startswith(prefixes) for name in run(org, build_vpc_id="vpc-0a1b2c3d4e5f67890"))


# --- the models' VPC ---------------------------------------------------------------------------------------------


def test_isolated_model_vpc_without_interface_endpoints_passes(org: Org) -> None:
    """No false failure: an isolated model needs S3 (gateway, on its route table) and two zones, nothing else."""
    vpcs = publish_all(org)
    results = run(org, check_network=True)
    assert failed(results) == set()
    for stage, account in samples(org).items():
        assert f"{stage} account {account}" in results[f"network-parameters:{account}"].detail
        assert f"span 2 Availability Zones ({REGION}a, {REGION}b)" in results[f"network-zones:{account}"].detail
        s3 = results[f"vpc-endpoints:{account}"]
        assert s3.ok and not s3.warning
        endpoint, vpc = vpcs[account].endpoints["s3"], vpcs[account]
        assert f"{vpc.id}: model artifacts from S3: VPC endpoints: S3 gateway {endpoint} on {vpc.table} " in s3.detail
        assert f"({vpc.subnets[0]}, {vpc.subnets[1]})" in s3.detail
        assert "interface endpoints (SageMaker API/runtime, STS, CloudWatch Logs) not needed" in s3.detail
        assert results[f"vpc-dns:{account}"].ok and not results[f"vpc-dns:{account}"].warning


def test_missing_parameters_fail_with_the_commands_to_publish_them(org: Org) -> None:
    publish(samples(org)["prod"])
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
        built = build_vpc(member(account, "ec2"))
        publish(account, subnets=[*built.subnets, "subnet-0123456789abcdef0"])
    result = run(org, check_network=True)[f"network-parameters:{samples(org)['prod']}"]
    assert not result.ok and "subnet-0123456789abcdef0 named in SSM are not subnets or security groups" in result.detail


def test_subnets_and_groups_of_two_vpcs_fail(org: Org) -> None:
    prod = samples(org)["prod"]
    other = build_vpc(member(prod, "ec2"))
    publish_all(org)
    ssm = member(prod, "ssm")
    ssm.put_parameter(Name=SECURITY_GROUPS_PARAMETER, Type="StringList", Value=other.groups[0], Overwrite=True)
    result = run(org, check_network=True)[f"network-parameters:{prod}"]
    assert not result.ok and "span VPCs" in result.detail and other.id in result.detail


def test_vpc_config_limits_are_botocores_sagemaker_model() -> None:
    """The limit is botocore's SageMaker model (VpcConfig: Subnets max 16, VpcSecurityGroupIds max 5)."""
    assert vpc_config_limits() == (16, 5)


def test_six_security_groups_fail(org: Org) -> None:
    publish_all(org, groups=6)
    result = run(org, check_network=True)[f"network-parameters:{samples(org)['prod']}"]
    assert not result.ok
    assert "6 security groups (VpcConfig allows at most 5): CreateModel refuses the VpcConfig" in result.detail


def test_subnets_in_one_zone_fail_as_sagemaker_requires_two(org: Org) -> None:
    vpcs = publish_all(org, zones=1)
    prod = samples(org)["prod"]
    results = run(org, check_network=True)
    result = results[f"network-zones:{prod}"]
    assert not result.ok and not result.warning
    assert f"{vpcs[prod].id}: the subnets are all in {REGION}a" in result.detail
    assert "at least two Availability Zones" in result.detail
    assert "https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html" in result.fix
    assert failed(results) == {f"network-zones:{a}" for a in samples(org).values()}


def test_no_s3_endpoint_and_no_nat_fails_naming_what_to_create(org: Org) -> None:
    vpcs = publish_all(org, s3="", interfaces=INTERFACES)  # interface endpoints do not carry the artifacts
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    vpc = vpcs[prod]
    assert not result.ok
    assert f"prod account {prod}, {vpc.id}: {vpc.subnets[0]} (route table {vpc.table})" in result.detail
    assert "no S3 gateway endpoint" in result.detail
    assert result.fix.startswith(
        f"In account {prod}, region {REGION}: aws ec2 create-vpc-endpoint --vpc-id {vpc.id} --vpc-endpoint-type "
        f"Gateway --service-name com.amazonaws.{REGION}.s3 --route-table-ids {vpc.table}."
    )


def test_s3_gateway_not_on_the_subnets_route_table_fails(org: Org) -> None:
    """An S3 gateway endpoint serves only its route tables: existing in the VPC is not enough."""
    vpcs = publish_all(org, s3="unassociated")
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    vpc = vpcs[prod]
    assert not result.ok
    assert f"S3 gateway endpoint(s) {vpc.endpoints['s3']} not associated with their route table(s)" in result.detail
    assert f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {vpc.endpoints['s3']} --add-route-table-ids {vpc.table}" in (
        result.fix
    )


def test_s3_gateway_on_the_main_table_serves_subnets_without_their_own(org: Org) -> None:
    """A subnet without an explicit association uses the VPC's main route table."""
    prod = samples(org)["prod"]
    ec2 = member(prod, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    group = ec2.create_security_group(GroupName="models", Description="models", VpcId=vpc)["GroupId"]
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]["RouteTableId"]
    ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway", RouteTableIds=[main]
    )
    ssm = member(prod, "ssm")
    ssm.put_parameter(Name=SUBNETS_PARAMETER, Type="StringList", Value=",".join(subnets))
    ssm.put_parameter(Name=SECURITY_GROUPS_PARAMETER, Type="StringList", Value=group)
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    assert result.ok and f"on {main}" in result.detail


def test_a_nat_gateway_carries_the_artifacts(org: Org) -> None:
    vpcs = publish_all(org, s3="", default_route="nat")
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    assert result.ok and not result.warning
    assert f"model artifacts from S3: egress via NAT gateway {vpcs[prod].nat}" in result.detail


def test_an_internet_gateway_is_no_way_out_for_a_model(org: Org) -> None:
    """Was a false pass: a 0.0.0.0/0 route to an internet gateway, without an S3 endpoint."""
    vpcs = publish_all(org, s3="", default_route="igw")
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    assert not result.ok
    assert f"public subnet(s) {vpcs[prod].subnets[0]} (0.0.0.0/0 to {vpcs[prod].igw})" in result.detail
    assert "create-vpc-endpoint" in result.fix


def test_an_s3_interface_endpoint_with_private_dns_passes_with_a_warning(org: Org) -> None:
    """S3 documents it; SageMaker's page documents the gateway endpoint: a pass that says so."""
    vpcs = publish_all(org, s3="", interfaces=("s3",))
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    assert result.ok and result.warning
    assert f"VPC endpoints: S3 interface {vpcs[prod].endpoints['s3']} with private DNS" in result.detail


def test_a_transit_gateway_route_passes_with_a_warning(org: Org) -> None:
    """Centralised egress through a transit gateway: doctor cannot see beyond it, so it warns, not fails."""
    publish_all(org, s3="", default_route="tgw")
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    assert result.ok and result.warning
    assert "egress via tgw-" in result.detail and "(doctor cannot see beyond it)" in result.detail


def test_cloud_wan_egress_passes_with_a_warning_not_a_false_failure(org: Org) -> None:
    """Was a false FAIL: a 0.0.0.0/0 route to a Cloud WAN core network read as no route at all."""
    publish_all(org, s3="", default_route="core")
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    assert result.ok and result.warning and "(doctor cannot see beyond it)" in result.detail


@pytest.mark.parametrize(
    ("route", "target"),
    [
        ({"CoreNetworkArn": "arn:aws:networkmanager::1:core-network/c-1"}, "CoreNetworkArn arn:aws:networkmanager"),
        ({"LocalGatewayId": "lgw-1"}, "LocalGatewayId lgw-1"),
        ({"CarrierGatewayId": "cagw-1"}, "CarrierGatewayId cagw-1"),
        ({}, "an unrecognised target"),  # a member this botocore does not know is not parsed at all
    ],
)
def test_any_active_default_route_with_an_unrecognised_target_is_other(route: dict[str, str], target: str) -> None:
    table = {"Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "Origin": "CreateRoute", "State": "active", **route}]}
    assert default_target(table).startswith(target)
    (only,) = subnet_routes([{**table, "RouteTableId": "rtb-1", "Associations": [{"Main": True}]}],
                            [{"SubnetId": "subnet-1"}])  # fmt: skip
    assert only.egress is Egress.OTHER


def test_a_private_nat_gateway_is_no_internet_egress_a_warning(org: Org) -> None:
    vpcs = publish_all(org, s3="", default_route="private-nat")
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    assert result.ok and result.warning
    assert f"egress via private NAT gateway {vpcs[prod].nat} (no internet access;" in result.detail
    build = build_vpc(pipeline_ec2(), default_route="private-nat")
    egress = run(org, **build_options(build))[f"build-egress:{MANAGEMENT}"]
    assert egress.ok and egress.warning and f"private NAT gateway {build.nat}" in egress.detail


def test_a_nat_gateway_that_is_not_available_fails(org: Org) -> None:
    vpcs = publish_all(org, s3="", default_route="deleted-nat")
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"vpc-endpoints:{prod}"]
    assert not result.ok
    assert f"routes 0.0.0.0/0 to NAT gateway {vpcs[prod].nat} in state deleted" in result.detail
    build = build_vpc(pipeline_ec2(), default_route="deleted-nat")
    egress = run(org, **build_options(build))[f"build-egress:{MANAGEMENT}"]
    assert not egress.ok and f"NAT gateway {build.nat} in state deleted" in egress.detail


def test_route_tables_explicit_association_else_main_and_blackholes() -> None:
    """The route-table rules on EC2's documented answer shapes (RouteTable.Associations, Route.State)."""
    tables = [
        {"RouteTableId": "rtb-main", "Associations": [{"Main": True}],
         "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"}]},
        {"RouteTableId": "rtb-own", "Associations": [{"Main": False, "SubnetId": "subnet-own"}],
         "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-gone", "State": "blackhole"}]},
    ]  # fmt: skip
    subnets = [
        {"SubnetId": "subnet-own", "AvailabilityZone": "a"},
        {"SubnetId": "subnet-main", "AvailabilityZone": "b"},
    ]
    own, main = subnet_routes(tables, subnets)
    assert (own.table, own.target, own.egress) == ("rtb-own", "", Egress.NONE)
    assert (main.table, main.target, main.egress) == ("rtb-main", "nat-1", Egress.NAT)
    assert default_target({"Routes": [{"DestinationCidrBlock": "10.0.0.0/8", "GatewayId": "igw-1"}]}) == ""
    # botocore's RouteState: active | blackhole | filtered; only an active route carries traffic.
    filtered = {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "filtered"}
    assert default_target({"Routes": [filtered]}) == ""


def test_an_account_doctor_cannot_enter_fails_with_the_role_to_use() -> None:
    """moto grants AssumeRole of any role; AWS refuses one the caller may not assume."""
    from botocore.exceptions import ClientError

    from generator.live.doctor.network import check_networks

    class Sts:
        def assume_role(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")

    options = DoctorOptions(
        "ou-ab12-11111111", "ou-ab12-22222222", REGION, "target", account_access_role="PlatformAdmin"
    )
    (result,) = check_networks(Sts(), client_factory, "aws", options, {"prod": "222222222222"})
    assert result.name == "network-parameters:222222222222" and not result.ok
    assert "cannot assume arn:aws:iam::222222222222:role/PlatformAdmin (AccessDenied)" in result.detail
    assert "--account-access-role" in result.fix


# --- the VPC's DNS attributes, where S3 is reached through an endpoint --------------------------------------------


def test_an_endpoint_in_a_vpc_without_dns_hostnames_fails_with_the_command(org: Org) -> None:
    vpcs = publish_all(org, dns=False)  # a new VPC's defaults: DNS resolution on, DNS hostnames off
    prod = samples(org)["prod"]
    results = run(org, check_network=True)
    result = results[f"vpc-dns:{prod}"]
    vpc = vpcs[prod]
    assert not result.ok
    assert f"enableDnsHostnames off in a VPC using the Amazon DNS server; S3 gateway {vpc.endpoints['s3']}" in (
        result.detail
    )
    assert f"aws ec2 modify-vpc-attribute --vpc-id {vpc.id} --enable-dns-hostnames" in result.fix
    assert "enable-dns-support" not in result.fix
    assert failed(results) == {f"vpc-dns:{a}" for a in samples(org).values()}


def test_dns_resolution_off_fails_too(org: Org) -> None:
    vpcs = publish_all(org)
    prod = samples(org)["prod"]
    member(prod, "ec2").modify_vpc_attribute(VpcId=vpcs[prod].id, EnableDnsSupport={"Value": False})
    result = run(org, check_network=True)[f"vpc-dns:{prod}"]
    assert not result.ok and f"--vpc-id {vpcs[prod].id} --enable-dns-support" in result.fix


def test_own_dns_servers_are_a_warning(org: Org) -> None:
    vpcs = publish_all(org, dns=False)
    prod = samples(org)["prod"]
    ec2 = member(prod, "ec2")
    options = ec2.create_dhcp_options(DhcpConfigurations=[{"Key": "domain-name-servers", "Values": ["10.30.0.53"]}])
    ec2.associate_dhcp_options(DhcpOptionsId=options["DhcpOptions"]["DhcpOptionsId"], VpcId=vpcs[prod].id)
    result = run(org, check_network=True)[f"vpc-dns:{prod}"]
    assert result.ok and result.warning and "DNS servers 10.30.0.53: doctor cannot tell" in result.detail


def test_dns_is_not_checked_where_a_nat_carries_s3(org: Org) -> None:
    publish_all(org, s3="", default_route="nat", dns=False)
    results = run(org, check_network=True)
    assert not any(name.startswith("vpc-dns:") for name in results) and failed(results) == set()


# --- security groups: the outbound rules ---------------------------------------------------------------------------


def egress_only(ec2: Any, group: str, **rule: Any) -> None:
    """Replace the group's default "all traffic to 0.0.0.0/0" outbound rule by `rule` (none when empty)."""
    everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.revoke_security_group_egress(GroupId=group, IpPermissions=everything)
    if rule:
        ec2.authorize_security_group_egress(
            GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, **rule}]
        )


def s3_list(ec2: Any) -> str:
    name = f"com.amazonaws.{REGION}.s3"
    lists = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [name]}])["PrefixLists"]
    return str(lists[0]["PrefixListId"])


def test_model_groups_allowing_all_traffic_out_pass(org: Org) -> None:
    vpcs = publish_all(org)
    prod = samples(org)["prod"]
    result = run(org, check_network=True)[f"network-security-groups:{prod}"]
    assert result.ok and not result.warning
    assert f"TCP 443 out: {vpcs[prod].groups[0]} to 0.0.0.0/0" in result.detail


def test_model_groups_443_to_the_s3_prefix_list_pass(org: Org) -> None:
    vpcs = publish_all(org)
    prod = samples(org)["prod"]
    ec2 = member(prod, "ec2")
    egress_only(ec2, vpcs[prod].groups[0], PrefixListIds=[{"PrefixListId": s3_list(ec2)}])
    result = run(org, check_network=True)[f"network-security-groups:{prod}"]
    assert result.ok and not result.warning and f"to {s3_list(ec2)}" in result.detail


def test_model_groups_without_https_out_fail_naming_the_group_and_the_rule(org: Org) -> None:
    """Was a false pass: a route to S3, but no outbound rule letting the artifacts' download out."""
    vpcs = publish_all(org)
    prod = samples(org)["prod"]
    ec2 = member(prod, "ec2")
    group = vpcs[prod].groups[0]
    egress_only(ec2, group, FromPort=22, ToPort=22, IpRanges=[{"CidrIp": "0.0.0.0/0"}])  # not 443
    results = run(org, check_network=True)
    result = results[f"network-security-groups:{prod}"]
    assert not result.ok
    assert f"no outbound rule allows TCP 443 to 0.0.0.0/0 or the S3 prefix list {s3_list(ec2)}" in result.detail
    assert f"(security groups {group})" in result.detail
    assert f"authorize-security-group-egress --group-id {group}" in result.fix
    assert f"PrefixListIds=[{{PrefixListId={s3_list(ec2)}}}]" in result.fix
    assert failed(results) == {f"network-security-groups:{prod}"}


def test_model_groups_443_only_to_another_group_or_cidr_warn(org: Org) -> None:
    vpcs = publish_all(org, groups=2)
    prod = samples(org)["prod"]
    ec2 = member(prod, "ec2")
    first, second = vpcs[prod].groups
    egress_only(ec2, first, UserIdGroupPairs=[{"GroupId": second}])
    egress_only(ec2, second, IpRanges=[{"CidrIp": "10.30.0.0/16"}])
    result = run(org, check_network=True)[f"network-security-groups:{prod}"]
    assert result.ok and result.warning
    assert f"{first} to {second}" in result.detail and f"{second} to 10.30.0.0/16" in result.detail
    assert "doctor cannot tell" in result.detail


def test_build_groups_need_https_out_to_anywhere(org: Org) -> None:
    publish_all(org)
    ec2 = pipeline_ec2()
    vpc = build_vpc(ec2, default_route="nat")
    egress_only(ec2, vpc.groups[0])
    result = run(org, **build_options(vpc))[f"build-security-groups:{MANAGEMENT}"]
    assert not result.ok and f"no outbound rule allows TCP 443 to 0.0.0.0/0 (security groups {vpc.groups[0]})" in (
        result.detail
    )
    assert f"--group-id {vpc.groups[0]} --protocol tcp --port 443 --cidr 0.0.0.0/0" in result.fix
    ec2.authorize_security_group_egress(
        GroupId=vpc.groups[0],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                        "PrefixListIds": [{"PrefixListId": s3_list(ec2)}]}],
    )  # fmt: skip
    warned = run(org, **build_options(vpc))[f"build-security-groups:{MANAGEMENT}"]
    assert warned.ok and warned.warning  # S3 only: PyPI is not in it, and doctor cannot tell what else is


# --- every deploy region, and errors other than "not found" --------------------------------------------------------


def test_home_region_only_by_default_and_the_report_says_so(org: Org) -> None:
    publish_all(org)
    results = run(org, check_network=True)
    prod = samples(org)["prod"]
    assert f"deploy regions checked: home region {REGION} only (no --deploy-regions" in (
        results[f"network-parameters:{prod}"].detail
    )
    assert not any(name.endswith(f":{OTHER_REGION}") for name in results)


def test_each_deploy_region_is_checked_in_its_own_region(org: Org) -> None:
    """Was a false pass: a stack instance in another region resolves the SSM parameters there, where none exist."""
    publish_all(org)
    staging, prod = samples(org)["staging"], samples(org)["prod"]
    publish(staging, region=OTHER_REGION)
    results = run(org, check_network=True, deploy_regions=(REGION, OTHER_REGION))
    assert failed(results) == {f"network-parameters:{prod}:{OTHER_REGION}"}
    missing = results[f"network-parameters:{prod}:{OTHER_REGION}"]
    assert f"prod account {prod}, {OTHER_REGION}: SSM parameter(s)" in missing.detail
    assert f"region {OTHER_REGION}: aws ssm put-parameter" in missing.fix
    assert f"deploy regions checked: {REGION}, {OTHER_REGION}" in missing.detail
    there = results[f"vpc-endpoints:{staging}:{OTHER_REGION}"]
    assert there.ok and "model artifacts from S3: VPC endpoints: S3 gateway" in there.detail  # the region's own
    assert f"({OTHER_REGION}a, {OTHER_REGION}b)" in results[f"network-zones:{staging}:{OTHER_REGION}"].detail
    assert results[f"network-security-groups:{staging}:{OTHER_REGION}"].ok
    assert results[f"vpc-dns:{staging}:{OTHER_REGION}"].ok


def test_deploy_regions_come_from_the_flag_or_the_rendered_manifest() -> None:
    base = {"staging-ou": "ou-ab12-11111111", "prod-ou": "ou-ab12-22222222", "region": REGION}
    assert doctor_options(base, {}).deploy_regions == ()
    assert doctor_options({**base, "deploy-regions": f"{REGION},{OTHER_REGION}"}, {}).deploy_regions == (
        REGION,
        OTHER_REGION,
    )
    assert doctor_options(base, {"deploy-regions": [OTHER_REGION]}).deploy_regions == (OTHER_REGION,)
    with pytest.raises(InputError) as caught:
        doctor_options({**base, "deploy-regions": "mars-1"}, {})
    assert caught.value.flag == "--deploy-regions"


def test_access_denied_in_one_account_is_a_failed_line_not_an_abort(org: Org, monkeypatch: Any) -> None:
    """moto lets the assumed role do anything; AWS answers AccessDenied to a role without ssm:GetParameter."""
    from botocore.exceptions import ClientError

    publish_all(org)
    prod = samples(org)["prod"]

    def denying(service: str, credentials: Any = None, /, region: str | None = None) -> Any:
        client = client_factory(service, credentials, region=region)
        if service == "ssm" and credentials and credentials["AccessKeyId"] == denied_key:

            def refuse(**_: Any) -> Any:
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter")

            monkeypatch.setattr(client, "get_parameter", refuse)
        return client

    sts = boto3.client("sts", region_name=REGION)
    denied_key = ""
    real = sts.assume_role

    def assume(**kwargs: Any) -> Any:
        nonlocal denied_key
        answer = real(**kwargs)
        if f":{prod}:" in kwargs["RoleArn"]:
            denied_key = answer["Credentials"]["AccessKeyId"]
        return answer

    monkeypatch.setattr(sts, "assume_role", assume)
    from generator.live.doctor import run_checks

    results = {r.name: r for r in run_checks(org.options(check_network=True), sts, client_factory("organizations"),
                                             denying)}  # fmt: skip
    assert failed(results) == {f"network-parameters:{prod}"}
    line = results[f"network-parameters:{prod}"]
    assert f"prod account {prod}, {REGION}: GetParameter failed (AccessDeniedException)" in line.detail
    assert f"account-access role of account {prod}" in line.fix
    assert results[f"vpc-endpoints:{samples(org)['staging']}"].ok  # the other account is still checked


def test_access_denied_on_the_build_vpc_is_a_failed_line(org: Org, monkeypatch: Any) -> None:
    from botocore.exceptions import ClientError

    publish_all(org)
    vpc = build_vpc(pipeline_ec2(), default_route="nat")

    def denying(service: str, credentials: Any = None, /, region: str | None = None) -> Any:
        client = client_factory(service, credentials, region=region)
        if service == "ec2" and credentials is None:

            def refuse(**_: Any) -> Any:
                raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "DescribeVpcs")

            monkeypatch.setattr(client, "describe_vpcs", refuse)
        return client

    from generator.live.doctor import run_checks

    options = org.options(**build_options(vpc))
    results = {r.name: r for r in run_checks(options, client_factory("sts"), client_factory("organizations"), denying)}
    line = results[f"build-network:{MANAGEMENT}"]
    assert not line.ok and "DescribeVpcs failed (UnauthorizedOperation)" in line.detail
    assert f"build-egress:{MANAGEMENT}" not in results


# --- the build VPC (the pipeline's account: the caller's) ---------------------------------------------------------


def build_options(vpc: Vpc, **more: Any) -> dict[str, Any]:
    return {
        "check_network": True,
        "build_vpc_id": vpc.id,
        "build_subnets": tuple(vpc.subnets),
        "build_security_groups": tuple(vpc.groups),
        **more,
    }


def pipeline_ec2() -> Any:
    return boto3.client("ec2", region_name=REGION)  # moto's default account is the management (pipeline) account


def test_build_vpc_with_nat_passes(org: Org) -> None:
    publish_all(org)
    vpc = build_vpc(pipeline_ec2(), s3="associated", default_route="nat")
    results = run(org, **build_options(vpc))
    assert failed(results) == set()
    egress = results[f"build-egress:{MANAGEMENT}"]
    assert not egress.warning
    assert egress.detail == (
        f"pipeline account {MANAGEMENT}, build VPC {vpc.id}: egress via NAT gateway {vpc.nat}; VPC endpoints: "
        f"S3 gateway {vpc.endpoints['s3']} on {vpc.table}"
    )
    assert results[f"build-network:{MANAGEMENT}"].ok and results[f"build-zones:{MANAGEMENT}"].ok


def test_build_vpc_without_nat_or_endpoints_fails_naming_them(org: Org) -> None:
    publish_all(org)
    vpc = build_vpc(pipeline_ec2(), s3="unassociated", interfaces=("sts",))
    result = run(org, **build_options(vpc))[f"build-egress:{MANAGEMENT}"]
    assert not result.ok
    assert f"no NAT route from {vpc.subnets[0]}, {vpc.subnets[1]}; the builds need PyPI" in result.detail
    assert f"com.amazonaws.{REGION}.s3 (gateway, on {vpc.table}" in result.detail  # exists, but not on the table
    for need in BUILD_ENDPOINTS:
        if need.suffix not in ("s3", "sts"):
            assert f"com.amazonaws.{REGION}.{need.suffix} ({need.why})" in result.detail
    assert f"com.amazonaws.{REGION}.sts (" not in result.detail  # present
    assert "cloudformation" not in result.detail  # the deploys are CodePipeline actions (management)
    assert f"in route table(s) {vpc.table}" in result.fix and "nat-gateway-id" in result.fix


def test_delegated_deploys_need_cloudformation_too(org: Org) -> None:
    from generator.config import StackSetAdmin

    publish_all(org)
    vpc = build_vpc(pipeline_ec2(), interfaces=INTERFACES)
    results = run(org, **build_options(vpc, stackset_admin=StackSetAdmin.DELEGATED))
    result = results[f"build-egress:{MANAGEMENT}"]
    assert not result.ok
    assert result.detail.endswith(
        f"missing VPC endpoints: com.amazonaws.{REGION}.cloudformation (deploy.py creates and updates the stack sets)"
    )


def test_build_vpc_public_subnet_fails(org: Org) -> None:
    """CodeBuild cannot use an internet gateway: its network interfaces get no public IP."""
    publish_all(org)
    vpc = build_vpc(pipeline_ec2(), default_route="igw")
    result = run(org, **build_options(vpc))[f"build-egress:{MANAGEMENT}"]
    assert not result.ok
    assert f"public subnet(s) {vpc.subnets[0]} (route table {vpc.table}: 0.0.0.0/0 to {vpc.igw})" in result.detail
    assert "#best-practices-for-vpcs" in result.fix


def test_build_vpc_in_one_zone_is_a_warning(org: Org) -> None:
    publish_all(org)
    vpc = build_vpc(pipeline_ec2(), default_route="nat", zones=1)
    results = run(org, **build_options(vpc))
    zones = results[f"build-zones:{MANAGEMENT}"]
    assert zones.ok and zones.warning and "CodeBuild recommends multiple Availability Zones" in zones.detail
    assert failed(results) == set()


def test_build_subnets_and_groups_must_be_of_the_build_vpc(org: Org) -> None:
    publish_all(org)
    vpc = build_vpc(pipeline_ec2(), default_route="nat")
    other = build_vpc(pipeline_ec2())
    results = run(org, **build_options(vpc, build_security_groups=tuple(other.groups)))
    result = results[f"build-network:{MANAGEMENT}"]
    assert not result.ok and f"{other.groups[0]} of another VPC" in result.detail
    assert f"build-egress:{MANAGEMENT}" not in results
    missing = run(org, **build_options(vpc, build_vpc_id="vpc-0a1b2c3d4e5f67890"))[f"build-network:{MANAGEMENT}"]
    assert not missing.ok and "no such VPC" in missing.detail


@pytest.mark.parametrize(
    ("flags", "flag", "message"),
    [
        ({"build-vpc-id": "vpc-0a1b2c3d4e5f67890"}, "--build-subnets", "is needed with --build-vpc-id"),
        ({"build-vpc-id": "vpc-1", "build-subnets": "subnet-0a1b2c3d4e5f67890", "build-security-groups": "sg-0a1b2c3d"},
         "--build-vpc-id", "is not a VPC id"),
        ({"build-vpc-id": "vpc-0a1b2c3d4e5f67890", "build-subnets": "subnet-0a1b2c3d4e5f67890",
          "build-security-groups": ",".join(f"sg-0a1b2c3d4e5f6789{i}" for i in range(6))},
         "--build-security-groups", "must name 1 to 5 security group ids"),
    ],
)  # fmt: skip
def test_bad_build_vpc_options_are_refused_as_render_refuses_them(
    flags: dict[str, str], flag: str, message: str
) -> None:
    base = {"staging-ou": "ou-ab12-11111111", "prod-ou": "ou-ab12-22222222", "region": REGION}
    with pytest.raises(InputError) as caught:
        doctor_options({**base, **flags}, {})
    assert caught.value.flag == flag and message in str(caught.value)


def test_cli_checks_the_build_vpc_from_flags_and_warns(org: Org) -> None:
    publish_all(org)
    vpc = build_vpc(pipeline_ec2(), default_route="nat", zones=1)
    args = ["doctor", "--staging-ou", org.staging_ou, "--prod-ou", org.prod_ou, "--region", REGION, "--check-network",
            "--build-vpc-id", vpc.id, "--build-subnets", ",".join(vpc.subnets),
            "--build-security-groups", vpc.groups[0]]  # fmt: skip
    as_json = CliRunner().invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    checks = {c["name"]: c for c in json.loads(as_json.stdout)["checks"]}
    assert checks[f"build-zones:{MANAGEMENT}"]["warning"] is True
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "warn" in table.stdout and f"1 warning(s): build-zones:{MANAGEMENT}" in table.stdout


def test_cli_check_network_exits_1_on_a_failure(org: Org) -> None:
    result = CliRunner().invoke(
        app,
        ["doctor", "--staging-ou", org.staging_ou, "--prod-ou", org.prod_ou, "--region", REGION, "--check-network",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert f"network-parameters:{samples(org)['staging']}" in result.output


def test_rendered_folder_stands_for_the_flags(org: Org, tmp_path: Any) -> None:
    """`--rendered DIR`: the OUs, region and build VPC as manifest.json recorded them, no flag typed again."""
    from generator.render import build_manifest, render_files, write_output
    from tests.conftest import make_config

    publish_all(org)
    vpc = build_vpc(pipeline_ec2(), default_route="nat")
    cfg = make_config(
        staging_ou=org.staging_ou,
        prod_ou=org.prod_ou,
        org_id=None,
        **{"build-vpc-id": vpc.id, "build-subnets": ",".join(vpc.subnets), "build-security-groups": vpc.groups[0]},
    )
    files = render_files(cfg)
    out = tmp_path / "dist"
    write_output(files, build_manifest(cfg, files), out, force=True)
    result = CliRunner().invoke(app, ["doctor", "--rendered", str(out), "--check-network", "--json"])
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["staging-ou"]["ok"] and org.staging_ou in checks["staging-ou"]["detail"]
    assert f"egress via NAT gateway {vpc.nat}" in checks[f"build-egress:{MANAGEMENT}"]["detail"]
    staging = samples(org)["staging"]
    assert f"deploy regions checked: {REGION})" in checks[f"network-parameters:{staging}"]["detail"]  # as rendered
    missing = CliRunner().invoke(app, ["doctor", "--rendered", str(tmp_path / "none"), "--check-network"])
    assert missing.exit_code == 2 and "has no manifest.json" in missing.output and "Traceback" not in missing.output


def _participant_view(monkeypatch: Any, account: str, owner: str) -> Any:
    """`account`'s EC2 as a participant of a VPC `owner` shares through AWS RAM sees it (moto has no RAM sharing):
    the shared subnets carry the owner's OwnerId, and the owner's route tables and endpoints are not listed
    ("Participants cannot view ... resources that belong to other participants or the VPC owner", vpc-sharing.html)."""

    def factory(service: str, credentials: Any = None, /, region: str | None = None) -> Any:
        client = client_factory(service, credentials, region=region)
        if service != "ec2" or client.describe_vpcs()["Vpcs"][0]["OwnerId"] != account:
            return client
        real = client.describe_subnets

        def describe_subnets(**kwargs: Any) -> Any:
            answer = real(**kwargs)
            return {**answer, "Subnets": [{**s, "OwnerId": owner} for s in answer["Subnets"]]}

        monkeypatch.setattr(client, "describe_subnets", describe_subnets)
        monkeypatch.setattr(client, "describe_route_tables", lambda **_: {"RouteTables": []})
        monkeypatch.setattr(client, "describe_vpc_endpoints", lambda **_: {"VpcEndpoints": []})
        return client

    return factory


def test_a_vpc_shared_by_another_account_is_a_warning_not_a_false_failure(org: Org, monkeypatch: Any) -> None:
    """A participant of a shared VPC cannot see the owner's route tables or endpoints: without the owner check,
    doctor failed it with "no S3 gateway endpoint" and a command the participant cannot run."""
    from generator.live.doctor import run_checks

    publish_all(org)
    prod, owner = samples(org)["prod"], "999999999999"
    factory = _participant_view(monkeypatch, prod, owner)
    results = {
        r.name: r
        for r in run_checks(
            org.options(check_network=True), boto3.client("sts", region_name=REGION), client_factory("organizations"),
            factory,
        )
    }  # fmt: skip
    assert failed(results) == set()
    shared = results[f"vpc-endpoints:{prod}"]
    assert shared.ok and shared.warning
    assert f"the subnets belong to account {owner}, which shares the VPC" in shared.detail
    assert "vpc-sharing.html" in shared.detail
    assert results[f"network-zones:{prod}"].ok  # the zones come from the shared subnets themselves
    assert f"vpc-dns:{prod}" not in results
    assert not results[f"vpc-endpoints:{samples(org)['staging']}"].warning  # the other account, its own VPC


def test_an_unreachable_region_is_a_failed_line_not_an_abort(org: Org, monkeypatch: Any) -> None:
    from botocore.exceptions import EndpointConnectionError

    from generator.live.doctor import run_checks

    publish_all(org)
    prod = samples(org)["prod"]

    def factory(service: str, credentials: Any = None, /, region: str | None = None) -> Any:
        client = client_factory(service, credentials, region=region)
        if service == "ssm" and client.meta.region_name == OTHER_REGION:

            def unreachable(**_: Any) -> Any:
                raise EndpointConnectionError(endpoint_url=f"https://ssm.{OTHER_REGION}.amazonaws.com/")

            monkeypatch.setattr(client, "get_parameter", unreachable)
        return client

    options = org.options(check_network=True, deploy_regions=(REGION, OTHER_REGION))
    results = {
        r.name: r
        for r in run_checks(options, boto3.client("sts", region_name=REGION), client_factory("organizations"), factory)
    }
    line = results[f"network-parameters:{prod}:{OTHER_REGION}"]
    assert not line.ok and "Could not connect to the endpoint URL" in line.detail
    assert f"region {OTHER_REGION} is enabled for account {prod}" in line.fix
    assert results[f"vpc-endpoints:{prod}"].ok  # the home region is still checked
