"""May a principal assume a role, by the role's trust policy?

`doctor --check-roles` asks it of the target role read from each target account, `validate` of the
rendered target-role template: one helper, so both read a trust policy the same way.
`generator/iam/iam_eval.py` evaluates identity policies, which name resources and no principal; a trust
policy is the reverse (the role itself is the resource). So the principal is matched here, and the
statements that name it are handed to `iam_eval.evaluate` as resource statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generator.iam import iam_eval


@dataclass(frozen=True)
class TrustPrincipal:
    """Who must be able to assume a role, and the request context IAM would evaluate conditions on.

    `kind` is the trust policy's principal type: "AWS" (`value` a role ARN) or "Service" (`value` a service
    principal such as sagemaker.amazonaws.com).
    """

    kind: str
    value: str
    context: iam_eval.Context = field(default_factory=dict)

    @property
    def account(self) -> str:
        """The role's account (empty for a service)."""
        return self.value.split(":")[4] if self.kind == "AWS" else ""


def role_principal(role_arn: str) -> TrustPrincipal:
    """A role in a session (what calls sts:AssumeRole), with the context keys IAM sets for it."""
    account = role_arn.split(":")[4]
    context = {"aws:PrincipalArn": role_arn, "aws:PrincipalAccount": account, "aws:PrincipalType": "AssumedRole"}
    return TrustPrincipal("AWS", role_arn, context)


#: A context key's value: one string, or the several values of a multivalued key (aws:TagKeys).
ContextValue = str | tuple[str, ...]


def session_tag_context(
    session_tags: Sequence[tuple[str, str]], caller_tags: Sequence[tuple[str, str]] = ()
) -> dict[str, ContextValue]:
    """What IAM knows of an sts:AssumeRole/TagSession request that passes `session_tags`: `aws:RequestTag/<key>`,
    `aws:TagKeys` (every key passed; absent when none is) and the caller's own `aws:PrincipalTag/<key>`
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html; both STS actions support the two
    request keys: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html).
    The checks, doctor and the rehearsal's authorizer all build the context with it."""
    context: dict[str, ContextValue] = {f"aws:RequestTag/{key}": value for key, value in session_tags}
    if session_tags:
        context["aws:TagKeys"] = tuple(key for key, _ in session_tags)
    context |= {f"aws:PrincipalTag/{key}": value for key, value in caller_tags}
    return context


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def principal_matches(principal: Any, who: TrustPrincipal) -> bool:
    """Does a statement's `Principal` (or `NotPrincipal`) block name `who`?

    "*" and {"AWS": "*"} name every IAM principal; an account (`111122223333` or
    `arn:aws:iam::111122223333:root`) names every role in it; a role ARN names that role only (a
    deleted role shows as its unique id, which names nobody); {"Service": ...} names a service.
    """
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    named = {str(v) for v in _listed(principal.get(who.kind, []))}
    if who.kind != "AWS":
        return who.value in named
    partition = who.value.split(":")[1]
    return bool(named & {"*", who.value, who.account, f"arn:{partition}:iam::{who.account}:root"})


def statements_for(policy: Mapping[str, Any], who: TrustPrincipal) -> list[dict[str, Any]]:
    """The trust policy's statements that apply to `who`, shaped for `iam_eval.evaluate`.

    Each statement kept has `Resource: "*"` in place of its principal.
    """
    kept: list[dict[str, Any]] = []
    for statement in _listed(policy.get("Statement", [])):
        if "Principal" in statement:
            applies = principal_matches(statement["Principal"], who)
        else:  # NotPrincipal (Deny only): everyone but the principals it names
            applies = "NotPrincipal" in statement and not principal_matches(statement["NotPrincipal"], who)
        if applies:
            rest = {k: v for k, v in statement.items() if k not in ("Principal", "NotPrincipal", "Resource")}
            kept.append({**rest, "Resource": "*"})
    return kept


def evaluate_trust(
    policy: Mapping[str, Any], who: TrustPrincipal, role_arn: str, action: str = "sts:AssumeRole"
) -> iam_eval.Result:
    """May `who` call sts:AssumeRole (or sts:TagSession, to pass session tags) on the role with this trust
    policy: allow, deny, or conditional."""
    return iam_eval.evaluate({"trust": {"Statement": statements_for(policy, who)}}, action, role_arn, who.context)
