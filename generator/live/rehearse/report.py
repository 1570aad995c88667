"""The rehearsal's record: one `Step` per thing that happened, a `Report` around them, and timelines.

Steps are recorded as they finish, so a timeline can print each one live; the same steps become the
JSON report. A failed step carries the cause in words a platform engineer can act on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

SUCCEEDED = "succeeded"
FAILED = "failed"
REJECTED = "rejected"
SKIPPED = "skipped"
#: A verification after a failure: it ran and recorded what it found, but nothing "succeeded".
CHECKED = "checked"


class StepFailed(Exception):
    """The step cannot succeed; the message is the cause the report names, `log` what led there."""

    def __init__(self, message: str, log: list[str] | None = None) -> None:
        super().__init__(message)
        self.log = list(log or [])


@dataclass
class Step:
    """One action of the pipeline, or one thing the rehearsal does around it."""

    run: int  # 0: setting up; 1, 2: pipeline executions
    stage: str
    action: str
    provider: str
    result: str = ""
    duration_s: float = 0.0
    accounts: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    detail: str = ""
    log: list[str] = field(default_factory=list)


class Timeline(Protocol):
    def started(self, run: int, stage: str, action: str) -> None: ...

    def finished(self, step: Step) -> None: ...

    def note(self, text: str) -> None: ...


class SilentTimeline:
    """For tests: record only."""

    def started(self, run: int, stage: str, action: str) -> None:
        pass

    def finished(self, step: Step) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class RichTimeline:
    """One line per finished step: run, stage, action, accounts, result, duration."""

    COLOURS: ClassVar[dict[str, str]] = {
        SUCCEEDED: "green",
        FAILED: "red",
        REJECTED: "yellow",
        SKIPPED: "dim",
        CHECKED: "cyan",
    }

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        # Progress goes to stderr: stdout carries only the result (and --json's report).
        self.console = console or Console(highlight=False, stderr=True)
        self._status: Any = None

    def started(self, run: int, stage: str, action: str) -> None:
        """A status line (spinner) naming the step under way, while it runs."""
        from rich.markup import escape

        text = f"{'run ' + str(run) + ' ' if run else ''}{escape(stage)} / {escape(action)} ..."
        if self._status is None:
            self._status = self.console.status(text)
            self._status.start()
        else:
            self._status.update(text)

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def finished(self, step: Step) -> None:
        from rich.markup import escape

        self._stop_status()

        colour = self.COLOURS.get(step.result, "white")
        run = f"run {step.run}" if step.run else ""
        where = f"{len(step.accounts)} account(s)" if step.accounts else ""
        if step.regions:
            where += f" in {', '.join(step.regions)}"
        self.console.print(
            f"[dim]{run:>5}[/] {escape(step.stage)} / [bold]{escape(step.action)}[/] "
            f"[{colour}]{step.result}[/] [dim]{step.duration_s:.2f} s[/] {escape(where)}"
        )
        if step.accounts:
            self.console.print(f"      [dim]accounts: {escape(', '.join(step.accounts))}[/]")
        if step.detail and step.result != SUCCEEDED:
            self.console.print(f"      [{colour}]{escape(step.detail)}[/]")
        if step.result == FAILED and step.log:
            for line in step.log[-15:]:
                self.console.print(f"        [dim]{escape(line)}[/]")

    def note(self, text: str) -> None:
        from rich.markup import escape

        self._stop_status()
        self.console.print(f"      [dim]{escape(text)}[/]")

    def close(self) -> None:
        self._stop_status()

    def pause(self) -> None:
        """Stop the status line (before a prompt: the spinner would overwrite the question)."""
        self._stop_status()


class PlainTimeline:
    """Plain progress lines on a stream (stderr when it is not a terminal): no colour, no wrapping."""

    def __init__(self, stream: Any = None) -> None:
        import sys

        self.stream = stream or sys.stderr

    def started(self, run: int, stage: str, action: str) -> None:
        pass  # one line per finished step is enough for a log

    def finished(self, step: Step) -> None:
        run = f"run {step.run} " if step.run else ""
        where = f" {len(step.accounts)} account(s)" if step.accounts else ""
        where += f" in {', '.join(step.regions)}" if step.regions else ""
        lines = [f"{run}{step.stage} / {step.action}: {step.result} {step.duration_s:.2f} s{where}"]
        if step.detail and step.result != SUCCEEDED:
            lines.append(f"    {step.detail}")
        if step.result == FAILED:
            lines += [f"      {line}" for line in step.log[-15:]]
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        self.stream.write(f"    {text}\n")
        self.stream.flush()


@dataclass
class Report:
    """Everything a rehearsal did and found; `as_expected` (the scenario's verdict) decides the exit code."""

    folder: str
    project_name: str
    project_id: str
    options: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    organisation: dict[str, Any] = field(default_factory=dict)
    launch: dict[str, Any] = field(default_factory=dict)
    model_packages: list[dict[str, Any]] = field(default_factory=list)
    served: dict[str, Any] = field(default_factory=dict)
    #: Deploy region -> the artifact bucket(s) and image(s) its models read, and whether they serve the model
    #: package itself or a regional copy (seedcode regions.py).
    regions: dict[str, Any] = field(default_factory=dict)
    #: What each manual approval showed the approver (CustomData with the variables resolved).
    approvals: list[dict[str, Any]] = field(default_factory=list)
    fidelity: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: `validate` findings of the folder: a folder with any is refused before anything is played.
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: Calls made as a role of the product that were authorized (count) and denied (role, action, resource).
    authorization: dict[str, Any] = field(default_factory=dict)
    #: Endpoints of one stage found in an account of the other stage.
    cross_stage: list[str] = field(default_factory=list)
    #: `--second-project`: the second project's calls on this one, each refused (generator/live/rehearse/isolation.py).
    isolation: list[dict[str, Any]] = field(default_factory=list)
    reached_prod: bool = False
    cause: str = ""
    scenario: str = ""
    expected: str = ""
    actual: str = ""
    #: Where the pipeline stopped: build, staging-deploy, staging-test, approval, prod-deploy, ... ("" = ran through).
    stopped_at: str = ""
    #: The verdict: the actual outcome is the expected one. `rehearse` exits 0 exactly when this is true.
    as_expected: bool = False
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, default=str) + "\n"


class Recorder:
    """Times steps, records them in the report and tells the timeline."""

    def __init__(self, report: Report, timeline: Timeline) -> None:
        self.report = report
        self.timeline = timeline

    @contextmanager
    def step(self, run: int, stage: str, action: str, provider: str) -> Iterator[Step]:
        """Record one step; StepFailed (or any error) marks it failed, names the cause, and propagates."""
        step = Step(run, stage, action, provider)
        self.timeline.started(run, stage, action)
        started = time.perf_counter()
        try:
            yield step
        except StepFailed as exc:
            step.result, step.detail = FAILED, str(exc)
            step.log = step.log or exc.log
            raise
        except Exception as exc:
            step.result, step.detail = FAILED, f"{type(exc).__name__}: {exc}"
            raise
        else:
            step.result = step.result or SUCCEEDED
        finally:
            step.duration_s = round(time.perf_counter() - started, 3)
            self.report.steps.append(step)
            if step.result in (FAILED, REJECTED) and not self.report.cause:
                self.report.cause = f"{stage} / {action}: {step.detail}"
            self.timeline.finished(step)

    def skipped(self, run: int, stage: str, action: str, provider: str, why: str) -> None:
        step = Step(run, stage, action, provider, result=SKIPPED, detail=why)
        self.report.steps.append(step)
        self.timeline.finished(step)
