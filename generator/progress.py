"""Feedback on long work, on stderr: a rich status line where stderr is a terminal, plain lines otherwise.

stdout stays for results (`--json` prints nothing else there). Plain lines are never wrapped, so a
command or path in them stays copy-pasteable when stderr goes to a file or a CI log.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class Steps:
    """Announces each step of a command (`with steps.step("linting 3/7 ..."):`)."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.live = not quiet and _isatty(self.stream)

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """Show `text` while the block runs: a spinner on a terminal, one plain line elsewhere."""
        if self.quiet:
            yield
            return
        if not self.live:
            self.stream.write(f"... {text}\n")
            self.stream.flush()
            yield
            return
        from rich.console import Console

        status: Any = Console(file=self.stream, highlight=False).status(text)
        with status:
            yield

    def __call__(self, text: str) -> None:
        """A step with no block to wrap (a plain line, or a short-lived status on a terminal)."""
        with self.step(text):
            pass


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


SILENT = Steps(quiet=True)
