"""What doctor reads of a VPC, shared by the models' VPCs (network.py) and the build VPC (build_vpc.py).

Small functions over EC2's Describe answers: which route table a subnet uses, where its default route goes,
which VPC endpoints exist and which route tables an S3 gateway endpoint serves, how many Availability Zones
the subnets span, and the VpcConfig limits of SageMaker's API model. Readers only (EC2 Describe calls).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from generator.live.doctor.common import CheckResult

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


#: A NAT gateway's ConnectivityType: "Public ... Instances in private subnets can connect to the internet through a
#: public NAT gateway"; "Private - Instances in private subnets can connect to other VPCs or your on-premises
#: network through a private NAT gateway", and "if you route traffic from the private NAT gateway to the internet
#: gateway, the internet gateway drops the traffic". Its State (DescribeNatGateways: pending, failed, available,
#: deleting, deleted) must be "available" to carry traffic.
#: https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html
NAT_DOC = "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html"
#: Members of EC2's `Route` shape that are not its target (botocore ec2 service-2.json, shape Route); every other
#: member (NatGatewayId, GatewayId, TransitGatewayId, CoreNetworkArn, LocalGatewayId, CarrierGatewayId, ...) is one.
NOT_TARGETS = frozenset(
    {"DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId", "InstanceOwnerId", "Origin",
     "State"}
)  # fmt: skip
#: The targets doctor recognises, checked first (a NAT instance's route carries both InstanceId and
#: NetworkInterfaceId).
KNOWN_TARGETS = ("NatGatewayId", "GatewayId", "TransitGatewayId", "NetworkInterfaceId", "InstanceId",
                 "VpcPeeringConnectionId", "EgressOnlyInternetGatewayId")  # fmt: skip


#: The target of an active default route whose target member botocore's model does not name.
UNRECOGNISED = "an unrecognised target"


class Egress(Enum):
    """Where a subnet's default route (0.0.0.0/0) goes."""

    NONE = "none"  # no default route: the VPC reaches AWS only through its endpoints
    NAT = "nat"  # a public NAT gateway (nat-...): outbound to the internet and every public AWS endpoint
    NAT_DOWN = "nat-down"  # a NAT gateway that is not available (pending, failed, deleting, deleted): no egress
    INTERNET_GATEWAY = "igw"  # a public subnet: only interfaces with a public IP get out
    #: a transit gateway, Cloud WAN core network, private NAT gateway, NAT instance, peering, VPN or any target
    #: doctor does not recognise: egress doctor cannot see beyond
    OTHER = "other"


@dataclass(frozen=True)
class SubnetRoute:
    """One subnet, the route table it uses, and its default route's target ("" when it has none).

    `nat_type`/`nat_state`: the NAT gateway's ConnectivityType and State when the target is one (DescribeNatGateways;
    "missing" when EC2 does not know it)."""

    subnet: str
    zone: str
    table: str
    target: str
    nat_type: str = ""
    nat_state: str = ""

    @property
    def egress(self) -> Egress:
        kind = egress_of(self.target)
        if kind is Egress.NAT and self.nat_state and self.nat_state != "available":
            return Egress.NAT_DOWN
        if kind is Egress.NAT and self.nat_type == "private":
            return Egress.OTHER
        return kind

    @property
    def shown(self) -> str:
        """The target as a report names it."""
        if self.egress is Egress.OTHER and self.nat_type == "private":
            return f"private NAT gateway {self.target} (no internet access; {NAT_DOC})"
        if self.egress is Egress.NAT_DOWN:
            return f"NAT gateway {self.target} in state {self.nat_state} ({NAT_DOC})"
        return self.target


def egress_of(target: str) -> Egress:
    """The kind of a default route's target, by its id's prefix (EC2 ids: nat-, igw-, tgw-, eni-, i-, pcx-, vgw-;
    a Cloud WAN core network is an ARN): anything but a NAT or internet gateway is OTHER."""
    if not target:
        return Egress.NONE
    if target.startswith("nat-"):
        return Egress.NAT
    if target.startswith("igw-"):
        return Egress.INTERNET_GATEWAY
    return Egress.OTHER


def default_target(table: Mapping[str, Any]) -> str:
    """The target of the table's active 0.0.0.0/0 route ("" when none; a blackhole or filtered route, botocore's
    RouteState values other than active, leads nowhere).

    A target doctor does not recognise (CoreNetworkArn for Cloud WAN centralised egress, LocalGatewayId, ...) is
    still a way out, which doctor cannot see beyond: it is returned (as "<member> <value>"), and reads as
    Egress.OTHER."""
    for route in table.get("Routes", []):
        if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State", "active") != "active":
            continue
        for key in KNOWN_TARGETS:
            if route.get(key):
                return str(route[key])
        other = sorted(f"{key} {value}" for key, value in route.items() if key not in NOT_TARGETS and value)
        # No target member at all: one this botocore's EC2 model does not know yet (botocore parses only the
        # members its model lists), which is still an active way out.
        return other[0] if other else UNRECOGNISED
    return ""


def with_nat_gateways(ec2: Any, routes: Sequence[SubnetRoute]) -> list[SubnetRoute]:
    """The routes with their NAT gateways' ConnectivityType and State (one DescribeNatGateways call, by filter so
    an unknown id is not an error)."""
    ids = sorted({r.target for r in routes if r.target.startswith("nat-")})
    if not ids:
        return list(routes)
    found = ec2.describe_nat_gateways(Filter=[{"Name": "nat-gateway-id", "Values": ids}])["NatGateways"]
    nats = {str(n["NatGatewayId"]): n for n in found}
    return [
        replace(
            r,
            nat_type=str(nats.get(r.target, {}).get("ConnectivityType", "public")),
            nat_state=str(nats.get(r.target, {}).get("State", "missing")),
        )
        if r.target in ids
        else r
        for r in routes
    ]


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
    return with_nat_gateways(ec2, subnet_routes(tables, subnets))


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


def zone_check(name: str, where: str, routes: Iterable[SubnetRoute], short: str, fix: str | None) -> CheckResult:
    """Do the subnets span two Availability Zones or more? `short` says why one zone is not enough; `fix` None makes
    one zone a warning (recommended), else a failure with that fix (required)."""
    spanned = zones(routes)
    if len(spanned) >= 2:
        return CheckResult(
            name, True, f"{where}: the subnets span {len(spanned)} Availability Zones ({', '.join(spanned)})"
        )
    warning = "warning: " if fix is None else ""
    detail = f"{where}: {warning}the subnets are all in {listing(spanned, 'one Availability Zone')}; {short}"
    if fix is None:
        return CheckResult(name, True, detail, warning=True)
    return CheckResult(name, False, detail, fix)


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
