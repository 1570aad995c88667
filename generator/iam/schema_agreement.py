"""Does the IAM table agree with the resource schemas? Nothing silently dropped, nothing invented.

For each type whose schema has handlers, and each operation: the actions the table grants, together with those it
excludes with a reason, are exactly the actions the schema's handler lists (`schema_operations`: the handler's
permissions, and the tagging permissions on the operations that call them). A grant beyond the schema must say
where AWS documents the call; a type without handlers must cite the service authorization reference. The tagging
actions a taggable type's schema lists are granted always (SageMaker tags every project's stack), on every
operation that calls them. tests/test_iam_table.py runs `disagreements` on the real table and on broken copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from generator.iam.iam_table import STACK_TAGS, TABLE, TypeEntry, excluded_operations
from generator.iam.schemas import Operation, schema_operations, tag_operations, tagging_permissions


def disagreements(table: Iterable[TypeEntry] = TABLE) -> list[str]:
    """Every way `table` departs from the bundled schemas, one line each (empty: it agrees)."""
    return [line for entry in table for line in _entry(entry)]


def _entry(entry: TypeEntry) -> Iterator[str]:
    listed = schema_operations(entry.type)
    if not listed:
        if not any("/service-authorization/" in source for source in entry.sources):
            yield f"{entry.type}: no handlers in its schema, and no service authorization reference cited"
        for grant in entry.grants:
            if not grant.operations:
                yield f"{entry.type}: {', '.join(grant.actions)} names no operation (no handlers to derive it from)"
        return
    granted: set[tuple[str, Operation]] = set()
    for grant in entry.grants:
        if not grant.operations:
            yield f"{entry.type}: {', '.join(grant.actions)} is not in any handler of the schema"
        for action in grant.actions:
            for operation in grant.operations:
                granted.add((action, operation))
                if operation not in listed.get(action, ()) and not grant.beyond.startswith("https://"):
                    yield f"{entry.type}: {action} ({operation}) is not in the schema's {operation} handler"
    for item in entry.excluded:
        if not item.why.strip():
            yield f"{entry.type}: {', '.join(item.actions)} excluded without a reason"
        for action in item.actions:
            if not listed.get(action):
                yield f"{entry.type}: excludes {action}, which no handler of the schema lists"
    for action, operations in sorted(listed.items()):
        excluded = excluded_operations(entry, action)
        for operation in sorted(operations):
            if (action, operation) in granted and operation in excluded:
                yield f"{entry.type}: {action} ({operation}) is both granted and excluded"
            if (action, operation) not in granted and operation not in excluded:
                yield f"{entry.type}: {action} ({operation}) is in the schema's handler, neither granted nor excluded"
    yield from _tagging(entry)


def _tagging(entry: TypeEntry) -> Iterator[str]:
    """The schema's tagging permissions, each granted with no property condition on the operations that call it,
    and no stack-tag grant beyond them."""
    tags = set(tagging_permissions(entry.type))
    always = {(a, op) for g in entry.grants if g.when is None for a in g.actions for op in g.operations}
    for action in sorted(tags):
        for operation in tag_operations(action):
            if (action, operation) not in always:
                yield f"{entry.type}: tagging permission {action} ({operation}) is not granted always"
    for grant in entry.grants:
        if grant.why == STACK_TAGS and not set(grant.actions) <= tags:
            yield f"{entry.type}: {sorted(set(grant.actions) - tags)} granted for stack tags, not tagging permissions"
