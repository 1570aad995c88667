"""Validation of a render output folder: cfn-lint (with our own rules) on every template in the
manifest, then S3's public-policy rules (generator/s3_public.py), the IAM checks of
generator/iam_check.py (launch role and run-time roles), the data checks (generator/data_checks.py:
lifecycle and data capture), the release gates of generator/gates.py and the IAM hygiene rules of
generator/hygiene.py.

cfn-lint is imported here, never on the CLI's start-up path: `render --no-validate` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.manifest import Manifest, verify_manifest
from generator.progress import SILENT, Steps

RULES_DIR = Path(__file__).parent / "lint_rules"


@dataclass(frozen=True, order=True)
class Finding:
    """One finding in one template: a cfn-lint match (an error E or warning W), or an IAM finding.

    IAM findings (rule `IAM-LAUNCH-ROLE` or `IAM-RUNTIME`) also say their `kind` (missing,
    needs-prerequisites, conditional, unchecked), the `role` checked, the IAM `action` and
    `resource` (ARN, for a sample launch) and the product resource (`logical_id`) that needs it.
    """

    path: str
    line: int
    rule: str
    message: str
    kind: str = ""
    role: str = ""
    action: str = ""
    resource: str = ""
    logical_id: str = ""

    @property
    def blocks_render(self) -> bool:
        """False for the IAM kinds `render` accepts (they concern things outside the rendered files)."""
        from generator.iam_check import RENDER_ACCEPTS

        return self.kind not in RENDER_ACCEPTS

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"path": self.path, "line": self.line, "rule": self.rule, "message": self.message}
        if self.kind:
            found.update(
                kind=self.kind,
                role=self.role,
                action=self.action,
                resource=self.resource,
                logical_id=self.logical_id,
            )
        return found


def lint_text(text: str, regions: list[str], name: str) -> list[Finding]:
    """Lint one template's text with cfn-lint's rules and ours: errors, warnings and informational
    matches alike (the brief: zero of each); experimental rules stay off."""
    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(regions=regions, include_checks=["I"])
    if any(RULES_DIR.glob("[!_]*.py")):
        config["append_rules"] = [str(RULES_DIR)]  # not declared in ManualArgs; see aws-facts.md
    matches = lint(text, config=config)
    return sorted(
        Finding(name, m.linenumber, m.rule.id, m.message) for m in matches if m.rule.id[:1] in ("E", "W", "I")
    )


def validate_dir(folder: Path, steps: Steps = SILENT) -> list[Finding]:
    """Lint every template listed in `folder`'s manifest, for the home region it is launched in,
    then check IAM (only when the templates lint clean: a malformed template has no IAM meaning)."""
    from generator.data_checks import data_findings
    from generator.gates import check_folder as gate_findings
    from generator.hygiene import check_folder as hygiene_findings
    from generator.iam_check import check_folder
    from generator.s3_public import check_folder as public_policy_findings

    manifest: Manifest = verify_manifest(folder)
    findings: list[Finding] = []
    templates = manifest.templates()
    for number, artifact in enumerate(templates, start=1):
        with steps.step(f"cfn-lint {number}/{len(templates)}: {artifact.path}"):
            text = (folder / artifact.path).read_text(encoding="utf-8")
            findings.extend(lint_text(text, [manifest.home_region], artifact.path))
    if any(f.rule.startswith("E") for f in findings):
        return findings
    with steps.step("IAM, resource-policy and data checks; release gates"):
        return (
            findings
            + public_policy_findings(folder, manifest)
            + check_folder(folder, manifest)
            + data_findings(folder, manifest)
            + gate_findings(folder, manifest)
            + hygiene_findings(folder, manifest)
        )
