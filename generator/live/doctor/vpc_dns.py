"""The VPC's DNS attributes, which a VPC endpoint needs to be found at S3's usual names.

S3 gateway endpoints: "If you're using the Amazon DNS servers, you must enable both DNS hostnames and DNS resolution
for your VPC. If you're using your own DNS server, ensure that requests to Amazon S3 resolve correctly to the IP
addresses maintained by AWS" (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html).
An interface endpoint's private DNS: "To use a private hosted zone, you must set the following VPC attributes to
true: enableDnsHostnames and enableDnsSupport" (EC2 API CreateVpcEndpoint, PrivateDnsEnabled,
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcEndpoint.html).

A VPC uses the Amazon DNS server unless its DHCP options set names other domain-name-servers (a VPC without one
shows DhcpOptionsId "default"; "AmazonProvidedDNS" is the Amazon server;
https://docs.aws.amazon.com/vpc/latest/userguide/DHCPOptionSetConcepts.html). With its own DNS servers doctor
cannot see how S3's names resolve: a warning. Only checked where the S3 check relies on an endpoint, not on a NAT.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from generator.live.doctor.common import CheckResult

S3_GATEWAY_DOC = "https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html"
DHCP_DOC = "https://docs.aws.amazon.com/vpc/latest/userguide/DHCPOptionSetConcepts.html"
#: (DescribeVpcAttribute's Attribute, its answer's key), in the order the fix sets them.
ATTRIBUTES = (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames"))
AMAZON_DNS = "AmazonProvidedDNS"
#: The AWS CLI's flag per attribute; ModifyVpcAttribute sets one attribute per call
#: (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcAttribute.html).
FLAGS = {"enableDnsSupport": "--enable-dns-support", "enableDnsHostnames": "--enable-dns-hostnames"}


def disabled_attributes(ec2: Any, vpc: str) -> list[str]:
    """The DNS attributes of the VPC that are off (DescribeVpcAttribute, one attribute per call)."""
    off = []
    for attribute, key in ATTRIBUTES:
        answer = ec2.describe_vpc_attribute(VpcId=vpc, Attribute=attribute)
        if not answer.get(key, {}).get("Value"):
            off.append(attribute)
    return off


def own_dns_servers(ec2: Any, vpc: str) -> list[str]:
    """The VPC's DHCP options' domain-name-servers other than the Amazon DNS server ([] when it uses Amazon's)."""
    options = str(ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0].get("DhcpOptionsId", "default"))
    if options == "default":
        return []
    try:
        found = ec2.describe_dhcp_options(DhcpOptionsIds=[options])["DhcpOptions"]
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")).endswith(".NotFound"):
            return []
        raise
    servers = [
        str(value["Value"])
        for option in found
        for configuration in option.get("DhcpConfigurations", [])
        if configuration.get("Key") == "domain-name-servers"
        for value in configuration.get("Values", [])
    ]
    return [] if not servers or AMAZON_DNS in servers else servers


def check_dns(ec2: Any, key: str, where: str, region: str, vpc: str, endpoints: str) -> CheckResult:
    """`vpc-dns:<key>`: both DNS attributes on, since the S3 path relies on `endpoints` (named in the detail)."""
    name = f"vpc-dns:{key}"
    off = disabled_attributes(ec2, vpc)
    if not off:
        return CheckResult(name, True, f"{where}: DNS resolution and DNS hostnames enabled, as {endpoints} need")
    servers = own_dns_servers(ec2, vpc)
    if servers:
        return CheckResult(
            name,
            True,
            f"{where}: warning: {', '.join(off)} off, and the VPC's DHCP options name DNS servers "
            f"{', '.join(servers)}: doctor cannot tell whether they resolve S3 to AWS's addresses for {endpoints} "
            f"({S3_GATEWAY_DOC})",
            warning=True,
        )
    commands = "; ".join(f"aws ec2 modify-vpc-attribute --vpc-id {vpc} {FLAGS[a]} '{{\"Value\":true}}'" for a in off)
    return CheckResult(
        name,
        False,
        f"{where}: {', '.join(off)} off in a VPC using the Amazon DNS server; {endpoints} need DNS resolution and "
        "DNS hostnames enabled",
        f"In region {region}: {commands}. {S3_GATEWAY_DOC} {DHCP_DOC}",
    )
