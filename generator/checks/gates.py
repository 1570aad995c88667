"""Release gates as checks of the rendered product: the order that keeps an untested model out of prod.

A render folder edited by hand (or a future change of the generator) could move the prod deployment
before the staging test, drop the manual approval, point prod's stack set at the staging OU or reuse
staging's stack-set name. CloudFormation and CodePipeline accept all of these; this module refuses them
by reading the *rendered* pipeline (never the render options):

- every deployment to the prod targets is preceded, in run order, by a deployment to the staging
  targets, then a test of those staging endpoints, then a manual approval (`GATE-ORDER`);
- staging and prod deployments use distinct stack sets and disjoint targets, and the product deploys to
  both stages (`GATE-DISTINCT`);
- the test's input artifacts are the staged build: artifacts the staging deployment consumed, or those
  they were built from, never something produced later or elsewhere (`GATE-TEST-INPUT`).

Run order, as CodePipeline documents it: stages run one after another in the order declared; inside a
stage, actions run by increasing `RunOrder`, and actions with the same `RunOrder` run in parallel (so
neither precedes the other). https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html

A deployment is a `CloudFormationStackSet` action (its `StackSetName`, `DeploymentTargets`), or a
CodeBuild action whose project deploys a stack set through the API (deploy mode "api": its environment
names `STACK_SET_NAME` and the targets). Its stage is read from its targets: the product's staging and
prod OU and account-list parameters (by their values for a sample launch).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.checks.finding import Finding
from generator.contract import Env
from generator.naming import Stage

ORDER_RULE = "GATE-ORDER"
DISTINCT_RULE = "GATE-DISTINCT"
TEST_INPUT_RULE = "GATE-TEST-INPUT"
STRUCTURE_DOCS = "https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html"
APPROVAL_DOCS = "https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals.html"
ARTIFACT_DOCS = "https://docs.aws.amazon.com/codepipeline/latest/userguide/welcome-introducing-artifacts.html"
_OU = re.compile(r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass(frozen=True, order=True)
class Position:
    """Where an action runs: its stage's index and its RunOrder inside the stage."""

    stage: int
    run_order: int

    def precedes(self, other: Position) -> bool:
        """Strictly before: an earlier stage, or the same stage with a lower RunOrder (equal = parallel)."""
        return self.stage < other.stage or (self.stage == other.stage and self.run_order < other.run_order)


@dataclass(frozen=True)
class PipelineAction:
    """One action of the rendered pipeline, resolved for a sample launch."""

    stage: str
    name: str
    category: str
    provider: str
    position: Position
    configuration: Mapping[str, str]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    #: The CodeBuild project's environment (empty for other providers).
    environment: Mapping[str, str]

    @property
    def label(self) -> str:
        return f"{self.stage}/{self.name}"


@dataclass(frozen=True)
class Deployment:
    """A stack-set deployment action: which stack set, to which targets, and so to which stage."""

    action: PipelineAction
    stack_set: str
    targets: frozenset[str]
    stages: frozenset[Stage]


def stage_targets(template: Mapping[str, Any], values: Mapping[str, Any]) -> dict[Stage, frozenset[str]]:
    """Stage -> the OU ids and account ids the product's parameters give that stage (sample launch).

    A parameter belongs to a stage when its name says so (`OrganizationalUnitStagingId`,
    `ProdAccountIds`) and its value is an OU id or a list of account ids.
    """
    found: dict[Stage, set[str]] = {stage: set() for stage in Stage}
    for name in template.get("Parameters", {}):
        ids = [v.strip() for v in str(values.get(name, "")).split(",") if v.strip()]
        if not ids or not all(_OU.match(v) or _ACCOUNT.match(v) for v in ids):
            continue
        for stage in Stage:
            if stage.value in name.lower():
                found[stage].update(ids)
    return {stage: frozenset(ids) for stage, ids in found.items()}


def _split(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(v).strip() for v in items if str(v).strip()]


def pipeline_actions(resolver: Any, props: Mapping[str, Any]) -> list[PipelineAction]:
    """The pipeline's actions in declaration order, configurations and project environments resolved."""
    projects = {
        resolver.physical_name(logical): resource.get("Properties", {})
        for logical, resource in resolver.template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::CodeBuild::Project"
    }
    found = []
    for index, stage in enumerate(props.get("Stages", [])):
        for spec in stage.get("Actions", []):
            type_id = spec["ActionTypeId"]
            configuration = {k: str(v) for k, v in resolver.resolve(spec.get("Configuration", {})).items()}
            environment: dict[str, str] = {}
            if type_id["Provider"] == "CodeBuild":
                project = projects.get(configuration.get("ProjectName", ""), {})
                for variable in project.get("Environment", {}).get("EnvironmentVariables", []):
                    environment[str(variable["Name"])] = str(resolver.resolve(variable["Value"]))
            found.append(
                PipelineAction(
                    stage=str(stage["Name"]),
                    name=str(spec["Name"]),
                    category=str(type_id["Category"]),
                    provider=str(type_id["Provider"]),
                    position=Position(index, int(spec.get("RunOrder", 1))),
                    configuration=configuration,
                    inputs=tuple(str(a["Name"]) for a in spec.get("InputArtifacts", [])),
                    outputs=tuple(str(a["Name"]) for a in spec.get("OutputArtifacts", [])),
                    environment=environment,
                )
            )
    return found


def deployments(actions: list[PipelineAction], targets: Mapping[Stage, frozenset[str]]) -> list[Deployment]:
    """The actions that deploy a stack set, each with the stages its targets belong to."""
    found = []
    for action in actions:
        if action.provider == "CloudFormationStackSet":
            name = action.configuration.get("StackSetName", "")
            aimed = _split(action.configuration.get("DeploymentTargets", ""))
        elif action.provider == "CodeBuild" and Env.STACK_SET_NAME in action.environment:
            name = action.environment[Env.STACK_SET_NAME]
            aimed = _split(action.environment.get(Env.TARGET_OUS, ""))
            aimed += _split(action.environment.get(Env.TARGET_ACCOUNTS, ""))
        else:
            continue
        stages = frozenset(stage for stage, ids in targets.items() if ids & set(aimed))
        found.append(Deployment(action, name, frozenset(aimed), stages))
    return found


def is_staging_test(action: PipelineAction) -> bool:
    """A test of the staging endpoints: a Test action, or a CodeBuild action (not a deployment) whose
    project runs for the staging stage (`STAGE=staging` in its environment)."""
    if Env.STACK_SET_NAME in action.environment:
        return False
    return action.category == "Test" or (
        action.provider == "CodeBuild" and action.environment.get(Env.STAGE) == Stage.STAGING.value
    )


def _lineage(artifacts: tuple[str, ...], actions: list[PipelineAction]) -> set[str]:
    """`artifacts` and every artifact they were built from (the inputs of the actions that produced them)."""
    seen: set[str] = set()
    todo = list(artifacts)
    while todo:
        artifact = todo.pop()
        if artifact in seen:
            continue
        seen.add(artifact)
        for action in actions:
            if artifact in action.outputs:
                todo.extend(action.inputs)
    return seen


@dataclass(frozen=True)
class Gate:
    """One finding about one pipeline: its rule and message (the caller adds path and line)."""

    rule: str
    message: str


def check_pipeline(name: str, actions: list[PipelineAction], targets: Mapping[Stage, frozenset[str]]) -> list[Gate]:
    """Every release-gate problem of one pipeline."""
    deployed = deployments(actions, targets)
    staging = [d for d in deployed if Stage.STAGING in d.stages]
    prod = [d for d in deployed if Stage.PROD in d.stages]
    gates = _distinct(name, deployed, staging, prod)
    for deployment in prod:
        gates += _ordered(name, deployment, staging, actions)
    return gates


def _distinct(name: str, deployed: list[Deployment], staging: list[Deployment], prod: list[Deployment]) -> list[Gate]:
    gates = []
    why = "staging and prod must be separate deployments (own stack set, own targets) or prod is never gated"
    for stage, found in ((Stage.STAGING, staging), (Stage.PROD, prod)):
        if not found:
            gates.append(Gate(DISTINCT_RULE, f"pipeline {name}: no action deploys to the {stage.value} targets: {why}"))
    for deployment in deployed:
        if len(deployment.stages) > 1:
            gates.append(
                Gate(
                    DISTINCT_RULE,
                    f"pipeline {name}: {deployment.action.label} deploys stack set {deployment.stack_set} to both "
                    f"staging and prod targets ({', '.join(sorted(deployment.targets))}): {why}",
                )
            )
    by_name: dict[str, list[Deployment]] = {}
    for deployment in deployed:
        by_name.setdefault(deployment.stack_set, []).append(deployment)
    for stack_set, users in sorted(by_name.items()):
        if len(users) > 1:
            stages = sorted({s.value for d in users for s in d.stages})
            gates.append(
                Gate(
                    DISTINCT_RULE,
                    f"pipeline {name}: stack set {stack_set} is deployed by {', '.join(d.action.label for d in users)}"
                    f" ({' and '.join(stages) or 'no stage'}): a stack set has one template and one set of parameters,"
                    f" so the later deployment replaces what the earlier one deployed; {why}",
                )
            )
    for first in staging:
        for second in prod:
            if first is not second and first.targets & second.targets:
                shared = ", ".join(sorted(first.targets & second.targets))
                gates.append(
                    Gate(
                        DISTINCT_RULE,
                        f"pipeline {name}: {first.action.label} (staging) and {second.action.label} (prod) share "
                        f"targets {shared}: {why}",
                    )
                )
    return gates


def _ordered(name: str, prod: Deployment, staging: list[Deployment], actions: list[PipelineAction]) -> list[Gate]:
    """prod must come after: a staging deployment S, a test T of it (S < T), a manual approval A (T < A)."""
    where = f"pipeline {name}: {prod.action.label} deploys to prod (stack set {prod.stack_set})"
    before = [d for d in staging if d.action.position.precedes(prod.action.position) and d is not prod]
    if not before:
        return [
            Gate(
                ORDER_RULE,
                f"{where} but no deployment to the staging targets runs before it: every prod deployment must follow "
                f"a staging deployment, its test and a manual approval (run order: {STRUCTURE_DOCS})",
            )
        ]
    problems: list[str] = []
    for deployment in before:
        tests = [
            a
            for a in actions
            if is_staging_test(a)
            and deployment.action.position.precedes(a.position)
            and a.position.precedes(prod.action.position)
        ]
        if not tests:
            problems.append(
                f"no test of the staging endpoints runs after {deployment.action.label} and before it "
                f"(run order: {STRUCTURE_DOCS})"
            )
            continue
        approvals = [
            a
            for a in actions
            if (a.category, a.provider) == ("Approval", "Manual")
            and any(t.position.precedes(a.position) for t in tests)
            and a.position.precedes(prod.action.position)
        ]
        if not approvals:
            problems.append(
                f"no manual approval runs after the staging test ({', '.join(t.label for t in tests)}) and before "
                f"it: nobody decides on the test's results ({APPROVAL_DOCS})"
            )
            continue
        return []  # one complete chain is enough
    return [Gate(ORDER_RULE, f"{where}, but {problem}") for problem in problems]


def check_test_inputs(name: str, actions: list[PipelineAction], targets: Mapping[Stage, frozenset[str]]) -> list[Gate]:
    """Each staging test reads the staged build: artifacts of a staging deployment before it, or their sources."""
    staging = [d for d in deployments(actions, targets) if Stage.STAGING in d.stages]
    gates = []
    for test in (a for a in actions if is_staging_test(a)):
        before = [d for d in staging if d.action.position.precedes(test.position)]
        if not before:
            continue  # not a test of a deployment (the order check reports a prod deployment without one)
        staged = set().union(*(_lineage(d.action.inputs, actions) for d in before))
        foreign = [a for a in test.inputs if a not in staged]
        if not test.inputs or foreign:
            what = f"input(s) {', '.join(foreign)}" if foreign else "no input artifact"
            gates.append(
                Gate(
                    TEST_INPUT_RULE,
                    f"pipeline {name}: staging test {test.label} has {what}; it must read the staged build (the "
                    f"artifacts {', '.join(d.action.label for d in before)} deployed: {', '.join(sorted(staged))}), "
                    f"or it may test something else than what reaches prod ({ARTIFACT_DOCS})",
                )
            )
    return gates


def check_template(template: Mapping[str, Any], region: str) -> list[tuple[str, Gate]]:
    """(pipeline logical id, gate) for every pipeline of a product template."""
    from generator.iam.resolve import sample_resolver

    resolver = sample_resolver(template, region=region)
    targets = stage_targets(template, resolver.values)
    found = []
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::CodePipeline::Pipeline":
            continue
        actions = pipeline_actions(resolver, resource.get("Properties", {}))
        name = resolver.physical_name(logical)
        for gate in check_pipeline(name, actions, targets) + check_test_inputs(name, actions, targets):
            found.append((logical, gate))
    return found


def check_folder(folder: Path, manifest: Any) -> list[Finding]:
    """The release-gate findings of a render folder's product template (none without one)."""
    from generator.checks.iam_check import decode_template
    from generator.iam.resolve import UnresolvableError

    try:
        path = manifest.path_of("product-template")
    except KeyError:
        return []
    template = decode_template(folder / path)
    try:
        found = check_template(template, manifest.home_region)
    except (UnresolvableError, KeyError, ValueError) as exc:
        message = f"release gates not checked: the pipeline cannot be resolved for a sample launch ({exc})"
        return [Finding(path, 0, ORDER_RULE, message)]
    resources = template.get("Resources", {})
    return sorted(Finding(path, _line(resources.get(logical)), gate.rule, gate.message) for logical, gate in found)


def _line(node: Any) -> int:
    mark = getattr(node, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else 0
