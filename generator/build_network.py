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

from typing import Any

from troposphere.codebuild import Project, VpcConfig

from generator.config import BUILD_VPC_DOC, RenderConfig

#: Checked with the configuration (generator/config.py `check_build_network`): the options and their rules.
DOC = BUILD_VPC_DOC


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
