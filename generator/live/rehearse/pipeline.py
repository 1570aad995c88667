"""The pipeline as the template declares it: stages, and actions in run order, with configurations
resolved for the launch. Which rule starts which pipeline is read from the rules' targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.live.rehearse.launch import Project
from generator.live.rehearse.report import StepFailed


@dataclass(frozen=True)
class Action:
    stage: str
    name: str
    category: str
    provider: str
    configuration: dict[str, str]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run_order: int
    #: The namespace its variables are exported under (`#{namespace.NAME}` downstream), if any.
    namespace: str | None = None


@dataclass(frozen=True)
class Pipeline:
    name: str
    arn: str
    stages: tuple[tuple[str, tuple[Action, ...]], ...]

    def actions(self) -> list[Action]:
        return [a for _, actions in self.stages for a in actions]


def _action(stage: str, spec: dict[str, Any]) -> Action:
    type_id = spec["ActionTypeId"]
    return Action(
        stage=stage,
        name=spec["Name"],
        category=type_id["Category"],
        provider=type_id["Provider"],
        configuration={k: str(v) for k, v in spec.get("Configuration", {}).items()},
        inputs=tuple(a["Name"] for a in spec.get("InputArtifacts", [])),
        outputs=tuple(a["Name"] for a in spec.get("OutputArtifacts", [])),
        run_order=int(spec.get("RunOrder", 1)),
        namespace=spec.get("Namespace"),
    )


def pipelines(project: Project) -> dict[str, Pipeline]:
    """Every CodePipeline of the template, by ARN; actions sorted by run order within their stage."""
    found: dict[str, Pipeline] = {}
    resolver = project.resolver
    for logical, props in project.resources("AWS::CodePipeline::Pipeline").items():
        name = resolver.physical_name(logical)
        arn = f"arn:{resolver.partition}:codepipeline:{resolver.region}:{resolver.account}:{name}"
        stages = tuple(
            (stage["Name"], tuple(sorted((_action(stage["Name"], a) for a in stage["Actions"]), key=_order)))
            for stage in props["Stages"]
        )
        found[arn] = Pipeline(name, arn, stages)
    return found


def _order(action: Action) -> int:
    return action.run_order


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: dict[str, Any]
    state: str
    targets: tuple[str, ...]
    #: Target ARN -> the role EventBridge invokes it as (targets without a RoleArn are absent).
    roles: tuple[tuple[str, str], ...] = ()


def rules(project: Project) -> list[Rule]:
    """Every EventBridge rule of the template with its resolved pattern and target ARNs."""
    return [
        Rule(
            name=props.get("Name", logical),
            pattern=props.get("EventPattern", {}),
            state=props.get("State", "ENABLED"),
            targets=tuple(t["Arn"] for t in props.get("Targets", [])),
            roles=tuple((t["Arn"], t["RoleArn"]) for t in props.get("Targets", []) if "RoleArn" in t),
        )
        for logical, props in project.resources("AWS::Events::Rule").items()
    ]


def triggered(project: Project, event: dict[str, Any]) -> list[tuple[Rule, Pipeline]]:
    """(rule, pipeline) for every enabled rule whose pattern matches `event` and that targets a pipeline."""
    import json

    from moto.events.models import EventPattern  # internal class: moto is pinned (aws-facts.md)

    known = pipelines(project)
    matches: list[tuple[Rule, Pipeline]] = []
    for rule in rules(project):
        pattern = EventPattern.load(json.dumps(rule.pattern))
        if rule.state != "ENABLED" or not pattern.matches_event(event):  # type: ignore[arg-type]  # a plain dict
            continue
        for target in rule.targets:
            if target in known:
                matches.append((rule, known[target]))
            elif ":codepipeline:" in target:
                raise StepFailed(f"rule {rule.name} targets {target}, which is not a pipeline of the template")
    return matches
