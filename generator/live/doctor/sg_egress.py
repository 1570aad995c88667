"""Do the security groups let the traffic out? The outbound rules of the models' and the build's groups.

A route (vpc.py) is half the way out: the network interface's security groups must allow the traffic too. S3:
"The rules for the security groups for your instances that access Amazon S3 through a gateway endpoint must allow
traffic to and from Amazon S3. You can reference the ID of the prefix list for Amazon S3 in security group rules"
(https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html). Security group rules only allow ("You
can specify allow rules, but not deny rules"), and the rules of every group on an interface apply together, so one
group's rule is enough (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html):

- the models' groups: TCP 443 (or all traffic) out to 0.0.0.0/0 or to the region's S3 prefix list
  (com.amazonaws.<region>.s3, DescribePrefixLists), where SageMaker downloads the model artifacts;
- the build's groups: TCP 443 out to 0.0.0.0/0, through the NAT to PyPI and every AWS endpoint.

A rule to another security group, a narrower CIDR or another prefix list may or may not lead there (an endpoint's
or proxy's addresses): doctor cannot tell, so it warns rather than passes. Readers only (EC2 Describe calls).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator.live.doctor.common import CheckResult
from generator.live.doctor.vpc import S3_GATEWAY_DOC, listing, service_name

RULES_DOC = "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"
HTTPS = 443
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class Egress443:
    """What a set of groups' outbound rules allow on TCP 443: to an accepted destination, or only elsewhere."""

    allowed: tuple[str, ...]  # "sg-1 to 0.0.0.0/0", ...
    unsure: tuple[str, ...]  # "sg-1 to sg-2", "sg-1 to 10.0.0.0/8", ...


def covers_https(permission: Mapping[str, Any]) -> bool:
    """The rule carries TCP 443: all traffic ("-1"), or TCP ("tcp"/"6") with 443 in its port range."""
    protocol = str(permission.get("IpProtocol", ""))
    if protocol == "-1":
        return True
    return protocol in ("tcp", "6") and int(permission.get("FromPort", -1)) <= HTTPS <= int(
        permission.get("ToPort", -1)
    )


def destinations(permission: Mapping[str, Any]) -> list[str]:
    """Every destination of an outbound rule: CIDRs, prefix lists, security groups (IPv6 ranges as well)."""
    return (
        [str(r["CidrIp"]) for r in permission.get("IpRanges", [])]
        + [str(r["CidrIpv6"]) for r in permission.get("Ipv6Ranges", [])]
        + [str(p["PrefixListId"]) for p in permission.get("PrefixListIds", [])]
        + [str(g["GroupId"]) for g in permission.get("UserIdGroupPairs", []) if g.get("GroupId")]
    )


def egress_443(groups: Iterable[Mapping[str, Any]], accepted: frozenset[str]) -> Egress443:
    """Sort the groups' TCP 443 outbound destinations into accepted ones and those doctor cannot follow."""
    allowed: list[str] = []
    unsure: list[str] = []
    for group in groups:
        for permission in group.get("IpPermissionsEgress", []):
            if not covers_https(permission):
                continue
            for destination in destinations(permission):
                (allowed if destination in accepted else unsure).append(f"{group['GroupId']} to {destination}")
    return Egress443(tuple(allowed), tuple(unsure))


def s3_prefix_list(ec2: Any, region: str) -> str:
    """The id of the AWS-managed prefix list com.amazonaws.<region>.s3 ("" when EC2 lists none)."""
    name = service_name(region, "s3")
    found = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [name]}])["PrefixLists"]
    return next((str(p["PrefixListId"]) for p in found if p.get("PrefixListName") == name), "")


def verdict(name: str, where: str, found: Egress443, need: str, fix: str) -> CheckResult:
    """Pass when a rule allows an accepted destination; warn when only others do; else fail with `fix`."""
    if found.allowed:
        return CheckResult(name, True, f"{where}: TCP 443 out: {listing(found.allowed)}")
    if found.unsure:
        return CheckResult(
            name,
            True,
            f"{where}: warning: TCP 443 out only {listing(found.unsure)}; doctor cannot tell whether it reaches {need}",
            warning=True,
        )
    return CheckResult(name, False, f"{where}: no outbound rule allows TCP 443 to {need}", fix)


def check_model_groups(ec2: Any, key: str, where: str, region: str, groups: Sequence[Mapping[str, Any]]) -> CheckResult:
    """The models' groups let S3's traffic out: 443 to 0.0.0.0/0 or to the region's S3 prefix list."""
    prefix_list = s3_prefix_list(ec2, region)
    found = egress_443(groups, frozenset({ANYWHERE, prefix_list} - {""}))
    ids = [str(g["GroupId"]) for g in groups]
    target = f"PrefixListIds=[{{PrefixListId={prefix_list}}}]" if prefix_list else f"IpRanges=[{{CidrIp={ANYWHERE}}}]"
    fix = (
        f"In region {region}: aws ec2 authorize-security-group-egress --group-id {ids[0]} --ip-permissions "
        f"'IpProtocol=tcp,FromPort={HTTPS},ToPort={HTTPS},{target}' (SageMaker downloads the model artifacts from "
        f"S3 through these groups). {S3_GATEWAY_DOC} {RULES_DOC}"
    )
    need = (
        f"0.0.0.0/0 or the S3 prefix list {prefix_list or service_name(region, 's3')} (security groups {listing(ids)})"
    )
    return verdict(f"network-security-groups:{key}", where, found, need, fix)


def check_build_groups(account: str, where: str, groups: Sequence[Mapping[str, Any]]) -> CheckResult:
    """The build's groups let HTTPS out to 0.0.0.0/0: through the NAT to PyPI and the AWS endpoints."""
    found = egress_443(groups, frozenset({ANYWHERE}))
    ids = [str(g["GroupId"]) for g in groups]
    fix = (
        f"In account {account}: aws ec2 authorize-security-group-egress --group-id {ids[0]} --protocol tcp --port "
        f"{HTTPS} --cidr {ANYWHERE} (pip install reaches PyPI, and the builds the AWS APIs, through the NAT). "
        f"{RULES_DOC}"
    )
    need = f"0.0.0.0/0 (security groups {listing(ids)})"
    return verdict(f"build-security-groups:{account}", where, found, need, fix)
