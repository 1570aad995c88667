"""The project's artifact bucket: pipeline artifacts, exported templates and test reports."""

from __future__ import annotations

from typing import Any

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

from generator import contract
from generator.config import LaunchRole, RenderConfig
from generator.product.skips import skip_checks

#: Old pipeline artifacts are only needed to re-run or audit recent executions.
NONCURRENT_DAYS = 30
ARTIFACT_DAYS = 365
#: CodePipeline stores a pipeline's artifacts under a folder named after the first 20 characters of the
#: pipeline's name (re:Post, "CodePipeline truncates folder names in output artifact S3 bucket":
#: https://repost.aws/questions/QUI91tw7A9SUOMohJurNqmgA); the artifact store has no prefix setting.
PIPELINE_FOLDER_CHARS = 20


def pipeline_artifacts_prefix(cfg: RenderConfig) -> str:
    """The fixed start of CodePipeline's folder in the bucket: the pipeline name's first 20 characters.

    The pipeline's name starts with the name prefix and goes on with the project name, which is not
    known at render time and which CloudFormation cannot cut to length; the name prefix (at most its
    first 20 characters) is what every such folder starts with. It starts with `sagemaker-` (naming.py),
    so it never reaches MODEL_ARTIFACTS_PREFIX (`models/`).
    """
    fixed = cfg.names.pipeline.pattern.split("${", 1)[0]
    return fixed[:PIPELINE_FOLDER_CHARS]


def _expire(rule_id: str, prefix: str | Sub) -> LifecycleRule:
    return LifecycleRule(
        Id=rule_id,
        Status="Enabled",
        Prefix=prefix,
        ExpirationInDays=ARTIFACT_DAYS,
        AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
    )


def artifact_lifecycle(cfg: RenderConfig) -> LifecycleConfiguration:
    """Expire pipeline scratch only; keep what a registered model version needs while it can be deployed.

    An expiration rule without a prefix would also delete the `model.tar.gz` of every registered version
    (SageMaker downloads it again on every scale-out, instance replacement or rollback, see
    API_ContainerDefinition ModelDataUrl), so each expiration names a scratch prefix of contract.py's
    layout: CodePipeline's artifact folder and the seed model-build pipeline's folder. Objects under
    `models/` (and data the scientists put elsewhere) are kept; generator/checks/lifecycle.py checks it.
    Noncurrent versions (overwritten or deleted objects) go everywhere after NONCURRENT_DAYS.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-filters.html
    """
    return LifecycleConfiguration(
        Rules=[
            _expire("ExpirePipelineArtifacts", pipeline_artifacts_prefix(cfg)),
            _expire("ExpireModelBuildScratch", Sub(contract.MODEL_BUILD_SCRATCH_PREFIX)),
            LifecycleRule(
                Id="ExpireNoncurrentVersions",
                Status="Enabled",
                NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_DAYS),
                AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
            ),
        ]
    )


def private_bucket(title: str, name: Sub, **properties: Any) -> Bucket:
    """A bucket every rendered template makes the same way: SSE-S3 (no KMS permission needed by writers),
    every public access blocked, kept when its stack goes (it holds models or captured data)."""
    return Bucket(
        title,
        BucketName=name,
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
        **properties,
    )


def add_artifact_bucket(template: Template, cfg: RenderConfig, readers: Condition | None = None) -> Bucket:
    """Encrypted, private, TLS-only bucket; versioned with a lifecycle where the launch role may."""
    bucket = private_bucket("ArtifactBucket", Sub(cfg.names.artifact_bucket.pattern))
    skips = {
        "CKV_AWS_18": "Pipeline artifacts only. Server access logs would need a second bucket per project, which "
        "would in turn need this skip; object-level auditing belongs to CloudTrail S3 data events, enabled once "
        "for the organisation (an organisation trail), not per product.",
    }
    if cfg.launch_role is LaunchRole.GENERATED:
        bucket.VersioningConfiguration = VersioningConfiguration(Status="Enabled")
        bucket.LifecycleConfiguration = artifact_lifecycle(cfg)
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
    """Deny every request that does not use TLS; let `readers` (the stage accounts' target role) read objects.

    The model artifacts are in this bucket (the iris pipeline writes them here), and SageMaker reads
    them as the endpoint's execution role in each staging and prod account. `readers` must narrow the
    wildcard principal with a fixed aws:PrincipalOrgID (generator/product/grants.py): S3 refuses a public policy on
    a bucket with BlockPublicPolicy, and generator/checks/s3_public.py checks it.
    """
    reads: list[Statement] = []
    if readers is not None:
        reads.append(
            Statement(
                Sid="StageTargetRolesReadModelArtifacts",
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
    return template.add_resource(BucketPolicy(f"{bucket.title}Policy", Bucket=Ref(bucket), PolicyDocument=policy))
