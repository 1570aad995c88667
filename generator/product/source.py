"""Where the deploy code comes from: a CodeCommit repository seeded from S3, or CodeConnections."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.codecommit import S3, Code, Repository
from troposphere.codepipeline import Actions, ActionTypeId, OutputArtifacts, Pipeline
from troposphere.events import Rule

from generator import contract
from generator.config import RenderConfig, Source
from generator.product.parameters import ProductParameters
from generator.product.registry import pipeline_target


def add_repository(template: Template, cfg: RenderConfig, params: ProductParameters) -> Repository:
    """The deploy repository, created with the seed bundle as its first commit."""
    assert params.seed_bucket is not None and params.seed_key is not None
    return template.add_resource(
        Repository(
            "ModelDeployRepository",
            RepositoryName=Sub(cfg.names.repository.pattern),
            RepositoryDescription=Sub("Deployment code of SageMaker project ${SageMakerProjectName}"),
            Code=Code(BranchName=cfg.branch, S3=S3(Bucket=Ref(params.seed_bucket), Key=Ref(params.seed_key))),
        )
    )


def source_action(cfg: RenderConfig, repository: Repository | None) -> Actions:
    """The pipeline's Source action for the configured source."""
    if cfg.source is Source.CODECOMMIT:
        assert repository is not None
        provider, owner = "CodeCommit", "AWS"
        configuration = {
            "RepositoryName": GetAtt(repository, "Name"),
            "BranchName": cfg.branch,
            # Pushes start the pipeline through the code rule below, not by polling.
            "PollForSourceChanges": "false",
            "OutputArtifactFormat": "CODE_ZIP",
        }
    else:
        provider, owner = "CodeStarSourceConnection", "AWS"
        configuration = {
            "ConnectionArn": cfg.connection_arn,
            "FullRepositoryId": cfg.repository,
            "BranchName": cfg.branch,
            "DetectChanges": "true",
            "OutputArtifactFormat": "CODE_ZIP",
        }
    return Actions(
        Name="ModelDeploySource",
        ActionTypeId=ActionTypeId(Category="Source", Owner=owner, Provider=provider, Version="1"),
        Configuration=configuration,
        OutputArtifacts=[OutputArtifacts(Name=contract.SOURCE_ARTIFACT)],
        RunOrder=1,
    )


def add_code_pushed_rule(
    template: Template,
    cfg: RenderConfig,
    params: ProductParameters,
    repository: Repository,
    pipeline: Pipeline,
) -> Rule:
    """Start the pipeline on a push to the deploy branch (CodeCommit only; connections detect pushes)."""
    return template.add_resource(
        Rule(
            "CodePushedRule",
            Name=Sub(cfg.names.code_rule.pattern),
            Description="Redeploy when the deploy repository's branch changes.",
            EventPattern={
                "source": ["aws.codecommit"],
                "detail-type": ["CodeCommit Repository State Change"],
                "resources": [GetAtt(repository, "Arn")],
                "detail": {
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceType": ["branch"],
                    "referenceName": [cfg.branch],
                },
            },
            State="ENABLED",
            Targets=[pipeline_target(pipeline, params)],
        )
    )
