"""Private networking of the endpoints (issue 17): what the target role needs for models in a VPC.

A stage config with `"network": "vpc"` gives the model a `VpcConfig` (seedcode endpoint template): the subnets
and security groups each target account publishes in SSM (`SUBNETS_PARAMETER`, `SECURITY_GROUPS_PARAMETER`).
SageMaker then creates the endpoint's network interfaces in those subnets as the model's execution role, the
target role, which needs the EC2 permissions SageMaker lists for CreateModel with a VpcConfig:
https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms
https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html

Which stage runs in a VPC is chosen in the deploy repository's stage configs, after the render, so the role
always carries these statements; they are scoped to the account's own network interfaces, subnets and security
groups where the service authorization reference lets a resource be named (the Describe calls and
DeleteNetworkInterfacePermission have no required resource type: `*`).
"""

from __future__ import annotations

from awacs import ec2
from awacs.aws import Allow, Statement
from troposphere import Sub

from generator.config import RenderConfig

#: The SSM parameters (StringList) every target account publishes for models in a VPC (README, Regulated
#: environments); the seed's build.py names the same two (SUBNETS_PARAMETER, SECURITY_GROUPS_PARAMETER).
SUBNETS_PARAMETER = "/mlops-gen/network/subnet-ids"
SECURITY_GROUPS_PARAMETER = "/mlops-gen/network/security-group-ids"
VPC_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html"


def _own(resource: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:ec2:*:${{AWS::AccountId}}:{resource}/*")


def target_role_statements(cfg: RenderConfig) -> list[Statement]:
    """The EC2 statements SageMaker documents for an execution role whose models have a VpcConfig
    (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms,
    https://docs.aws.amazon.com/sagemaker/latest/dg/host-vpc.html), scoped to this account where a resource
    type allows it."""
    del cfg  # the same for every render: the stage configs choose the network after it
    return [
        Statement(
            Sid="ModelVpcNetworkInterfaces",
            Effect=Allow,
            # CreateNetworkInterface authorizes the interface, the subnet and the security groups.
            Action=[ec2.CreateNetworkInterface, ec2.DeleteNetworkInterface],
            Resource=[_own("network-interface"), _own("subnet"), _own("security-group")],
        ),
        Statement(
            # As SageMaker documents them (no conditions: none of its pages shows which values its calls carry).
            Sid="ModelVpcAttachPermissions",
            Effect=Allow,
            Action=[ec2.CreateNetworkInterfacePermission],
            Resource=[_own("network-interface")],
        ),
        Statement(
            # Its one resource type is optional: a call naming none is authorized against `*` (hygiene exempts it).
            Sid="ModelVpcDetachPermissions",
            Effect=Allow,
            Action=[ec2.DeleteNetworkInterfacePermission],
            Resource=["*"],
        ),
        Statement(
            Sid="ModelVpcDescribe",  # no resource types (service authorization reference)
            Effect=Allow,
            Action=[
                ec2.DescribeDhcpOptions,
                ec2.DescribeNetworkInterfaces,
                ec2.DescribeSecurityGroups,
                ec2.DescribeSubnets,
                ec2.DescribeVpcEndpoints,  # host-vpc.html lists it with the others
                ec2.DescribeVpcs,
            ],
            Resource=["*"],
        ),
    ]
