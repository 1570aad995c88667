"""The role every staging and prod account needs, and the stack set that puts it there.

The source article has an engineer sign in to each target account and create this role by hand.
Here it is a template (kind `target-role-template`) and a SERVICE_MANAGED stack set wrapping it
(kind `target-role-stackset`) with auto-deployment on both OUs, so an account that joins an OU
later gets the role without anyone signing in to it.

The role is the endpoint's execution role (SageMaker assumes it to pull the model and image, and
writes the endpoint's data capture as it) and the identity the data-science account's staging test
assumes to call the endpoints.

The same template also creates the data-capture bucket the endpoints write to, one per account and
deploy region (`BootstrapNames.data_capture_bucket`): without it a capture goes to the account's default
`sagemaker-<region>-<account>` bucket, which usually does not exist and which this role may not write.
The stack set therefore deploys to the home region and every deploy region; the role (IAM is global)
is created only in the home region (`RoleRegion`), the bucket in each.

One module over 400 lines: the role, its stack set and the data-capture bucket are one template and one stack set,
and a reviewer reads their statements together to see what a target account allows.
"""

from __future__ import annotations

import json
from typing import Any

from awacs import cloudwatch, ecr, logs, s3, sagemaker
from awacs.aws import (
    Allow,
    ArnEquals,
    ArnLike,
    Condition,
    ConditionElement,
    ForAllValuesStringEquals,
    Null,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from awacs.sts import AssumeRole, TagSession
from troposphere import Equals, GetAtt, Output, Parameter, Ref, Sub, Template
from troposphere.cloudformation import (
    AutoDeployment,
    DeploymentTargets,
    OperationPreferences,
    StackInstances,
    StackSet,
)
from troposphere.cloudformation import Parameter as StackSetParameter
from troposphere.iam import Policy, Role
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    LifecycleConfiguration,
    LifecycleRule,
    NoncurrentVersionExpiration,
    VersioningConfiguration,
)

from generator import network
from generator.config import PermissionModel, RenderConfig
from generator.contract import DATA_CAPTURE_PREFIX, PROJECT_SESSION_TAG
from generator.errors import InputError
from generator.naming import PROJECT_STEM, BootstrapNames, Stage
from generator.product.kms import add_data_key, kms_bucket_encryption, target_role_statements, uses_key
from generator.product.parameters import service_role_defaults
from generator.product.project_roles import enabled as project_roles_enabled
from generator.product.skips import skip_checks
from generator.product.stacksets import CONCURRENCY_MODE, administration_role_arn
from generator.product.storage import add_tls_only_policy, private_bucket
from generator.rendered import RenderedFile, template_file

ACCOUNT_PATTERN = r"^\d{12}$"


KIND = "target-role-template"
STEM = "target-role-template"
STACK_SET_KIND = "target-role-stackset"
STACK_SET_STEM = "target-role-stackset"
PIPELINE_ACCOUNT = "PipelineAccountId"
PIPELINE_ROLE = "PipelineRoleName"
ROLE_REGION = "RoleRegion"
IN_ROLE_REGION = "InRoleRegion"
CAPTURE_BUCKET = "DataCaptureBucket"
#: Captured requests feed model monitoring and audits; older ones are deleted (versions after 30 days).
CAPTURE_DAYS = 365
CAPTURE_NONCURRENT_DAYS = 30
#: SageMaker writes data capture to DestinationS3Uri as the model's execution role (this role; CreateModel
#: ExecutionRoleArn) and adds `<endpoint>/<variant>/yyyy/mm/dd/hh/` under it.
#: https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html
CAPTURE_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html"


def _pipeline_role_arns() -> list[Sub]:
    """The data-science account's roles that assume this role: the CodeBuild role (staging test).

    The CodePipeline role never assumes it: SERVICE_MANAGED stack sets deploy with the
    organisation's own stack-set execution role.
    """
    return [Sub(f"arn:${{AWS::Partition}}:iam::${{{PIPELINE_ACCOUNT}}}:role/service-role/${{{PIPELINE_ROLE}}}")]


def _pipeline_principals(cfg: RenderConfig) -> list[ConditionElement]:
    """Who of the pipeline's account may assume this role, by aws:PrincipalArn.

    `--service-roles project`: only the project roles that run a staging test, by the mlops-gen project role
    pattern (`role/mlops-gen/<prefix>*-test`, generator/product/project_roles.py), never the shared SageMaker roles.
    Otherwise the one shared CodeBuild role the pipelines' tests run as.
    """
    from generator.product.project_roles import enabled, test_roles_pattern

    if enabled(cfg):
        return [ArnLike("aws:PrincipalArn", [Sub(test_roles_pattern(cfg, f"${{{PIPELINE_ACCOUNT}}}"))])]
    return [ArnEquals("aws:PrincipalArn", _pipeline_role_arns())]


def _session_tag(cfg: RenderConfig) -> list[ConditionElement]:
    """The project session tag the test must pass (sts:AssumeRole supports `aws:RequestTag/${TagKey}`:
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html).

    `--service-roles project`: its value must be the calling role's own tag (each project test role is
    created with its project's id), so a project can claim only itself. With the shared SageMaker role there
    is no per-project identity to compare with: any value (README, "Not isolated yet").
    """
    from generator.product.project_roles import enabled

    key = f"aws:RequestTag/{PROJECT_SESSION_TAG}"
    if enabled(cfg):
        return [StringEquals(key, PROJECT_TAG_VARIABLE)]
    return [Null(key, "false")]


def _account_scoped(service: str, resource: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:{service}:*:${{AWS::AccountId}}:{resource}")


def capture_objects(cfg: RenderConfig) -> Sub:
    """Every capture object of this account's data-capture buckets (one per deploy region)."""
    stem = BootstrapNames(cfg.name_prefix).data_capture_bucket_stem
    return Sub(f"arn:${{AWS::Partition}}:s3:::{stem}-${{AWS::AccountId}}-*/{DATA_CAPTURE_PREFIX}/*")


#: The staging test's session tag as a policy variable (its project's name stem; generator/contract.py).
PROJECT_TAG_VARIABLE = f"${{aws:PrincipalTag/{PROJECT_SESSION_TAG}}}"


def _serving_only(statement: Statement) -> Statement:
    """A grant for SageMaker running the endpoints as this role, not for the staging test's sessions.

    The test's sessions carry the project session tag (the trust policy requires it); SageMaker's do not, and
    the role itself has no tags, so `Null aws:PrincipalTag/<tag>` is true exactly for SageMaker's sessions.
    Without it one project's test could read every project's model artifacts through this shared role.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null
    """
    untagged = Null(f"aws:PrincipalTag/{PROJECT_SESSION_TAG}", "true")
    existing: list[ConditionElement] = list(statement.Condition.conditions) if hasattr(statement, "Condition") else []
    statement.Condition = Condition([*existing, untagged])
    return statement


def project_endpoints(cfg: RenderConfig) -> list[Sub]:
    """The endpoints of the tagged session's project, exactly: `<prefix><session tag>-<stage>` (the tag's value is
    the project's name stem, generator/contract.py), no wildcard another project's name could fill."""
    patterns = []
    for stage in Stage:
        pattern = cfg.names.endpoint(stage).pattern
        if PROJECT_STEM not in pattern:
            raise ValueError(f"endpoint name {pattern} does not hold the project stem {PROJECT_STEM}")
        name = pattern.replace(PROJECT_STEM, PROJECT_TAG_VARIABLE.replace("${", "${!"))
        patterns.append(_account_scoped("sagemaker", f"endpoint/{name}"))
    return patterns


def target_role_policy(cfg: RenderConfig) -> PolicyDocument:
    """Least privilege for serving and testing the project's endpoints in this account.

    Nothing here creates or deletes endpoints: the stack sets' execution role does (SERVICE_MANAGED:
    `stacksets-exec-*`; self-managed: its named role), never this role.
    """
    serving = [
        Statement(
            # SageMaker writes the endpoints' data capture as this role (see CAPTURE_DOC).
            Sid="WriteDataCapture",
            Effect=Allow,
            Action=[s3.PutObject],
            Resource=[capture_objects(cfg)],
        ),
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
            # SageMaker reads the endpoint's auto-rollback alarms as the endpoint's execution role (this role)
            # during a blue/green update (deployment guardrails); the stack set creates them.
            Sid="EndpointRollbackAlarms",
            Effect=Allow,
            Action=[cloudwatch.DescribeAlarms],
            Resource=[Sub(f"arn:${{AWS::Partition}}:cloudwatch:*:${{AWS::AccountId}}:alarm:{cfg.name_prefix}*")],
        ),
        *target_role_statements(cfg, PIPELINE_ACCOUNT),  # --kms-key only (generator/product/kms.py)
        *network.target_role_statements(cfg),  # models in a VPC (generator/network.py)
    ]
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            *(_serving_only(statement) for statement in serving),
            Statement(
                # The staging test's session (tagged with its project's id): that project's endpoints only.
                Sid="TestProjectEndpoints",
                Effect=Allow,
                Action=[sagemaker.DescribeEndpoint, sagemaker.InvokeEndpoint],
                Resource=project_endpoints(cfg),
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
                Condition=Condition(
                    ArnLike("aws:SourceArn", Sub("arn:${AWS::Partition}:sagemaker:*:${AWS::AccountId}:*"))
                ),
            ),
            # The account as principal, narrowed to the pipeline role by aws:PrincipalArn: a role ARN as
            # principal must exist when the policy is saved (a stack instance auto-deployed to a new account
            # would fail if it did not) and silently stops matching when the role is re-created.
            Statement(
                Sid="PipelineRolesTestEndpoints",
                Effect=Allow,
                Principal=Principal("AWS", [Sub(f"arn:${{AWS::Partition}}:iam::${{{PIPELINE_ACCOUNT}}}:root")]),
                Action=[AssumeRole],
                Condition=Condition([*_pipeline_principals(cfg), *_session_tag(cfg)]),
            ),
            # Passing session tags needs sts:TagSession in the trust policy too; only the project tag.
            # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required
            Statement(
                Sid="PipelineRolesTagTestSessions",
                Effect=Allow,
                Principal=Principal("AWS", [Sub(f"arn:${{AWS::Partition}}:iam::${{{PIPELINE_ACCOUNT}}}:root")]),
                Action=[TagSession],
                Condition=Condition(
                    [
                        *_pipeline_principals(cfg),
                        *_session_tag(cfg),
                        ForAllValuesStringEquals("aws:TagKeys", [PROJECT_SESSION_TAG]),
                    ]
                ),
            ),
        ],
    )


def build_target_role(cfg: RenderConfig) -> Template:
    """The target-account role template."""
    template = Template(Description=f"mlops-gen: the role {cfg.target_role_name} in every staging and prod account.")
    template.set_version("2010-09-09")
    template.add_parameter(
        Parameter(
            PIPELINE_ACCOUNT,
            Type="String",
            AllowedPattern=ACCOUNT_PATTERN,
            Description="Account id of the data-science account whose pipeline deploys here.",
        )
    )
    if not project_roles_enabled(cfg):
        template.add_parameter(
            Parameter(
                PIPELINE_ROLE,
                Type="String",
                Default=service_role_defaults(cfg)["build"],
                AllowedPattern=r"^[\w+=,.@-]{1,64}$",
                Description="The data-science account's role (path service-role/) that runs the staging endpoint test.",
            )
        )
    template.add_parameter(
        Parameter(
            ROLE_REGION,
            Type="String",
            Default=cfg.region,
            Description="The one region of the stack set whose instance creates the role (IAM is global).",
        )
    )
    template.add_condition(IN_ROLE_REGION, Equals(Ref("AWS::Region"), Ref(ROLE_REGION)))
    role = template.add_resource(
        Role(
            "TargetRole",
            Condition=IN_ROLE_REGION,
            RoleName=cfg.target_role_name,
            Description="Runs the SageMaker project's endpoints; assumed by its staging test.",
            AssumeRolePolicyDocument=trust_policy(cfg),
            MaxSessionDuration=3600,
            Policies=[Policy(PolicyName="serve-and-test-endpoints", PolicyDocument=target_role_policy(cfg))],
        )
    )
    template.add_output(Output("RoleArn", Condition=IN_ROLE_REGION, Value=GetAtt(role, "Arn")))
    bucket = add_capture_bucket(template, cfg)
    template.add_output(Output("DataCaptureBucketName", Value=Ref(bucket)))
    return template


def capture_bucket_name(cfg: RenderConfig) -> str:
    """The data-capture bucket's `Fn::Sub` name; an InputError when some instance region makes it too long."""
    names = BootstrapNames(cfg.name_prefix)
    try:
        for region in instance_regions(cfg):
            names.data_capture_bucket(region)
    except ValueError as exc:
        raise InputError("--name-prefix", f"is too long: {exc}") from None
    return names.data_capture_bucket("${AWS::Region}")


def add_capture_bucket(template: Template, cfg: RenderConfig) -> Bucket:
    """Where the endpoints of this account and region write their data capture: private, encrypted, TLS-only.

    Same-account writes need only the role's policy (WriteDataCapture), so the bucket policy names no
    principal: it would have to exist when the policy is saved, and the role is created by another region's
    instance. SSE-S3 needs no KMS permission of the writer.
    """
    # Captured requests are data: kept when the stack instance goes (delete the bucket by hand).
    bucket = private_bucket(
        CAPTURE_BUCKET,
        Sub(capture_bucket_name(cfg)),
        VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
        LifecycleConfiguration=LifecycleConfiguration(
            Rules=[
                LifecycleRule(
                    Id="ExpireOldCaptures",
                    Status="Enabled",
                    ExpirationInDays=CAPTURE_DAYS,
                    NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=CAPTURE_NONCURRENT_DAYS),
                    AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
                )
            ]
        ),
    )
    if uses_key(cfg):  # --kms-key: SSE-KMS with this account's and region's data key (generator/product/kms.py)
        bucket.BucketEncryption = kms_bucket_encryption(GetAtt(add_data_key(template, cfg), "Arn"))
    skip_checks(
        bucket,
        {
            "CKV_AWS_18": "Data capture only. Server access logs would need a second bucket in every account and "
            "region, which would in turn need this skip; object-level auditing belongs to CloudTrail S3 data "
            "events, enabled once for the organisation (an organisation trail).",
        },
    )
    template.add_resource(bucket)
    add_tls_only_policy(template, bucket)  # DataCaptureBucketPolicy
    return bucket


def instance_regions(cfg: RenderConfig) -> list[str]:
    """The stack set's regions: the home region (the role) first, then every deploy region (a capture bucket)."""
    return list(dict.fromkeys([cfg.region, *cfg.deploy_regions]))


def _stack_set_targets(cfg: RenderConfig) -> dict[str, Any]:
    """Where the role goes: both OUs with auto-deployment, or (self-managed) the listed accounts.

    Organisations that do not use Organizations-managed stack sets (`--permission-model self-managed`)
    get a SELF_MANAGED stack set with the same administration and execution roles as the endpoint stack
    sets; it cannot follow OU membership, so accounts added later need a re-render.
    """
    if cfg.permission_model is PermissionModel.SELF_MANAGED:
        return {
            "PermissionModel": "SELF_MANAGED",
            "AdministrationRoleARN": administration_role_arn(cfg),
            "ExecutionRoleName": cfg.execution_role_name,
            "targets": DeploymentTargets(Accounts=[*cfg.staging_accounts, *cfg.prod_accounts]),
        }
    return {
        "PermissionModel": "SERVICE_MANAGED",
        "AutoDeployment": AutoDeployment(Enabled=True, RetainStacksOnAccountRemoval=False),
        "targets": DeploymentTargets(OrganizationalUnitIds=[cfg.staging_ou, cfg.prod_ou]),
    }


def build_target_role_stack_set(cfg: RenderConfig, role_template: Template) -> Template:
    """A stack set deploying the role to every staging and prod account (auto-deploying where it can)."""
    template = Template(Description="mlops-gen: deploys the target role to every staging and prod account.")
    template.set_version("2010-09-09")
    prefs = cfg.preferences
    targets = _stack_set_targets(cfg)
    deployment_targets = targets.pop("targets")
    template.add_resource(
        StackSet(
            "TargetRoleStackSet",
            StackSetName=BootstrapNames(cfg.name_prefix).target_role_stack_set,
            Description="The role SageMaker project pipelines use in staging and prod accounts.",
            Capabilities=["CAPABILITY_NAMED_IAM"],
            # Every deploy region gets a data-capture bucket; the role (IAM is global) is created only by the
            # home region's instance (condition InRoleRegion), so the instances never collide on its name.
            StackInstancesGroup=[StackInstances(DeploymentTargets=deployment_targets, Regions=instance_regions(cfg))],
            # SOFT_FAILURE_TOLERANCE, as the deploy actions: under the default mode with no tolerance StackSets
            # deploys one account at a time whatever MaxConcurrentPercentage says (see generator/product/stacksets.py).
            OperationPreferences=OperationPreferences(
                ConcurrencyMode=CONCURRENCY_MODE,
                MaxConcurrentPercentage=prefs.max_concurrent_percentage,
                FailureTolerancePercentage=prefs.failure_tolerance_percentage,
                RegionConcurrencyType=prefs.region_concurrency.value.upper(),
            ),
            # Deployed from the data-science account: its id is the account the pipeline runs in.
            Parameters=[
                StackSetParameter(ParameterKey=PIPELINE_ACCOUNT, ParameterValue=Ref("AWS::AccountId")),
                *(
                    []
                    if project_roles_enabled(cfg)
                    else [
                        StackSetParameter(
                            ParameterKey=PIPELINE_ROLE, ParameterValue=service_role_defaults(cfg)["build"]
                        )
                    ]
                ),
            ],
            TemplateBody=json.dumps(role_template.to_dict(), sort_keys=True),
            **targets,
        )
    )
    return template


def target_role_files(cfg: RenderConfig) -> list[RenderedFile]:
    """The role template, and the stack set that deploys it to both OUs from the data-science account."""
    role_template = build_target_role(cfg)
    return [
        template_file(KIND, STEM, role_template, cfg),
        template_file(STACK_SET_KIND, STACK_SET_STEM, build_target_role_stack_set(cfg, role_template), cfg),
    ]
