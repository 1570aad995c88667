"""A check's finding, and the IAM finding kinds `render` accepts: below `validate` and every check.

`validate` runs the checks and each check returns findings: with the type here, neither imports the other
for it (no import loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """What an IAM finding says."""

    MISSING = "missing"
    NEEDS_PREREQUISITES = "needs-prerequisites"
    CONDITIONAL = "conditional"
    UNCHECKED = "unchecked"


#: Kinds `render` writes files despite (validate still reports them and exits 1).
RENDER_ACCEPTS = frozenset({Kind.NEEDS_PREREQUISITES.value, Kind.CONDITIONAL.value})


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
