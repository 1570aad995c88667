"""Names shared by the rendered product and the seed code: one place, so they cannot drift.

The pipeline's actions read files the build step writes, and the CodeBuild projects pass
environment variables the seed scripts read. Both sides import these constants (the seed
code through the rendered buildspec and environment), and a test checks the rendered
template against them.
"""

from __future__ import annotations

from generator.naming import Stage

SOURCE_ARTIFACT = "SourceArtifact"
BUILD_ARTIFACT = "BuildArtifact"

#: Files the build step writes into BuildArtifact.
EXPORT_TEMPLATE = "endpoint-config-template.yml"
EXPORT_PARAMETERS = {
    Stage.STAGING: "staging-stackset-parameters.json",
    Stage.PROD: "prod-stackset-parameters.json",
}
#: Stage settings the data scientists edit in the deploy repository.
STAGE_CONFIG = {Stage.STAGING: "staging-config.json", Stage.PROD: "prod-config.json"}

BUILD_SPEC = "buildspec.yml"
TEST_BUILD_SPEC = "test/buildspec.yml"

#: The seed bundle the CodeCommit repository starts from.
SEED_BUNDLE = "seedcode-modeldeploy.zip"


class Env:
    """Environment variables of the CodeBuild projects (build and staging test)."""

    PROJECT_NAME = "SAGEMAKER_PROJECT_NAME"
    PROJECT_ID = "SAGEMAKER_PROJECT_ID"
    MODEL_PACKAGE_GROUP = "MODEL_PACKAGE_GROUP_NAME"
    CREATE_MODEL_PACKAGE_GROUP = "CREATE_MODEL_PACKAGE_GROUP"
    ARTIFACT_BUCKET = "ARTIFACT_BUCKET"
    DEPLOY_REGIONS = "DEPLOY_REGIONS"
    EXPORT_TEMPLATE = "EXPORT_TEMPLATE_NAME"
    STAGE = "STAGE"

    @staticmethod
    def ou(stage: Stage) -> str:
        return f"{stage.value.upper()}_OU_ID"

    @staticmethod
    def role(stage: Stage) -> str:
        return f"{stage.value.upper()}_ROLE_NAME"

    @staticmethod
    def params(stage: Stage) -> str:
        return f"EXPORT_{stage.value.upper()}_PARAMETERS"

    @staticmethod
    def endpoint(stage: Stage) -> str:
        return f"{stage.value.upper()}_ENDPOINT_NAME"

    @staticmethod
    def config(stage: Stage) -> str:
        return f"{stage.value.upper()}_CONFIG"
