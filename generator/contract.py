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
#: The stack-set deploy projects' buildspec (deploy mode "api"): runs deploy/deploy.py.
DEPLOY_BUILD_SPEC = "deploy/buildspec.yml"

#: The seed bundle the CodeCommit repository starts from.
SEED_BUNDLE = "seedcode-modeldeploy.zip"

#: Key layout of the project's artifact bucket, shared by its lifecycle rules (generator/product/storage.py) and the
#: model-build seed code (seedcode/modelbuild/iris_pipeline/project.py repeats it; a test pins the two).
#: What a registered model version needs to be deployed (its model.tar.gz, its evaluation report) lives
#: under MODEL_ARTIFACTS_PREFIX and never expires: SageMaker downloads the artifact again on every
#: scale-out, instance replacement and rollback. generator/checks/lifecycle.py checks that no expiration reaches it.
MODEL_ARTIFACTS_PREFIX = "models/"
#: The seed model-build pipeline's own folder (the SDK's code uploads, the data splits): scratch.
MODEL_BUILD_SCRATCH_PREFIX = "${SageMakerProjectName}-iris/"
#: Key prefix of the data-capture bucket that the endpoints write under; SageMaker appends
#: `<endpoint>/<variant>/yyyy/mm/dd/hh/` itself.
DATA_CAPTURE_PREFIX = "data-capture"


class Env:
    """Environment variables of the CodeBuild projects (build and staging test)."""

    PROJECT_NAME = "SAGEMAKER_PROJECT_NAME"
    PROJECT_ID = "SAGEMAKER_PROJECT_ID"
    MODEL_PACKAGE_GROUP = "MODEL_PACKAGE_GROUP_NAME"
    CREATE_MODEL_PACKAGE_GROUP = "CREATE_MODEL_PACKAGE_GROUP"
    ARTIFACT_BUCKET = "ARTIFACT_BUCKET"
    DEPLOY_REGIONS = "DEPLOY_REGIONS"
    EXPORT_TEMPLATE = "EXPORT_TEMPLATE_NAME"
    #: The build's group policy (standard launch role): the organisation and the stack-set execution role.
    ORG_ID = "ORGANIZATION_ID"
    EXECUTION_ROLE = "STACK_SET_EXECUTION_ROLE_NAME"
    #: The data-capture bucket's name without `-<account>-<region>` (the target-role stack set creates it).
    DATA_CAPTURE_BUCKET_STEM = "DATA_CAPTURE_BUCKET_STEM"
    #: With --kms-key: the key (alias) of the stage accounts' endpoint volumes and captured data.
    ENDPOINT_KMS_KEY = "ENDPOINT_KMS_KEY"
    STAGE = "STAGE"
    #: The deploy projects (deploy mode "api"): what deploy/deploy.py creates or updates, and how.
    STACK_SET_NAME = "STACK_SET_NAME"
    STACK_SET_DESCRIPTION = "STACK_SET_DESCRIPTION"
    STACK_SET_PARAMETERS = "STACK_SET_PARAMETERS_FILE"
    CALL_AS = "STACK_SET_CALL_AS"
    TARGET_OUS = "DEPLOY_OU_IDS"
    TARGET_ACCOUNTS = "DEPLOY_ACCOUNT_IDS"
    ACCOUNT_FILTER = "DEPLOY_ACCOUNT_FILTER_TYPE"
    AUTO_DEPLOYMENT = "DEPLOY_AUTO_DEPLOYMENT"
    FAILURE_TOLERANCE = "FAILURE_TOLERANCE_PERCENTAGE"
    MAX_CONCURRENT = "MAX_CONCURRENT_PERCENTAGE"
    REGION_CONCURRENCY = "REGION_CONCURRENCY_TYPE"

    @staticmethod
    def ou(stage: Stage) -> str:
        return f"{stage.value.upper()}_OU_ID"

    @staticmethod
    def role(stage: Stage) -> str:
        return f"{stage.value.upper()}_ROLE_NAME"

    @staticmethod
    def accounts(stage: Stage) -> str:
        """The stage's listed accounts, comma-separated (empty: every account of the stage's OU)."""
        return f"{stage.value.upper()}_ACCOUNT_IDS"

    @staticmethod
    def params(stage: Stage) -> str:
        return f"EXPORT_{stage.value.upper()}_PARAMETERS"

    @staticmethod
    def endpoint(stage: Stage) -> str:
        return f"{stage.value.upper()}_ENDPOINT_NAME"

    @staticmethod
    def config(stage: Stage) -> str:
        return f"{stage.value.upper()}_CONFIG"


class Variables:
    """CodePipeline variables: the build and test actions export them (their buildspecs' `env:
    exported-variables`, set by sourcing the file the script writes), and the manual approval's
    CustomData reads them as `#{Namespace.NAME}`."""

    BUILD_NAMESPACE = "BuildVariables"
    TEST_NAMESPACE = "TestVariables"
    #: What build.py exports: the package it deploys and why that one (a rollback says so).
    BUILD = ("MODEL_PACKAGE_ARN", "MODEL_PACKAGE_VERSION", "MODEL_PACKAGE_URL", "DEPLOY_REASON")
    #: What test/test.py exports: the staging test's summary and where its report is.
    TEST = ("PASS_COUNT", "TARGET_COUNT", "P95_MS", "REPORT_URL")
    #: The shell files (in the build's source folder) the scripts write and the buildspecs source.
    BUILD_FILE = "build-variables.sh"
    TEST_FILE = "test-variables.sh"

    @staticmethod
    def ref(namespace: str, name: str) -> str:
        """CodePipeline's variable syntax."""
        return f"#{{{namespace}.{name}}}"


#: The session tag the staging test passes when it assumes the target role (seedcode test/test.py), valued
#: `<project name>-<project id>`: the stem every name of the project shares (naming.PROJECT_STEM). The target
#: role's trust admits a project test role only with its own value (`aws:RequestTag` = `${aws:PrincipalTag}`;
#: the role is created with it), and its policy lets a tagged session call only `endpoint/<prefix><value>-<stage>`;
#: untagged sessions (SageMaker running the model) get only the serving grants. The value cannot be forged by
#: choosing launch parameters: the test role is named `<prefix><value>-test`, and IAM role names are unique in an
#: account, so two live projects never share a value. ABAC with session tags:
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
PROJECT_SESSION_TAG = "mlops-gen-project"
