"""What the data-science account needs before the first project: the pipeline roles' missing rights.

The source article pastes inline policies onto two SageMaker roles by hand. Here they are
managed policies in one template (kind `prerequisites-template`), attached to the role names in
use (parameters defaulting to the per-service roles, or to the UseRole for all):

- the CodePipeline role: the `CloudFormationStackSet` action's calls on the project's stack sets
  (the set CDK grants that action; SERVICE_MANAGED needs no pass-role);
- the CodeBuild role: `sts:AssumeRole` on the target role in any account (the staging test),
  Organizations reads to walk the staging OU and its child OUs, test reports, and under the
  standard launch role creating the project's model package group (the product cannot);
- an approver policy: approve or reject the pipelines' manual approval, and see their state, for
  the project pipelines' name pattern only.

Read access of the staging and prod accounts to the model artifacts and to the model package group
is not here: it belongs on the resources. The iris pipeline writes its model artifacts to the
project's artifact bucket, which the product creates, so the product's bucket policy grants the two
OUs `s3:GetObject` (a template cannot add a statement to a bucket it does not own, such as
SageMaker's default bucket). The model package group's resource policy is set on the group: by the
product under the generated launch role; under the standard launch role, which may not create the
group, the build step creates it and must put the same policy (this template grants that).
Both grant the target and stack-set execution roles of accounts in the OUs, bound to a fixed
`aws:PrincipalOrgID` so S3 does not call the bucket policy public (generator/product/grants.py).
"""

from __future__ import annotations

from typing import Any

from awacs.aws import (
    Action,
    Allow,
    Condition,
    ForAllValuesStringEquals,
    ForAnyValueStringLike,
    PolicyDocument,
    Statement,
    StringEquals,
)
from troposphere import Equals, If, Join, Not, Output, Parameter, Ref, Sub, Template
from troposphere.iam import ManagedPolicy

from generator.config import (
    DeployMode,
    LaunchRole,
    PermissionModel,
    RenderConfig,
    ServiceRoles,
    StackSetAdmin,
    deploy_mode,
)
from generator.contract import PROJECT_SESSION_TAG
from generator.naming import PROJECT_ID, PROJECT_NAME, BootstrapNames
from generator.product.kms import artifact_key_statements
from generator.product.parameters import service_role_defaults
from generator.product.pipeline_calls import (
    GROUP_ACTIONS,
    ORGANIZATIONS_ACTIONS,
    REGIONAL_BUCKET_ACTIONS,
    REPORT_ACTIONS,
    STACK_SET_ACTIONS,
    TARGETED_STACK_SET_ACTIONS,
    deployment_targets,
    endpoint_template_types,
)
from generator.product.stacksets import administration_role_arn
from generator.rendered import RenderedFile, template_file

KIND = "prerequisites-template"
STEM = "prerequisites-template"
DESCRIPTION = (
    "mlops-gen prerequisites for the data-science account: the permissions the SageMaker service roles lack "
    "for multi-account deployment, and an approver policy. Deploy once per account before the first project."
)
_PARTITION = "arn:${AWS::Partition}"
_ROLE_NAME_PATTERN = r"^[\w+=,.@-]{1,64}$"
HAS_APPROVERS = "HasApprovers"


def name_wildcard(pattern: str) -> str:
    """A name pattern from naming.py with the project name and id as IAM wildcards."""
    return pattern.replace(PROJECT_NAME, "*").replace(PROJECT_ID, "*")


def approval_action_path(cfg: RenderConfig) -> tuple[str, str]:
    """(stage, action) of the pipeline's manual approval, read from the rendered product itself."""
    from generator.product.compose import build_product

    for resource in build_product(cfg).to_dict()["Resources"].values():
        if resource["Type"] != "AWS::CodePipeline::Pipeline":
            continue
        for stage in resource["Properties"]["Stages"]:
            for action in stage["Actions"]:
                if action["ActionTypeId"]["Category"] == "Approval":
                    return stage["Name"], action["Name"]
    raise ValueError("the product's pipeline has no manual approval action")


def _statement(sid: str, service: str, actions: tuple[str, ...], resources: list[Any]) -> Statement:
    return Statement(Sid=sid, Effect=Allow, Action=[Action(service, a) for a in actions], Resource=resources)


def stack_set_target_statement(cfg: RenderConfig, sid: str, account: str) -> Statement:
    """UpdateStackSet and CreateStackInstances on the project stack sets' targets and template types.

    ARN formats (service authorization reference, list_awscloudformation.html):
    `stackset-target/${StackSetTarget}`, here `<stack set id>/<OU or account id>` as in the CloudFormation
    guide's example (the id starts with the stack set's name), and `type/resource/${Type}` with the type
    name's `::` as `-`. A type's account field is `*`: the guide shows it both empty and with an account.
    """
    from generator.iam.call_resources import STACK_SET_TARGET, cloudformation_type_segment

    targets = [
        Sub(f"{_PARTITION}:cloudformation:*:{account}:{STACK_SET_TARGET}/{cfg.name_prefix}*/{target}")
        for target in deployment_targets(cfg)
    ]
    types = [
        Sub(f"{_PARTITION}:cloudformation:*:*:type/resource/{cloudformation_type_segment(t)}")
        for t in endpoint_template_types(cfg)
    ]
    return _statement(sid, "cloudformation", TARGETED_STACK_SET_ACTIONS, [*targets, *types])


def pipeline_role_document(cfg: RenderConfig) -> PolicyDocument:
    """The CodePipeline role: create, update and watch the project's two stack sets."""
    stack_sets = Sub(f"{_PARTITION}:cloudformation:*:${{AWS::AccountId}}:stackset/{cfg.name_prefix}*")
    statements: list[Statement] = []
    if deploy_mode(cfg) is DeployMode.NATIVE:  # api mode: the deploy projects call these (deploy_project_statements)
        statements += [
            # The service authorization reference lists no resource type for CreateStackSet: only "*" is
            # sure to match (aws-cdk scopes it to the stack set's ARN). Everything after creation is scoped.
            _statement("CreateStackSets", "cloudformation", ("CreateStackSet",), ["*"]),
            _statement("ProjectStackSets", "cloudformation", STACK_SET_ACTIONS, [stack_sets]),
            stack_set_target_statement(cfg, "ProjectStackSetTargetsAndTypes", "${AWS::AccountId}"),
        ]
    if cfg.permission_model is PermissionModel.SELF_MANAGED:
        # A self-managed stack set is created with its administration role, which the caller passes.
        statements.append(
            _statement("PassStackSetAdministrationRole", "iam", ("PassRole",), [administration_role_arn(cfg)])
        )
    statements += approval_notification_statements(cfg)
    statements += artifact_key_statements(cfg)  # --kms-key only (generator/product/kms.py)
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def approval_notification_statements(cfg: RenderConfig) -> list[Statement]:
    """With --approver-email: CodePipeline publishes the approval notification as the pipeline's role,
    to the project's KMS-encrypted topic (generator/product/notifications.py): publish, and use a key through SNS."""
    if not cfg.approver_emails:
        return []
    topics = Sub(f"{_PARTITION}:sns:${{AWS::Region}}:${{AWS::AccountId}}:{cfg.name_prefix}*")
    keys = Sub(f"{_PARTITION}:kms:${{AWS::Region}}:${{AWS::AccountId}}:key/*")
    via_sns = Condition(StringEquals("kms:ViaService", Sub("sns.${AWS::Region}.amazonaws.com")))
    return [
        _statement("PublishApprovalNotifications", "sns", ("Publish",), [topics]),
        Statement(
            Sid="EncryptApprovalNotifications",
            Effect=Allow,
            Action=[Action("kms", "GenerateDataKey*"), Action("kms", "Decrypt")],
            Resource=[keys],
            Condition=via_sns,
        ),
    ]


def deploy_project_statements(cfg: RenderConfig) -> list[Statement]:
    """Deploy mode "api": deploy/deploy.py calls the stack-set API as the CodeBuild role.

    Any account in the stack sets' ARN: a delegated administrator's service-managed stack sets live in
    the management account. A delegated administrator also needs `ListDelegatedAdministrators`, which
    CloudFormation checks on its behalf (stacksets-orgs-delegated-admin).
    """
    if deploy_mode(cfg) is not DeployMode.API:
        return []
    stack_sets = Sub(f"{_PARTITION}:cloudformation:*:*:stackset/{cfg.name_prefix}*")
    statements = [
        _statement("DeployCreateStackSets", "cloudformation", ("CreateStackSet",), ["*"]),
        _statement("DeployProjectStackSets", "cloudformation", STACK_SET_ACTIONS, [stack_sets]),
        stack_set_target_statement(cfg, "DeployProjectStackSetTargetsAndTypes", "*"),
    ]
    if cfg.stackset_admin is StackSetAdmin.DELEGATED:
        statements.append(
            _statement("StackSetsDelegatedAdministrator", "organizations", ("ListDelegatedAdministrators",), ["*"])
        )
    return statements


def assume_target_role_condition(cfg: RenderConfig) -> Condition:
    """The target role only in accounts under the staging or prod OU (aws:ResourceOrgPaths; an OU id names
    its organisation's root, so the path binds the organisation too) and, with --org-id, in that organisation
    (aws:ResourceOrgID). Both are global keys set when the role's account is in an organisation:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid
    """
    org = cfg.org_id or "o-*"
    paths = ForAnyValueStringLike("aws:ResourceOrgPaths", [f"{org}/*/{ou}/*" for ou in (cfg.staging_ou, cfg.prod_ou)])
    if cfg.org_id is None:
        return Condition(paths)
    return Condition([StringEquals("aws:ResourceOrgID", cfg.org_id), paths])


def build_role_document(cfg: RenderConfig) -> PolicyDocument:
    """The CodeBuild role: the staging test's cross-account calls and reports; the build's group."""
    assume = _statement(
        "AssumeTargetRole", "sts", ("AssumeRole",), [Sub(f"{_PARTITION}:iam::*:role/${{TargetRoleName}}")]
    )
    assume.Condition = assume_target_role_condition(cfg)
    # The staging test names its project to the target role by a session tag (generator/companions/target_role.py); the
    # shared role cannot be held to one project's value (README, "Not isolated yet"), only to the one key.
    tag = _statement(
        "TagTargetSessionWithProject", "sts", ("TagSession",), [Sub(f"{_PARTITION}:iam::*:role/${{TargetRoleName}}")]
    )
    tag.Condition = Condition(
        [
            *assume_target_role_condition(cfg).conditions,
            ForAllValuesStringEquals("aws:TagKeys", [PROJECT_SESSION_TAG]),
        ]
    )
    statements = [
        assume,
        tag,
        _statement(
            "WalkStageOrganizationalUnits",
            "organizations",
            ORGANIZATIONS_ACTIONS,
            [Sub(f"{_PARTITION}:organizations::*:ou/o-*/ou-*")],
        ),
        _statement(
            "TestReports",
            "codebuild",
            REPORT_ACTIONS,
            [Sub(f"{_PARTITION}:codebuild:${{AWS::Region}}:${{AWS::AccountId}}:report-group/{cfg.name_prefix}*")],
        ),
    ]
    statements += deploy_project_statements(cfg)
    buckets = name_wildcard(cfg.names.artifact_bucket.pattern) + "-*"
    statements.append(
        _statement(
            "RegionalModelArtifactBuckets",
            "s3",
            REGIONAL_BUCKET_ACTIONS,
            [Sub(f"{_PARTITION}:s3:::{buckets}"), Sub(f"{_PARTITION}:s3:::{buckets}/*")],
        )
    )
    statements += artifact_key_statements(cfg)  # --kms-key only (generator/product/kms.py)
    if cfg.launch_role is LaunchRole.STANDARD:
        # Groups are named after the project (no prefix): any group of this account and region.
        statements.append(
            _statement(
                "ProjectModelPackageGroups",
                "sagemaker",
                GROUP_ACTIONS,
                [Sub(f"{_PARTITION}:sagemaker:${{AWS::Region}}:${{AWS::AccountId}}:model-package-group/*")],
            )
        )
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def approver_document(cfg: RenderConfig) -> PolicyDocument:
    """Approve or reject the manual approval of the project pipelines, and see where they stand."""
    pipelines = (
        f"{_PARTITION}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:{name_wildcard(cfg.names.pipeline.pattern)}"
    )
    stage, action = approval_action_path(cfg)
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            _statement(
                "ApproveProjectDeployments",
                "codepipeline",
                ("PutApprovalResult",),
                [Sub(f"{pipelines}/{stage}/{action}")],
            ),
            _statement("SeeProjectPipelines", "codepipeline", ("GetPipelineState",), [Sub(pipelines)]),
        ],
    )


def _role_parameter(template: Template, title: str, default: str, description: str) -> Parameter:
    return template.add_parameter(
        Parameter(title, Type="String", Default=default, AllowedPattern=_ROLE_NAME_PATTERN, Description=description)
    )


def add_project_role_boundary(template: Template, cfg: RenderConfig) -> ManagedPolicy:
    """`--service-roles project`: the permissions boundary every project role is created with (the most any
    project role may ever do, generator/product/project_roles.py). The shared service roles get nothing here."""
    from generator.product.project_roles import BOUNDARY_DOC, boundary_document, boundary_name

    policy = template.add_resource(
        ManagedPolicy(
            "ProjectRoleBoundary",
            ManagedPolicyName=boundary_name(cfg),
            Description=f"mlops-gen: permissions boundary of every project role ({BOUNDARY_DOC}).",
            PolicyDocument=boundary_document(cfg),
        )
    )
    template.add_output(Output("ProjectRoleBoundaryArn", Value=Ref(policy)))
    return policy


def build_prerequisites(cfg: RenderConfig) -> Template:
    """The prerequisites template: three managed policies, attached to the role names in use (with
    `--service-roles project`: the project roles' boundary and the approver policy)."""
    template = Template(Description=DESCRIPTION)
    template.set_version("2010-09-09")
    names = BootstrapNames(cfg.name_prefix)
    if cfg.service_roles is ServiceRoles.PROJECT:
        add_project_role_boundary(template, cfg)
        _add_approver_policy(template, cfg, names)
        return template
    roles = service_role_defaults(cfg)
    pipeline_role = _role_parameter(
        template, "CodePipelineRoleName", roles["pipeline"], "The pipelines' service role (path service-role/)."
    )
    build_role = _role_parameter(
        template, "CodeBuildRoleName", roles["build"], "The build and test projects' service role (path service-role/)."
    )
    _role_parameter(
        template,
        "TargetRoleName",
        cfg.target_role_name,
        "The role in every staging and prod account (target-role-template).",
    )
    pipeline_policy = template.add_resource(
        ManagedPolicy(
            "PipelineRolePolicy",
            ManagedPolicyName=names.pipeline_role_policy,
            Description="mlops-gen: stack-set operations of the project pipelines' deploy actions.",
            PolicyDocument=pipeline_role_document(cfg),
            Roles=[Ref(pipeline_role)],
        )
    )
    build_policy = template.add_resource(
        ManagedPolicy(
            "BuildRolePolicy",
            ManagedPolicyName=names.build_role_policy,
            Description="mlops-gen: the staging endpoint test's cross-account calls and reports.",
            PolicyDocument=build_role_document(cfg),
            Roles=[Ref(build_role)],
        )
    )
    template.add_output(Output("PipelineRolePolicyArn", Value=Ref(pipeline_policy)))
    template.add_output(Output("BuildRolePolicyArn", Value=Ref(build_policy)))
    _add_approver_policy(template, cfg, names)
    return template


def _add_approver_policy(template: Template, cfg: RenderConfig, names: BootstrapNames) -> None:
    approvers = template.add_parameter(
        Parameter(
            "ApproverRoleNames",
            Type="CommaDelimitedList",
            Default="",
            Description="Names of the roles (comma separated) that approve production deployments; may be empty.",
        )
    )
    template.add_condition(HAS_APPROVERS, Not(Equals(Join("", Ref(approvers)), "")))
    approver_policy = template.add_resource(
        ManagedPolicy(
            "ApproverPolicy",
            ManagedPolicyName=names.approver_policy,
            Description="mlops-gen: approve production deployments of SageMaker project pipelines.",
            PolicyDocument=approver_document(cfg),
            Roles=If(HAS_APPROVERS, Ref(approvers), Ref("AWS::NoValue")),
        )
    )
    template.add_output(Output("ApproverPolicyArn", Value=Ref(approver_policy)))


def prerequisites_files(cfg: RenderConfig) -> list[RenderedFile]:
    return [template_file(KIND, STEM, build_prerequisites(cfg), cfg)]
