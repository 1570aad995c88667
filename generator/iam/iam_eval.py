"""A small IAM policy evaluator: may this role do `action` on `resource`?

It answers allow, deny (explicit or implicit) or *conditional*: a statement would decide but
has a condition whose keys the caller did not supply. A condition it cannot evaluate is
reported, never silently treated as met. It covers what identity policies of the roles we
check use: Allow/Deny, Action/NotAction, Resource/NotResource, `*`/`?` wildcards, and the
condition operators of the String, Numeric, Date, Bool, Binary, IP address and ARN families and
Null (with `IfExists`, `ForAnyValue:`/`ForAllValues:`).
Evaluation logic: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
Condition operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

Over 400 lines as one unit: the Resource and Condition matching, the operator table and the decision
logic are one algorithm (AWS's evaluation logic), read together when a decision surprises.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache, partial
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
def _wildcard_regex(pattern: str) -> str:
    """IAM wildcards: `*` any run of characters, `?` one character, nothing else special. Cached: a
    validate evaluates the same few hundred patterns tens of thousands of times."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


@cache
def _compiled(body: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return bool(_compiled(_wildcard_regex(pattern), ignore_case).fullmatch(value))


def action_matches(pattern: str, action: str) -> bool:
    """Actions compare case-insensitively (`s3:getobject` is `s3:GetObject`)."""
    return wildcard_match(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """Resource ARNs, as the Resource element matches them (case-sensitive in every field).

    Wildcards work "within the individual segments of an ARN (the parts separated by colons)", and "if the
    * wildcard is the last character of a resource ARN segment, it can expand to match beyond the colon
    boundaries" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
    So in the first five fields a `*` ending its field may run on across colons and any other `*` or `?`
    stays in its field; the sixth field, the resource, runs to the end (its ids may hold colons).
    """
    return bool(_compiled(_resource_regex(pattern), False).fullmatch(arn))


def _resource_regex(pattern: str) -> str:
    """The Resource element's pattern as a regular expression (see `arn_matches`)."""
    fields = pattern.split(":", 5)
    head, resource = (fields[:5], fields[5]) if len(fields) == 6 else (fields, None)
    parts = []
    for field_ in head:
        body = "".join("[^:]*" if c == "*" else "[^:]" if c == "?" else re.escape(c) for c in field_)
        parts.append(body.removesuffix("[^:]*") + ".*" if field_.endswith("*") else body)
    text = ":".join(parts)
    if resource is not None:
        text += ":" + _wildcard_regex(resource)
    return text


def arn_condition_matches(pattern: str, value: str) -> bool:
    """`ArnLike`/`ArnEquals`: "Case-sensitive matching of the ARN. Each of the six colon-delimited components
    of the ARN is checked separately" (no spill across colons; a value that is not an ARN never matches)."""
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(wildcard_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _statement_id(policy_name: str, index: int, statement: Mapping[str, Any]) -> str:
    return f"{policy_name}:{statement.get('Sid') or index}"


def _resource_pattern_matches(pattern: str, resource: str, context: Context) -> bool:
    """A Resource element's pattern, its policy variables (`${aws:PrincipalTag/k}`) replaced by the request's
    values first; a variable the request does not carry matches nothing (the ABAC grants of the target role
    rely on it). https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"""
    if _POLICY_VARIABLE.search(pattern):
        replaced = _with_variables(pattern, context)
        return replaced is not None and arn_matches(replaced, resource)
    return arn_matches(pattern, resource)


#: An IAM policy variable (`${aws:username}`, `${aws:PrincipalTag/k}`): a `namespace:key`, unlike the
#: CloudFormation names (`${AWS::Region}`, `${Parameter}`) the checks may still see in unresolved text.
_POLICY_VARIABLE = re.compile(r"\$\{[A-Za-z0-9-]+:(?!:)[^}]+\}")


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Context | None = None) -> bool:
    """Does the statement name the request? A statement needs Action or NotAction, and Resource or
    NotResource (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html): one
    without either names nothing."""
    ctx: Context = context or {}
    if "Action" in statement:
        acts = any(action_matches(p, action) for p in _as_list(statement["Action"]))
    elif "NotAction" in statement:
        acts = not any(action_matches(p, action) for p in _as_list(statement["NotAction"]))
    else:
        return False
    if not acts:
        return False
    if "Resource" in statement:
        return any(_resource_pattern_matches(p, resource, ctx) for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(_resource_pattern_matches(p, resource, ctx) for p in _as_list(statement["NotResource"]))
    return False


Compare = Callable[[str, str], bool | None]


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _date(text: str) -> datetime | None:
    """ISO 8601 (a date, or a date and time) or epoch seconds, as the Date operators accept."""
    try:
        if re.fullmatch(r"-?\d+", text):
            return datetime.fromtimestamp(int(text), UTC)
        parsed = datetime.fromisoformat(text)  # Python 3.11 reads a trailing "Z"
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ordered(
    parse: Callable[[str], Any], relation: Callable[[Any, Any], bool], pattern: str, value: str
) -> bool | None:
    """A Numeric or Date comparison of the request value with the policy value (None: one cannot be read)."""
    policy_value, request_value = parse(pattern), parse(value)
    if policy_value is None or request_value is None:
        return None
    return bool(relation(request_value, policy_value))


def _ip_in(pattern: str, value: str) -> bool | None:
    """IpAddress: the request's address lies in the policy's address or CIDR range."""
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return None


def _binary_equals(pattern: str, value: str) -> bool | None:
    """BinaryEquals: the policy holds the base-64 encoding of the binary value; the request the bytes as text."""
    try:
        return base64.b64decode(pattern, validate=True) == value.encode()
    except (binascii.Error, ValueError):
        return None


# Condition operators: name -> (compare(pattern, value) -> bool, or None when it cannot be read; negated).
# Built from module-level functions only (no call of ours at import time), so each stays testable alone.
_OPERATORS: dict[str, tuple[Compare, bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (lambda p, v: wildcard_match(p, v), False),
    "StringNotLike": (lambda p, v: wildcard_match(p, v), True),
    # "The ArnEquals and ArnLike condition operators behave identically" (and so do the two negations).
    "ArnEquals": (arn_condition_matches, False),
    "ArnNotEquals": (arn_condition_matches, True),
    "ArnLike": (arn_condition_matches, False),
    "ArnNotLike": (arn_condition_matches, True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
    "NumericEquals": (partial(_ordered, _number, operator.eq), False),
    "NumericNotEquals": (partial(_ordered, _number, operator.eq), True),
    "NumericLessThan": (partial(_ordered, _number, operator.lt), False),
    "NumericLessThanEquals": (partial(_ordered, _number, operator.le), False),
    "NumericGreaterThan": (partial(_ordered, _number, operator.gt), False),
    "NumericGreaterThanEquals": (partial(_ordered, _number, operator.ge), False),
    "DateEquals": (partial(_ordered, _date, operator.eq), False),
    "DateNotEquals": (partial(_ordered, _date, operator.eq), True),
    "DateLessThan": (partial(_ordered, _date, operator.lt), False),
    "DateLessThanEquals": (partial(_ordered, _date, operator.le), False),
    "DateGreaterThan": (partial(_ordered, _date, operator.gt), False),
    "DateGreaterThanEquals": (partial(_ordered, _date, operator.ge), False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "BinaryEquals": (_binary_equals, False),
}


def _context_value(context: Context, key: str) -> str | Sequence[str] | None:
    """The request's value of `key`: "Condition key names are not case-sensitive"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html)."""
    if key in context:
        return context[key]
    wanted = key.lower()
    return next((value for name, value in context.items() if name.lower() == wanted), None)


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _with_variables(text: str, context: Context) -> str | None:
    """A condition value with its policy variables (`${aws:PrincipalOrgID}`) replaced by the request's
    values; None when one is missing. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
    """
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        found = _context_value(context, match.group(1))
        if found is None or not isinstance(found, str):
            missing = True
            return ""
        return found

    replaced = _VARIABLE.sub(value, text)
    return None if missing else replaced


#: A context entry listing key prefixes the context holds completely (a caller that saw the whole request, e.g.
#: the rehearsal's call-time authorizer with an sts:AssumeRole's tags): a key of those prefixes that is missing
#: is absent from the request, not unknown.
COMPLETE_PREFIXES = "mlops-gen:complete-prefixes"


def _known_absent(context: Context, key: str) -> bool:
    prefixes = context.get(COMPLETE_PREFIXES, ())
    return any(key.lower().startswith(str(p).lower()) for p in _as_list(prefixes))


def _condition_holds(operator: str, key: str, patterns: list[Any], context: Context) -> bool | None:
    """True/False when decidable from `context`, None when the key is missing or the operator unknown."""
    found = _context_value(context, key)
    if operator == "Null":
        wants_null = str(patterns[0]).lower() == "true"
        return (found is None) == wants_null
    qualifier, _, op = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        return None
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    if op not in _OPERATORS:
        return None
    if found is None:
        if if_exists:
            return True
        if not _known_absent(context, key):
            return None
        # "If the key that you specify in a policy condition is not present in the request context, the values do
        # not match" (a negated operator then matches); ForAllValues over no values is true.
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
        return True if qualifier == "ForAllValues" else _OPERATORS[op][1]
    compare, negated = _OPERATORS[op]
    values = [str(v) for v in _as_list(found)]
    substituted = [_with_variables(str(p), context) for p in patterns]
    texts = [t for t in substituted if t is not None]
    if len(texts) != len(substituted):
        return None  # a policy variable the request does not carry

    def one(value: str) -> bool | None:
        results = [compare(p, value) for p in texts]
        if True in results:
            hit = True
        elif None in results:
            return None  # a value that cannot be read as the operator's type: not decided
        else:
            hit = False
        return not hit if negated else hit

    outcomes = [one(v) for v in values]
    if qualifier == "ForAllValues":
        return False if False in outcomes else (None if None in outcomes else True)
    return True if True in outcomes else (None if None in outcomes else False)


def _conditions(statement: Mapping[str, Any], context: Context) -> tuple[bool, list[str]]:
    """(all decidable conditions hold, the conditions that could not be decided)."""
    unknown: list[str] = []
    for name, block in (statement.get("Condition") or {}).items():
        for key, patterns in block.items():
            holds = _condition_holds(name, key, _as_list(patterns), context)
            if holds is None:
                unknown.append(f"{name} {key} {_as_list(patterns)}")
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
            if not _applies(statement, action, resource, ctx):
                continue
            holds, unknown = _conditions(statement, ctx)
            if not holds:
                continue
            sid = _statement_id(name, index, statement)
            effect = statement.get("Effect")
            if effect not in ("Allow", "Deny"):
                continue  # the grammar allows only these two; anything else grants and denies nothing
            deny = effect == "Deny"
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


def evaluate_all(
    policies: Mapping[str, Policy] | Iterable[tuple[str, Policy]],
    action: str,
    resources: Sequence[str],
    context: Context | None = None,
) -> Result:
    """One request authorized against several resources (every resource type the call involves, see
    generator/iam/call_resources.py): allowed only when each resource is. Otherwise the first explicit deny,
    else the first implicit deny, else the conditional results merged."""
    items = list(policies.items() if isinstance(policies, Mapping) else policies)
    results = [evaluate(items, action, resource, context) for resource in resources]
    if not results:
        return Result(Decision.IMPLICIT_DENY)
    for decision in (Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY):
        for result in results:
            if result.decision is decision:
                return result
    statements = tuple(dict.fromkeys(s for r in results for s in r.statements))
    if all(r.allowed for r in results):
        return Result(Decision.ALLOW, statements)
    unevaluated = tuple(dict.fromkeys(c for r in results for c in r.unevaluated))
    return Result(Decision.CONDITIONAL, statements, unevaluated)


def evaluate_bounded(
    policies: Mapping[str, Policy] | Iterable[tuple[str, Policy]],
    boundary: Mapping[str, Policy] | None,
    action: str,
    resource: str,
    context: Context | None = None,
) -> Result:
    """A request of a role with a permissions boundary: allowed only when both its identity policies and its
    boundary allow it ("the effective permissions are the intersection", no resource policy counted here).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html

    `boundary` None: the role has none. An explicit deny in either wins; then an implicit deny in either (the
    boundary's named `boundary:` in the statements, so a message can say which one refused); else conditional.
    """
    identity = evaluate(policies, action, resource, context)
    if boundary is None:
        return identity
    bound = evaluate(boundary, action, resource, context)
    for decision in (Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY):
        if identity.decision is decision:
            return identity
        if bound.decision is decision:
            return Result(decision, (*bound.statements, f"boundary:{','.join(boundary) or 'missing'}"))
    if identity.allowed and bound.allowed:
        return identity
    statements = tuple(dict.fromkeys(identity.statements + bound.statements))
    unevaluated = tuple(dict.fromkeys(identity.unevaluated + bound.unevaluated))
    return Result(Decision.CONDITIONAL, statements, unevaluated)
