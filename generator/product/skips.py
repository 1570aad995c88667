"""checkov skips kept in each resource's metadata, each with the reason a reviewer reads.

tests/test_checkov.py holds every skip to account: checkov must know the check for the resource's type,
the check must fail without the skip, and the reason must not be empty.
"""

from __future__ import annotations

from collections.abc import Mapping

from troposphere import AWSObject


def skip_checks(resource: AWSObject, reasons: Mapping[str, str]) -> None:
    """Record checkov skips (id -> reason) in the resource's `Metadata.checkov.skip`."""
    blank = sorted(check_id for check_id, reason in reasons.items() if not reason.strip())
    if blank:
        raise ValueError(f"checkov skips of {resource.title} need a reason: {', '.join(blank)}")
    if not reasons:
        return
    metadata = dict(getattr(resource, "Metadata", {}) or {})
    entries = [{"id": check_id, "comment": reasons[check_id]} for check_id in sorted(reasons)]
    metadata["checkov"] = {"skip": entries}
    resource.Metadata = metadata
