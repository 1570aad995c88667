"""The checks of where data goes and how long it stays, for `validate` (one call, so wiring stays one line).

- generator/checks/lifecycle.py: no lifecycle expiration reaches the model artifacts of registered versions;
- generator/checks/data_capture.py: the stages' data capture writes to a bucket every target account has, as a
  role that may write there.
"""

from __future__ import annotations

from pathlib import Path

from generator.checks import data_capture, lifecycle
from generator.checks.finding import Finding
from generator.manifest import Manifest


def data_findings(folder: Path, manifest: Manifest) -> list[Finding]:
    """Every finding of the data checks for the render in `folder`."""
    return sorted(lifecycle.check_folder(folder, manifest) + data_capture.check_folder(folder, manifest))
