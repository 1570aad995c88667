"""The project's artifact bucket: pipeline artifacts, exported templates and test reports."""

from __future__ import annotations

from awacs.aws import Allow, Bool, Condition, Deny, PolicyDocument, Principal, Statement
from awacs.s3 import Action as S3Action
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    NoncurrentVersionExpiration,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)

from generator.config import LaunchRole, RenderConfig
from generator.skips import skip_checks

#: Old pipeline artifacts are only needed to re-run or audit recent executions.
NONCURRENT_DAYS = 30
ARTIFACT_DAYS = 365


def add_artifact_bucket(template: Template, cfg: RenderConfig, readers: Condition | None = None) -> Bucket:
    """Encrypted, private, TLS-only bucket; versioned with a lifecycle where the launch role may."""
    bucket = Bucket(
        "ArtifactBucket",
        BucketName=Sub(cfg.names.artifact_bucket.pattern),
        BucketEncryption=BucketEncryption(
            ServerSideEncryptionConfiguration=[
                ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(SSEAlgorithm="AES256"),
                    BucketKeyEnabled=True,
                )
            ]
        ),
        PublicAccessBlockConfiguration=PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
        ),
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
    )
    skips = {
        "CKV_AWS_18": "Pipeline artifacts only. Server access logs would need a second bucket per project, which "
        "would in turn need this skip; object-level auditing belongs to CloudTrail S3 data events, enabled once "
        "for the organisation (an organisation trail), not per product.",
    }
    if cfg.launch_role is LaunchRole.GENERATED:
        bucket.VersioningConfiguration = VersioningConfiguration(Status="Enabled")
        bucket.LifecycleConfiguration = LifecycleConfiguration(
            Rules=[
                LifecycleRule(
                    Id="ExpireOldArtifacts",
                    Status="Enabled",
                    ExpirationInDays=ARTIFACT_DAYS,
                    NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_DAYS),
                    AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
                )
            ]
        )
    else:
        skips["CKV_AWS_21"] = (
            "Rendered for --launch-role standard: AmazonSageMakerServiceCatalogProductsLaunchRole may not call "
            "s3:PutBucketVersioning. Render with the generated launch role to get a versioned bucket."
        )
    skip_checks(bucket, skips)
    template.add_resource(bucket)
    add_tls_only_policy(template, bucket, readers)
    return bucket


def add_tls_only_policy(template: Template, bucket: Bucket, readers: Condition | None = None) -> BucketPolicy:
    """Deny every request that does not use TLS; let `readers` (the stage accounts) read objects.

    The model artifacts are in this bucket (the iris pipeline writes them here), and SageMaker reads
    them as the endpoint's execution role in each staging and prod account.
    """
    reads: list[Statement] = []
    if readers is not None:
        reads.append(
            Statement(
                Sid="StageAccountsReadModelArtifacts",
                Effect=Allow,
                Principal=Principal("*"),
                Action=[S3Action("GetObject")],
                Resource=[Sub(f"${{{bucket.title}.Arn}}/*")],
                Condition=readers,
            )
        )
    policy = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            *reads,
            Statement(
                Sid="DenyInsecureTransport",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[S3Action("*")],
                Resource=[GetAtt(bucket, "Arn"), Sub(f"${{{bucket.title}.Arn}}/*")],  # Sub, not Join: cfn-lint I1022
                Condition=Condition(Bool("aws:SecureTransport", False)),
            ),
        ],
    )
    return template.add_resource(BucketPolicy("ArtifactBucketPolicy", Bucket=Ref(bucket), PolicyDocument=policy))
