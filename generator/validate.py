"""Validation of a render output folder: cfn-lint (with our own rules) on every template in the manifest.

cfn-lint is imported here, never on the CLI's start-up path: `render --no-validate` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.manifest import Manifest, read_manifest

RULES_DIR = Path(__file__).parent / "lint_rules"


@dataclass(frozen=True, order=True)
class Finding:
    """One cfn-lint match: an error (E) or warning (W) in one template."""

    path: str
    line: int
    rule: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "rule": self.rule, "message": self.message}


def lint_text(text: str, regions: list[str], name: str) -> list[Finding]:
    """Lint one template's text with cfn-lint's rules and ours; informational matches are dropped."""
    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(regions=regions)
    if any(RULES_DIR.glob("[!_]*.py")):
        config["append_rules"] = [str(RULES_DIR)]  # type: ignore[typeddict-unknown-key]  # see aws-facts.md
    matches = lint(text, config=config)
    return sorted(Finding(name, m.linenumber, m.rule.id, m.message) for m in matches if m.rule.id[:1] in ("E", "W"))


def validate_dir(folder: Path) -> list[Finding]:
    """Lint every template listed in `folder`'s manifest, for the home region it is launched in."""
    manifest: Manifest = read_manifest(folder)
    findings: list[Finding] = []
    for artifact in manifest.templates():
        text = (folder / artifact.path).read_text(encoding="utf-8")
        findings.extend(lint_text(text, [manifest.home_region], artifact.path))
    return findings
