"""Every physical name the product creates, with its AWS length limit.

Names are `Fn::Sub` patterns over the two parameters SageMaker passes to every project
(`SageMakerProjectName`, `SageMakerProjectId`). Because the project name is the only part
the user chooses, its `MaxLength` follows from the longest name here: the product then
cannot be launched with a name that some resource would reject halfway through.

The SageMaker-provided service roles' policies scope their permissions to resources whose
names start with `sagemaker-` (see shared/reference/iam), so every prefix must too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

PROJECT_NAME = "${SageMakerProjectName}"
PROJECT_ID = "${SageMakerProjectId}"
#: What every per-project name holds after the prefix (role, endpoint, pipeline...): unique among live projects,
#: since a second project with the same stem could not create its roles (IAM role names are unique).
PROJECT_STEM = f"{PROJECT_NAME}-{PROJECT_ID}"

#: SageMaker CreateProject: ProjectName is 1-32 characters of this pattern.
#: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateProject.html
PROJECT_NAME_API_MAX = 32
#: SageMaker itself allows capitals; we do not, because SageMaker lowercases names in its ARNs and the
#: model package group's resource policy (and IAM checks) name the group by the project name.
PROJECT_NAME_PATTERN = r"^[a-z0-9](-*[a-z0-9])*$"
#: DescribeProject: ProjectId is 1-20 characters. AWS issues lowercase ids (`p-xxxxxxxxxxxx`);
#: lowercase is required here because the id is part of the artifact bucket's name.
#: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeProject.html
PROJECT_ID_MAX = 20
PROJECT_ID_PATTERN = r"^[a-z0-9](-*[a-z0-9])*$"

DEFAULT_PREFIX = "sagemaker-"
_PREFIX_RULE = re.compile(r"^sagemaker-([a-z0-9]+-)*$")


class Stage(StrEnum):
    """A deployment stage; its value is used in names, file names and parameter labels."""

    STAGING = "staging"
    PROD = "prod"


@dataclass(frozen=True)
class PhysicalName:
    """One generated name: `pattern` is an `Fn::Sub` string, `limit` the AWS maximum."""

    key: str
    pattern: str
    limit: int
    source: str

    def length_at(self, name_length: int) -> int:
        """Length of the name with a project name of `name_length` and the longest project id."""
        fixed = self.pattern.replace(PROJECT_NAME, "").replace(PROJECT_ID, "")
        names = self.pattern.count(PROJECT_NAME)
        ids = self.pattern.count(PROJECT_ID)
        return len(fixed) + names * name_length + ids * PROJECT_ID_MAX

    def name_budget(self) -> int:
        """The longest project name this name allows (API maximum without one; < 0 if the rest overflows)."""
        names = self.pattern.count(PROJECT_NAME)
        spare = self.limit - self.length_at(0)
        if names == 0:
            # No project name in it, but a long prefix can still overflow it (the artifact bucket).
            return PROJECT_NAME_API_MAX if spare >= 0 else spare
        return spare // names

    def render(self, project_name: str, project_id: str) -> str:
        """The concrete name for one project (used by tests and by rehearsals)."""
        return self.pattern.replace(PROJECT_NAME, project_name).replace(PROJECT_ID, project_id)


_S3_LIMITS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
_SM_LIMITS = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackageGroup.html"
_CC_LIMITS = "https://docs.aws.amazon.com/codecommit/latest/userguide/limits.html"
_CB_LIMITS = "https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html"
_CP_LIMITS = "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html"
_EB_LIMITS = "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html"
_SS_LIMITS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html"
_EP_LIMITS = "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html"
_SNS_LIMITS = "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html"
_KMS_LIMITS = "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html"
_IAM_LIMITS = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"
#: The project's own roles (`--service-roles project`, generator/product/project_roles.py), by what runs as them.
PROJECT_ROLE_KINDS = ("pipeline", "build", "test", "events")
#: Their IAM path: one fixed path, so a launch role, a boundary and a trust policy can name "the mlops-gen
#: project roles" as `role/mlops-gen/<prefix>*` (CreateRole Path: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
PROJECT_ROLE_PATH = "/mlops-gen/"


@dataclass(frozen=True)
class Names:
    """All physical names for one name prefix (`sagemaker-` unless the user chose another)."""

    prefix: str = DEFAULT_PREFIX

    @property
    def _base(self) -> str:
        return f"{self.prefix}{PROJECT_STEM}"

    @property
    def artifact_bucket(self) -> PhysicalName:
        # Bucket names must be lowercase: only the (lowercase) project id goes in.
        return PhysicalName("artifact_bucket", f"{self.prefix}project-{PROJECT_ID}-artifacts", 63, _S3_LIMITS)

    @property
    def model_package_group(self) -> PhysicalName:
        # Named after the project, as SageMaker Studio shows it under the project's model groups.
        return PhysicalName("model_package_group", PROJECT_NAME, 63, _SM_LIMITS)

    @property
    def repository(self) -> PhysicalName:
        return PhysicalName("repository", f"{self._base}-modeldeploy", 100, _CC_LIMITS)

    @property
    def build_project(self) -> PhysicalName:
        return PhysicalName("build_project", f"{self._base}-build", 255, _CB_LIMITS)

    @property
    def test_project(self) -> PhysicalName:
        return PhysicalName("test_project", f"{self._base}-test", 255, _CB_LIMITS)

    @property
    def pipeline(self) -> PhysicalName:
        return PhysicalName("pipeline", f"{self._base}-modeldeploy", 100, _CP_LIMITS)

    @property
    def model_rule(self) -> PhysicalName:
        return PhysicalName("model_rule", f"{self._base}-model", 64, _EB_LIMITS)

    @property
    def code_rule(self) -> PhysicalName:
        return PhysicalName("code_rule", f"{self._base}-code", 64, _EB_LIMITS)

    @property
    def approval_topic(self) -> PhysicalName:
        """The SNS topic approvers are told on (rendered only with --approver-email)."""
        return PhysicalName("approval_topic", f"{self._base}-approval", 256, _SNS_LIMITS)

    @property
    def approval_key_alias(self) -> PhysicalName:
        """The alias of the KMS key that encrypts the approval topic (rendered only with --approver-email)."""
        return PhysicalName("approval_key_alias", f"alias/{self._base}-approval", 256, _KMS_LIMITS)

    def stack_set(self, stage: Stage) -> PhysicalName:
        """The stack set that deploys the endpoint to one stage's OU (as the article names it)."""
        return PhysicalName(f"stack_set_{stage.value}", f"{self._base}-deploy-{stage.value}", 128, _SS_LIMITS)

    def deploy_project(self, stage: Stage) -> PhysicalName:
        """The CodeBuild project that deploys one stage's stack set through the CloudFormation API
        (deploy mode "api", see generator/product/stacksets.py); rendered only in that mode."""
        return PhysicalName(f"deploy_project_{stage.value}", f"{self._base}-{stage.value}-deploy", 255, _CB_LIMITS)

    def endpoint(self, stage: Stage) -> PhysicalName:
        """The endpoint created in every account of a stage; the staging test looks it up by name."""
        return PhysicalName(f"endpoint_{stage.value}", f"{self._base}-{stage.value}", 63, _EP_LIMITS)

    def project_role(self, kind: str) -> PhysicalName:
        """A role the project creates for itself (`--service-roles project`), under `PROJECT_ROLE_PATH`:
        64 characters at most, the path not counted (CreateRole RoleName)."""
        return PhysicalName(f"project_role_{kind}", f"{self._base}-{kind}", ROLE_NAME_LIMIT, _IAM_LIMITS)

    def all(self) -> tuple[PhysicalName, ...]:
        """Every name, for the limit computation and the physical-name lint rule."""
        fixed = (
            self.artifact_bucket,
            self.model_package_group,
            self.repository,
            self.build_project,
            self.test_project,
            self.pipeline,
            self.model_rule,
            self.code_rule,
            self.approval_topic,
            self.approval_key_alias,
        )
        staged = tuple(
            n for stage in Stage for n in (self.stack_set(stage), self.endpoint(stage), self.deploy_project(stage))
        )
        return fixed + staged + tuple(self.project_role(kind) for kind in PROJECT_ROLE_KINDS)

    def max_project_name_length(self) -> int:
        """The longest project name every generated name still fits (may be < 1: see config)."""
        return min(PROJECT_NAME_API_MAX, *(n.name_budget() for n in self.all()))


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` is not a usable name prefix, or None."""
    if not _PREFIX_RULE.match(prefix):
        return (
            "must start with 'sagemaker-' (the SageMaker service roles only act on sagemaker-* "
            "resources) and be lowercase words of letters and digits, each followed by '-', "
            f"e.g. 'sagemaker-acme-'; got {prefix!r}"
        )
    return None


#: IAM role names: at most 64 characters. https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
ROLE_NAME_LIMIT = 64
LAUNCH_ROLE_SUFFIX = "mlops-gen-launch-role"
#: SageMaker's standard launch role (path service-role/), made when projects are enabled for a domain: the one
#: definition the product (its key policy), the checks and publish name it by.
STANDARD_LAUNCH_ROLE = "AmazonSageMakerServiceCatalogProductsLaunchRole"


def launch_role_name(prefix: str = DEFAULT_PREFIX) -> str:
    """The generated launch role's name: `<prefix>mlops-gen-launch-role` (one role per account and prefix)."""
    name = f"{prefix}{LAUNCH_ROLE_SUFFIX}"
    if len(name) > ROLE_NAME_LIMIT:
        raise ValueError(f"launch role name {name!r} is longer than {ROLE_NAME_LIMIT} characters")
    return name


#: Limits of the bootstrap templates' fixed names (one of each per account and prefix).
#: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html (StackSetName: 128)
#: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html (PolicyName: 128)
STACK_SET_NAME_LIMIT = 128
MANAGED_POLICY_NAME_LIMIT = 128


def _fixed_name(prefix: str, suffix: str, limit: int) -> str:
    name = f"{prefix}{suffix}"
    if len(name) > limit:
        raise ValueError(f"name {name!r} is longer than {limit} characters")
    return name


@dataclass(frozen=True)
class BootstrapNames:
    """Names of what the bootstrap templates create once per account (no project name in them)."""

    prefix: str = DEFAULT_PREFIX

    @property
    def target_role_stack_set(self) -> str:
        """The stack set that puts the target role into every staging and prod account."""
        return _fixed_name(self.prefix, "mlops-gen-target-role", STACK_SET_NAME_LIMIT)

    @property
    def pipeline_role_policy(self) -> str:
        """Managed policy with what the CodePipeline service role lacks (stack-set operations)."""
        return _fixed_name(self.prefix, "mlops-gen-pipeline-role", MANAGED_POLICY_NAME_LIMIT)

    @property
    def build_role_policy(self) -> str:
        """Managed policy with what the CodeBuild service role lacks (Organizations, STS, reports)."""
        return _fixed_name(self.prefix, "mlops-gen-build-role", MANAGED_POLICY_NAME_LIMIT)

    @property
    def project_role_boundary(self) -> str:
        """Managed policy: the permissions boundary of every project role (`--service-roles project`)."""
        return _fixed_name(self.prefix, "mlops-gen-project-role-boundary", MANAGED_POLICY_NAME_LIMIT)

    @property
    def approver_policy(self) -> str:
        """Managed policy for the people who approve production deployments."""
        return _fixed_name(self.prefix, "mlops-gen-approver", MANAGED_POLICY_NAME_LIMIT)

    @property
    def data_capture_bucket_stem(self) -> str:
        """The data-capture bucket's name before `-<account>-<region>` (see `data_capture_bucket`)."""
        return f"{self.prefix}capture"

    def data_capture_bucket(self, region: str) -> str:
        """The bucket the target-role stack set creates in every stage account and deploy region for the
        endpoints' data capture: `<prefix>capture-${AWS::AccountId}-<region>` (an `Fn::Sub` pattern), unique per
        account and region as S3 bucket names must be. Raises ValueError past S3's 63 characters."""
        name = f"{self.data_capture_bucket_stem}-${{AWS::AccountId}}-{region}"
        length = len(name) - len("${AWS::AccountId}") + 12
        if length > BUCKET_NAME_LIMIT:
            raise ValueError(
                f"the data-capture bucket name {name!r} would be {length} characters, more than S3's "
                f"{BUCKET_NAME_LIMIT} ({_S3_LIMITS})"
            )
        return name


#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html: 3 to 63 characters.
BUCKET_NAME_LIMIT = 63
