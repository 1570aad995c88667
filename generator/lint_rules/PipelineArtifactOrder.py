"""E9102: CodePipeline artifacts flow forward: inputs exist upstream, output names are unique.

CodePipeline rejects a pipeline whose action reads an artifact no earlier action writes, or whose
output names repeat, only when the stack is created (or, for a Service Catalog product, when a data
scientist launches it). Renaming `BuildArtifact` on one side only is the typical slip.

cfn-lint's own E3701 checks names in document order only; this rule follows execution order: an action
can read an artifact only from an earlier stage or from a lower RunOrder in its own stage (actions with
the same RunOrder run in parallel).
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint_rules._pipeline import Action, pipeline_actions, pipelines

_STRUCTURE = "https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html"


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
