"""A small IAM policy evaluator: may this role do `action` on `resource`?

It answers allow, deny (explicit or implicit) or *conditional*: a statement would decide but
has a condition whose keys the caller did not supply. A condition it cannot evaluate is
reported, never silently treated as met. It covers what identity policies of the roles we
check use: Allow/Deny, Action/NotAction, Resource/NotResource, `*`/`?` wildcards, and the
common condition operators (with `IfExists`, `ForAnyValue:`/`ForAllValues:`).
Evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

Policy = Mapping[str, Any]
Context = Mapping[str, str | Sequence[str]]


class Decision(StrEnum):
    """Outcome of one request against a set of identity policies."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"
    CONDITIONAL = "conditional"


@dataclass(frozen=True)
class Result:
    """The decision, the statements that made it, and any condition that could not be evaluated."""

    decision: Decision
    statements: tuple[str, ...] = ()
    unevaluated: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM wildcards: `*` any run of characters, `?` one character, nothing else special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return bool(_wildcard(pattern, ignore_case).match(value))


def action_matches(pattern: str, action: str) -> bool:
    """Actions compare case-insensitively (`s3:getobject` is `s3:GetObject`)."""
    return wildcard_match(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """Resource ARNs: the first five fields match one by one, the resource part may span ':' and '/'."""
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return wildcard_match(pattern, arn)
    return all(wildcard_match(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _statement_id(policy_name: str, index: int, statement: Mapping[str, Any]) -> str:
    return f"{policy_name}:{statement.get('Sid') or index}"


def _applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        acts = any(action_matches(p, action) for p in _as_list(statement["Action"]))
    else:
        acts = not any(action_matches(p, action) for p in _as_list(statement.get("NotAction", [])))
    if not acts:
        return False
    if "Resource" in statement:
        return any(arn_matches(p, resource) for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(arn_matches(p, resource) for p in _as_list(statement["NotResource"]))
    return False


# Condition operators: name -> (compare(pattern, value) -> bool, negated)
_STRING_OPS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (lambda p, v: wildcard_match(p, v), False),
    "StringNotLike": (lambda p, v: wildcard_match(p, v), True),
    "ArnEquals": (lambda p, v: p == v, False),
    "ArnNotEquals": (lambda p, v: p == v, True),
    "ArnLike": (lambda p, v: arn_matches(p, v), False),
    "ArnNotLike": (lambda p, v: arn_matches(p, v), True),
    "Bool": (lambda p, v: str(p).lower() == str(v).lower(), False),
}


def _condition_holds(operator: str, key: str, patterns: list[Any], context: Context) -> bool | None:
    """True/False when decidable from `context`, None when the key is missing or the operator unknown."""
    if operator == "Null":
        wants_null = str(patterns[0]).lower() == "true"
        return (key not in context) == wants_null
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    if op not in _STRING_OPS:
        return None
    if key not in context:
        return True if if_exists else None
    compare, negated = _STRING_OPS[op]
    values = [str(v) for v in _as_list(context[key])]
    patterns = [str(p) for p in patterns]

    def one(value: str) -> bool:
        hit = any(compare(p, value) for p in patterns)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)


def _conditions(statement: Mapping[str, Any], context: Context) -> tuple[bool, list[str]]:
    """(all decidable conditions hold, the conditions that could not be decided)."""
    unknown: list[str] = []
    for operator, block in (statement.get("Condition") or {}).items():
        for key, patterns in block.items():
            holds = _condition_holds(operator, key, _as_list(patterns), context)
            if holds is None:
                unknown.append(f"{operator} {key} {_as_list(patterns)}")
            elif not holds:
                return False, []
    return True, unknown


def evaluate(
    policies: Mapping[str, Policy] | Iterable[tuple[str, Policy]],
    action: str,
    resource: str,
    context: Context | None = None,
) -> Result:
    """Evaluate one request against named identity policies (name -> policy document)."""
    ctx: Context = context or {}
    items = policies.items() if isinstance(policies, Mapping) else policies
    allows: list[str] = []
    maybe_allow: list[tuple[str, list[str]]] = []
    maybe_deny: list[tuple[str, list[str]]] = []
    for name, policy in items:
        for index, statement in enumerate(_as_list(policy.get("Statement", []))):
            if not _applies(statement, action, resource):
                continue
            holds, unknown = _conditions(statement, ctx)
            if not holds:
                continue
            sid = _statement_id(name, index, statement)
            deny = statement.get("Effect") == "Deny"
            if deny and not unknown:
                return Result(Decision.EXPLICIT_DENY, (sid,))
            if unknown:
                (maybe_deny if deny else maybe_allow).append((sid, unknown))
            else:
                allows.append(sid)
    if maybe_deny:
        return Result(
            Decision.CONDITIONAL,
            tuple(s for s, _ in maybe_deny),
            tuple(c for _, conds in maybe_deny for c in conds),
        )
    if allows:
        return Result(Decision.ALLOW, tuple(allows))
    if maybe_allow:
        return Result(
            Decision.CONDITIONAL,
            tuple(s for s, _ in maybe_allow),
            tuple(c for _, conds in maybe_allow for c in conds),
        )
    return Result(Decision.IMPLICIT_DENY)
