"""Showing a run as it goes: a spinner on stderr while a step runs, then one coloured line per step."""

from __future__ import annotations

from typing import Any

from generator.live.publish.plan import Step
from generator.live.publish.runner import Outcome
from generator.live.publish.state import CREATED, PLANNED, UNCHANGED, UPDATED

_COLOURS = {CREATED: "green", UPDATED: "yellow", UNCHANGED: "dim", PLANNED: "cyan"}


class RichProgress:
    """Progress on stderr: a spinner while a step runs, then one line per step."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self._status: Any = None

    def start(self, step: Step) -> None:
        self._status = self.console.status(f"{step.name}: {step.summary}")
        self._status.start()

    def done(self, outcome: Outcome) -> None:
        self.stop()
        self.show(outcome)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def show(self, outcome: Outcome) -> None:
        from rich.text import Text

        line = Text()
        line.append(f"{outcome.action:<9}", style=_COLOURS.get(outcome.action, ""))
        line.append(f" {outcome.step:<17} ", style="bold")
        line.append(outcome.detail)
        self.console.print(line, soft_wrap=True)
