"""IAM-UNUSED-STATEMENT: a statement of a rendered role that no required permission uses.

The generated roles are derived from what the product needs, so every Allow statement should allow at
least one of those needs. A statement that allows none grants nothing the product uses: either it names
a resource the product no longer has (the launch role's seed-bundle grant once named
`*/mlops-gen/seedcode-modeldeploy.zip` after the bundle's key became content-addressed, so the launch
really relied on another statement), or the model of the needs is wrong. Both are generator bugs inside
the rendered files, so the finding blocks `render` like a `missing` one.

A statement is *used* when evaluating a need against that statement alone allows it, or allows it only
under a condition that cannot be evaluated (then it is not provably dead). Deny statements grant
nothing and are not checked. Roles checked: the generated launch role, against the product's
CloudFormation needs (generator/iam/iam_table.py) plus what Service Catalog itself calls as the launch
role (`SERVICE_CATALOG_NEEDS`). Roles whose needs are not all modelled (the target role, which is
also the endpoints' execution role; the SageMaker-provided service roles) are not checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator.checks.finding import Finding
from generator.iam.calls import Call
from generator.iam.iam_eval import Decision, evaluate

UNUSED_RULE = "IAM-UNUSED-STATEMENT"
UNUSED_KIND = "unused"


@dataclass(frozen=True, order=True)
class UnusedStatement:
    """An Allow statement of one policy that none of the role's calls uses."""

    policy: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statement_is_used(statement: Mapping[str, Any], calls: Iterable[Call]) -> bool:
    """Whether `statement`, alone, allows (or may allow, under an unevaluable condition) any of `calls`."""
    alone = {"alone": {"Statement": [statement]}}
    for call in calls:
        decision = evaluate(alone, call.action, call.resource, dict(call.context)).decision
        if decision in (Decision.ALLOW, Decision.CONDITIONAL):
            return True
    return False


def unused_statements(policies: Mapping[str, Mapping[str, Any]], calls: Sequence[Call]) -> list[UnusedStatement]:
    """Every Allow statement of `policies` (name -> document) that none of `calls` uses."""
    found = []
    for name, policy in policies.items():
        for index, statement in enumerate(_as_list(policy.get("Statement", []))):
            if statement.get("Effect") != "Allow" or statement_is_used(statement, calls):
                continue
            found.append(
                UnusedStatement(
                    name,
                    str(statement.get("Sid") or index),
                    tuple(str(a) for a in _as_list(statement.get("Action", statement.get("NotAction", [])))),
                    tuple(str(r) for r in _as_list(statement.get("Resource", statement.get("NotResource", [])))),
                )
            )
    return found


def message(role: str, unused: UnusedStatement) -> str:
    return (
        f"role {role}: statement {unused.sid} of policy {unused.policy} ({', '.join(unused.actions)} on "
        f"{', '.join(unused.resources)}) allows none of the calls the product makes as this role: a grant that "
        "grants nothing (a resource the product no longer has, or a stale model of its needs); regenerate the "
        "role from the product, or remove the statement"
    )


def launch_role_findings(
    product: Mapping[str, Any], role: str, policies: Mapping[str, Mapping[str, Any]], region: str, path: str, line: int
) -> list[Finding]:
    """IAM-UNUSED-STATEMENT findings of the generated launch role (`path`, the launch-role template)."""
    from generator.companions.launch_role import launch_calls

    calls = launch_calls(product, region)
    return [
        Finding(
            path,
            line,
            UNUSED_RULE,
            message(role, unused),
            UNUSED_KIND,
            role,
            ", ".join(unused.actions),
            ", ".join(unused.resources),
            "LaunchRole",
        )
        for unused in unused_statements(policies, calls)
    ]


def prerequisites_findings(
    added: Mapping[str, Mapping[str, Mapping[str, Any]]], needs: Iterable[Any], path: str
) -> list[Finding]:
    """IAM-UNUSED-STATEMENT findings of the policies the prerequisites template adds to the service roles.

    `added` is role name -> {policy name: document} (iam_check.prerequisite_policies); `needs` are the
    product's run-time needs (runtime_iam.Need), each made as the role it names. A role the product makes
    no modelled call as (a helper role of the template's own) is not checked: its needs are unknown.
    """
    by_role: dict[str, list[Call]] = {}
    for need in needs:
        by_role.setdefault(need.role_name, []).append(Call(need.action, need.resource, tuple(need.context)))
    return [
        Finding(
            path,
            0,
            UNUSED_RULE,
            message(role, unused),
            UNUSED_KIND,
            role,
            ", ".join(unused.actions),
            ", ".join(unused.resources),
        )
        for role, policies in sorted(added.items())
        if role in by_role
        for unused in unused_statements(policies, by_role[role])
    ]
