"""S3's "public policy" rules, applied to every bucket policy a render ships (rule `S3-PUBLIC-POLICY`).

S3 starts from "this bucket policy is public" and calls it non-public only if every statement that
allows a wildcard principal is narrowed by a *fixed* value (no wildcard, no policy variable) of one of a
short list of condition keys (S3 User Guide, "The meaning of public", `DOC_URL`). A public policy is
refused by `PutBucketPolicy` on a bucket (or account) with `BlockPublicPolicy`, so the launch rolls back;
with only `RestrictPublicBuckets`, S3 accepts it but blocks every cross-account request it would allow.
cfn-lint and checkov say nothing about either, so `validate` and `render` use this check.

What counts, as the page states it:

- a statement narrows only through a condition S3 can rely on: `StringEquals`/`StringLike`/`ArnEquals`/
  `ArnLike`/`IpAddress` (optionally `ForAnyValue:`), with every value fixed. `...IfExists` and
  `ForAllValues:` are true when the key is absent (an anonymous caller has no `aws:PrincipalOrgID`), and
  negated operators exclude rather than narrow: none of them counts;
- the keys (`NARROWING_KEYS`): `aws:SourceIp`, `aws:SourceArn`, `aws:SourceVpc`, `aws:SourceVpce`,
  `aws:SourceOwner`, `aws:SourceAccount`, `s3:x-amz-server-side-encryption-aws-kms-key-id`, `aws:userid`,
  `s3:DataAccessPointArn` (a wildcard access point name is allowed when the account is fixed),
  `s3:DataAccessPointAccount`, and "an AWS principal, user, role, or service principal (e.g.
  `aws:PrincipalOrgID`)" — read here as `aws:PrincipalOrgID`, `aws:PrincipalAccount` and `aws:PrincipalArn`.
  `aws:PrincipalOrgPaths` is not in the list: a policy narrowed by OU paths alone is public;
- `Principal: "*"` (or `{"AWS": "*"}`), a `Federated` principal (the page's first public example) and
  `NotPrincipal` in an Allow are wildcard grants; Deny statements never make a policy public.

A CloudFormation value is fixed when its literal parts are; a `Ref` to a template parameter is fixed only
if its `AllowedPattern` (or `AllowedValues`) cannot produce `*`, `?` or `$` — a default alone can be
overridden at launch. Resource attributes and pseudo parameters are fixed.

The same reading is applied to the model package group's resource policy (rule `GROUP-POLICY-PUBLIC`):
SageMaker documents only account principals there (model-registry-deploy-xaccount), so a wildcard
principal must at least be bound to a fixed organisation, account or principal ARN.

One module (just over 400 lines): S3's public-policy reading is one algorithm (principals, condition keys, fixed
values) applied to every bucket and group policy; its parts are only ever read together.
"""

from __future__ import annotations

import importlib
import io
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.checks.finding import Finding
from generator.manifest import Manifest

RULE = "S3-PUBLIC-POLICY"
GROUP_RULE = "GROUP-POLICY-PUBLIC"
DOC_URL = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"
    "#access-control-block-public-access-policy-status"
)
GROUP_DOC_URL = "https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-deploy-xaccount.html"
#: Since April 2023 S3 turns all four Block Public Access settings on for every new bucket.
#: https://docs.aws.amazon.com/AmazonS3/latest/userguide/create-bucket-overview.html
DEFAULT_BLOCK = True

#: Keys whose fixed value makes a wildcard grant non-public (lowercase: condition keys are case-insensitive).
NARROWING_KEYS = frozenset(
    {
        "aws:sourceip",
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceowner",
        "aws:sourceaccount",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "aws:userid",
        "s3:dataaccesspointarn",
        "s3:dataaccesspointaccount",
        "aws:principalorgid",
        "aws:principalaccount",
        "aws:principalarn",
    }
)
#: The principal keys: what binds a wildcard principal of a model package group policy.
PRINCIPAL_KEYS = frozenset({"aws:principalorgid", "aws:principalaccount", "aws:principalarn"})
#: Condition operators that narrow (with `ForAnyValue:`, still narrowing; `IfExists`/`ForAllValues:` never).
NARROWING_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"}
)
WILDCARD_CHARACTERS = "*?$"  # `$` starts a policy variable (`${aws:username}`)
PSEUDO_PARAMETERS = frozenset(
    {"AWS::AccountId", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}
)


# --- fixed values ---------------------------------------------------------------------------------


def _class_admits(items: list[tuple[Any, Any]], chars: str) -> bool:
    """Can a regex character class (`re` parser items) match one of `chars`?"""
    negate = any(str(op) == "NEGATE" for op, _ in items)
    hit = False
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            hit |= chr(arg) in chars
        elif name == "RANGE":
            hit |= any(arg[0] <= ord(c) <= arg[1] for c in chars)
        elif name == "CATEGORY":
            hit |= "NOT" in str(arg)  # \D, \S, \W match punctuation; \d, \s, \w do not
        elif name != "NEGATE":
            return True  # unknown item: assume it can
    return not hit if negate else hit


#: `re` parser opcodes that consume nothing (anchors, back references, lookarounds).
_ZERO_WIDTH = frozenset({"AT", "GROUPREF", "ASSERT", "ASSERT_NOT"})
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})


def _item_admits(name: str, arg: Any, chars: str) -> bool:
    """Can one `re` parser item match a character of `chars`? (True when unsure.)"""
    if name == "LITERAL":
        return chr(arg) in chars
    if name == "IN":
        return _class_admits(list(arg), chars)
    if name in _REPEATS:
        return arg[1] != 0 and _items_admit(arg[2], chars)
    if name in ("SUBPATTERN", "ATOMIC_GROUP"):
        return _items_admit(arg[-1] if name == "SUBPATTERN" else arg, chars)
    if name == "BRANCH":
        return any(_items_admit(alternative, chars) for alternative in arg[1])
    return name not in _ZERO_WIDTH  # NOT_LITERAL, ANY and anything unknown: assume it can


def _items_admit(items: Any, chars: str) -> bool:
    """Can a string matched by these `re` parser items contain one of `chars`?"""
    return any(_item_admits(str(op), arg, chars) for op, arg in items)


def pattern_admits_wildcard(pattern: str) -> bool:
    """Could a value matching `pattern` (a CloudFormation AllowedPattern) hold `*`, `?` or `$`?"""
    parser = importlib.import_module("re._parser")  # the stdlib's own regex parser (typed as Any here)
    try:
        return _items_admit(parser.parse(pattern), WILDCARD_CHARACTERS)
    except Exception:  # an unparsable pattern proves nothing: not fixed
        return True


def text_is_fixed(text: str) -> bool:
    """A literal policy value without a wildcard (`*`, `?`) or a policy variable (`${...}`)."""
    return "*" not in text and "?" not in text and "${" not in text


def parameter_is_fixed(spec: Mapping[str, Any]) -> bool:
    """A parameter every launch value of which is fixed: by AllowedValues, or an AllowedPattern without wildcards.

    CloudFormation matches AllowedPattern against the whole value, so the characters the pattern can
    produce are the characters a launch value can hold.
    """
    if "AllowedValues" in spec:
        return all(text_is_fixed(str(v)) for v in spec["AllowedValues"])
    pattern = spec.get("AllowedPattern")
    return isinstance(pattern, str) and not pattern_admits_wildcard(pattern)


def _sub_is_fixed(text: str, variables: Mapping[str, Any], template: Mapping[str, Any]) -> bool:
    """An `Fn::Sub`: fixed literal parts, and every `${Name}` fixed (`${!Name}` is a literal policy variable)."""
    rest = text
    while True:
        before, found, after = rest.partition("${")
        if "*" in before or "?" in before:
            return False
        if not found:
            return True
        name, _, rest = after.partition("}")
        if name.startswith("!"):
            return False
        if name in variables:
            fixed = value_is_fixed(variables[name], template)
        else:
            fixed = _ref_is_fixed(name.split(".")[0], template)
        if not fixed:
            return False


def _ref_is_fixed(name: str, template: Mapping[str, Any]) -> bool:
    if name in PSEUDO_PARAMETERS or name in template.get("Resources", {}):
        return True
    spec = template.get("Parameters", {}).get(name)
    return spec is not None and parameter_is_fixed(spec)


def value_is_fixed(node: Any, template: Mapping[str, Any]) -> bool:
    """Is a (CloudFormation) condition value fixed at every launch of `template`?"""
    if isinstance(node, str):
        return text_is_fixed(node)
    if isinstance(node, bool | int | float):
        return True
    if isinstance(node, list):
        return all(value_is_fixed(item, template) for item in node)
    if isinstance(node, Mapping) and len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return _ref_is_fixed(str(arg), template)
        if fn == "Fn::GetAtt":
            return True
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return _sub_is_fixed(str(text), variables, template)
        if fn == "Fn::Join":
            return value_is_fixed(arg[0], template) and value_is_fixed(arg[1], template)
        if fn == "Fn::If":
            return value_is_fixed(arg[1], template) and value_is_fixed(arg[2], template)
        if fn in ("Fn::Select", "Fn::Split"):
            return value_is_fixed(arg[1], template)
    return False  # Fn::ImportValue and the rest: not known here


def access_point_arn_is_fixed(node: Any, template: Mapping[str, Any]) -> bool:
    """s3:DataAccessPointArn: a wildcard access point name is allowed when region and account are fixed."""
    if isinstance(node, list):
        return all(access_point_arn_is_fixed(item, template) for item in node)
    if isinstance(node, str):
        head, found, name = node.partition(":accesspoint/")
        return bool(found) and text_is_fixed(head) and text_is_fixed(name.replace("*", ""))
    return value_is_fixed(node, template)


# --- statements -----------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_principal(statement: Mapping[str, Any]) -> str | None:
    """How an Allow statement reaches everyone ("*", a federated principal, NotPrincipal), or None."""
    if "NotPrincipal" in statement:
        return "NotPrincipal (everyone but the listed principals)"
    principal = statement.get("Principal")
    if principal == "*":
        return 'Principal "*"'
    if isinstance(principal, Mapping):
        if "*" in _as_list(principal.get("AWS", [])):
            return 'Principal {"AWS": "*"}'
        if "Federated" in principal:
            return f"federated principal {principal['Federated']}"
    return None


def _key_value_is_fixed(key: str, value: Any, template: Mapping[str, Any]) -> bool:
    if key == "s3:dataaccesspointarn":
        return access_point_arn_is_fixed(value, template)
    return value_is_fixed(value, template)


@dataclass(frozen=True)
class Narrowing:
    """Which keys narrow a statement (fixed), and which narrowing-looking ones do not (and why)."""

    fixed: tuple[str, ...]
    not_fixed: tuple[str, ...]


def narrowing(statement: Mapping[str, Any], template: Mapping[str, Any], keys: frozenset[str]) -> Narrowing:
    """The statement's conditions on `keys`, split into those that fix a value and those that do not."""
    fixed: list[str] = []
    not_fixed: list[str] = []
    for operator, block in (statement.get("Condition") or {}).items():
        op = str(operator).lower()
        quantifier, _, base = op.rpartition(":")
        for key, value in (block or {}).items():
            name = str(key).lower()
            if name not in keys:
                continue
            label = f"{operator} {key}"
            if base.endswith("ifexists") or quantifier == "forallvalues":
                not_fixed.append(f"{label} (true when the key is absent)")
            elif base not in NARROWING_OPERATORS:
                not_fixed.append(f"{label} (the operator does not narrow to a value)")
            elif _key_value_is_fixed(name, value, template):
                fixed.append(str(key))
            else:
                not_fixed.append(f"{label} (a value with a wildcard or a policy variable)")
    return Narrowing(tuple(fixed), tuple(not_fixed))


@dataclass(frozen=True)
class PublicStatement:
    """An Allow statement that makes its policy public, and why."""

    sid: str
    principal: str
    not_fixed: tuple[str, ...]

    def reason(self) -> str:
        because = f"; not counted: {', '.join(self.not_fixed)}" if self.not_fixed else ""
        return f"statement {self.sid} allows {self.principal} without a fixed value of a narrowing key{because}"


def public_statements(
    policy: Mapping[str, Any], template: Mapping[str, Any], keys: frozenset[str] = NARROWING_KEYS
) -> list[PublicStatement]:
    """The Allow statements of `policy` that make it public (S3's rules; Deny statements never do)."""
    found = []
    for index, statement in enumerate(_as_list(policy.get("Statement", []))):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        principal = wildcard_principal(statement)
        if principal is None:
            continue
        narrowed = narrowing(statement, template, keys)
        if not narrowed.fixed:
            found.append(PublicStatement(str(statement.get("Sid", f"#{index + 1}")), principal, narrowed.not_fixed))
    return found


# --- templates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockSettings:
    """The Block Public Access settings that decide what a public policy does, and where they come from."""

    block_public_policy: bool
    restrict_public_buckets: bool
    source: str


def block_settings(template: Mapping[str, Any], bucket_ref: Any) -> BlockSettings:
    """The settings of the policy's bucket: its PublicAccessBlockConfiguration, else S3's defaults."""
    resources = template.get("Resources", {})
    name = bucket_ref.get("Ref") if isinstance(bucket_ref, Mapping) else None
    bucket = resources.get(name) if isinstance(name, str) else None
    if bucket is None or bucket.get("Type") != "AWS::S3::Bucket":
        return BlockSettings(DEFAULT_BLOCK, DEFAULT_BLOCK, "a bucket outside this template (assumed blocked)")
    config = bucket.get("Properties", {}).get("PublicAccessBlockConfiguration")
    if config is None:
        return BlockSettings(DEFAULT_BLOCK, DEFAULT_BLOCK, f"bucket {name} (S3's defaults for a new bucket)")

    def setting(key: str) -> bool:
        value = config.get(key, DEFAULT_BLOCK)
        return value if isinstance(value, bool) else str(value).lower() != "false"

    return BlockSettings(setting("BlockPublicPolicy"), setting("RestrictPublicBuckets"), f"bucket {name}")


def _effect(settings: BlockSettings) -> str:
    if settings.block_public_policy:
        return f"{settings.source} has BlockPublicPolicy, so S3 refuses PutBucketPolicy and the launch rolls back"
    if settings.restrict_public_buckets:
        return f"{settings.source} has RestrictPublicBuckets, so S3 blocks every cross-account request it allows"
    return f"{settings.source} blocks neither: the bucket is public"


def _line(node: Any) -> int:
    mark = getattr(node, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else 0


def template_findings(template: Mapping[str, Any], path: str) -> list[Finding]:
    """Every public bucket policy and every unbound model package group policy of one template."""
    findings = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, Mapping):
            continue
        props = resource.get("Properties") or {}
        rtype = resource.get("Type")
        if rtype == "AWS::S3::BucketPolicy":
            settings = block_settings(template, props.get("Bucket"))
            for statement in public_statements(props.get("PolicyDocument") or {}, template):
                message = (
                    f"{logical_id} (AWS::S3::BucketPolicy): {statement.reason()}, so S3 treats the policy as "
                    f"public; {_effect(settings)}. Narrow it with a fixed aws:PrincipalOrgID (or another key S3 "
                    f"lists): {DOC_URL}"
                )
                findings.append(Finding(path, _line(resource), RULE, message, logical_id=logical_id))
        elif rtype == "AWS::SageMaker::ModelPackageGroup" and isinstance(props.get("ModelPackageGroupPolicy"), Mapping):
            for statement in public_statements(props["ModelPackageGroupPolicy"], template, PRINCIPAL_KEYS):
                message = (
                    f"{logical_id} (AWS::SageMaker::ModelPackageGroup): {statement.reason()} "
                    "(aws:PrincipalOrgID, aws:PrincipalAccount or aws:PrincipalArn), so nothing fixes which "
                    "organisation or account may describe and deploy its models; SageMaker's cross-account example "
                    "names accounts: "
                    f"{GROUP_DOC_URL}"
                )
                findings.append(Finding(path, _line(resource), GROUP_RULE, message, logical_id=logical_id))
    return findings


def _seed_templates(folder: Path, manifest: Manifest) -> Iterator[tuple[str, str]]:
    """(path, text) of every CloudFormation template in the seed bundle (the endpoint template and any other)."""
    try:
        bundle = folder / manifest.path_of("seed-bundle")
    except KeyError:
        return
    with zipfile.ZipFile(io.BytesIO(bundle.read_bytes())) as archive:
        for name in sorted(archive.namelist()):
            if name.endswith((".yml", ".yaml", ".json")):
                yield f"{bundle.name}:{name}", archive.read(name).decode("utf-8", errors="replace")


def check_folder(folder: Path, manifest: Manifest) -> list[Finding]:
    """S3-PUBLIC-POLICY and GROUP-POLICY-PUBLIC findings for every template of the render and of its seed."""
    from generator.checks.decoded import decode

    sources = [(a.path, (folder / a.path).read_text(encoding="utf-8")) for a in manifest.templates()]
    findings: list[Finding] = []
    for path, text in [*sources, *_seed_templates(folder, manifest)]:
        template, _ = decode(text)
        if isinstance(template, Mapping) and isinstance(template.get("Resources"), Mapping):
            findings += template_findings(template, path)
    return sorted(findings)
