"""CodeBuild in a VPC of the pipeline's account (`--build-vpc-id`, `--build-subnets`, `--build-security-groups`).

Regulated platform teams run builds without internet access: the build, test and deploy projects then get a
`VpcConfig`, and CodeBuild creates a network interface per build in those subnets, as the project's service
role. CodeBuild documents the policy that role needs (the EC2 Describe calls, Create/DeleteNetworkInterface,
and CreateNetworkInterfacePermission held to the given subnets and to CodeBuild as the authorized service):
https://docs.aws.amazon.com/codebuild/latest/userguide/vpc-support.html
https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html#customer-managed-policies-example-create-vpc-network-interface

Only the project's own roles (`--service-roles project`) can be given it: the SageMaker-provided CodeBuild role
(AmazonSageMakerServiceCatalogProductsCodeBuildServiceRolePolicy, generator/data/) has no EC2 permission, and a
product must not widen a role every project of the account shares. The builds then reach SageMaker, STS, S3,
CloudWatch Logs and Organizations through VPC endpoints or a NAT (`mlops-gen doctor` says which it finds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from troposphere.codebuild import Project, VpcConfig

from generator.config import RenderConfig, ServiceRoles
from generator.errors import InputError

VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
#: CodeBuild VpcConfig (botocore codebuild service model): at most 16 subnets and 5 security groups.
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
OPTIONS = ("build-vpc-id", "build-subnets", "build-security-groups")
DOC = "https://docs.aws.amazon.com/codebuild/latest/userguide/vpc-support.html"


def _ids(value: Any, flag: str, pattern: re.Pattern[str], what: str, most: int) -> tuple[str, ...]:
    """Comma-separated ids (or a TOML list), each matching `pattern`, at least one and at most `most`."""
    items = value if isinstance(value, list) else str(value).split(",")
    ids = tuple(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))
    bad = [i for i in ids if not pattern.match(i)]
    if bad:
        raise InputError(flag, f"{bad[0]!r} is not {what}")
    if not 1 <= len(ids) <= most:
        raise InputError(flag, f"must name 1 to {most} {what}s (CodeBuild VpcConfig), got {len(ids)}")
    return ids


def check_build_network(values: Mapping[str, Any], origin: Mapping[str, str], cfg: RenderConfig) -> RenderConfig:
    """The three options checked together: all or none, well-formed, and only with the project's own roles."""
    given = [key for key in OPTIONS if values.get(key)]
    if not given:
        return cfg
    missing = [key for key in OPTIONS if key not in given]
    if missing:
        raise InputError(
            origin[missing[0]],
            f"is needed with --{given[0]}: a build in a VPC needs the VPC, its subnets and its security groups",
        )
    if cfg.service_roles is not ServiceRoles.PROJECT:
        raise InputError(
            origin["build-vpc-id"],
            f"needs --service-roles project: CodeBuild creates a build's network interfaces as the project's role, and "
            f"the SageMaker-provided CodeBuild role ({cfg.service_roles.value}) has none of the EC2 permissions "
            f"CodeBuild documents for builds in a VPC ({DOC})",
        )
    vpc = str(values["build-vpc-id"]).strip()
    if not VPC_ID.match(vpc):
        raise InputError(origin["build-vpc-id"], f"{vpc!r} is not a VPC id like vpc-0a1b2c3d4e5f67890")
    return replace(
        cfg,
        build_vpc_id=vpc,
        build_subnets=_ids(values["build-subnets"], origin["build-subnets"], SUBNET_ID, "subnet id", MAX_SUBNETS),
        build_security_groups=_ids(
            values["build-security-groups"],
            origin["build-security-groups"],
            SECURITY_GROUP_ID,
            "security group id",
            MAX_SECURITY_GROUPS,
        ),
    )


def in_vpc(project: Project, cfg: RenderConfig) -> Project:
    """`project` with the build VPC when one is configured (every CodeBuild project of the product)."""
    if cfg.build_vpc_id:
        project.VpcConfig = VpcConfig(
            VpcId=cfg.build_vpc_id,
            Subnets=list(cfg.build_subnets),
            SecurityGroupIds=list(cfg.build_security_groups),
        )
    return project


def role_statements(cfg: RenderConfig) -> list[dict[str, Any]]:
    """What CodeBuild's documented VPC policy grants the project's service role (none without a build VPC).

    `Fn::Sub` texts, as generator/product/project_roles.py writes its statements."""
    if not cfg.build_vpc_id:
        return []
    here = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}"
    subnets = [f"{here}:subnet/{s}" for s in cfg.build_subnets]
    groups = [f"{here}:security-group/{g}" for g in cfg.build_security_groups]
    return [
        {
            "Sid": "BuildVpcDescribe",  # no resource types (service authorization reference)
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "Resource": ["*"],
        },
        {
            # CreateNetworkInterface authorizes the interface, the subnet and the security groups.
            "Sid": "BuildVpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"],
            "Resource": [f"{here}:network-interface/*", *subnets, *groups],
        },
        {
            "Sid": "BuildVpcAttachPermission",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterfacePermission"],
            "Resource": [f"{here}:network-interface/*"],
            "Condition": {
                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                "ArnEquals": {"ec2:Subnet": subnets},
            },
        },
    ]


#: A sample network interface id: CodeBuild makes one per build.
SAMPLE_INTERFACE = "eni-0a1b2c3d4e5f67890"
DESCRIBE_ACTIONS = (
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)


def runtime_needs(
    vpc_config: Mapping[str, Any], role: str, region: str, account: str, partition: str, logical_id: str
) -> list[Any]:
    """What CodeBuild calls as the project's role to run a build in `vpc_config` (resolved), as runtime_iam Needs.

    The calls of CodeBuild's documented VPC policy (see the module doc), on this build's sample interface and
    the project's own subnets and security groups; CreateNetworkInterfacePermission with the condition keys
    CodeBuild sets (itself as the authorized service, the interface's subnet)."""
    from generator.checks.runtime_iam import Need

    if not vpc_config:
        return []
    here = f"arn:{partition}:ec2:{region}:{account}"
    interface = f"{here}:network-interface/{SAMPLE_INTERFACE}"
    subnets = [f"{here}:subnet/{s}" for s in vpc_config.get("Subnets", [])]
    groups = [f"{here}:security-group/{g}" for g in vpc_config.get("SecurityGroupIds", [])]
    subject, why = f"project {logical_id}", f"CodeBuild runs the build in VPC {vpc_config.get('VpcId')} ({DOC})"
    needs = [Need(role, action, "*", logical_id, subject, why) for action in DESCRIBE_ACTIONS]
    needs += [
        Need(role, "ec2:CreateNetworkInterface", arn, logical_id, subject, why)
        for arn in [interface, *subnets, *groups]
    ]
    needs.append(Need(role, "ec2:DeleteNetworkInterface", interface, logical_id, subject, why))
    needs += [
        Need(
            role,
            "ec2:CreateNetworkInterfacePermission",
            interface,
            logical_id,
            subject,
            why,
            (("ec2:AuthorizedService", "codebuild.amazonaws.com"), ("ec2:Subnet", subnet)),
        )
        for subnet in subnets
    ]
    return needs
