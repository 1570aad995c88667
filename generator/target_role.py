"""The role every staging and prod account needs, and the stack set that puts it there.

The source article has an engineer sign in to each target account and create this role by hand.
Here it is a template (kind `target-role-template`) and a SERVICE_MANAGED stack set wrapping it
(kind `target-role-stackset`) with auto-deployment on both OUs, so an account that joins an OU
later gets the role without anyone signing in to it.

The role is the endpoint's execution role (SageMaker assumes it to pull the model and image) and
the identity the data-science account's staging test assumes to call the endpoints.
"""

from __future__ import annotations

import json

from awacs import application_autoscaling as autoscaling
from awacs import cloudwatch, ecr, iam, logs, s3, sagemaker
from awacs.aws import (
    Allow,
    ArnLike,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from awacs.sts import AssumeRole
from troposphere import GetAtt, Output, Parameter, Ref, Sub, Template
from troposphere.cloudformation import (
    AutoDeployment,
    DeploymentTargets,
    OperationPreferences,
    StackInstances,
    StackSet,
)
from troposphere.cloudformation import Parameter as StackSetParameter
from troposphere.iam import Policy, Role

from generator.config import RenderConfig
from generator.naming import Stage
from generator.parameters import service_role_defaults

ACCOUNT_PATTERN = r"^\d{12}$"


def _pipeline_role_arns(cfg: RenderConfig) -> list[Sub]:
    """The data-science account's roles that assume this role: the CodeBuild role (staging test)."""
    role = service_role_defaults(cfg)["build"]
    return [Sub(f"arn:${{AWS::Partition}}:iam::${{PipelineAccountId}}:role/service-role/{role}")]


def _account_scoped(service: str, resource: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:{service}:*:${{AWS::AccountId}}:{resource}")


def target_role_policy(cfg: RenderConfig) -> PolicyDocument:
    """Least privilege for serving and testing the project's endpoints in this account."""
    endpoint = _account_scoped("sagemaker", f"endpoint/{cfg.name_prefix}*")
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="ReadModelArtifacts",
                Effect=Allow,
                Action=[s3.GetObject],
                Resource=[Sub("arn:${AWS::Partition}:s3:::sagemaker-*/*")],
                Condition=Condition(StringEquals("s3:ResourceAccount", Ref("PipelineAccountId"))),
            ),
            Statement(
                Sid="DescribeModelPackages",
                Effect=Allow,
                Action=[sagemaker.DescribeModelPackage],
                Resource=[Sub("arn:${AWS::Partition}:sagemaker:*:${PipelineAccountId}:model-package/*")],
            ),
            Statement(
                Sid="PullInferenceImages",
                Effect=Allow,
                Action=[ecr.BatchGetImage, ecr.GetDownloadUrlForLayer, ecr.BatchCheckLayerAvailability],
                Resource=[Sub("arn:${AWS::Partition}:ecr:*:*:repository/*")],
            ),
            Statement(
                Sid="EcrLogin",  # GetAuthorizationToken has no resource type
                Effect=Allow,
                Action=[ecr.GetAuthorizationToken],
                Resource=["*"],
            ),
            Statement(
                Sid="EndpointLogs",
                Effect=Allow,
                Action=[logs.CreateLogGroup, logs.CreateLogStream, logs.PutLogEvents, logs.DescribeLogStreams],
                Resource=[Sub("arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:/aws/sagemaker/*")],
            ),
            Statement(
                Sid="EndpointMetrics",  # PutMetricData has no resource type; scope by namespace
                Effect=Allow,
                Action=[cloudwatch.PutMetricData],
                Resource=["*"],
                Condition=Condition(StringEquals("cloudwatch:namespace", ["/aws/sagemaker/Endpoints", "AWS/SageMaker"])),
            ),
            Statement(
                Sid="TestEndpoints",
                Effect=Allow,
                Action=[sagemaker.DescribeEndpoint, sagemaker.InvokeEndpoint],
                Resource=[endpoint],
            ),
            Statement(
                Sid="ManageProjectEndpoints",
                Effect=Allow,
                Action=[
                    sagemaker.CreateModel,
                    sagemaker.DescribeModel,
                    sagemaker.DeleteModel,
                    sagemaker.CreateEndpointConfig,
                    sagemaker.DescribeEndpointConfig,
                    sagemaker.DeleteEndpointConfig,
                    sagemaker.CreateEndpoint,
                    sagemaker.UpdateEndpoint,
                    sagemaker.DeleteEndpoint,
                    sagemaker.AddTags,
                ],
                Resource=[
                    _account_scoped("sagemaker", "model/*"),
                    _account_scoped("sagemaker", "endpoint-config/*"),
                    endpoint,
                ],
            ),
            Statement(
                Sid="PassThisRoleToSageMaker",
                Effect=Allow,
                Action=[iam.PassRole],
                Resource=[Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{cfg.target_role_name}")],
                Condition=Condition(StringEquals("iam:PassedToService", "sagemaker.amazonaws.com")),
            ),
            Statement(
                Sid="EndpointAutoscaling",
                Effect=Allow,
                Action=[
                    autoscaling.RegisterScalableTarget,
                    autoscaling.DeregisterScalableTarget,
                    autoscaling.PutScalingPolicy,
                    autoscaling.DeleteScalingPolicy,
                ],
                Resource=[Sub("arn:${AWS::Partition}:application-autoscaling:*:${AWS::AccountId}:scalable-target/*")],
            ),
            Statement(
                Sid="AutoscalingServiceLinkedRole",
                Effect=Allow,
                Action=[iam.CreateServiceLinkedRole],
                Resource=[
                    Sub(
                        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/"
                        "sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                    )
                ],
                Condition=Condition(
                    StringEquals("iam:AWSServiceName", "sagemaker.application-autoscaling.amazonaws.com")
                ),
            ),
        ],
    )


def trust_policy(cfg: RenderConfig) -> PolicyDocument:
    """SageMaker (to run the endpoint) and the data-science account's pipeline roles only."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="SageMakerRunsEndpoints",
                Effect=Allow,
                Principal=Principal("Service", ["sagemaker.amazonaws.com"]),
                Action=[AssumeRole],
                Condition=Condition(ArnLike("aws:SourceArn", Sub("arn:${AWS::Partition}:sagemaker:*:${AWS::AccountId}:*"))),
            ),
            Statement(
                Sid="PipelineRolesTestEndpoints",
                Effect=Allow,
                Principal=Principal("AWS", _pipeline_role_arns(cfg)),
                Action=[AssumeRole],
            ),
        ],
    )


def build_target_role(cfg: RenderConfig) -> Template:
    """The target-account role template."""
    template = Template(Description=f"mlops-gen: the role {cfg.target_role_name} in every staging and prod account.")
    template.set_version("2010-09-09")
    template.add_parameter(
        Parameter(
            "PipelineAccountId",
            Type="String",
            AllowedPattern=ACCOUNT_PATTERN,
            Description="Account id of the data-science account whose pipeline deploys here.",
        )
    )
    role = template.add_resource(
        Role(
            "TargetRole",
            RoleName=cfg.target_role_name,
            Description="Runs the SageMaker project's endpoints; assumed by its staging test.",
            AssumeRolePolicyDocument=trust_policy(cfg),
            MaxSessionDuration=3600,
            Policies=[Policy(PolicyName="serve-and-test-endpoints", PolicyDocument=target_role_policy(cfg))],
        )
    )
    template.add_output(Output("RoleArn", Value=GetAtt(role, "Arn")))
    return template


def build_target_role_stack_set(cfg: RenderConfig, role_template: Template) -> Template:
    """A SERVICE_MANAGED stack set deploying the role to both OUs, auto-deploying to new accounts."""
    template = Template(Description="mlops-gen: deploys the target role to every staging and prod account.")
    template.set_version("2010-09-09")
    ous = {Stage.STAGING: cfg.staging_ou, Stage.PROD: cfg.prod_ou}
    prefs = cfg.preferences
    template.add_resource(
        StackSet(
            "TargetRoleStackSet",
            StackSetName=f"{cfg.name_prefix}mlops-gen-target-role",
            Description="The role SageMaker project pipelines use in staging and prod accounts.",
            PermissionModel="SERVICE_MANAGED",
            AutoDeployment=AutoDeployment(Enabled=True, RetainStacksOnAccountRemoval=False),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            # IAM is global: one region is enough, and a second instance would collide on the role name.
            StackInstancesGroup=[
                StackInstances(
                    DeploymentTargets=DeploymentTargets(OrganizationalUnitIds=[ous[s] for s in Stage]),
                    Regions=[cfg.region],
                )
            ],
            OperationPreferences=OperationPreferences(
                MaxConcurrentPercentage=prefs.max_concurrent_percentage,
                FailureTolerancePercentage=prefs.failure_tolerance_percentage,
                RegionConcurrencyType=prefs.region_concurrency.value.upper(),
            ),
            Parameters=[StackSetParameter(ParameterKey="PipelineAccountId", ParameterValue=Ref("AWS::AccountId"))],
            TemplateBody=json.dumps(role_template.to_dict(), sort_keys=True),
        )
    )
    return template
