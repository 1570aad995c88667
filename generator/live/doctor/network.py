"""`mlops-gen doctor --check-network`: is each stage's account ready for models in its own VPC?

A stage config with `"network": "vpc"` makes the endpoint template read the account's subnets and security
groups from two SSM parameters (generator/network.py); CloudFormation fails the stack instance when one is
missing. In a sample account per stage (the first active account of its OU), read through the account-access
role as `--check-roles` reads the target role (the target role's trust admits only the pipeline's test role and
SageMaker, not a platform engineer), doctor checks:

- `network-parameters:<account>`: both SSM parameters exist and name subnets and security groups of that
  account and region, in one VPC;
- `vpc-endpoints:<account>`: how the VPC reaches AWS. A route to 0.0.0.0/0 through a NAT or internet gateway
  reaches every service; otherwise each of S3 (gateway or interface: the model artifacts), the SageMaker API
  and runtime, STS and CloudWatch Logs needs a VPC endpoint, and the missing ones are listed.
  https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html
  https://docs.aws.amazon.com/sagemaker/latest/dg/interface-vpc-endpoint.html

Readers only: ssm:GetParameter and EC2 Describe calls, as the account-access role.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from generator.network import SECURITY_GROUPS_PARAMETER, SUBNETS_PARAMETER

#: The services a VPC without internet access needs endpoints for: (label, endpoint service name suffix).
NEEDED_ENDPOINTS = (
    ("S3 (model artifacts)", "s3"),
    ("SageMaker API", "sagemaker.api"),
    ("SageMaker runtime", "sagemaker.runtime"),
    ("STS", "sts"),
    ("CloudWatch Logs", "logs"),
)
DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html"


def _fail(name: str, detail: str, fix: str) -> Any:
    from generator.live.doctor.common import CheckResult

    return CheckResult(name, False, detail, fix)


def _ok(name: str, detail: str) -> Any:
    from generator.live.doctor.common import CheckResult

    return CheckResult(name, True, detail)


def publish_commands(region: str) -> str:
    """The commands the platform team runs in the account (README, Regulated environments)."""
    return (
        f"In the account, region {region}: aws ssm put-parameter --name {SUBNETS_PARAMETER} --type StringList "
        f"--value subnet-aaa,subnet-bbb; aws ssm put-parameter --name {SECURITY_GROUPS_PARAMETER} --type StringList "
        "--value sg-ccc (private subnets and a security group of one VPC of that account)."
    )


def _parameter(ssm: Any, name: str) -> list[str] | None:
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    return [v.strip() for v in str(value).split(",") if v.strip()]


def check_parameters(ssm: Any, ec2: Any, stage: str, account: str, region: str) -> tuple[Any, str | None, list[str]]:
    """(result, the VPC id, the subnet ids) of the account's published network."""
    name = f"network-parameters:{account}"
    where = f"{stage} account {account}, {region}"
    values = {key: _parameter(ssm, key) for key in (SUBNETS_PARAMETER, SECURITY_GROUPS_PARAMETER)}
    missing = [key for key, value in values.items() if not value]
    if missing:
        return (
            _fail(name, f"{where}: SSM parameter(s) {', '.join(missing)} missing or empty", publish_commands(region)),
            None,
            [],
        )
    subnets, groups = values[SUBNETS_PARAMETER] or [], values[SECURITY_GROUPS_PARAMETER] or []
    found_subnets = {s["SubnetId"]: s["VpcId"] for s in _described(ec2, "describe_subnets", "Subnets", subnets)}
    found_groups = {
        g["GroupId"]: g["VpcId"] for g in _described(ec2, "describe_security_groups", "SecurityGroups", groups)
    }
    unknown = [s for s in subnets if s not in found_subnets] + [g for g in groups if g not in found_groups]
    if unknown:
        return (
            _fail(
                name,
                f"{where}: {', '.join(unknown)} named in SSM are not subnets or security groups of this account "
                "and region",
                publish_commands(region),
            ),
            None,
            [],
        )
    vpcs = sorted({*found_subnets.values(), *found_groups.values()})
    if len(vpcs) != 1:
        return (
            _fail(
                name, f"{where}: the subnets and security groups span VPCs {', '.join(vpcs)}", publish_commands(region)
            ),
            None,
            [],
        )
    detail = f"{where}: {len(subnets)} subnet(s) and {len(groups)} security group(s) of {vpcs[0]}"
    return _ok(name, detail), vpcs[0], subnets


def _described(ec2: Any, operation: str, key: str, ids: list[str]) -> list[Mapping[str, Any]]:
    """The described resources among `ids`, one by one (a missing id makes the batch call fail)."""
    found: list[Mapping[str, Any]] = []
    argument = "SubnetIds" if operation == "describe_subnets" else "GroupIds"
    for one in ids:
        try:
            found += getattr(ec2, operation)(**{argument: [one]})[key]
        except ClientError as exc:
            if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
                raise
    return found


def internet_route(ec2: Any, vpc: str, subnets: list[str]) -> str:
    """The NAT or internet gateway a subnet's default route uses ("" when none does)."""
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    main = [t for t in tables if any(a.get("Main") for a in t.get("Associations", []))]
    for subnet in subnets:
        own = [t for t in tables if any(a.get("SubnetId") == subnet for a in t.get("Associations", []))]
        for table in own or main:
            for route in table.get("Routes", []):
                if route.get("DestinationCidrBlock") != "0.0.0.0/0":
                    continue
                gateway = route.get("NatGatewayId") or route.get("GatewayId") or ""
                if gateway.startswith(("nat-", "igw-")):
                    return gateway
    return ""


def check_endpoints(ec2: Any, stage: str, account: str, region: str, vpc: str, subnets: list[str]) -> Any:
    """How the models' VPC reaches AWS: a NAT/internet route, or the VPC endpoints; the missing ones listed."""
    name = f"vpc-endpoints:{account}"
    where = f"{stage} account {account}, {vpc}"
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    services = {str(e.get("ServiceName", "")) for e in endpoints}
    missing = [label for label, suffix in NEEDED_ENDPOINTS if f"com.amazonaws.{region}.{suffix}" not in services]
    gateway = internet_route(ec2, vpc, subnets)
    if gateway:
        extra = f"; VPC endpoints missing (used if added): {', '.join(missing)}" if missing else ""
        return _ok(name, f"{where}: reaches AWS through {gateway} (NAT or internet gateway){extra}")
    if not missing:
        return _ok(name, f"{where}: no internet route; every needed VPC endpoint is there")
    fix = (
        "Create VPC endpoints in "
        + vpc
        + ": "
        + ", ".join(f"com.amazonaws.{region}.{suffix}" for label, suffix in NEEDED_ENDPOINTS if label in missing)
        + f" (S3 may be a gateway endpoint on the subnets' route tables; the others interface endpoints). {DOC}"
    )
    return _fail(name, f"{where}: no internet route, and no VPC endpoint for {', '.join(missing)}", fix)


def check_account_network(ssm: Any, ec2: Any, stage: str, account: str, region: str) -> list[Any]:
    """Both checks for one account (the endpoints only once the parameters name a VPC)."""
    result, vpc, subnets = check_parameters(ssm, ec2, stage, account, region)
    if vpc is None:
        return [result]
    return [result, check_endpoints(ec2, stage, account, region, vpc, subnets)]


def sample_accounts(trees: Mapping[str, Any], management_account: str) -> dict[str, str]:
    """stage -> the first (lowest id) account a stage's stack set deploys to; stages without one are left out."""
    samples: dict[str, str] = {}
    for stage, tree in trees.items():
        accounts = sorted(a.id for a in tree.active_accounts(management_account))
        if accounts:
            samples[stage] = accounts[0]
    return samples


def check_networks(
    sts: Any, make_client: Any, partition: str, region: str, access_role: str, samples: Mapping[str, str]
) -> list[Any]:
    """The checks in one sample account per stage (stage -> account id), through `access_role`."""
    from generator.live.doctor.common import SESSION_NAME, SESSION_SECONDS

    results: list[Any] = []
    for stage, account in samples.items():
        arn = f"arn:{partition}:iam::{account}:role/{access_role}"
        try:
            assumed = sts.assume_role(RoleArn=arn, RoleSessionName=SESSION_NAME, DurationSeconds=SESSION_SECONDS)
        except ClientError as exc:
            results.append(
                _fail(
                    f"network-parameters:{account}",
                    f"{stage} account {account}: cannot assume {arn} ({exc.response.get('Error', {}).get('Code')})",
                    "Run doctor with --account-access-role naming a role of the account the caller may assume.",
                )
            )
            continue
        credentials = assumed["Credentials"]
        results += check_account_network(
            make_client("ssm", credentials), make_client("ec2", credentials), stage, account, region
        )
    return results
