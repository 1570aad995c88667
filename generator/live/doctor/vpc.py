"""What doctor reads of a VPC, shared by the models' VPCs (network.py) and the build VPC (build_vpc.py).

Small functions over EC2's Describe answers: which route table a subnet uses, where its default route goes,
which VPC endpoints exist and which route tables an S3 gateway endpoint serves, how many Availability Zones
the subnets span, and the VpcConfig limits of SageMaker's API model. Readers only (EC2 Describe calls).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

#: A subnet uses the route table explicitly associated with it, else its VPC's main route table.
#: https://docs.aws.amazon.com/vpc/latest/userguide/subnet-route-tables.html
ROUTE_TABLES_DOC = "https://docs.aws.amazon.com/vpc/latest/userguide/subnet-route-tables.html"
#: A subnet whose route table sends 0.0.0.0/0 to an internet gateway is a public subnet.
#: https://docs.aws.amazon.com/vpc/latest/userguide/configure-subnets.html#subnet-types
SUBNET_TYPES_DOC = "https://docs.aws.amazon.com/vpc/latest/userguide/configure-subnets.html#subnet-types"
#: An S3 gateway endpoint serves only the route tables it is associated with (it adds a prefix-list route there).
#: https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html
S3_GATEWAY_DOC = "https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html"
#: An S3 interface endpoint with private DNS answers the VPC's requests to S3's regional names, unless its private
#: DNS is "only for inbound endpoints", which "routes traffic that originates from the VPC to the gateway endpoint"
#: (EC2 API DnsOptionsSpecification; https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html).
S3_INTERFACE_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html"


class Egress(Enum):
    """Where a subnet's default route (0.0.0.0/0) goes."""

    NONE = "none"  # no default route: the VPC reaches AWS only through its endpoints
    NAT = "nat"  # a NAT gateway (nat-...): outbound to the internet and every public AWS endpoint
    INTERNET_GATEWAY = "igw"  # a public subnet: only interfaces with a public IP get out
    OTHER = "other"  # a transit gateway, NAT instance, peering or VPN: egress doctor cannot see beyond


@dataclass(frozen=True)
class SubnetRoute:
    """One subnet, the route table it uses, and its default route's target ("" when it has none)."""

    subnet: str
    zone: str
    table: str
    target: str

    @property
    def egress(self) -> Egress:
        return egress_of(self.target)


def egress_of(target: str) -> Egress:
    """The kind of a default route's target, by its id's prefix (EC2 ids: nat-, igw-, tgw-, eni-, i-, pcx-, vgw-)."""
    if not target:
        return Egress.NONE
    if target.startswith("nat-"):
        return Egress.NAT
    if target.startswith("igw-"):
        return Egress.INTERNET_GATEWAY
    return Egress.OTHER


def default_target(table: Mapping[str, Any]) -> str:
    """The target of the table's active 0.0.0.0/0 route ("" when none; a blackhole route leads nowhere)."""
    for route in table.get("Routes", []):
        if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State") == "blackhole":
            continue
        for key in ("NatGatewayId", "GatewayId", "TransitGatewayId", "NetworkInterfaceId", "InstanceId",
                    "VpcPeeringConnectionId", "EgressOnlyInternetGatewayId"):  # fmt: skip
            if route.get(key):
                return str(route[key])
    return ""


def subnet_routes(tables: Sequence[Mapping[str, Any]], subnets: Sequence[Mapping[str, Any]]) -> list[SubnetRoute]:
    """Each described subnet with the route table it uses: its explicit association, else the main table."""
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
    routes = []
    for subnet in subnets:
        sid = str(subnet["SubnetId"])
        own = next((t for t in tables if any(a.get("SubnetId") == sid for a in t.get("Associations", []))), main)
        table = own or {}
        routes.append(
            SubnetRoute(sid, str(subnet.get("AvailabilityZone", "")), str(table.get("RouteTableId", "")),
                        default_target(table))
        )  # fmt: skip
    return routes


def read_routes(ec2: Any, vpc: str, subnets: Sequence[Mapping[str, Any]]) -> list[SubnetRoute]:
    """The subnets' routes, from the VPC's route tables."""
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    return subnet_routes(tables, subnets)


def read_endpoints(ec2: Any, vpc: str) -> list[Mapping[str, Any]]:
    """The VPC's endpoints that are available (a pending, failed or deleted one carries no traffic)."""
    found = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    return [e for e in found if str(e.get("State", "available")).lower() == "available"]


def service_name(region: str, suffix: str) -> str:
    """An AWS service's endpoint service name in `region` (e.g. com.amazonaws.eu-west-1.sagemaker.runtime)."""
    return f"com.amazonaws.{region}.{suffix}"


def s3_gateways(endpoints: Iterable[Mapping[str, Any]], region: str) -> dict[str, frozenset[str]]:
    """S3 gateway endpoint id -> the route tables it is associated with."""
    return {
        str(e["VpcEndpointId"]): frozenset(e.get("RouteTableIds", []))
        for e in endpoints
        if e.get("ServiceName") == service_name(region, "s3") and e.get("VpcEndpointType") == "Gateway"
    }


def s3_interfaces(endpoints: Iterable[Mapping[str, Any]], region: str) -> list[str]:
    """The S3 interface endpoints whose private DNS answers requests from the VPC itself."""
    return sorted(
        str(e["VpcEndpointId"])
        for e in endpoints
        if e.get("ServiceName") == service_name(region, "s3")
        and e.get("VpcEndpointType") == "Interface"
        and e.get("PrivateDnsEnabled")
        and not (e.get("DnsOptions") or {}).get("PrivateDnsOnlyForInboundResolverEndpoint")
    )


def s3_gateway_for(gateways: Mapping[str, frozenset[str]], table: str) -> str:
    """The S3 gateway endpoint serving `table` ("" when none does)."""
    return next((endpoint for endpoint, tables in sorted(gateways.items()) if table in tables), "")


def interface_endpoints(endpoints: Iterable[Mapping[str, Any]], region: str) -> dict[str, str]:
    """Service suffix (e.g. "sts") -> interface endpoint id, for the region's AWS services."""
    prefix = service_name(region, "")
    return {
        str(e["ServiceName"])[len(prefix) :]: str(e["VpcEndpointId"])
        for e in endpoints
        if str(e.get("ServiceName", "")).startswith(prefix) and e.get("VpcEndpointType") == "Interface"
    }


def zones(routes: Iterable[SubnetRoute]) -> list[str]:
    """The Availability Zones the subnets span, sorted."""
    return sorted({r.zone for r in routes if r.zone})


def described(ec2: Any, operation: str, key: str, ids: Sequence[str]) -> list[Mapping[str, Any]]:
    """The described resources among `ids`, one by one: a missing or malformed id makes a batch call fail
    (InvalidSubnetID.NotFound, InvalidGroup.NotFound, InvalidVpcID.NotFound, ...Malformed), and doctor names it."""
    argument = {"describe_subnets": "SubnetIds", "describe_security_groups": "GroupIds", "describe_vpcs": "VpcIds"}
    found: list[Mapping[str, Any]] = []
    for one in ids:
        try:
            found += getattr(ec2, operation)(**{argument[operation]: [one]})[key]
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if not code.endswith((".NotFound", ".Malformed")):
                raise
    return found


@cache
def vpc_config_limits() -> tuple[int, int]:
    """(most subnets, most security groups) of a model's VpcConfig, as SageMaker's API model states them
    (botocore data sagemaker/2017-07-24/service-2.json, shapes Subnets and VpcSecurityGroupIds: 16 and 5)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.shape_for("VpcConfig").members
    return int(shape["Subnets"].metadata["max"]), int(shape["SecurityGroupIds"].metadata["max"])


def listing(items: Sequence[str], empty: str = "none") -> str:
    return ", ".join(items) if items else empty
