"""`mlops-gen doctor --check-network` with a build VPC: can the pipeline's CodeBuild projects run in it?

With `--build-vpc-id`, `--build-subnets` and `--build-security-groups` (the render's options, as flags or in the
config file) every CodeBuild project of the product runs in that VPC of the pipeline's account
(generator/build_network.py). Doctor reads it with the caller's own credentials (the pipeline's account is the
caller's) and checks what CodeBuild and the seed's scripts need from it, each as AWS documents it:

- `build-network:<account>`: the VPC exists, and the subnets and security groups are of that VPC;
- `build-zones:<account>`: the subnets span two Availability Zones or more. CodeBuild's best practices say
  "Include multiple Availability Zones with your VPC": a recommendation, so one zone is a warning;
- `build-egress:<account>`: every subnet is private and routes 0.0.0.0/0 to a NAT gateway. CodeBuild: "You need a
  NAT gateway or NAT instance to use CodeBuild with your VPC so that CodeBuild can reach public endpoints. You
  cannot use the internet gateway instead ... because CodeBuild does not support assigning Elastic IP addresses
  to the network interfaces that it creates", and "choose private subnets only"
  (https://docs.aws.amazon.com/codebuild/latest/userguide/vpc-support.html#best-practices-for-vpcs). VPC
  endpoints alone are not enough here: every buildspec runs `pip install -r requirements.txt` from PyPI, and the
  staging test lists the staging accounts through Organizations, whose API is served from us-east-1
  (https://docs.aws.amazon.com/organizations/latest/APIReference/Welcome.html) while VPC endpoints "do not
  support cross-Region requests" (https://docs.aws.amazon.com/codebuild/latest/userguide/use-vpc-endpoints-with-codebuild.html);
  without a NAT route, doctor fails and lists the endpoints the builds would need as well (`BUILD_ENDPOINTS`).

A default route to a transit gateway, Cloud WAN core network, private NAT gateway, NAT instance, peering or any
target doctor does not recognise passes with a warning: egress doctor cannot see
beyond (an HTTPS proxy, which CodeBuild also supports, is invisible to it too: the fix says so).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator.live.doctor.common import CheckResult
from generator.live.doctor.sg_egress import check_build_groups
from generator.live.doctor.vpc import (
    ROUTE_TABLES_DOC,
    Egress,
    SubnetRoute,
    described,
    interface_endpoints,
    listing,
    read_endpoints,
    read_routes,
    s3_gateway_for,
    s3_gateways,
    s3_interfaces,
    service_name,
    zone_check,
)

DOC = "https://docs.aws.amazon.com/codebuild/latest/userguide/vpc-support.html"
BEST_PRACTICES = f"{DOC}#best-practices-for-vpcs"
PROXY_DOC = "https://docs.aws.amazon.com/codebuild/latest/userguide/use-proxy-server.html"


@dataclass(frozen=True)
class Need:
    """An AWS service a build reaches from the VPC: its endpoint service suffix, and who calls it."""

    label: str
    suffix: str
    why: str


#: What the builds call, per step (templates/modeldeploy/*buildspec.yml.j2, seedcode/modeldeploy). CodeBuild itself
#: reads the source and writes the artifacts in S3 and creates the build's CloudWatch logs (use-proxy-server.html:
#: "Access to CloudWatch is required so that CodeBuild can create CloudWatch logs. Access to Amazon S3 is required
#: for uploading artifacts").
BUILD_ENDPOINTS = (
    Need("S3 (gateway)", "s3", "CodeBuild's source and artifacts; build.py's regional artifact copies"),
    Need("CloudWatch Logs", "logs", "the build logs"),
    Need("SageMaker API", "sagemaker.api", "build.py reads the model packages; test.py describes the endpoints"),
    Need("SageMaker runtime", "sagemaker.runtime", "test.py invokes the staging endpoints"),
    Need("STS", "sts", "test.py assumes the target role in each staging account"),
)
#: With `--stackset-admin delegated` the deploys are CodeBuild projects too (deploy/deploy.py).
DELEGATED_ENDPOINTS = (Need("CloudFormation", "cloudformation", "deploy.py creates and updates the stack sets"),)
#: What no VPC endpoint of the build's region serves.
PUBLIC_ONLY = (
    "PyPI (every buildspec runs pip install)",
    "Organizations (test.py lists the staging accounts; its API is in us-east-1, and VPC endpoints carry no "
    "cross-Region requests)",
)


def needed_endpoints(delegated: bool) -> tuple[Need, ...]:
    """The endpoints a build VPC without a NAT route would need (the deploy projects' only when delegated)."""
    return BUILD_ENDPOINTS + (DELEGATED_ENDPOINTS if delegated else ())


def check_build_network(
    ec2: Any, account: str, vpc: str, subnets: Sequence[str], groups: Sequence[str]
) -> tuple[CheckResult, list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(result, the described subnets, the described groups): the VPC, and subnets and security groups of it, in
    the pipeline account."""
    name = f"build-network:{account}"
    where = f"pipeline account {account}, build VPC {vpc}"
    fix = (
        "Render (and run doctor) with --build-vpc-id, --build-subnets and --build-security-groups naming one VPC of "
        f"the pipeline's account and its private subnets and security groups. {DOC}"
    )
    if not described(ec2, "describe_vpcs", "Vpcs", [vpc]):
        return CheckResult(name, False, f"{where}: no such VPC in this account and region", fix), [], []
    found_subnets = described(ec2, "describe_subnets", "Subnets", subnets)
    found_groups = described(ec2, "describe_security_groups", "SecurityGroups", groups)
    known = {s["SubnetId"] for s in found_subnets} | {g["GroupId"] for g in found_groups}
    unknown = [i for i in [*subnets, *groups] if i not in known]
    elsewhere = [
        str(r.get("SubnetId") or r.get("GroupId")) for r in [*found_subnets, *found_groups] if r["VpcId"] != vpc
    ]
    if unknown or elsewhere:
        problems = []
        if unknown:
            problems.append(f"{', '.join(unknown)} not found in this account and region")
        if elsewhere:
            problems.append(f"{', '.join(elsewhere)} of another VPC")
        return CheckResult(name, False, f"{where}: {'; '.join(problems)}", fix), [], []
    detail = f"{where}: {len(subnets)} subnet(s) and {len(groups)} security group(s) of {vpc}"
    return CheckResult(name, True, detail), found_subnets, found_groups


def check_build_zones(account: str, vpc: str, routes: Sequence[SubnetRoute]) -> CheckResult:
    """Two Availability Zones or more: CodeBuild recommends it (a warning, not a failure)."""
    short = f"CodeBuild recommends multiple Availability Zones ({BEST_PRACTICES})"
    return zone_check(f"build-zones:{account}", f"pipeline account {account}, build VPC {vpc}", routes, short, None)


def _endpoint_summary(endpoints: Sequence[Mapping[str, Any]], region: str) -> str:
    """The VPC's endpoints for the builds' services, as found (S3: the route tables it serves)."""
    found = []
    for endpoint, tables in sorted(s3_gateways(endpoints, region).items()):
        found.append(f"S3 gateway {endpoint} on {listing(sorted(tables))}")
    found += [f"{suffix} {endpoint}" for suffix, endpoint in sorted(interface_endpoints(endpoints, region).items())]
    return listing(found)


def missing_endpoints(
    endpoints: Sequence[Mapping[str, Any]], region: str, routes: Sequence[SubnetRoute], delegated: bool
) -> list[str]:
    """The needed endpoints the VPC lacks; S3 counts only where its gateway serves every subnet's route table."""
    gateways = s3_gateways(endpoints, region)
    interfaces = interface_endpoints(endpoints, region)
    missing = []
    for need in needed_endpoints(delegated):
        if need.suffix == "s3" and s3_interfaces(endpoints, region):
            continue  # private DNS sends the whole VPC's S3 requests there (vpc.S3_INTERFACE_DOC)
        if need.suffix == "s3":
            unserved = sorted({r.table for r in routes if not s3_gateway_for(gateways, r.table)})
            if unserved:
                missing.append(f"{service_name(region, 's3')} (gateway, on {' '.join(unserved)}: {need.why})")
        elif need.suffix not in interfaces:
            missing.append(f"{service_name(region, need.suffix)} ({need.why})")
    return missing


def check_build_egress(
    ec2: Any, account: str, region: str, vpc: str, routes: Sequence[SubnetRoute], delegated: bool
) -> CheckResult:
    """Every build subnet private, with a NAT route; without one, what is missing, named."""
    name = f"build-egress:{account}"
    where = f"pipeline account {account}, build VPC {vpc}"
    endpoints = read_endpoints(ec2, vpc)
    have = f"VPC endpoints: {_endpoint_summary(endpoints, region)}"
    public = [r for r in routes if r.egress is Egress.INTERNET_GATEWAY]
    if public:
        named = ", ".join(f"{r.subnet} (route table {r.table}: 0.0.0.0/0 to {r.target})" for r in public)
        return CheckResult(
            name,
            False,
            f"{where}: public subnet(s) {named}: CodeBuild's network interfaces get no public IP, so a build there "
            "reaches nothing outside the VPC",
            f"In account {account}: give CodeBuild private subnets whose route table sends 0.0.0.0/0 to a NAT gateway "
            f"(itself in a public subnet), and render with them in --build-subnets. {BEST_PRACTICES}",
        )
    closed = [r for r in routes if r.egress in (Egress.NONE, Egress.NAT_DOWN)]
    if closed:
        missing = missing_endpoints(endpoints, region, routes, delegated)
        tables = " ".join(sorted({r.table for r in closed}))
        down = "".join(f" ({r.subnet}: 0.0.0.0/0 to {r.shown})" for r in closed if r.egress is Egress.NAT_DOWN)
        detail = (
            f"{where}: no NAT route from {', '.join(r.subnet for r in closed)}{down}; the builds need "
            f"{' and '.join(PUBLIC_ONLY)}, which no VPC endpoint serves; {have}"
        )
        if missing:
            detail += f"; and for its AWS calls, missing VPC endpoints: {', '.join(missing)}"
        fix = (
            f"In account {account}, region {region}: create a NAT gateway in a public subnet of {vpc} and "
            f"`aws ec2 create-route --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-...` in route table(s) "
            f"{tables} ({BEST_PRACTICES}; route tables: {ROUTE_TABLES_DOC}); or an HTTPS proxy for CodeBuild "
            f"({PROXY_DOC}), which doctor cannot see. The VPC endpoints listed keep the AWS calls off the NAT, "
            "they do not replace it."
        )
        return CheckResult(name, False, detail, fix)
    nats = sorted({r.target for r in routes if r.egress is Egress.NAT})
    others = sorted({r.shown for r in routes if r.egress is Egress.OTHER})
    ways = [f"egress via NAT gateway {n}" for n in nats] + [
        f"egress via {o} (doctor cannot see beyond it)" for o in others
    ]
    return CheckResult(name, True, f"{where}: {'; '.join(ways)}; {have}", warning=bool(others))


def check_build_vpc(ec2: Any, account: str, region: str, vpc: str, subnets: Sequence[str], groups: Sequence[str],
                    delegated: bool) -> list[CheckResult]:  # fmt: skip
    """The build VPC's checks (zones and egress only once its subnets are found in it)."""
    result, found, found_groups = check_build_network(ec2, account, vpc, subnets, groups)
    if not result.ok:
        return [result]
    routes = read_routes(ec2, vpc, found)
    return [
        result,
        check_build_zones(account, vpc, routes),
        check_build_egress(ec2, account, region, vpc, routes, delegated),
        check_build_groups(account, f"pipeline account {account}, build VPC {vpc}", found_groups),
    ]
