"""E9101: CodePipeline action `Configuration` keys and values, per action provider.

cfn-lint's schema types `Configuration` as a free-form object, and troposphere passes it through as a
plain dict, so a misspelt key (`StackSetNme`) or provider (`CloudFormationStackSett`) reaches AWS and
fails only when the pipeline runs (or worse, is silently ignored).

One module over 400 lines: most of it is the table of documented configuration keys per action provider, each with
its action reference page; the rule that reads it is short.
"""

from __future__ import annotations

import difflib
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.checks.lint_rules._pipeline import Action, Path, ProviderSpec, pipeline_actions, pipelines

_GUIDE = "https://docs.aws.amazon.com/codepipeline/latest/userguide"
_STACK_SETS = f"{_GUIDE}/action-reference-StackSets.html"
_STACK_SET = f"{_STACK_SETS}#action-reference-StackSet-config"
_STACK_INSTANCES = f"{_STACK_SETS}#action-reference-StackInstances-config"
#: ConcurrencyMode was added to both StackSets actions after the page's first versions; AWS's answer when it
#: shipped (it names the page above as where the key is documented, with STRICT/SOFT_FAILURE_TOLERANCE values).
_CONCURRENCY_MODE = "https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/1853"


def _cited(url: str, *keys: str) -> dict[str, str]:
    """Configuration key -> the page (and anchor) that documents it."""
    return {key: url for key in keys}


#: Operation preferences of both StackSets actions, as their configuration tables list them. The API's
#: `FailureToleranceCount`, `MaxConcurrentCount` and `RegionConcurrencyType` are not in those tables
#: (see `UNDOCUMENTED`): an AWS action type declares its configuration properties, and a key it does not
#: declare risks a refused CreatePipeline/UpdatePipeline (or a setting silently ignored).
def _operation_preferences(url: str) -> dict[str, str]:
    return {
        **_cited(url, "FailureTolerancePercentage", "MaxConcurrentPercentage"),
        "ConcurrencyMode": _CONCURRENCY_MODE,
    }


#: (Category, Provider) -> {key: the page documenting it}. Owner is `AWS` for all of them.
KEY_SOURCES: dict[tuple[str, str], dict[str, str]] = {
    ("Deploy", "CloudFormationStackSet"): {
        **_cited(
            _STACK_SET,
            "StackSetName",
            "Description",
            "TemplatePath",
            "Parameters",
            "Capabilities",
            "PermissionModel",
            "AdministrationRoleArn",
            "ExecutionRoleName",
            "OrganizationsAutoDeployment",
            "DeploymentTargets",
            "Regions",
        ),
        **_operation_preferences(_STACK_SET),
    },
    ("Deploy", "CloudFormationStackInstances"): {
        **_cited(_STACK_INSTANCES, "StackSetName", "DeploymentTargets", "Regions", "ParameterOverrides"),
        **_operation_preferences(_STACK_INSTANCES),
    },
    ("Build", "CodeBuild"): _cited(
        f"{_GUIDE}/action-reference-CodeBuild.html#action-reference-CodeBuild-config",
        "ProjectName",
        "PrimarySource",
        "BatchEnabled",
        "CombineArtifacts",
        "EnvironmentVariables",
    ),
    ("Approval", "Manual"): _cited(
        f"{_GUIDE}/approvals-action-add.html", "NotificationArn", "CustomData", "ExternalEntityLink"
    ),
    ("Source", "CodeCommit"): _cited(
        f"{_GUIDE}/action-reference-CodeCommit.html#action-reference-CodeCommit-config",
        "RepositoryName",
        "BranchName",
        "PollForSourceChanges",
        "OutputArtifactFormat",
    ),
    ("Source", "CodeStarSourceConnection"): _cited(
        f"{_GUIDE}/action-reference-CodestarConnectionSource.html#action-reference-CodestarConnectionSource-config",
        "ConnectionArn",
        "FullRepositoryId",
        "BranchName",
        "OutputArtifactFormat",
        "DetectChanges",
    ),
    ("Source", "S3"): _cited(
        f"{_GUIDE}/action-reference-S3.html#action-reference-S3-config",
        "S3Bucket",
        "S3ObjectKey",
        "PollForSourceChanges",
        "AllowOverrideForS3ObjectKey",
    ),
    ("Deploy", "S3"): _cited(
        f"{_GUIDE}/action-reference-S3Deploy.html#action-reference-S3Deploy-config",
        "BucketName",
        "Extract",
        "ObjectKey",
        "KMSEncryptionKeyARN",
        "CannedACL",
        "CacheControl",
    ),
}

#: Keys of the CloudFormation API that the StackSets actions' configuration tables do not list, and what to
#: use instead (the API's StackSetOperationPreferences has them; the actions do not).
UNDOCUMENTED: dict[str, str] = {
    "RegionConcurrencyType": "the action deploys its Regions one after another, in the order listed",
    "FailureToleranceCount": "use FailureTolerancePercentage",
    "MaxConcurrentCount": "use MaxConcurrentPercentage",
}

_REQUIRED: dict[tuple[str, str], frozenset[str]] = {
    ("Deploy", "CloudFormationStackSet"): frozenset({"StackSetName", "TemplatePath"}),
    ("Deploy", "CloudFormationStackInstances"): frozenset({"StackSetName", "Regions"}),
    ("Build", "CodeBuild"): frozenset({"ProjectName"}),
    ("Approval", "Manual"): frozenset(),
    ("Source", "CodeCommit"): frozenset({"RepositoryName", "BranchName"}),
    ("Source", "CodeStarSourceConnection"): frozenset({"ConnectionArn", "FullRepositoryId", "BranchName"}),
    ("Source", "S3"): frozenset({"S3Bucket", "S3ObjectKey"}),
    ("Deploy", "S3"): frozenset({"BucketName", "Extract"}),
}

#: (Category, Provider) -> its documented keys (`allowed`), required keys and page.
SPECS: dict[tuple[str, str], ProviderSpec] = {
    kind: ProviderSpec(
        allowed=frozenset(keys),
        required=_REQUIRED[kind],
        source_url=min(keys.values(), key=lambda url: (_CONCURRENCY_MODE in url, url)),
    )
    for kind, keys in KEY_SOURCES.items()
}
# CodeBuild is the provider of both Build and Test actions (same page, same keys).
SPECS[("Test", "CodeBuild")] = SPECS[("Build", "CodeBuild")]
KEY_SOURCES[("Test", "CodeBuild")] = KEY_SOURCES[("Build", "CodeBuild")]

#: Literal values AWS accepts for enumerated keys (an intrinsic value is not checked).
ENUMS: dict[str, frozenset[str]] = {
    "PermissionModel": frozenset({"SELF_MANAGED", "SERVICE_MANAGED"}),
    "OrganizationsAutoDeployment": frozenset({"Enabled", "Disabled", "EnabledWithStackRetention"}),
    "ConcurrencyMode": frozenset({"STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE"}),
    "OutputArtifactFormat": frozenset({"CODE_ZIP", "CODEBUILD_CLONE_REF"}),
}

#: Intrinsic functions whose result is a string (a Ref to a list parameter excepted, see below).
STRING_FUNCTIONS = frozenset({"Ref", "Fn::Sub", "Fn::GetAtt", "Fn::Join", "Fn::ImportValue", "Fn::Select"})

#: The CloudFormation API's account concurrency rule, which both StackSets actions pass on: under
#: STRICT_FAILURE_TOLERANCE (the default) "the initial actual concurrency is set to the lower of either the value
#: of the MaxConcurrentCount, or the value of FailureToleranceCount+1" (percentages alike), so with no failure
#: tolerance a stack set deploys to one account at a time whatever MaxConcurrentPercentage says.
#: SOFT_FAILURE_TOLERANCE "decouples FailureToleranceCount from the actual concurrency".
CONCURRENCY_URL = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html"
)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _list_parameters(template: dict[str, Any]) -> frozenset[str]:
    """Parameters whose `Ref` is a list (CommaDelimitedList, List<...>), not a string."""
    params = template.get("Parameters")
    if not isinstance(params, dict):
        return frozenset()
    return frozenset(
        name
        for name, p in params.items()
        if isinstance(p, dict)
        and isinstance(p.get("Type"), str)
        and (p["Type"] == "CommaDelimitedList" or p["Type"].startswith(("List<", "AWS::SSM::Parameter::Value<List<")))
    )


def value_problem(value: object, list_params: frozenset[str]) -> str | None:
    """Why `value` is not a string (or a function that yields one), or None."""
    if isinstance(value, str):
        return None
    if isinstance(value, dict) and len(value) == 1:
        function, argument = next(iter(value.items()))
        if function == "Ref" and argument in list_params:
            return f"is a Ref to list parameter {argument}, not a string"
        if function in STRING_FUNCTIONS:
            return None
        if function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
            for branch in argument[1:]:
                if branch != {"Ref": "AWS::NoValue"} and (problem := value_problem(branch, list_params)):
                    return problem
            return None
        if isinstance(function, str) and function.startswith("Fn::"):
            return f"is {function}, which does not yield a string"
    hint = " (quote it)" if isinstance(value, bool | int | float) else ""
    return f"is {_kind(value)} ({value!r}), not a string{hint}"


def _suggest(word: str, choices: frozenset[str] | list[str]) -> str:
    """` (did you mean X?)` for the closest choice, ignoring case (`Parallel` -> `PARALLEL`), or ''."""
    by_lower = {c.lower(): c for c in sorted(choices)}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.75)
    return f" (did you mean {by_lower[close[0]]}?)" if close else ""


_STACK_SET_PROVIDERS = ("CloudFormationStackSet", "CloudFormationStackInstances")


def _number(config: dict[str, Any], key: str) -> int | None:
    """A literal numeric string value (None when absent, intrinsic or not a number)."""
    value = config.get(key)
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def strict_concurrency_problem(config: dict[str, Any]) -> tuple[str, str] | None:
    """(key, why) when the action asks for more than one account at a time but will get one.

    Under STRICT_FAILURE_TOLERANCE (also when ConcurrencyMode is absent) the concurrency is at most the
    failure tolerance + 1: with a tolerance of 0 that is one account, whatever MaxConcurrent* says.
    """
    mode = config.get("ConcurrencyMode", "STRICT_FAILURE_TOLERANCE")
    if mode != "STRICT_FAILURE_TOLERANCE":
        return None  # SOFT, or an intrinsic that cannot be read
    tolerance = [
        _number(config, key) for key in ("FailureTolerancePercentage", "FailureToleranceCount") if key in config
    ]
    if any(t is None or t > 0 for t in tolerance):
        return None  # some tolerance (or an unreadable one): the concurrency can be above one
    for key in ("MaxConcurrentPercentage", "MaxConcurrentCount"):
        asked = _number(config, key)
        if asked is not None and asked > 1:
            return (
                key,
                f"{key} {asked} has no effect: with ConcurrencyMode STRICT_FAILURE_TOLERANCE (the default) and "
                "a failure tolerance of 0 the stack set deploys to one account at a time; set ConcurrencyMode "
                "SOFT_FAILURE_TOLERANCE, or a failure tolerance, or ask for 1",
            )
    return None


def _literal(config: dict[str, Any], key: str) -> str | None:
    value = config.get(key)
    return value if isinstance(value, str) else None


class ActionConfigurationKeys(CloudFormationLintRule):  # type: ignore[misc]  # cfn-lint has no type hints
    """Check each CodePipeline action's Configuration against its provider's documented keys."""

    id = "E9101"
    shortdesc = "CodePipeline action configuration keys and values"
    description = (
        "Every AWS::CodePipeline::Pipeline action must use a known provider for its category, set only the "
        "configuration keys that provider documents and all the keys it requires, and give every value as a "
        "string (or an intrinsic function that yields one)."
    )
    source_url = f"{_GUIDE}/action-reference.html"
    tags: ClassVar[list[str]] = ["resources", "codepipeline", "mlops-gen"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        list_params = _list_parameters(cfn.template)
        matches: list[RuleMatch] = []
        for pipeline in pipelines(cfn.template):
            for action in pipeline_actions(cfn.template, pipeline):
                matches.extend(self._check_action(action, list_params))
        return matches

    def _check_action(self, action: Action, list_params: frozenset[str]) -> list[RuleMatch]:
        if not isinstance(action.category, str) or not isinstance(action.provider, str):
            return []  # an intrinsic ActionTypeId: nothing to compare against
        type_path: Path = (*action.path, "ActionTypeId")
        spec = SPECS.get((action.category, action.provider))
        if spec is None:
            return [RuleMatch([*type_path, "Provider"], self._unknown_provider(action))]
        matches: list[RuleMatch] = []
        if action.owner != "AWS":
            matches.append(
                RuleMatch(
                    [*type_path, "Owner"],
                    f"{action.label}: provider {action.provider} is owned by AWS, not {action.owner!r}",
                )
            )
        config = action.configuration
        if config is None:
            config = {}
        if not isinstance(config, dict):
            return matches  # an intrinsic Configuration (e.g. Fn::If): not checked
        config_path: Path = (*action.path, "Configuration")
        missing = sorted(spec.required - config.keys())
        if missing:
            matches.append(
                RuleMatch(
                    list(config_path) if action.configuration is not None else list(action.path),
                    f"{action.label}: {action.provider} action needs Configuration key(s) {', '.join(missing)} "
                    f"(see {spec.source_url})",
                )
            )
        for key, value in config.items():
            key_path = [*config_path, key]
            if key not in spec.allowed:
                why = (
                    f" ({UNDOCUMENTED[key]})" if key in UNDOCUMENTED and action.provider in _STACK_SET_PROVIDERS else ""
                )
                matches.append(
                    RuleMatch(
                        key_path,
                        f"{action.label}: {key!r} is not a documented {action.provider} configuration key{why}"
                        f"{_suggest(str(key), spec.allowed)}; allowed: {', '.join(sorted(spec.allowed))} "
                        f"(see {spec.source_url})",
                    )
                )
                continue
            problem = value_problem(value, list_params)
            if problem:
                matches.append(RuleMatch(key_path, f"{action.label}: Configuration {key} {problem}"))
            elif key in ENUMS and isinstance(value, str) and value not in ENUMS[key]:
                matches.append(
                    RuleMatch(
                        key_path,
                        f"{action.label}: {key} {value!r} is not one of {', '.join(sorted(ENUMS[key]))}"
                        f"{_suggest(value, ENUMS[key])}",
                    )
                )
        matches.extend(self._conditional(action, config, config_path))
        return matches

    def _unknown_provider(self, action: Action) -> str:
        assert isinstance(action.provider, str)
        known_here = sorted(p for c, p in SPECS if c == action.category)
        elsewhere = sorted(c for c, p in SPECS if p == action.provider)
        if elsewhere:
            return (
                f"{action.label}: provider {action.provider} is not a {action.category} action "
                f"(it is {' or '.join(elsewhere)})"
            )
        every = [p for _, p in SPECS]
        return (
            f"{action.label}: unknown {action.category} action provider {action.provider!r}"
            f"{_suggest(action.provider, every)}; this rule knows: {', '.join(known_here) or 'none'}"
        )

    def _conditional(self, action: Action, config: dict[str, Any], path: Path) -> list[RuleMatch]:
        """Keys required or forbidden by other keys (StackSets and S3 deploy actions)."""
        found: list[tuple[str, str]] = []
        if action.provider in ("CloudFormationStackSet", "CloudFormationStackInstances"):
            if "DeploymentTargets" in config and "Regions" not in config:
                found.append(("DeploymentTargets", "DeploymentTargets needs Regions too"))
            if (
                "Regions" in config
                and "DeploymentTargets" not in config
                and action.provider == "CloudFormationStackSet"
            ):
                found.append(("Regions", "Regions needs DeploymentTargets too"))
        if action.provider == "CloudFormationStackSet":
            model = _literal(config, "PermissionModel") or "SELF_MANAGED"
            if model == "SERVICE_MANAGED":
                if "DeploymentTargets" not in config and "OrganizationsAutoDeployment" not in config:
                    found.append(("PermissionModel", "SERVICE_MANAGED needs DeploymentTargets (OU or root ids)"))
                for key in ("AdministrationRoleArn", "ExecutionRoleName"):
                    if key in config:
                        found.append((key, f"{key} is not used with SERVICE_MANAGED; remove it"))
            elif model == "SELF_MANAGED" and "OrganizationsAutoDeployment" in config:
                found.append(("OrganizationsAutoDeployment", "OrganizationsAutoDeployment needs SERVICE_MANAGED"))
            if "OrganizationsAutoDeployment" in config:
                # The action reference, OrganizationsAutoDeployment: "If OrganizationsAutoDeployment is
                # specified, do not specify DeploymentTargets and Regions."
                both = [key for key in ("DeploymentTargets", "Regions") if key in config]
                if both:
                    found.append(
                        (
                            "OrganizationsAutoDeployment",
                            f"do not give {' and '.join(both)} with OrganizationsAutoDeployment (the action "
                            "reference: if OrganizationsAutoDeployment is specified, do not specify "
                            "DeploymentTargets and Regions)",
                        )
                    )
        extract = (_literal(config, "Extract") or "").lower()
        if action.provider == "S3" and action.category == "Deploy" and extract == "false" and "ObjectKey" not in config:
            found.append(("Extract", "Extract 'false' needs ObjectKey"))
        matches = self._as_matches(action, path, found)
        if action.provider in _STACK_SET_PROVIDERS and (problem := strict_concurrency_problem(config)) is not None:
            key, why = problem
            matches.append(RuleMatch([*path, key], f"{action.label}: {why} (see {CONCURRENCY_URL})"))
        return matches

    def _as_matches(self, action: Action, path: Path, found: list[tuple[str, str]]) -> list[RuleMatch]:
        return [RuleMatch([*path, key], f"{action.label}: {why} (see {self._url(action)})") for key, why in found]

    @staticmethod
    def _url(action: Action) -> str:
        spec = SPECS.get((str(action.category), str(action.provider)))
        return spec.source_url if spec else _GUIDE
