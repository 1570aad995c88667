"""checkov skips kept in each resource's metadata, each with the reason a reviewer reads."""

from __future__ import annotations

from collections.abc import Mapping

from troposphere import AWSObject


def skip_checks(resource: AWSObject, reasons: Mapping[str, str]) -> None:
    """Record checkov skips (id -> reason) in the resource's `Metadata.checkov.skip`."""
    metadata = dict(getattr(resource, "Metadata", {}) or {})
    entries = [{"id": check_id, "comment": reasons[check_id]} for check_id in sorted(reasons)]
    metadata["checkov"] = {"skip": entries}
    resource.Metadata = metadata
