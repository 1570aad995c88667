"""Running the plan: each step in order against injected clients, and the report of what each did.

The first failure raises PublishError; the steps already done stay done, and since every step
reads before it writes, running publish again finishes the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from generator import __version__
from generator.live.publish import catalog, checks, studio, uploads
from generator.live.publish.errors import AWS_FAILURES, as_publish_error
from generator.live.publish.plan import Plan, Step
from generator.live.publish.state import CREATED, PLANNED, UPDATED, Clients, Result, Run

#: Every step `build_plan` may list, by name.
STEPS: dict[str, Callable[[Run], Result]] = {
    "identity": checks.identity,
    "organization": checks.organization,
    "bucket": checks.bucket,
    "launch-role": checks.launch_role,
    "domain": studio.domain,
    "seed-bundle": uploads.seed_bundle,
    "template": uploads.template,
    "catalog-lookup": catalog.catalog_lookup,
    "portfolio": catalog.portfolio,
    "product": catalog.product,
    "version": catalog.version,
    "association": catalog.association,
    "launch-constraint": catalog.launch_constraint,
    "principals": catalog.principals,
    "visibility-tag": catalog.visibility_tag,
    "studio-template": studio.studio_template,
    "cors": studio.cors,
    "domain-tag": studio.domain_tag,
}


@dataclass(frozen=True)
class Outcome:
    """What one step did."""

    step: str
    action: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"step": self.step, "action": self.action, "detail": self.detail}


@dataclass
class Report:
    """The run's result (`--json` prints `as_dict()`)."""

    plan: Plan
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(o.action in (CREATED, UPDATED) for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generator": f"mlops-gen {__version__}",
            "via": self.plan.options.via.value,
            "region": self.plan.region,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "steps": [o.as_dict() for o in self.outcomes],
            "outputs": dict(sorted(self.outputs.items())),
        }


class Progress(Protocol):
    """Told when a step starts and what it did (the CLI shows it with rich)."""

    def start(self, step: Step) -> None: ...

    def done(self, outcome: Outcome) -> None: ...


def dry_run(plan: Plan) -> Report:
    """The report of a run that makes no call: every step `planned`."""
    report = Report(plan, dry_run=True, outputs=plan.outputs())
    report.outcomes = [Outcome(s.name, PLANNED, s.summary) for s in plan.steps]
    return report


def apply(plan: Plan, clients: Clients, progress: Progress | None = None) -> Report:
    """Run every step in order; the first failure raises PublishError (completed steps stay done)."""
    run = Run(plan, clients)
    report = Report(plan, dry_run=False)
    for step in plan.steps:
        if progress:
            progress.start(step)
        outcome = _run_step(run, step)
        report.outcomes.append(outcome)
        if progress:
            progress.done(outcome)
    report.outputs = {**plan.outputs(), **run.outputs}
    return report


def _run_step(run: Run, step: Step) -> Outcome:
    try:
        action, detail = STEPS[step.name](run)
    except AWS_FAILURES as exc:
        raise as_publish_error(step.name, exc, run) from None
    return Outcome(step.name, action, detail)
