"""The product's customer managed keys, and who administers them.

The launch role administers a key the product creates through that key's own policy, which names it
(`launch_role_administers`): an IAM grant of the key-scoped actions could only name `key/*`, every key of
the account and region (issue 13, point 4). A tag-scoped IAM grant (`aws:ResourceTag`) was the first
design; it failed review: the launch role needs kms:TagResource on every key to tag a key at creation
(https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html), so it could tag any key and
then administer it, and tag-based authorization may lag a key's creation by minutes
(https://docs.aws.amazon.com/kms/latest/developerguide/abac.html). Every key still carries the tag
`OWNER_TAG_KEY` (generator/iam/iam_table.py), now a label: the launch role's IAM policy keeps only
kms:CreateKey and the kms:TagResource that CreateKey's Tags need, both held to that tag in the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from awacs.aws import (
    Action,
    Allow,
    ArnLike,
    Bool,
    Condition,
    ForAnyValueStringEquals,
    ForAnyValueStringLike,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import GetAtt, Parameter, Ref, Sub, Tags, Template
from troposphere.codebuild import Project
from troposphere.codepipeline import EncryptionKey
from troposphere.kms import Alias, Key
from troposphere.s3 import BucketEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionRule

from generator.config import KMS_GENERATED, KMS_NONE, LaunchRole, RenderConfig
from generator.iam.iam_table import OWNER_TAG_KEY
from generator.iam.resolve import SAMPLE_KEY_ID  # the sample id of a key a template creates (made at launch)
from generator.naming import STANDARD_LAUNCH_ROLE, Stage, launch_role_name
from generator.product.grants import role_pattern
from generator.product.skips import skip_checks


def account_controls_the_key() -> Statement:
    """The account (its IAM policies) controls the key: the statement of KMS's default key policy.
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"""
    return Statement(
        Sid="AccountIamPoliciesControlTheKey",
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=[Action("kms", "*")],
        Resource=["*"],
    )


def launch_role_arn(cfg: RenderConfig) -> Sub:
    """The role Service Catalog launches the product as: the generated one, or SageMaker's standard one."""
    if cfg.launch_role is LaunchRole.STANDARD:
        return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/service-role/{STANDARD_LAUNCH_ROLE}")
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{launch_role_name(cfg.name_prefix)}")


def launch_role_administers(cfg: RenderConfig) -> Statement:
    """The launch role administers this key (and only this one): the key-scoped actions CloudFormation's
    handlers call as it (generator/iam/iam_table.py `key_policy` grants), granted by the key's own policy instead of
    an IAM grant on `key/*` that would reach every key of the account. KMS requires the creator to be able to
    PutKeyPolicy on the new key (the lockout safety check), which this statement also satisfies.
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
    """
    from generator.iam.iam_table import key_policy_actions

    actions = sorted({*key_policy_actions("AWS::KMS::Key"), *key_policy_actions("AWS::KMS::Alias")})
    return Statement(
        Sid="LaunchRoleAdministersThisKey",
        Effect=Allow,
        Principal=Principal("AWS", [launch_role_arn(cfg)]),
        Action=[Action(*a.split(":", 1)) for a in actions],
        Resource=["*"],
    )


def default_key_policy() -> PolicyDocument:
    """KMS's default key policy: the account (its IAM policies) controls the key; nothing else is granted.
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[account_controls_the_key()],
    )


def launched_key_policy(cfg: RenderConfig) -> PolicyDocument:
    """A key the product creates: KMS's default statement, and the launch role administering this key."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[account_controls_the_key(), launch_role_administers(cfg)],
    )


def owner_tag_value(cfg: RenderConfig) -> str:
    """The owner tag's value: the launch role that creates (and alone may administer) the product's keys."""
    return launch_role_name(cfg.name_prefix)


def owner_tags(cfg: RenderConfig) -> Tags:
    """The tags every key of the product carries (a literal value: IAM compares it with a fixed string)."""
    return Tags({OWNER_TAG_KEY: owner_tag_value(cfg)})


def uses_key(cfg: RenderConfig) -> bool:
    """Does the render encrypt with customer managed keys?"""
    return cfg.kms_key != KMS_NONE


def generates_key(cfg: RenderConfig) -> bool:
    """Does the product create the project's key?"""
    return cfg.kms_key == KMS_GENERATED


# --- the project's key (data-science account, home region) -----------------------------------------------

PROJECT_KEY = "ProjectKey"
#: The encrypting services call KMS through S3 (the pipeline's and builds' artifacts, the model data):
#: `kms:ViaService` is `s3.<region>.amazonaws.com`. https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
S3_VIA = "s3.${AWS::Region}.amazonaws.com"
USE_ACTIONS = ("Encrypt", "Decrypt", "ReEncrypt*", "GenerateDataKey*", "DescribeKey")


def project_key_policy(cfg: RenderConfig, readers: list[Any]) -> PolicyDocument:
    """The project key's policy: the account administers it through IAM; this account's principals use it
    through S3; the stage accounts' target roles decrypt the model data through S3.

    Cross-account use needs the key policy (here, `readers`: the artifact bucket's reader conditions, bound
    to the organisation by a fixed aws:PrincipalOrgID) and the target role's own policy
    (`target_role_statements`); generator/checks/cross_account.py checks both.
    https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html
    """
    this_account = StringEquals({"kms:CallerAccount": Ref("AWS::AccountId"), "kms:ViaService": Sub(S3_VIA)})
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            account_controls_the_key(),
            launch_role_administers(cfg),
            Statement(
                # The pipeline and build roles, and the model-build jobs that write the model data, write and
                # read the artifact bucket: any principal of this account, through S3 only (the AWS managed
                # aws/s3 key's policy, narrowed to this account).
                Sid="ThisAccountUsesTheKeyThroughS3",
                Effect=Allow,
                Principal=Principal("AWS", "*"),
                Action=[Action("kms", a) for a in USE_ACTIONS],
                Resource=["*"],
                Condition=Condition([this_account]),
            ),
            Statement(
                Sid="StageTargetRolesDecryptModelArtifacts",
                Effect=Allow,
                Principal=Principal("AWS", "*"),
                Action=[Action("kms", "Decrypt"), Action("kms", "DescribeKey")],
                Resource=["*"],
                Condition=Condition(readers),
            ),
        ],
    )


def add_project_key(
    template: Template, cfg: RenderConfig, org_id: Parameter, ous: dict[Stage, Parameter], roles: dict[Stage, Parameter]
) -> Any | None:
    """The key the project's data-science resources use: created here (generated), given (an ARN), or None."""
    if not uses_key(cfg):
        return None
    if not generates_key(cfg):
        return cfg.kms_key
    readers = [
        StringEquals({"aws:PrincipalOrgID": Ref(org_id), "kms:ViaService": Sub(S3_VIA)}),
        ForAnyValueStringLike("aws:PrincipalOrgPaths", [Sub(f"*/${{{ous[s].title}}}/*") for s in Stage]),
        ArnLike("aws:PrincipalArn", list({str(p.data): p for p in (role_pattern(roles[s]) for s in Stage)}.values())),
    ]
    key = template.add_resource(
        Key(
            PROJECT_KEY,
            Description=Sub(f"Encrypts the artifacts and model data of {cfg.names.pipeline.pattern}"),
            EnableKeyRotation=True,
            KeyPolicy=project_key_policy(cfg, readers),
            Tags=owner_tags(cfg),
            # The key outlives the project: the retained artifact bucket's objects (the model data of every
            # registered version) are encrypted with it. Delete it by hand with the bucket.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    skip_checks(
        key,
        {
            "CKV_AWS_33": "The wildcard principals are bound: one statement to this account (fixed kms:CallerAccount, "
            "through S3 only), the other to the organisation (a fixed aws:PrincipalOrgID), the stage OUs and the "
            "target role's name; the stage accounts are an OU's, unknown at render time, so no account can be named. "
            "generator/checks/hygiene.py (HYGIENE-PUBLIC-PRINCIPAL) refuses an unbound one.",
        },
    )
    return GetAtt(key, "Arn")


def artifact_key_statements(cfg: RenderConfig) -> list[Statement]:
    """For the pipeline and build roles (prerequisites): use the project's key through S3, where the artifact
    bucket's default encryption calls KMS as the reader or writer (kms:GenerateDataKey to write, kms:Decrypt to
    read; https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html). Generated keys are
    named by their owner tag (their ids are made at launch); a given key by its ARN, whose policy must let
    the account's IAM policies grant it (KMS's default key policy does)."""
    if not uses_key(cfg):
        return []
    via_s3 = {"kms:ViaService": Sub(S3_VIA)}
    if generates_key(cfg):
        keys: list[Any] = [Sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*")]
        via_s3[f"aws:ResourceTag/{OWNER_TAG_KEY}"] = owner_tag_value(cfg)
    else:
        keys = [cfg.kms_key]
    return [
        Statement(
            Sid="UseArtifactKeyThroughS3",
            Effect=Allow,
            Action=[Action("kms", "GenerateDataKey"), Action("kms", "Decrypt")],
            Resource=keys,
            Condition=Condition(StringEquals(via_s3)),
        )
    ]


def kms_bucket_encryption(key: Any) -> BucketEncryption:
    """SSE-KMS with an S3 Bucket Key (fewer KMS requests: one data key per bucket and time window).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html"""
    return BucketEncryption(
        ServerSideEncryptionConfiguration=[
            ServerSideEncryptionRule(
                ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms", KMSMasterKeyID=key),
                BucketKeyEnabled=True,
            )
        ]
    )


def encrypt_product(template: Template, cfg: RenderConfig, key: Any | None) -> None:
    """Point the artifact bucket, the pipeline's artifact store and every CodeBuild project at `key`, and tell
    the build which key the stage accounts' endpoints use (their own, `data_key_alias`)."""
    if key is None:
        return
    resources = template.resources
    resources["ArtifactBucket"].BucketEncryption = kms_bucket_encryption(key)
    store = resources["ModelDeployPipeline"].ArtifactStore
    store.EncryptionKey = EncryptionKey(Id=key, Type="KMS")
    for resource in resources.values():
        if isinstance(resource, Project):
            resource.EncryptionKey = key


# --- the stage accounts' data key (target-role stack set: one per account and region) -------------------

DATA_KEY = "DataKey"
DATA_KEY_ALIAS = "DataKeyAlias"


def data_key_alias(cfg: RenderConfig) -> str:
    """The alias of the key every stage account and deploy region has for endpoint volumes and captured data.

    Same name in every account and region, so the build passes one value through the stack-set
    parameters (SageMaker's KmsKeyId accepts an alias name: CreateEndpointConfig and DataCaptureConfig in
    the SageMaker API reference)."""
    return f"alias/{cfg.name_prefix}mlops-gen-data"


def add_data_key(template: Template, cfg: RenderConfig) -> Key:
    """The stage account's key in this region: the account's IAM policies control it (the target role uses it)."""
    key = template.add_resource(
        Key(
            DATA_KEY,
            Description="mlops-gen: encrypts the SageMaker endpoints' volumes and captured data in this account",
            EnableKeyRotation=True,
            KeyPolicy=default_key_policy(),
            # Captured data stays in the retained capture bucket, encrypted with this key.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    template.add_resource(Alias(DATA_KEY_ALIAS, AliasName=data_key_alias(cfg), TargetKeyId=Ref(key)))
    return key


def target_role_statements(cfg: RenderConfig, pipeline_account: str) -> list[Statement]:
    """What the target role needs of the keys: its account's data key (SageMaker writes captured data and
    attaches encrypted volumes as it), and the project key's Decrypt through S3 (the model data)."""
    if not uses_key(cfg):
        return []
    project_keys = (
        [Sub(f"arn:${{AWS::Partition}}:kms:{cfg.region}:${{{pipeline_account}}}:key/*")]
        if generates_key(cfg)
        else [cfg.kms_key]
    )
    aliased = Condition(ForAnyValueStringEquals("kms:ResourceAliases", data_key_alias(cfg)))
    data_keys = [Sub("arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*")]
    return [
        Statement(
            Sid="UseDataKey",
            Effect=Allow,
            Action=[Action("kms", a) for a in USE_ACTIONS],
            Resource=data_keys,
            Condition=aliased,
        ),
        Statement(
            # SageMaker attaches the endpoint's encrypted volumes through a grant for an AWS resource.
            Sid="GrantDataKeyToSageMakerVolumes",
            Effect=Allow,
            Action=[Action("kms", "CreateGrant")],
            Resource=data_keys,
            Condition=Condition(
                [
                    ForAnyValueStringEquals("kms:ResourceAliases", data_key_alias(cfg)),
                    Bool("kms:GrantIsForAWSResource", True),
                ]
            ),
        ),
        Statement(
            Sid="DecryptModelArtifacts",
            Effect=Allow,
            Action=[Action("kms", "Decrypt")],
            Resource=project_keys,
            # The artifact bucket is in the home region: S3 there calls KMS for the model data.
            Condition=Condition(StringEquals("kms:ViaService", f"s3.{cfg.region}.amazonaws.com")),
        ),
    ]


# --- what the checks need to know about the keys ----------------------------------------------------------


def bucket_data_key(
    template: Mapping[str, Any], bucket_id: str, region: str, account: str
) -> tuple[str, dict[str, Any]] | None:
    """The sample ARN of the key a template's bucket encrypts with by default (a key of the same template), and
    the context of S3's calls with it: kms:ViaService and the key's aliases (kms:ResourceAliases)."""
    resources = template.get("Resources", {})
    props = resources.get(bucket_id, {}).get("Properties", {})
    for rule in props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
        key = rule.get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
        target = key.get("Fn::GetAtt") if isinstance(key, Mapping) else None
        if not target:
            continue
        key_id = str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
        aliases = [
            str(r["Properties"]["AliasName"])
            for r in resources.values()
            if r.get("Type") == "AWS::KMS::Alias" and r.get("Properties", {}).get("TargetKeyId") == {"Ref": key_id}
        ]
        arn = f"arn:aws:kms:{region}:{account}:key/{SAMPLE_KEY_ID}"
        return arn, {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:ResourceAliases": aliases}
    return None
