"""The project's own roles (`--service-roles project`, the default with the generated launch role).

Why: the SageMaker-provided service roles are shared by every project of the data-science account,
including projects of other templates. Giving them stack-set and cross-account powers (the
prerequisites of the `per-service`/`use-role` modes) lets any project deploy into the stage OUs. In
this mode the product creates one role per job, named after the project
(`<prefix><project>-<id>-<kind>`, under the fixed path `PROJECT_ROLE_PATH`), whose policies name only
this project's resources: its stack sets, artifact bucket, model package group, repository, build
projects, report groups, log groups and pipeline. A second project's roles cannot touch them.

A launch role that may create roles is a privilege-escalation path, so every project role carries the
permissions boundary `boundary_document` (rendered with the prerequisites): the most any project role
may ever do. The generated launch role may create roles only under the path and name pattern, and only
with that boundary (generator/companions/launch_role.py, `iam:PermissionsBoundary`).

Policies are written as `Fn::Sub` text over the product's parameters; the boundary is the same text
with the project's name and id as wildcards, so it always contains what a rendered role asks for.

One module over 400 lines: the project's roles and the boundary that bounds them are read side by side (the
boundary must contain every statement a role asks for), so they stay in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from troposphere import AWSHelperFn, Sub, Tags, Template
from troposphere.iam import Policy, Role

from generator import build_network
from generator.config import PermissionModel, RenderConfig, ServiceRoles
from generator.contract import PROJECT_SESSION_TAG
from generator.naming import (
    PROJECT_ID,
    PROJECT_NAME,
    PROJECT_ROLE_KINDS,
    PROJECT_ROLE_PATH,
    PROJECT_STEM,
    BootstrapNames,
)
from generator.product.org_id import ORG_ID_PARAMETER

_P = "arn:${AWS::Partition}"
_HERE = "${AWS::Region}:${AWS::AccountId}"
#: Who assumes each role: the service that runs as it.
SERVICES = {
    "pipeline": "codepipeline.amazonaws.com",
    "build": "codebuild.amazonaws.com",
    "test": "codebuild.amazonaws.com",
    "events": "events.amazonaws.com",
}
#: Logical ids of the roles in the product template.
LOGICAL_IDS = {kind: f"Project{kind.capitalize()}Role" for kind in PROJECT_ROLE_KINDS}
BOUNDARY_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html"
#: A managed policy's document: at most 6,144 characters, whitespace not counted (the boundary is one).
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
MANAGED_POLICY_MAX_CHARS = 6144
#: The staging test assumes the target role only inside the organisation, under the staging OU. Both are
#: global condition keys (available when the resource's account is in an organisation), and AWS's resource
#: perimeter examples govern sts:AssumeRole with aws:ResourceOrgID:
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid
#: https://github.com/aws-samples/data-perimeter-policy-examples (service_control_policies/resource_perimeter_scp.json)
RESOURCE_ORG_ID = "aws:ResourceOrgID"
RESOURCE_ORG_PATHS = "aws:ResourceOrgPaths"


def enabled(cfg: RenderConfig) -> bool:
    """Does the product create its own roles?"""
    return cfg.service_roles is ServiceRoles.PROJECT


def role_name_pattern(cfg: RenderConfig, kind: str) -> str:
    """`Fn::Sub` text of one project role's name."""
    return cfg.names.project_role(kind).pattern


def role_arn(cfg: RenderConfig, kind: str) -> Sub:
    """The role's ARN, spelt out (not `GetAtt`): the launch role's iam:PassRole is then scoped to it."""
    return Sub(f"{_P}:iam::${{AWS::AccountId}}:role{PROJECT_ROLE_PATH}{role_name_pattern(cfg, kind)}")


def roles_pattern(cfg: RenderConfig, account: str = "${AWS::AccountId}") -> str:
    """Every mlops-gen project role of an account (`Fn::Sub` text): the launch role's and trust's pattern."""
    return f"{_P}:iam::{account}:role{PROJECT_ROLE_PATH}{cfg.name_prefix}*"


def test_roles_pattern(cfg: RenderConfig, account: str) -> str:
    """The project roles that run the staging test (the only ones that assume the target role)."""
    return f"{roles_pattern(cfg, account)}-test"


def boundary_name(cfg: RenderConfig) -> str:
    return BootstrapNames(cfg.name_prefix).project_role_boundary


def boundary_arn_text(cfg: RenderConfig) -> str:
    """`Fn::Sub` text of the boundary's ARN (a customer managed policy of the account, path `/`)."""
    return f"{_P}:iam::${{AWS::AccountId}}:policy/{boundary_name(cfg)}"


# --- what each role may do ------------------------------------------------------------------------


def _stmt(
    sid: str, actions: list[str], resources: list[str], condition: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = dict(condition)
    return statement


@dataclass(frozen=True)
class _Scope:
    """The `Fn::Sub` texts of this project's resources."""

    base: str
    bucket: str
    group: str

    @classmethod
    def of(cls, cfg: RenderConfig) -> _Scope:
        names = cfg.names
        return cls(
            f"{cfg.name_prefix}{PROJECT_NAME}-{PROJECT_ID}",
            names.artifact_bucket.pattern,
            names.model_package_group.pattern,
        )


def _logs_and_artifacts(scope: _Scope, write: bool) -> list[dict[str, Any]]:
    """What every CodeBuild project of the project needs: its log groups, and its pipeline's artifacts."""
    objects = ["s3:GetObject", "s3:GetObjectVersion", *(["s3:PutObject"] if write else [])]
    return [
        _stmt(
            "Logs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            [f"{_P}:logs:{_HERE}:log-group:/aws/codebuild/{scope.base}-*"],
        ),
        _stmt("ArtifactObjects", objects, [f"{_P}:s3:::{scope.bucket}/*"]),
        _stmt("ArtifactBucket", ["s3:GetBucketAcl", "s3:GetBucketLocation"], [f"{_P}:s3:::{scope.bucket}"]),
    ]


def _stack_set_statements(cfg: RenderConfig, scope: _Scope, account: str, sid: str) -> list[dict[str, Any]]:
    """This project's two stack sets, their deployment targets and their template's resource types."""
    from generator.iam.call_resources import STACK_SET_TARGET, cloudformation_type_segment
    from generator.product.pipeline_calls import (
        STACK_SET_ACTIONS,
        TARGETED_STACK_SET_ACTIONS,
        deployment_targets,
        endpoint_template_types,
    )

    stack_sets = f"{scope.base}-deploy-*"
    targets = [
        f"{_P}:cloudformation:*:{account}:{STACK_SET_TARGET}/{stack_sets}/{target}"
        for target in deployment_targets(cfg)
    ]
    types = [
        f"{_P}:cloudformation:*:*:type/resource/{cloudformation_type_segment(t)}" for t in endpoint_template_types(cfg)
    ]
    statements = [
        # No resource type for CreateStackSet in the service authorization reference: "*" (prerequisites.py).
        _stmt(f"{sid}CreateStackSets", ["cloudformation:CreateStackSet"], ["*"]),
        _stmt(
            f"{sid}ProjectStackSets",
            [f"cloudformation:{a}" for a in STACK_SET_ACTIONS],
            [f"{_P}:cloudformation:*:{account}:stackset/{stack_sets}"],
        ),
        _stmt(f"{sid}TargetsAndTypes", [f"cloudformation:{a}" for a in TARGETED_STACK_SET_ACTIONS], targets + types),
    ]
    if cfg.permission_model is PermissionModel.SELF_MANAGED:
        from generator.product.stacksets import administration_role_arn

        admin = administration_role_arn(cfg)
        text = admin if isinstance(admin, str) else admin.data["Fn::Sub"]
        statements.append(_stmt(f"{sid}PassAdministrationRole", ["iam:PassRole"], [text]))
    return statements


#: The project key's ARN in a project role's policy (same template: `Fn::Sub` resolves it, and orders the key first).
PROJECT_KEY_ARN = "${ProjectKey.Arn}"


def _artifact_key(cfg: RenderConfig) -> list[dict[str, Any]]:
    """With `--kms-key`: the artifact key through S3 (S3 calls KMS as the reader or writer). A generated key by its
    exact ARN: a tag-scoped grant would also reach any key someone tagged alike, and tag-based authorization may
    lag the key's creation (https://docs.aws.amazon.com/kms/latest/developerguide/abac.html)."""
    from generator.product.kms import S3_VIA, generates_key, uses_key

    if not uses_key(cfg):
        return []
    condition: dict[str, str] = {"kms:ViaService": S3_VIA}
    keys = [PROJECT_KEY_ARN] if generates_key(cfg) else [str(cfg.kms_key)]
    return [_stmt("UseArtifactKeyThroughS3", ["kms:GenerateDataKey", "kms:Decrypt"], keys, {"StringEquals": condition})]


def _regional_buckets(scope: _Scope) -> dict[str, Any]:
    """The build's per-region copies of approved models, `<artifact bucket>-<region>` (seed regions.py): what
    the prerequisites grant the shared build role (`REGIONAL_BUCKET_ACTIONS`), for this project's buckets."""
    from generator.product.pipeline_calls import REGIONAL_BUCKET_ACTIONS

    buckets = f"{_P}:s3:::{scope.bucket}-*"
    actions = [f"s3:{a}" for a in REGIONAL_BUCKET_ACTIONS]
    return _stmt("RegionalModelArtifactBuckets", actions, [buckets, f"{buckets}/*"])


def pipeline_statements(cfg: RenderConfig, scope: _Scope) -> list[dict[str, Any]]:
    from generator.config import DeployMode, Source, deploy_mode

    statements = [
        _stmt(
            "ArtifactObjects",
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [f"{_P}:s3:::{scope.bucket}/*"],
        ),
        _stmt(
            "RunProjectBuilds",
            ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
            [f"{_P}:codebuild:{_HERE}:project/{scope.base}-*"],
        ),
    ]
    if cfg.source is Source.CODECOMMIT:
        statements.append(
            _stmt(
                "ReadRepository",
                [
                    "codecommit:GetBranch",
                    "codecommit:GetCommit",
                    "codecommit:UploadArchive",
                    "codecommit:GetUploadArchiveStatus",
                    "codecommit:CancelUploadArchive",
                ],
                [f"{_P}:codecommit:{_HERE}:{cfg.names.repository.pattern}"],
            )
        )
    elif cfg.connection_arn:
        # One connection, two ARN spellings (generator/iam/iam_table.py `_as_service`).
        arns = [cfg.connection_arn.replace(":codeconnections:", f":{s}:").replace(":codestar-connections:", f":{s}:")
                for s in ("codestar-connections", "codeconnections")]  # fmt: skip
        actions = ["codestar-connections:UseConnection", "codeconnections:UseConnection"]
        statements.append(_stmt("UseConnection", actions, arns))
    if deploy_mode(cfg) is DeployMode.NATIVE:
        statements += _stack_set_statements(cfg, scope, "${AWS::AccountId}", "")
    statements += _approval_statements(cfg, scope)
    return statements + _artifact_key(cfg)


def _approval_statements(cfg: RenderConfig, scope: _Scope) -> list[dict[str, Any]]:
    """With --approver-email: publish to this project's approval topic (KMS-encrypted, through SNS)."""
    if not cfg.approver_emails:
        return []
    return [
        _stmt(
            "PublishApprovalNotifications", ["sns:Publish"], [f"{_P}:sns:{_HERE}:{cfg.names.approval_topic.pattern}"]
        ),
        _stmt(
            "EncryptApprovalNotifications",
            ["kms:GenerateDataKey*", "kms:Decrypt"],
            [f"{_P}:kms:{_HERE}:key/*"],
            {"StringEquals": {"kms:ViaService": "sns.${AWS::Region}.amazonaws.com"}},
        ),
    ]


def build_statements(cfg: RenderConfig, scope: _Scope) -> list[dict[str, Any]]:
    from generator.config import DeployMode, StackSetAdmin, deploy_mode

    statements = [
        *_logs_and_artifacts(scope, write=True),
        _stmt(
            "FindApprovedModels",
            ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
            [f"{_P}:sagemaker:{_HERE}:model-package/{scope.group}/*"],
        ),
        _regional_buckets(scope),
        *_artifact_key(cfg),
        *build_network.role_statements(cfg),  # --build-vpc-id (generator/build_network.py)
    ]
    if deploy_mode(cfg) is DeployMode.API:  # the deploy projects run as this role too
        statements += _stack_set_statements(cfg, scope, "*", "Deploy")
        if cfg.stackset_admin is StackSetAdmin.DELEGATED:
            statements.append(
                _stmt("StackSetsDelegatedAdministrator", ["organizations:ListDelegatedAdministrators"], ["*"])
            )
    return statements


def test_statements(cfg: RenderConfig, scope: _Scope) -> list[dict[str, Any]]:
    from generator.product.pipeline_calls import ORGANIZATIONS_ACTIONS, REPORT_ACTIONS

    # The test tests staging only (codebuild.test_environment): its role may not assume the prod target role.
    target_roles = [f"{_P}:iam::*:role/${{SageMakerExecutionRoleStagingName}}"]
    return [
        *_logs_and_artifacts(scope, write=False),
        _stmt(
            "TestReports",
            [f"codebuild:{a}" for a in REPORT_ACTIONS],
            [f"{_P}:codebuild:{_HERE}:report-group/{scope.base}-*"],
        ),
        _stmt(
            "WalkStageOrganizationalUnits",
            [f"organizations:{a}" for a in ORGANIZATIONS_ACTIONS],
            # The organisation's id is not in the ARNs the test's calls are modelled on: any organisation.
            [f"{_P}:organizations::*:ou/o-*/ou-*"],
        ),
        _stmt("AssumeTargetRole", ["sts:AssumeRole"], target_roles, assume_role_condition()),
        # The session tag that names this project to the target role (its trust requires it, and admits only
        # the caller's own tag value; this role is created with its project's id: `add_project_roles`).
        _stmt("TagTargetSessionWithProject", ["sts:TagSession"], target_roles, session_tag_condition()),
        *_artifact_key(cfg),
        *build_network.role_statements(cfg),  # --build-vpc-id (generator/build_network.py)
    ]


def session_tag_condition() -> dict[str, Any]:
    """Only the project session tag, valued with this role's own tag (`${!...}`: a policy variable in `Fn::Sub`)."""
    return {
        "StringEquals": {f"aws:RequestTag/{PROJECT_SESSION_TAG}": f"${{!aws:PrincipalTag/{PROJECT_SESSION_TAG}}}"},
        "ForAllValues:StringEquals": {"aws:TagKeys": [PROJECT_SESSION_TAG]},
        **assume_role_condition(),
    }


def assume_role_condition() -> dict[str, Any]:
    """The target role only in this organisation's accounts under the staging OU (`RESOURCE_ORG_ID`): the
    staging test never needs a prod account, so its role cannot reach one."""
    paths = [f"${{{ORG_ID_PARAMETER}}}/*/${{OrganizationalUnitStagingId}}/*"]
    return {
        "StringEquals": {RESOURCE_ORG_ID: f"${{{ORG_ID_PARAMETER}}}"},
        "ForAnyValue:StringLike": {RESOURCE_ORG_PATHS: paths},
    }


def events_statements(cfg: RenderConfig, scope: _Scope) -> list[dict[str, Any]]:
    return [
        _stmt(
            "StartProjectPipeline",
            ["codepipeline:StartPipelineExecution"],
            [f"{_P}:codepipeline:{_HERE}:{cfg.names.pipeline.pattern}"],
        )
    ]


_STATEMENTS = {
    "pipeline": pipeline_statements,
    "build": build_statements,
    "test": test_statements,
    "events": events_statements,
}


def role_document(cfg: RenderConfig, kind: str) -> dict[str, Any]:
    """One role's policy as `Fn::Sub` text (not yet wrapped)."""
    return {"Version": "2012-10-17", "Statement": _STATEMENTS[kind](cfg, _Scope.of(cfg))}


def _subbed(node: Any) -> Any:
    """Every string with a `${...}` as an `Fn::Sub`."""
    if isinstance(node, dict):
        return {k: _subbed(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_subbed(v) for v in node]
    if isinstance(node, str) and "${" in node:
        return Sub(node)
    return node


# --- the product's roles ---------------------------------------------------------------------------


def trust_document(kind: str) -> dict[str, Any]:
    """Only the service that runs as the role, for this account's resources (aws:SourceAccount)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": [SERVICES[kind]]},
                "Action": ["sts:AssumeRole"],
                "Condition": {"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}},
            }
        ],
    }


def add_project_roles(template: Template, cfg: RenderConfig) -> dict[str, Role]:
    """The project's four roles (none unless `enabled`), each with the boundary."""
    if not enabled(cfg):
        return {}
    roles = {}
    for kind in PROJECT_ROLE_KINDS:
        roles[kind] = template.add_resource(
            Role(
                LOGICAL_IDS[kind],
                RoleName=Sub(role_name_pattern(cfg, kind)),
                Path=PROJECT_ROLE_PATH,
                Description=f"mlops-gen: the {kind} role of this SageMaker project only.",
                AssumeRolePolicyDocument=trust_document(kind),
                PermissionsBoundary=Sub(boundary_arn_text(cfg)),
                MaxSessionDuration=3600,
                Policies=[Policy(PolicyName=f"project-{kind}", PolicyDocument=_subbed(role_document(cfg, kind)))],
                # The test role names its project to the target role by this tag (generator/companions/target_role.py).
                **({"Tags": Tags({PROJECT_SESSION_TAG: Sub(PROJECT_STEM)})} if kind == "test" else {}),
            )
        )
    return roles


def role_arns(cfg: RenderConfig) -> dict[str, AWSHelperFn]:
    """kind -> the project role's ARN, for the resources that run as it."""
    return {kind: role_arn(cfg, kind) for kind in PROJECT_ROLE_KINDS}


def depend_on_roles(template: Template, roles: Mapping[str, Role]) -> None:
    """Resources name the roles by ARN (see `role_arn`), so CloudFormation must be told to create them first."""
    if not roles:
        return
    users = ("AWS::CodeBuild::Project", "AWS::CodePipeline::Pipeline", "AWS::Events::Rule")
    titles = sorted(role.title for role in roles.values())
    for resource in template.resources.values():
        if resource.resource_type in users:
            resource.DependsOn = titles


# --- the boundary (rendered with the prerequisites) ----------------------------------------------


def _boundary_text(cfg: RenderConfig, text: str) -> str:
    values = {
        PROJECT_NAME: "*",
        PROJECT_ID: "*",
        "${OrganizationalUnitStagingId}": cfg.staging_ou,
        "${OrganizationalUnitProdId}": cfg.prod_ou,
        "${SageMakerExecutionRoleStagingName}": cfg.target_role_name,
        "${SageMakerExecutionRoleProdName}": cfg.target_role_name,
        PROJECT_KEY_ARN: f"{_P}:kms:{_HERE}:key/*",  # any project's key (the boundary is rendered once for all)
    }
    if cfg.org_id:
        values[f"${{{ORG_ID_PARAMETER}}}"] = cfg.org_id
    for variable, value in values.items():
        text = text.replace(variable, value)
    return text.replace(f"${{{ORG_ID_PARAMETER}}}", "o-*")


def _boundary_node(cfg: RenderConfig, node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _boundary_node(cfg, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_boundary_node(cfg, v) for v in node]
    if isinstance(node, str):
        return _boundary_text(cfg, node)
    return node


def boundary_document(cfg: RenderConfig) -> dict[str, Any]:
    """The most any project role may do: every role's statements, for any project of this prefix.

    Without `--org-id` the organisation is not known when the prerequisites are rendered: the boundary's
    AssumeRole statement then keeps the OU paths (any organisation) and drops the fixed id; the roles keep both.
    """
    statements: list[dict[str, Any]] = []
    seen: set[str] = set()
    for kind in PROJECT_ROLE_KINDS:
        for statement in role_document(cfg, kind)["Statement"]:
            bounded = _boundary_node(cfg, statement)
            key = json.dumps({k: v for k, v in bounded.items() if k != "Sid"}, sort_keys=True)
            if key in seen:  # the build and test roles share their logs and artifact statements
                continue
            seen.add(key)
            bounded["Sid"] = f"{kind.capitalize()}{statement['Sid']}"
            if not cfg.org_id and "Condition" in bounded:
                bounded["Condition"] = {
                    op: keys for op, keys in bounded["Condition"].items() if RESOURCE_ORG_ID not in keys
                }
            looser = next((s for s in statements if _loosens(s, bounded)), None)
            if looser is not None:  # one statement bounds both (the managed policy has 6,144 characters)
                looser["Action"] = sorted({*looser["Action"], *bounded["Action"]})
                continue
            statements.append(bounded)
    document: dict[str, Any] = _subbed({"Version": "2012-10-17", "Statement": statements})
    return document


def _loosens(bound: Mapping[str, Any], statement: Mapping[str, Any]) -> bool:
    """Does `bound`, given `statement`'s actions too, still bound it: same effect and resources, and each of its
    conditions also one of `statement`'s (fewer conditions allow more)? A boundary only has to allow at least
    what the role's own policy does; the role's policy keeps the tighter conditions."""
    if bound.get("Effect") != statement.get("Effect") or bound.get("Resource") != statement.get("Resource"):
        return False
    mine, theirs = bound.get("Condition") or {}, statement.get("Condition") or {}
    return all(theirs.get(op, {}).get(key) == value for op, keys in mine.items() for key, value in keys.items())
