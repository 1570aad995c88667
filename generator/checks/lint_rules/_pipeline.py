"""What the E91xx rules share: a tolerant walk over every CodePipeline action of a template.

Private (cfn-lint does not load `_*.py` as rules). The walk never raises on a malformed template:
cfn-lint's own schema rules report those shapes, and an exception in a rule would only become a
confusing E0002 "unknown exception" match.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PIPELINE = "AWS::CodePipeline::Pipeline"

#: A cfn-lint path: keys and list indexes from the template root (gives the finding its line number).
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Artifact:
    """One input or output artifact name of an action, with where it is declared."""

    name: str
    path: Path


@dataclass(frozen=True)
class Action:
    """One pipeline action, with the fields the rules read (raw values: they may be intrinsics)."""

    pipeline: str
    stage_index: int
    stage: str
    name: str
    category: object
    owner: object
    provider: object
    run_order: int
    configuration: object
    inputs: tuple[Artifact, ...]
    outputs: tuple[Artifact, ...]
    path: Path
    #: The action's variable namespace (an action property, not a configuration key), if a string.
    namespace: str | None = None

    @property
    def label(self) -> str:
        """How messages name the action: `Pipeline/Stage/Action`."""
        return f"{self.pipeline}/{self.stage}/{self.name}"


@dataclass(frozen=True)
class ProviderSpec:
    """The configuration keys one action type accepts (`allowed`) and needs (`required`)."""

    allowed: frozenset[str]
    required: frozenset[str]
    source_url: str


def _artifacts(value: object, path: Path) -> tuple[Artifact, ...]:
    if not isinstance(value, list):
        return ()
    found = []
    for i, item in enumerate(value):
        if isinstance(item, dict) and isinstance(item.get("Name"), str):
            found.append(Artifact(str(item["Name"]), (*path, i, "Name")))
    return tuple(found)


def _run_order(value: object) -> int:
    """RunOrder as CodePipeline reads it (1 when absent); an intrinsic counts as 1 too."""
    if isinstance(value, bool):
        return 1
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 1


def _action(pipeline: str, stage_index: int, stage: str, raw: dict[str, Any], path: Path) -> Action:
    type_id = raw.get("ActionTypeId")
    type_id = type_id if isinstance(type_id, dict) else {}
    return Action(
        pipeline=pipeline,
        stage_index=stage_index,
        stage=stage,
        name=str(raw.get("Name", "?")),
        category=type_id.get("Category"),
        owner=type_id.get("Owner"),
        provider=type_id.get("Provider"),
        run_order=_run_order(raw.get("RunOrder", 1)),
        configuration=raw.get("Configuration"),
        inputs=_artifacts(raw.get("InputArtifacts"), (*path, "InputArtifacts")),
        outputs=_artifacts(raw.get("OutputArtifacts"), (*path, "OutputArtifacts")),
        path=path,
        namespace=raw["Namespace"] if isinstance(raw.get("Namespace"), str) else None,
    )


def pipeline_actions(template: dict[str, Any], pipeline: str) -> Iterator[Action]:
    """Every well-formed action of one `AWS::CodePipeline::Pipeline` resource, stage by stage."""
    resource = template.get("Resources", {}).get(pipeline)
    props = resource.get("Properties") if isinstance(resource, dict) else None
    stages = props.get("Stages") if isinstance(props, dict) else None
    if not isinstance(stages, list):
        return
    for s, stage in enumerate(stages):
        if not isinstance(stage, dict) or not isinstance(stage.get("Actions"), list):
            continue
        stage_name = str(stage.get("Name", s))
        for a, raw in enumerate(stage["Actions"]):
            if isinstance(raw, dict):
                path: Path = ("Resources", pipeline, "Properties", "Stages", s, "Actions", a)
                yield _action(pipeline, s, stage_name, raw, path)


def pipelines(template: dict[str, Any]) -> list[str]:
    """Logical ids of the template's pipelines."""
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return []
    return [name for name, res in resources.items() if isinstance(res, dict) and res.get("Type") == PIPELINE]
