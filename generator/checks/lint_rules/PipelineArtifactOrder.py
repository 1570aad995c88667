"""E9102: CodePipeline artifacts and variables flow forward: inputs and variable namespaces exist upstream.

CodePipeline rejects a pipeline whose action reads an artifact no earlier action writes, or whose
output names repeat, only when the stack is created (or, for a Service Catalog product, when a data
scientist launches it). Renaming `BuildArtifact` on one side only is the typical slip.

cfn-lint's own E3701 checks names in document order only; this rule follows execution order: an action
can read an artifact only from an earlier stage or from a lower RunOrder in its own stage (actions with
the same RunOrder run in parallel).

Variables follow the same order: a `#{Namespace.NAME}` in an action's configuration (a literal or the
text of an `Fn::Sub`) must name the `Namespace` of an action that runs before it (or CodePipeline's
own `codepipeline` namespace, or `variables` for pipeline-level variables), and namespaces are unique
in the pipeline. Which names an action exports (a buildspec's `exported-variables`) is the seed
code's side: the rehearsal resolves every reference against what the builds really exported.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.lint_rules._pipeline import Action, pipeline_actions, pipelines

_STRUCTURE = "https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html"
#: `#{Namespace.Name}`, CodePipeline's variable syntax (see the variables reference of its user guide).
VARIABLE = re.compile(r"#\{([A-Za-z0-9@_-]+)\.([A-Za-z0-9@_.-]+)\}")
#: Namespaces CodePipeline provides itself: execution ids, and pipeline-level variables.
BUILT_IN_NAMESPACES = frozenset({"codepipeline", "variables"})


def variable_references(value: object) -> list[tuple[str, str]]:
    """(namespace, name) of every `#{...}` in a configuration value: strings, and `Fn::Sub` text."""
    if isinstance(value, str):
        return [(m.group(1), m.group(2)) for m in VARIABLE.finditer(value)]
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Sub":
            text = argument[0] if isinstance(argument, list) and argument else argument
            return variable_references(text) if isinstance(text, str) else []
        if function in ("Fn::Join", "Fn::If") and isinstance(argument, list):
            return [ref for item in argument for ref in variable_references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in variable_references(item)]
    return []


def _runs_before(producer: Action, consumer: Action) -> bool:
    """Whether `producer` finishes before `consumer` starts (earlier stage, or same stage and lower RunOrder)."""
    if producer.stage_index != consumer.stage_index:
        return producer.stage_index < consumer.stage_index
    return producer.run_order < consumer.run_order


class PipelineArtifactOrder(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint has no type hints
    """Check that every input artifact is produced earlier and that output artifact names are unique."""

    id = "E9102"
    shortdesc = "CodePipeline input artifacts are produced earlier; output names are unique"
    description = (
        "Every input artifact of an AWS::CodePipeline::Pipeline action must be the output artifact of an action "
        "in an earlier stage, or in the same stage with a lower RunOrder; output artifact names must be unique "
        "in the pipeline."
    )
    source_url = _STRUCTURE
    tags: ClassVar[list[str]] = ["resources", "codepipeline", "mlops-gen"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for pipeline in pipelines(cfn.template):
            matches.extend(self._check_pipeline(list(pipeline_actions(cfn.template, pipeline))))
        return matches

    def _check_pipeline(self, actions: list[Action]) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        producers: dict[str, Action] = {}
        for action in actions:
            for out in action.outputs:
                first = producers.setdefault(out.name, action)
                if first is not action:
                    matches.append(
                        RuleMatch(
                            list(out.path),
                            f"{action.label}: output artifact {out.name!r} is already produced by {first.label}; "
                            "output artifact names must be unique in a pipeline",
                        )
                    )
        matches.extend(self._check_variables(actions))
        for action in actions:
            for art in action.inputs:
                producer = producers.get(art.name)
                if producer is None:
                    known = ", ".join(sorted(producers)) or "none"
                    matches.append(
                        RuleMatch(
                            list(art.path),
                            f"{action.label}: input artifact {art.name!r} is not produced by any action "
                            f"(outputs in this pipeline: {known})",
                        )
                    )
                elif not _runs_before(producer, action):
                    matches.append(
                        RuleMatch(
                            list(art.path),
                            f"{action.label} (stage {action.stage}, RunOrder {action.run_order}): input artifact "
                            f"{art.name!r} is produced by {producer.label} (RunOrder {producer.run_order}), "
                            "which does not run before it",
                        )
                    )
        return matches

    def _check_variables(self, actions: list[Action]) -> list[RuleMatch]:
        """Namespaces are unique, and every variable reference names one that is set earlier."""
        matches: list[RuleMatch] = []
        declared: dict[str, Action] = {}
        for action in actions:
            if action.namespace is None:
                continue
            first = declared.setdefault(action.namespace, action)
            if first is not action:
                matches.append(
                    RuleMatch(
                        [*action.path, "Namespace"],
                        f"{action.label}: namespace {action.namespace!r} is already used by {first.label}; "
                        "namespaces must be unique in a pipeline",
                    )
                )
        for action in actions:
            config = action.configuration if isinstance(action.configuration, dict) else {}
            for key, value in config.items():
                for namespace, name in variable_references(value):
                    if namespace in BUILT_IN_NAMESPACES:
                        continue
                    producer = declared.get(namespace)
                    path = [*action.path, "Configuration", key]
                    if producer is None:
                        known = ", ".join(sorted(declared)) or "none"
                        matches.append(
                            RuleMatch(
                                path,
                                f"{action.label}: Configuration {key} reads #{{{namespace}.{name}}}, but no action "
                                f"has namespace {namespace!r} (namespaces in this pipeline: {known})",
                            )
                        )
                    elif not _runs_before(producer, action):
                        matches.append(
                            RuleMatch(
                                path,
                                f"{action.label} (stage {action.stage}, RunOrder {action.run_order}): Configuration "
                                f"{key} reads #{{{namespace}.{name}}} from {producer.label} "
                                f"(RunOrder {producer.run_order}), which does not run before it",
                            )
                        )
        return matches
