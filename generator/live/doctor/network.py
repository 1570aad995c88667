"""`mlops-gen doctor --check-network`: is each stage's account ready for models in its own VPC?

A stage config with `"network": "vpc"` makes the endpoint template read the account's subnets and security
groups from two SSM parameters (generator/network.py); CloudFormation fails the stack instance when one is
missing. In a sample account per stage (the first active account of its OU), read through the account-access
role as `--check-roles` reads the target role (the target role's trust admits only the pipeline's test role and
SageMaker, not a platform engineer), doctor checks what a network-isolated model in a VPC needs, and only that:

- `network-parameters:<account>`: both SSM parameters exist and name subnets and security groups of that
  account and region, in one VPC, within CreateModel's VpcConfig limits (botocore's SageMaker model: at most 16
  subnets and 5 security groups);
- `network-zones:<account>`: the subnets span at least two Availability Zones. SageMaker: "You must create at
  least two subnets in different availability zones in your private VPC, even if you have only one hosting
  instance" (https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html), so one zone fails;
- `vpc-endpoints:<account>`: every subnet reaches S3, where SageMaker downloads the model artifacts "through
  your VPC subnet" even with network isolation
  (https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html): an S3 gateway endpoint
  associated with the subnet's route table (host-vpc.html, "Create an Amazon S3 VPC Endpoint"), or a NAT
  gateway. An internet gateway route does not count: the network interfaces SageMaker attaches to the model
  "provide your model containers with a network connection within your VPC that is not connected to the
  internet" (host-vpc.html) and get no public IP. A NAT gateway counts when public and available (vpc.py);
- `vpc-dns:<account>`: where a subnet reaches S3 through an endpoint, the VPC's DNS attributes (vpc_dns.py);
- `network-security-groups:<account>`: the groups allow TCP 443 out to S3 (sg_egress.py).

Each check runs in every deploy region (`--deploy-regions`, else the home region, which the report says): every
stack instance resolves the SSM parameters in its own region. Outside the home region the names end in
`:<account>:<region>`. An AWS error other than "not found" (AccessDenied through the role) fails that account
and region's line, naming the call and the code, and the other accounts are still checked.

Interface endpoints (SageMaker API and runtime, STS, CloudWatch Logs) are not required here: with network
isolation "the containers can't make any outbound network calls, even to other AWS services" and get no AWS
credentials (mkt-algo-model-internet-free.html), and host-vpc.html names the S3 endpoint as what a VPC without
internet access needs for the model's data. The SageMaker API and runtime, STS and Logs are called by the
pipeline's builds, from the build VPC (build_vpc.py). The image is a SageMaker built-in one (ECR, `Platform`
access); only an image of a private registry with `RepositoryAccessMode: Vpc` is pulled through the VPC
(ImageConfig: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ImageConfig.html).

Readers only: ssm:GetParameter and EC2 Describe calls, as the account-access role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from generator.live.doctor.common import CheckResult, ClientFactory, DoctorOptions, _code
from generator.live.doctor.sg_egress import check_model_groups
from generator.live.doctor.vpc import (
    S3_GATEWAY_DOC,
    S3_INTERFACE_DOC,
    Egress,
    SubnetRoute,
    described,
    listing,
    read_endpoints,
    read_routes,
    s3_gateway_for,
    s3_gateways,
    s3_interfaces,
    service_name,
    subnet_routes,
    vpc_config_limits,
    zone_check,
)
from generator.live.doctor.vpc_dns import check_dns
from generator.network import SECURITY_GROUPS_PARAMETER, SUBNETS_PARAMETER

DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html"
#: A VPC shared through AWS RAM: "Participants cannot view, modify, or delete resources that belong to other
#: participants or the VPC owner" (the route tables, endpoints and NAT gateways are the owner's).
VPC_SHARING_DOC = "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-sharing.html"
ISOLATION_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html"
#: A stack set deploys one stack instance per account and region; an SSM parameter type is resolved in the stack's
#: own account and region ("the parameter value ... in the same AWS Region as the stack"), so the network is
#: checked in each deploy region. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html#cloudformation-supplied-parameter-types-ssm-parameter-types
SSM_TYPES_DOC = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html"
    "#cloudformation-supplied-parameter-types-ssm-parameter-types"
)


@dataclass(frozen=True)
class Site:
    """One stack instance's place: a stage's sample account in one deploy region.

    `key` names the report lines: the account alone in the home region (as before deploy regions were read), the
    account and region elsewhere, so every line's name stays unique."""

    stage: str
    account: str
    region: str
    home: bool = True

    @property
    def key(self) -> str:
        return self.account if self.home else f"{self.account}:{self.region}"

    @property
    def where(self) -> str:
        return f"{self.stage} account {self.account}, {self.region}"


def publish_commands(region: str) -> str:
    """The commands the platform team runs in the account (README, Regulated environments)."""
    return (
        f"In the account, region {region}: aws ssm put-parameter --name {SUBNETS_PARAMETER} --type StringList "
        f"--value subnet-aaa,subnet-bbb; aws ssm put-parameter --name {SECURITY_GROUPS_PARAMETER} --type StringList "
        "--value sg-ccc (private subnets in two Availability Zones or more and a security group, of one VPC of that "
        "account)."
    )


def _parameter(ssm: Any, name: str) -> list[str] | None:
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    return [v.strip() for v in str(value).split(",") if v.strip()]


def count_problem(subnets: Sequence[str], groups: Sequence[str]) -> str:
    """Why CreateModel would refuse this many subnets or security groups ("" when it would not)."""
    most_subnets, most_groups = vpc_config_limits()
    problems = []
    if len(subnets) > most_subnets:
        problems.append(f"{len(subnets)} subnets (VpcConfig allows at most {most_subnets})")
    if len(groups) > most_groups:
        problems.append(f"{len(groups)} security groups (VpcConfig allows at most {most_groups})")
    return "; ".join(problems)


def check_parameters(
    ssm: Any, ec2: Any, site: Site
) -> tuple[CheckResult, str | None, list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(result, the VPC id, the described subnets, the described security groups) of the published network."""
    name, where, region = f"network-parameters:{site.key}", site.where, site.region
    values = {key: _parameter(ssm, key) for key in (SUBNETS_PARAMETER, SECURITY_GROUPS_PARAMETER)}
    missing = [key for key, value in values.items() if not value]
    if missing:
        detail = f"{where}: SSM parameter(s) {', '.join(missing)} missing or empty"
        return CheckResult(name, False, detail, publish_commands(region)), None, [], []
    subnets, groups = values[SUBNETS_PARAMETER] or [], values[SECURITY_GROUPS_PARAMETER] or []
    too_many = count_problem(subnets, groups)
    if too_many:
        detail = f"{where}: the SSM parameters name {too_many}: CreateModel refuses the VpcConfig"
        return CheckResult(name, False, detail, publish_commands(region)), None, [], []
    found_subnets = described(ec2, "describe_subnets", "Subnets", subnets)
    found_groups = described(ec2, "describe_security_groups", "SecurityGroups", groups)
    known = {s["SubnetId"] for s in found_subnets} | {g["GroupId"] for g in found_groups}
    unknown = [i for i in [*subnets, *groups] if i not in known]
    if unknown:
        detail = (
            f"{where}: {', '.join(unknown)} named in SSM are not subnets or security groups of this account and region"
        )
        return CheckResult(name, False, detail, publish_commands(region)), None, [], []
    vpcs = sorted({str(r["VpcId"]) for r in [*found_subnets, *found_groups]})
    if len(vpcs) != 1:
        detail = f"{where}: the subnets and security groups span VPCs {', '.join(vpcs)}; a VpcConfig names one VPC"
        return CheckResult(name, False, detail, publish_commands(region)), None, [], []
    detail = f"{where}: {len(subnets)} subnet(s) and {len(groups)} security group(s) of {vpcs[0]}"
    return CheckResult(name, True, detail), vpcs[0], found_subnets, found_groups


def check_zones(site: Site, vpc: str, routes: Sequence[SubnetRoute]) -> CheckResult:
    """At least two Availability Zones: SageMaker requires it of a model's subnets (host-vpc.html)."""
    short = "SageMaker requires subnets in at least two Availability Zones, even for one instance"
    fix = (
        f"In account {site.account}, region {site.region}: create a private subnet of {vpc} in another Availability "
        f"Zone (same route table) and add it to {SUBNETS_PARAMETER}. {DOC}"
    )
    return zone_check(f"network-zones:{site.key}", f"{site.where}, {vpc}", routes, short, fix)


def _s3_path(route: SubnetRoute, gateways: Mapping[str, frozenset[str]], interfaces: Sequence[str]) -> tuple[str, bool]:
    """(how the subnet reaches S3, whether doctor can vouch for it); ("", False) when it does not."""
    endpoint = s3_gateway_for(gateways, route.table)
    if endpoint:
        return f"VPC endpoints: S3 gateway {endpoint} on {route.table}", True
    if route.egress is Egress.NAT:
        return f"egress via NAT gateway {route.target}", True
    if interfaces:  # SageMaker documents the gateway endpoint; S3 documents this one (S3_INTERFACE_DOC)
        return f"VPC endpoints: S3 interface {', '.join(interfaces)} with private DNS ({S3_INTERFACE_DOC})", False
    if route.egress is Egress.OTHER:
        return f"egress via {route.shown} (doctor cannot see beyond it)", False
    return "", False


def check_s3_reach(ec2: Any, site: Site, vpc: str, routes: Sequence[SubnetRoute]) -> tuple[CheckResult, str]:
    """(result, the endpoints the subnets rely on, "" when none or when it fails): every subnet reaches S3 for the
    model artifacts, through an associated S3 gateway endpoint or a NAT gateway."""
    name, account, region = f"vpc-endpoints:{site.key}", site.account, site.region
    where = f"{site.stage} account {account}, {vpc}"
    endpoints = read_endpoints(ec2, vpc)
    gateways, interfaces = s3_gateways(endpoints, region), s3_interfaces(endpoints, region)
    paths = {r.subnet: _s3_path(r, gateways, interfaces) for r in routes}
    public = [f"{r.subnet} (0.0.0.0/0 to {r.target})" for r in routes if r.egress is Egress.INTERNET_GATEWAY]
    missing = [r for r in routes if not paths[r.subnet][0]]
    notes = [f"{r.subnet} routes 0.0.0.0/0 to {r.shown}" for r in routes if r.egress is Egress.NAT_DOWN]
    if public:
        notes.append(
            f"public subnet(s) {', '.join(public)}: an internet gateway gives a model no egress (its network "
            "interfaces get no public IP)"
        )
    if missing:
        tables = sorted({r.table for r in missing})
        if gateways:
            endpoint = sorted(gateways)[0]
            make = f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint} --add-route-table-ids {' '.join(tables)}"
            have = f"S3 gateway endpoint(s) {', '.join(sorted(gateways))} not associated with their route table(s)"
        else:
            make = (
                f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Gateway --service-name "
                f"{service_name(region, 's3')} --route-table-ids {' '.join(tables)}"
            )
            have = "no S3 gateway endpoint"
        subnets = ", ".join(f"{r.subnet} (route table {r.table})" for r in missing)
        detail = (
            f"{where}: {subnets} reach(es) S3 neither through an S3 gateway endpoint nor a NAT gateway ({have}); "
            "SageMaker downloads the model artifacts through these subnets"
        )
        if notes:
            detail += "; " + "; ".join(notes)
        fix = f"In account {account}, region {region}: {make}. {DOC} {S3_GATEWAY_DOC}"
        return CheckResult(name, False, detail, fix), ""
    unverified = [p for p, sure in paths.values() if not sure]
    ways: dict[str, list[str]] = {}
    for subnet, (path, _) in paths.items():
        ways.setdefault(path, []).append(subnet)
    detail = (
        f"{where}: model artifacts from S3: {'; '.join(f'{w} ({listing(s)})' for w, s in sorted(ways.items()))}; "
        "interface endpoints (SageMaker API/runtime, STS, CloudWatch Logs) not needed: the model runs network-isolated"
    )
    if notes:
        detail += "; " + "; ".join(notes)
    relied = sorted(path.removeprefix("VPC endpoints: ") for path, _ in paths.values() if path.startswith("VPC endp"))
    return CheckResult(name, True, detail, warning=bool(unverified or public)), "; ".join(relied)


def check_account_network(ssm: Any, ec2: Any, site: Site) -> list[CheckResult]:
    """The checks for one account and region (the zones and S3 only once the parameters name a VPC)."""
    result, vpc, subnets, groups = check_parameters(ssm, ec2, site)
    if vpc is None:
        return [result]
    owners = sorted({str(s["OwnerId"]) for s in subnets if s.get("OwnerId") and s["OwnerId"] != site.account})
    if owners:
        zones_only = subnet_routes([], subnets)  # the subnets' zones; their route tables are the owner's
        groups_check = check_model_groups(ec2, site.key, f"{site.where}, {vpc}", site.region, groups)
        return [result, check_zones(site, vpc, zones_only), shared_vpc(site, vpc, owners), groups_check]
    routes = read_routes(ec2, vpc, subnets)
    reach, endpoints = check_s3_reach(ec2, site, vpc, routes)
    where = f"{site.where}, {vpc}"
    dns = [check_dns(ec2, site.key, where, site.region, vpc, endpoints)] if endpoints else []
    return [
        result,
        check_zones(site, vpc, routes),
        reach,
        *dns,
        check_model_groups(ec2, site.key, where, site.region, groups),
    ]


def shared_vpc(site: Site, vpc: str, owners: Sequence[str]) -> CheckResult:
    """The subnets belong to another account that shares the VPC (AWS RAM): its route tables, endpoints and NAT
    gateways are invisible here (VPC_SHARING_DOC), so S3 reach is the owner's to check: a warning, not a failure."""
    return CheckResult(
        f"vpc-endpoints:{site.key}",
        True,
        f"{site.where}, {vpc}: warning: the subnets belong to account {', '.join(owners)}, which shares the VPC with "
        "this account: its route tables, endpoints and NAT gateways are not visible here, so doctor cannot check "
        f"that the subnets reach S3 for the model artifacts; check in account {', '.join(owners)} that their route "
        f"tables carry an S3 gateway endpoint or a NAT gateway ({VPC_SHARING_DOC})",
        warning=True,
    )


def refused(site: Site, exc: ClientError) -> CheckResult:
    """An AWS error other than "not found" (AccessDenied through the assumed role, throttling...): a failed line
    naming the account, the call and the code, instead of aborting every other account's checks."""
    return CheckResult(
        f"network-parameters:{site.key}",
        False,
        f"{site.where}: {exc.operation_name} failed ({_code(exc)}); the network there is not checked",
        f"Give the account-access role of account {site.account} ssm:GetParameter and the EC2 Describe* read calls "
        f"in {site.region}, or run doctor with --account-access-role naming a role that has them.",
    )


def regions_note(options: DoctorOptions) -> str:
    """What the report says about the regions checked: the home one alone when no deploy region was given."""
    if options.deploy_regions:
        return f"deploy regions checked: {', '.join(options.deploy_regions)}"
    return (
        f"deploy regions checked: home region {options.region} only (no --deploy-regions given, nor a --rendered "
        "folder recording them)"
    )


def sample_accounts(trees: Mapping[str, Any], management_account: str) -> dict[str, str]:
    """stage -> the first (lowest id) account a stage's stack set deploys to; stages without one are left out."""
    samples: dict[str, str] = {}
    for stage, tree in trees.items():
        accounts = sorted(a.id for a in tree.active_accounts(management_account))
        if accounts:
            samples[stage] = accounts[0]
    return samples


def check_networks(
    sts: Any, make_client: ClientFactory, partition: str, options: DoctorOptions, samples: Mapping[str, str]
) -> list[CheckResult]:
    """The checks in one sample account per stage (stage -> account id), through the account-access role, in
    every deploy region (SSM_TYPES_DOC: each stack instance resolves the parameters in its own region)."""
    from generator.live.doctor.common import SESSION_NAME, SESSION_SECONDS

    regions = options.deploy_regions or (options.region,)
    note = regions_note(options)
    results: list[CheckResult] = []
    for stage, account in samples.items():
        arn = f"arn:{partition}:iam::{account}:role/{options.account_access_role}"
        try:
            assumed = sts.assume_role(RoleArn=arn, RoleSessionName=SESSION_NAME, DurationSeconds=SESSION_SECONDS)
        except ClientError as exc:
            results.append(
                CheckResult(
                    f"network-parameters:{account}",
                    False,
                    f"{stage} account {account}: cannot assume {arn} ({_code(exc)})",
                    "Run doctor with --account-access-role naming a role of the account the caller may assume.",
                )
            )
            continue
        credentials = assumed["Credentials"]
        for region in regions:
            site = Site(stage, account, region, home=region == options.region)
            try:
                found = check_account_network(
                    make_client("ssm", credentials, region=region), make_client("ec2", credentials, region=region), site
                )
            except ClientError as exc:
                found = [refused(site, exc)]
            except BotoCoreError as exc:  # the region unreachable or not enabled: this site's line, not an abort
                found = [
                    CheckResult(
                        f"network-parameters:{site.key}",
                        False,
                        f"{site.where}: {exc}; the network there is not checked",
                        f"Check that region {region} is enabled for account {account} and reachable from here.",
                    )
                ]
            first = found[0]
            found[0] = CheckResult(first.name, first.ok, f"{first.detail} ({note})", first.fix, first.warning)
            results += found
    return results
