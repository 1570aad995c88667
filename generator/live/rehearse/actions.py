"""One runner per action type the pipeline may declare: it does what CodePipeline would, from the
action's configuration alone, and fails naming the action and the file, artifact or name it lacks."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator.contract import Env
from generator.live.rehearse import fidelity, network
from generator.live.rehearse.codebuild import run_build
from generator.live.rehearse.launch import Project
from generator.live.rehearse.organization import ACCESS_ROLE, Organisation
from generator.live.rehearse.pipeline import Action, Pipeline
from generator.live.rehearse.report import REJECTED, Step, StepFailed
from generator.live.rehearse.roles import ProductRoles, role_arn
from generator.live.rehearse.server import LocalAws
from generator.product.pipeline import CONFIGURATION_VALUE_MAX

#: (action, the approval's CustomData) -> approve?
Decide = Callable[[Action, str], bool]
#: Called with the (account, region) pairs a stack-set action deployed to.
OnDeployed = Callable[[list[tuple[str, str]]], None]


@dataclass
class Execution:
    """One pipeline execution: where its artifacts live and what its actions may ask for."""

    aws: LocalAws
    project: Project
    org: Organisation
    pipeline: Pipeline
    work: Path
    seed_bundle: bytes
    decide: Decide
    on_deployed: OnDeployed
    #: The product's roles: the pipeline's actions call AWS as the pipeline's role, builds as their project's.
    roles: ProductRoles
    #: The pipeline's RoleArn.
    pipeline_role: str
    artifacts: dict[str, Path] = field(default_factory=dict)
    #: Namespace -> the variables its action exported (`#{namespace.NAME}` downstream).
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    #: What each manual approval showed (CustomData resolved, the topic, the review link).
    approvals: list[dict[str, str]] = field(default_factory=list)

    def as_pipeline_role(self, service: str) -> Any:
        """A client that calls as the pipeline's role (CodePipeline runs its actions with it)."""
        credentials = self.roles.credentials(self.pipeline_role, "pipeline role")
        return self.aws.client(service, self.aws.session(credentials))

    def new_folder(self, name: str) -> Path:
        folder = self.work / name
        folder.mkdir(parents=True)
        return folder


def _unzip(data: bytes, folder: Path) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
        return sorted(n for n in archive.namelist() if not n.endswith("/"))


def _output(action: Action) -> str:
    if len(action.outputs) != 1:
        raise StepFailed(f"action {action.name}: expected one output artifact, found {len(action.outputs)}")
    return action.outputs[0]


def source_codecommit(action: Action, ex: Execution, step: Step) -> None:
    """The repository's branch: the seed bundle its Code.S3 points at (its first commit)."""
    name, branch = action.configuration.get("RepositoryName", ""), action.configuration.get("BranchName", "")
    found = ex.project.named("AWS::CodeCommit::Repository", name)
    if found is None:
        raise StepFailed(f"RepositoryName {name}: no CodeCommit repository of that name in the template")
    code = found[1].get("Code", {})
    if code.get("BranchName", "main") != branch:
        raise StepFailed(f"BranchName {branch}: repository {name} starts with branch {code.get('BranchName', 'main')}")
    s3 = code["S3"]
    body = ex.aws.client("s3").get_object(Bucket=s3["Bucket"], Key=s3["Key"])["Body"].read()
    files = _unzip(body, ex.new_folder(_output(action)))
    ex.artifacts[_output(action)] = ex.work / _output(action)
    step.detail = f"{name}@{branch}: {len(files)} files from s3://{s3['Bucket']}/{s3['Key']}"


def source_connection(action: Action, ex: Execution, step: Step) -> None:
    """An external repository (GitHub, GitLab): its contents are the seed bundle, as first pushed."""
    repo, branch = action.configuration.get("FullRepositoryId", ""), action.configuration.get("BranchName", "")
    if not repo or not branch or not action.configuration.get("ConnectionArn"):
        raise StepFailed("CodeStarSourceConnection needs ConnectionArn, FullRepositoryId and BranchName")
    files = _unzip(ex.seed_bundle, ex.new_folder(_output(action)))
    ex.artifacts[_output(action)] = ex.work / _output(action)
    step.detail = f"{repo}@{branch}: {len(files)} files (the rendered seed bundle, as pushed to the repository)"


def _input(action: Action, ex: Execution, name: str) -> Path:
    if name not in action.inputs:
        raise StepFailed(f"{name} is not an input artifact of action {action.name}")
    if name not in ex.artifacts:
        raise StepFailed(f"input artifact {name} was not produced by an earlier action")
    return ex.artifacts[name]


def codebuild(action: Action, ex: Execution, step: Step) -> None:
    """Run the named CodeBuild project of the template on the action's input artifacts."""
    name = action.configuration.get("ProjectName", "")
    found = ex.project.named("AWS::CodeBuild::Project", name)
    if found is None:
        raise StepFailed(f"ProjectName {name}: no CodeBuild project of that name in the template")
    if not action.inputs:
        raise StepFailed(f"action {action.name} has no input artifact for CodeBuild")
    sources = [(artifact, _input(action, ex, artifact)) for artifact in action.inputs]
    output = None
    if action.outputs:
        output = ex.work / _output(action)
    work = ex.new_folder(f"build-{action.name}")
    calls_before = len(fidelity.STACK_SET_CALLS)
    service_role = role_arn(str(found[1].get("ServiceRole", "")))
    credentials = ex.roles.credentials(service_role, f"CodeBuild project {name}'s role")
    build = run_build(
        name,
        found[1],
        sources,
        output,
        work,
        ex.aws.environment(credentials),
        {"CODEBUILD_INITIATOR": f"codepipeline/{ex.pipeline.name}"},
    )
    step.log = build.log
    if action.namespace:
        ex.variables[action.namespace] = dict(build.variables)
        step.log.append(
            f"[rehearsal] exported to {action.namespace}: {', '.join(sorted(build.variables)) or 'nothing'}"
        )
    environment = {
        str(v["Name"]): str(v["Value"]) for v in found[1].get("Environment", {}).get("EnvironmentVariables", [])
    }
    if Env.STACK_SET_NAME in environment:  # deploy mode "api": the build deployed a stack set
        _after_api_deploy(action, ex, step, environment, calls_before)
    if output is not None:
        ex.artifacts[_output(action)] = output
        step.detail = f"{_output(action)}: {', '.join(build.files)}"
    reports = [f"{group}: {', '.join(files) or 'no file'}" for group, files in build.reports.items()]
    if reports:
        step.detail = "; ".join(filter(None, [step.detail, "reports " + "; ".join(reports)]))


def _after_api_deploy(
    action: Action, ex: Execution, step: Step, environment: dict[str, str], calls_before: int
) -> None:
    """What the native runner does after a deploy, for deploy.py's stack set: where it deployed, SageMaker's
    execution-role check with the project's failure tolerance, and the CallAs each call carried."""
    name = environment[Env.STACK_SET_NAME]
    calls = fidelity.STACK_SET_CALLS[calls_before:]
    step.log += [f"[rehearsal] {operation} CallAs={call_as or '(none)'}" for operation, call_as in calls]
    sent = sorted({call_as or "(none)" for _, call_as in calls})
    cfn = ex.aws.client("cloudformation")
    instances = [
        (i["Account"], i["Region"])
        for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=name)
        for i in page["Summaries"]
    ]
    step.accounts = sorted({a for a, _ in instances})
    step.regions = sorted({r for _, r in instances})
    step.detail = f"deploy.py deployed stack set {name} (CallAs {', '.join(sent)})"
    tolerance = {"FailureTolerancePercentage": environment.get(Env.FAILURE_TOLERANCE, "0")}
    _check_instances(action, ex, step, name, instances, tolerance)
    ex.on_deployed(instances)


def artifact_file(action: Action, ex: Execution, reference: str, key: str) -> str:
    """The text of `Artifact::path` named by configuration `key`."""
    artifact, sep, path = reference.partition("::")
    if not sep:
        raise StepFailed(f"{key} {reference}: expected ArtifactName::path")
    folder = _input(action, ex, artifact)
    file = folder / path
    if not file.is_file():
        held = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        raise StepFailed(f"{key}: {artifact} has no file {path} (it holds: {', '.join(held) or 'nothing'})")
    return file.read_text(encoding="utf-8")


def _numbers(config: dict[str, str], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: int(config[k]) if config[k].isdigit() else config[k] for k in keys if k in config}


PREFERENCES = (
    "FailureToleranceCount",
    "FailureTolerancePercentage",
    "MaxConcurrentCount",
    "MaxConcurrentPercentage",
    "RegionConcurrencyType",
    "ConcurrencyMode",
)
AUTO_DEPLOYMENT = {
    "Enabled": {"Enabled": True, "RetainStacksOnAccountRemoval": False},
    "EnabledWithStackRetention": {"Enabled": True, "RetainStacksOnAccountRemoval": True},
    "Disabled": {"Enabled": False},
}


def _tolerated(config: dict[str, str], failed: int, total: int) -> bool:
    """Does the action's failure tolerance (per region, of `total` accounts) allow `failed` failures?"""
    if "FailureToleranceCount" in config:
        return failed <= int(config["FailureToleranceCount"])
    percentage = int(config.get("FailureTolerancePercentage", "0"))
    return failed <= (percentage * total) // 100  # AWS rounds the percentage down to whole accounts


def stack_set(action: Action, ex: Execution, step: Step) -> None:
    """Create or update the stack set and its instances, as the CloudFormationStackSet action does."""
    config = action.configuration
    name = config.get("StackSetName", "")
    template = artifact_file(action, ex, config.get("TemplatePath", ""), "TemplatePath")
    parameters: list[dict[str, str]] = []
    if "Parameters" in config:
        text = artifact_file(action, ex, config["Parameters"], "Parameters")
        try:
            parameters = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StepFailed(f"Parameters {config['Parameters']}: not JSON: {exc}") from None
        if not isinstance(parameters, list):
            raise StepFailed(f"Parameters {config['Parameters']}: expected a JSON list of ParameterKey/ParameterValue")
    permission = config.get("PermissionModel", "SELF_MANAGED")
    targets = [t.strip() for t in config.get("DeploymentTargets", "").split(",") if t.strip()]
    regions = [r.strip() for r in config.get("Regions", "").split(",") if r.strip()]
    if not targets or not regions:
        raise StepFailed("DeploymentTargets and Regions are required")
    # Service-managed: OUs in DeploymentTargets; self-managed: the account list (CreateStackInstances' Accounts).
    deployment: dict[str, Any] = (
        {"DeploymentTargets": {"OrganizationalUnitIds": targets}}
        if permission == "SERVICE_MANAGED"
        else {"Accounts": targets}
    )
    common: dict[str, Any] = {"StackSetName": name, "TemplateBody": template, "Parameters": parameters}
    if "Description" in config:
        common["Description"] = config["Description"]
    if "Capabilities" in config:
        common["Capabilities"] = [c.strip() for c in config["Capabilities"].split(",")]
    if permission == "SERVICE_MANAGED":
        common["AutoDeployment"] = AUTO_DEPLOYMENT[config.get("OrganizationsAutoDeployment", "Disabled")]
    else:  # self-managed: the roles CloudFormation uses (moto does not check they exist)
        if "AdministrationRoleArn" in config:
            common["AdministrationRoleARN"] = config["AdministrationRoleArn"]
        if "ExecutionRoleName" in config:
            common["ExecutionRoleName"] = config["ExecutionRoleName"]
    preferences = _numbers(config, PREFERENCES)
    cfn = ex.as_pipeline_role("cloudformation")
    try:
        existing = cfn.describe_stack_set(StackSetName=name)["StackSet"]["Status"] == "ACTIVE"
    except cfn.exceptions.StackSetNotFoundException:
        existing = False
    try:
        if existing:
            cfn.update_stack_set(**common, OperationPreferences=preferences)
            step.detail = f"updated stack set {name}"
        else:
            cfn.create_stack_set(**common, PermissionModel=permission)
            step.detail = f"created stack set {name}"
        cfn.create_stack_instances(StackSetName=name, Regions=regions, OperationPreferences=preferences, **deployment)
    except cfn.exceptions.ClientError as exc:
        raise StepFailed(f"stack set {name}: {exc}") from None
    instances = [
        (i["Account"], i["Region"])
        for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=name)
        for i in page["Summaries"]
    ]
    step.accounts = sorted({a for a, _ in instances})
    step.regions = sorted({r for _, r in instances})
    _check_instances(action, ex, step, name, instances)
    ex.on_deployed(instances)


def _check_instances(
    action: Action,
    ex: Execution,
    step: Step,
    name: str,
    instances: list[tuple[str, str]],
    tolerance: dict[str, str] | None = None,
) -> None:
    """SageMaker's execution-role check per instance (fidelity.py), the models' network (network.py) and their
    authorization (execution.py), each account's models read once; roll failed instances back. `tolerance`
    holds the failure-tolerance keys (the native action's configuration by default)."""
    failed: dict[tuple[str, str], str] = {}
    for account, region in instances:
        session = ex.aws.assume(account, ACCESS_ROLE)
        models = network.described_models(ex.aws, session, region)  # read once for the checks below
        problems = network.instance_problems(ex.aws, session, account, region, models)  # VPC models (network.py)
        problems += fidelity.model_role_problems(ex.aws, session, account, region, models)
        step.log += network.models_in_their_network(ex.aws, session, account, region, models)
        with ex.roles.authorizer.lock:  # the model's creation denied (execution.py): this deployment's only
            denied = ex.roles.authorizer.instance_failures.pop((account, region), [])
        problems += [f"SageMaker CreateModel (stack-set execution): {call.describe()}" for call in denied]
        if problems:
            failed[(account, region)] = problems[0]
    if not failed:
        return
    cfn = ex.aws.client("cloudformation")
    for account, region in failed:  # CloudFormation rolls a failed stack back: nothing stays
        cfn.delete_stack_instances(StackSetName=name, Accounts=[account], Regions=[region], RetainStacks=False)
    step.log += [f"FAILED account {a}, region {r}: {why}" for (a, r), why in failed.items()]
    for region in step.regions:
        total = sum(1 for _, r in instances if r == region)
        count = sum(1 for _, r in failed if r == region)
        if not _tolerated(action.configuration if tolerance is None else tolerance, count, total):
            (account, _), why = next((k, v) for k, v in failed.items() if k[1] == region)
            raise StepFailed(
                f"stack set {name}: {count} of {total} stack instance(s) failed in {region}, beyond the action's "
                f"failure tolerance; account {account}: {why}"
            )


def deployed_stack_sets(project: Project, pipeline: Pipeline) -> list[str]:
    """The stack sets the pipeline's deploy actions deploy: native actions name them; api-mode deploy
    projects carry the name in their environment."""
    names = []
    for action in pipeline.actions():
        if action.provider == "CloudFormationStackSet":
            names.append(action.configuration.get("StackSetName", ""))
        elif action.provider == "CodeBuild":
            found = project.named("AWS::CodeBuild::Project", action.configuration.get("ProjectName", ""))
            variables = (found[1] if found else {}).get("Environment", {}).get("EnvironmentVariables", [])
            names += [str(v["Value"]) for v in variables if v["Name"] == Env.STACK_SET_NAME]
    return names


#: `#{Namespace.NAME}`, CodePipeline's variable syntax.
_VARIABLE = re.compile(r"#\{([A-Za-z0-9@_-]+)\.([A-Za-z0-9@_.-]+)\}")


def resolve_variables(action: Action, ex: Execution) -> Action:
    """The action with `#{Namespace.NAME}` in its configuration replaced by what earlier actions exported,
    as CodePipeline does when the action starts; a reference nothing exported fails the action."""

    def value(match: re.Match[str]) -> str:
        namespace, name = match.groups()
        if namespace == "codepipeline" and name == "PipelineExecutionId":
            return ex.work.name
        if namespace not in ex.variables:
            known = ", ".join(sorted(ex.variables)) or "none"
            raise StepFailed(
                f"variable #{{{namespace}.{name}}}: no earlier action exported namespace {namespace} "
                f"(namespaces so far: {known})"
            )
        exported = ex.variables[namespace]
        if name not in exported:
            listed = ", ".join(sorted(exported)) or "nothing"
            raise StepFailed(
                f"variable #{{{namespace}.{name}}} cannot be resolved: namespace {namespace} exported {listed} "
                "(the buildspec's env: exported-variables)"
            )
        return exported[name]

    configuration = {key: _VARIABLE.sub(value, text) for key, text in action.configuration.items()}
    return replace(action, configuration=configuration)


def manual_approval(action: Action, ex: Execution, step: Step) -> None:
    """Ask `decide`, showing the CustomData as the approver reads it; a rejection stops the execution."""
    custom = action.configuration.get("CustomData", "")
    if len(custom) > CONFIGURATION_VALUE_MAX:
        step.log.append(
            f"[rehearsal] CustomData is {len(custom)} characters resolved (CodePipeline: {CONFIGURATION_VALUE_MAX})"
        )
    ex.approvals.append(
        {
            "action": f"{action.stage}/{action.name}",
            "custom_data": custom,
            "notification_arn": action.configuration.get("NotificationArn", ""),
            "external_entity_link": action.configuration.get("ExternalEntityLink", ""),
        }
    )
    step.log.append(f"[rehearsal] CustomData: {custom}")
    if action.configuration.get("NotificationArn"):
        step.log.append(
            f"[rehearsal] notification to {action.configuration['NotificationArn']} (as the pipeline's role)"
        )
    if ex.decide(action, custom):
        step.detail = "approved"
    else:
        step.result, step.detail = REJECTED, "rejected: the execution stops here"


RUNNERS: dict[tuple[str, str], Callable[[Action, Execution, Step], None]] = {
    ("Source", "CodeCommit"): source_codecommit,
    ("Source", "CodeStarSourceConnection"): source_connection,
    ("Build", "CodeBuild"): codebuild,
    ("Test", "CodeBuild"): codebuild,
    ("Deploy", "CloudFormationStackSet"): stack_set,
    ("Approval", "Manual"): manual_approval,
}
