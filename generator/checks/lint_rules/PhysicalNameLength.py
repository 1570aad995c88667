"""E9103: physical names that can outgrow their AWS limit for some allowed parameter value.

Names are `Fn::Sub` patterns over parameters, so cfn-lint's length checks (which see a literal or a
default) cannot tell that a 24-character project name fits but a 32-character one does not. This rule
resolves every name at its longest: each parameter at its MaxLength (else its longest AllowedValue,
else its Default's length) and each pseudo parameter at its longest value. The limits agree with
`generator/naming.py` (tests/test_lint_rules.py checks it).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from cfnlint.helpers import REGIONS
from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.lint_rules._pipeline import Path, pipeline_actions, pipelines

#: The `StackSetName` of CodePipeline's StackSets deploy actions, keyed like a resource property.
STACK_SET_ACTION = "AWS::CodePipeline::Pipeline/CloudFormationStackSet"
STACK_INSTANCES_ACTION = "AWS::CodePipeline::Pipeline/CloudFormationStackInstances"

_SS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html"

#: (resource type, name property) -> (AWS maximum length, where it is documented).
LIMITS: dict[tuple[str, str], tuple[int, str]] = {
    ("AWS::S3::Bucket", "BucketName"): (
        63,
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    ("AWS::CodeCommit::Repository", "RepositoryName"): (
        100,
        "https://docs.aws.amazon.com/codecommit/latest/userguide/limits.html",
    ),
    ("AWS::CodeBuild::Project", "Name"): (
        255,
        "https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html",
    ),
    ("AWS::CodePipeline::Pipeline", "Name"): (
        100,
        "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html",
    ),
    ("AWS::Events::Rule", "Name"): (
        64,
        "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
    ),
    ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupName"): (
        63,
        "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackageGroup.html",
    ),
    ("AWS::SageMaker::Endpoint", "EndpointName"): (
        63,
        "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpoint.html",
    ),
    ("AWS::IAM::Role", "RoleName"): (
        64,
        "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
    ),
    ("AWS::SNS::Topic", "TopicName"): (
        256,
        "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
    ),
    # The limit counts the `alias/` prefix, which AliasName includes.
    ("AWS::KMS::Alias", "AliasName"): (
        256,
        "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html",
    ),
    ("AWS::CloudFormation::StackSet", "StackSetName"): (128, _SS),
    (STACK_SET_ACTION, "StackSetName"): (128, _SS),
    (STACK_INSTANCES_ACTION, "StackSetName"): (128, _SS),
}

_LONGEST_REGION = max(REGIONS, key=len)
_LONGEST_PARTITION = "aws-us-gov"
_STACK_NAME_MAX = 128  # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
#: Pseudo parameters at their longest value.
PSEUDO_LENGTHS: dict[str, int] = {
    "AWS::AccountId": 12,
    "AWS::Region": len(_LONGEST_REGION),
    "AWS::Partition": len(_LONGEST_PARTITION),
    "AWS::StackName": _STACK_NAME_MAX,
    # arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>
    "AWS::StackId": len(f"arn:{_LONGEST_PARTITION}:cloudformation:{_LONGEST_REGION}:123456789012:stack//")
    + _STACK_NAME_MAX
    + 36,
    "AWS::URLSuffix": len("amazonaws.com.cn"),
    "AWS::NoValue": 0,
}

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Unbounded(Exception):
    """A parameter with no MaxLength, AllowedValues or Default: the name has no maximum length."""

    def __init__(self, parameter: str) -> None:
        super().__init__(parameter)
        self.parameter = parameter


class Resolver:
    """Longest length of a string-valued template expression; None when it cannot be known (GetAtt...)."""

    def __init__(self, template: dict[str, Any]) -> None:
        params = template.get("Parameters")
        self.parameters: dict[str, Any] = params if isinstance(params, dict) else {}
        self.notes: dict[str, str] = {}

    def parameter(self, name: str) -> int | None:
        if name in PSEUDO_LENGTHS:
            if name != "AWS::NoValue":
                self.notes[name] = f"{name}={PSEUDO_LENGTHS[name]}"
            return PSEUDO_LENGTHS[name]
        param = self.parameters.get(name)
        if not isinstance(param, dict):
            return None  # a resource's Ref: its value is not a name we can bound here
        bounds: list[tuple[int, str]] = []
        max_length = param.get("MaxLength")
        if isinstance(max_length, int | str) and str(max_length).isdigit():
            bounds.append((int(max_length), "MaxLength"))
        allowed = param.get("AllowedValues")
        if isinstance(allowed, list) and allowed:
            bounds.append((max(len(str(v)) for v in allowed), "longest AllowedValue"))
        if not bounds and "Default" in param:
            bounds.append((len(str(param["Default"])), "Default"))
        if not bounds:
            raise Unbounded(name)
        length, why = min(bounds)
        self.notes[name] = f"{name}={length} ({why})"
        return length

    def length(self, value: object) -> int | None:
        if isinstance(value, str):
            return len(value)
        if not isinstance(value, dict) or len(value) != 1:
            return None
        function, arg = next(iter(value.items()))
        if function == "Ref" and isinstance(arg, str):
            return self.parameter(arg)
        if function == "Fn::Sub":
            return self._sub(arg)
        if function == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return self._join(arg[0], arg[1])
        if function == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            branches = [self.length(b) for b in arg[1:]]
            return None if None in branches else max(b for b in branches if b is not None)
        return None

    def _join(self, delimiter: object, items: object) -> int | None:
        if not isinstance(delimiter, str) or not isinstance(items, list):
            return None
        lengths = [self.length(i) for i in items]
        if None in lengths:
            return None
        return sum(n for n in lengths if n is not None) + len(delimiter) * max(len(items) - 1, 0)

    def _sub(self, arg: object) -> int | None:
        variables: dict[str, Any] = {}
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            variables = arg[1]
            arg = arg[0]
        if not isinstance(arg, str):
            return None
        total = 0
        last = 0
        for m in _SUB_VARIABLE.finditer(arg):
            total += m.start() - last
            last = m.end()
            name = m.group(1)
            if name.startswith("!"):
                total += len(m.group(0)) - 1  # `${!Literal}` renders as `${Literal}`
                continue
            part = self.length(variables[name]) if name in variables else self._sub_name(name)
            if part is None:
                return None
            total += part
        return total + len(arg) - last

    def _sub_name(self, name: str) -> int | None:
        if "." in name and not name.startswith("AWS::"):
            return None  # ${Resource.Attribute}
        return self.parameter(name)


def _name_targets(template: dict[str, Any]) -> list[tuple[str, tuple[str, str], object, Path]]:
    """(label, LIMITS key, value, path) of every name this rule checks."""
    targets: list[tuple[str, tuple[str, str], object, Path]] = []
    resources = template.get("Resources")
    if isinstance(resources, dict):
        for logical_id, res in resources.items():
            if not isinstance(res, dict) or not isinstance(res.get("Properties"), dict):
                continue
            for rtype, prop in LIMITS:
                if res.get("Type") == rtype and prop in res["Properties"]:
                    path: Path = ("Resources", logical_id, "Properties", prop)
                    targets.append((f"{logical_id} ({rtype}) {prop}", (rtype, prop), res["Properties"][prop], path))
    for pipeline in pipelines(template):
        for action in pipeline_actions(template, pipeline):
            key = f"AWS::CodePipeline::Pipeline/{action.provider}"
            config = action.configuration
            if (key, "StackSetName") in LIMITS and isinstance(config, dict) and "StackSetName" in config:
                path = (*action.path, "Configuration", "StackSetName")
                label = f"{action.label} {action.provider} action StackSetName"
                targets.append((label, (key, "StackSetName"), config["StackSetName"], path))
    return targets


class PhysicalNameLength(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint has no type hints
    """Report physical names that exceed their AWS limit when every parameter is at its longest."""

    id = "E9103"
    shortdesc = "Physical names fit their AWS limit for every allowed parameter value"
    description = (
        "Resolves Fn::Sub/Ref/Fn::Join names with each parameter at its MaxLength (else longest AllowedValue, "
        "else Default) and each pseudo parameter at its longest value, and reports any name that can exceed its "
        "AWS length limit, or that has no maximum at all."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html"
    tags: ClassVar[list[str]] = ["resources", "parameters", "mlops-gen"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for label, key, value, path in _name_targets(cfn.template):
            limit, source = LIMITS[key]
            resolver = Resolver(cfn.template)
            try:
                length = resolver.length(value)
            except Unbounded as exc:
                matches.append(
                    RuleMatch(
                        list(path),
                        f"{label} has no maximum length: parameter {exc.parameter} has no MaxLength, "
                        f"AllowedValues or Default (AWS limit {limit}: {source})",
                    )
                )
                continue
            if length is not None and length > limit:
                worst = ", ".join(resolver.notes.values()) or "as written"
                matches.append(
                    RuleMatch(
                        list(path),
                        f"{label} can be {length} characters, over the AWS limit of {limit} ({source}); "
                        f"longest case: {worst}",
                    )
                )
        return matches
