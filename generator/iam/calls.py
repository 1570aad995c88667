"""One call a role must be allowed: the unit the launch role is derived from and its unused grants are found by.

`companions/launch_role.py` lists the calls Service Catalog and CloudFormation make as the launch role;
`checks/unused_grants.py` asks which statements none of a role's calls uses. Both use this type, so it sits in
the `iam` wing below them (the companions may not import the checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.iam.trust import ContextValue


@dataclass(frozen=True, order=True)
class Call:
    """One call a role must be allowed: action, concrete (sample) resource ARN, known condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, ContextValue], ...] = ()
