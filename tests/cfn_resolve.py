"""Resolve a rendered template's intrinsic functions with sample values, as CloudFormation would.

The moto and event-pattern tests feed parts of the rendered product (the pipeline's stages, the
rules' patterns) to AWS APIs; those APIs need concrete strings, not `Ref`/`Fn::Sub`. This helper
covers the intrinsics and resource types the product uses and raises on anything else, so a new
construct fails a test loudly instead of passing through unresolved.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from generator.render import RenderedFile

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PROJECT_NAME = "iris"
PROJECT_ID = "p-abcdef123456"

#: Resource type -> the property whose value `Ref` returns (the physical name).
_REF_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::Events::Rule": "Name",
}
#: Resource type -> the property holding its name (used by GetAtt).
_NAME_PROPERTY = {
    **_REF_PROPERTY,
    "AWS::CodeCommit::Repository": "RepositoryName",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupName",
}
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def load_template(rendered: RenderedFile | str, path: str = "template") -> dict[str, Any]:
    """Parse a rendered template (YAML short-form tags become long-form intrinsics)."""
    text = rendered.content.decode() if isinstance(rendered, RenderedFile) else rendered
    name = rendered.path if isinstance(rendered, RenderedFile) else path
    if name.endswith(".json"):
        return dict(json.loads(text))
    from cfn_tools import load_yaml  # cfn-flip's loader (a troposphere dependency)

    return json.loads(json.dumps(load_yaml(text)))


def product_template(files: list[RenderedFile]) -> dict[str, Any]:
    """The parsed product template among a render's files."""
    (product,) = [f for f in files if f.kind == "product-template"]
    return load_template(product)


@dataclass
class Resolver:
    """Evaluates `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, `Fn::Split` over a template."""

    template: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    region: str = REGION
    account: str = ACCOUNT

    def __post_init__(self) -> None:
        self.parameters = {
            "SageMakerProjectName": PROJECT_NAME,
            "SageMakerProjectId": PROJECT_ID,
            "SeedCodeBucket": "sagemaker-seed-bucket",
            **self.parameters,
        }

    def resolve(self, node: Any) -> Any:
        """`node` with every intrinsic function replaced by its value."""
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::Sub":
                return self.sub(value)
            if key == "Fn::GetAtt":
                logical, attribute = value.split(".", 1) if isinstance(value, str) else value
                return self.get_att(logical, attribute)
            if key == "Fn::Join":
                separator, items = value
                return separator.join(self.resolve(items))
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = value
                return self.resolve(text).split(separator)
            if key.startswith("Fn::") or key == "Condition":
                raise NotImplementedError(f"the test resolver does not handle {key}")
        return {key: self.resolve(value) for key, value in node.items()}

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": f"SC-{self.account}-pp-test",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]  # type: ignore[return-value]
        if name in self.parameters:
            return self.parameters[name]
        declared = self.template.get("Parameters", {})
        if name in declared:
            if "Default" not in declared[name]:
                raise KeyError(f"parameter {name} has no default: pass a sample value")
            return str(declared[name]["Default"])
        resource = self._resource(name)
        if resource["Type"] == "AWS::CodeCommit::Repository":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, name))  # Ref of a repository is its id
        if resource["Type"] not in _REF_PROPERTY:
            raise NotImplementedError(f"Ref of a {resource['Type']} ({name})")
        return self._name(name)

    def get_att(self, logical: str, attribute: str) -> str:
        kind = self._resource(logical)["Type"]
        name = self._name(logical)
        arn = f"arn:aws:{{}}:{self.region}:{self.account}:{{}}"
        values = {
            ("AWS::CodeCommit::Repository", "Name"): name,
            ("AWS::CodeCommit::Repository", "Arn"): arn.format("codecommit", name),
            ("AWS::S3::Bucket", "Arn"): f"arn:aws:s3:::{name}",
            ("AWS::CodeBuild::Project", "Arn"): arn.format("codebuild", f"project/{name}"),
            ("AWS::Events::Rule", "Arn"): arn.format("events", f"rule/{name}"),
            ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupArn"): arn.format(
                "sagemaker", f"model-package-group/{name.lower()}"
            ),
        }
        if (kind, attribute) not in values:
            raise NotImplementedError(f"GetAtt {logical}.{attribute} of a {kind}")
        return values[(kind, attribute)]

    def sub(self, value: str | list[Any]) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], self.resolve(value[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    def _resource(self, logical: str) -> dict[str, Any]:
        resources = self.template.get("Resources", {})
        if logical not in resources:
            raise KeyError(f"{logical} is neither a parameter nor a resource of the template")
        return dict(resources[logical])

    def _name(self, logical: str) -> str:
        resource = self._resource(logical)
        prop = _NAME_PROPERTY.get(resource["Type"])
        if prop is None or prop not in resource.get("Properties", {}):
            raise NotImplementedError(f"no physical name for {logical} ({resource['Type']})")
        return str(self.resolve(resource["Properties"][prop]))
