"""Our cfn-lint rules (generator/checks/lint_rules, E91xx): fixtures, the rendered products, and naming.py.

Fixtures live in tests/lint_fixtures/{good,bad}/E91xx_*.yaml. A bad fixture's `# expect: ...` header
lines are message fragments its findings must contain. Linting goes through `generator.checks.validate`,
the same path `mlops-gen render` and `mlops-gen validate` use.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.helpers import load_plugins
from cfnlint.rules import RulesCollection
from cfnlint.runner.template.runner import run_template_by_data
from cfnlint.template import Template

from generator import contract
from generator.checks.cache import user_cache
from generator.checks.finding import Finding
from generator.checks.lint_rules.ActionConfigurationKeys import ActionConfigurationKeys, value_problem
from generator.checks.lint_rules.PhysicalNameLength import LIMITS, STACK_SET_ACTION, Resolver, Unbounded
from generator.checks.lint_rules.PipelineArtifactOrder import PipelineArtifactOrder
from generator.checks.validate import RULES_DIR, lint_text
from generator.naming import PROJECT_ROLE_KINDS, ROLE_NAME_LIMIT, Names, Stage
from generator.render import build_manifest
from tests.conftest import CONFIGS, named_config, rendered_files

FIXTURES = Path(__file__).parent / "lint_fixtures"
GOOD = sorted((FIXTURES / "good").glob("E9*.yaml"))
BAD = sorted((FIXTURES / "bad").glob("E9*.yaml"))
REGION = "eu-west-1"


def our_rule_ids() -> list[str]:
    """Ids of the rules cfn-lint itself loads from the folder (its loader, not an import of ours)."""
    return [rule.id for rule in load_plugins(str(RULES_DIR))]


OUR_IDS = frozenset(our_rule_ids())


def lint(text: str, region: str = REGION) -> list[Finding]:
    """cfn-lint with our rules, through the run's result cache (tests/conftest.py): the rendered templates
    linted here are linted by other tests too, and each distinct text needs checking once per run."""
    return lint_text(text, [region], "template", user_cache())


@functools.cache
def _our_rules() -> Any:
    rules = RulesCollection(include_rules=["I"], include_experimental=False)
    rules.create_from_directory(str(RULES_DIR))
    return rules


def lint_ours(text: str, region: str = REGION) -> list[Finding]:
    """Our rules alone, as cfn-lint runs them (milliseconds, against 1-2 s for the full set): each rule's `match`
    reads the template, never another rule's result, so what ours find is what the full run finds
    (`test_our_rules_alone_find_what_the_full_set_finds`). The fixtures above and `validate` run the full set."""
    template, errors = decode_str(text)
    assert not errors and template is not None
    matches = run_template_by_data(template, ConfigMixIn(regions=[region], include_checks=["I"]), _our_rules())
    return sorted(Finding("template", m.linenumber, m.rule.id, m.message) for m in matches)


def rule_of(fixture: Path) -> str:
    return fixture.name.split("_", 1)[0]


def expected_fragments(fixture: Path) -> list[str]:
    return re.findall(r"^# expect: (.+)$", fixture.read_text(encoding="utf-8"), flags=re.MULTILINE)


# --- the rules themselves -------------------------------------------------------------------------


def test_loader_finds_exactly_our_rules_once() -> None:
    """cfn-lint loads `[A-Za-z1-9]*.py`: the package's __init__ and private helpers are not rules."""
    assert (RULES_DIR / "__init__.py").is_file()
    assert list(RULES_DIR.glob("_*.py")), "expected a private helper module beside the rules"
    ids = our_rule_ids()
    assert sorted(ids) == ["E9101", "E9102", "E9103"]
    assert len(ids) == len(set(ids)), f"duplicate rule ids: {ids}"


def test_rules_document_themselves() -> None:
    for rule in load_plugins(str(RULES_DIR)):
        assert re.fullmatch(r"E91\d\d", rule.id), rule.id
        assert rule.shortdesc and rule.description, rule.id
        assert rule.source_url.startswith("https://docs.aws.amazon.com/"), rule.id
        assert "mlops-gen" in rule.tags, rule.id


def test_every_rule_has_a_good_and_a_bad_fixture() -> None:
    assert {rule_of(f) for f in GOOD} == OUR_IDS
    assert {rule_of(f) for f in BAD} == OUR_IDS


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.stem)
def test_bad_fixture_fails_only_its_rule(fixture: Path) -> None:
    findings = lint(fixture.read_text(encoding="utf-8"))
    assert {f.rule for f in findings} == {rule_of(fixture)}, findings
    fragments = expected_fragments(fixture)
    assert fragments, f"{fixture.name} has no '# expect:' line"
    for fragment in fragments:
        assert any(fragment in f.message for f in findings), (fragment, [f.message for f in findings])


@pytest.mark.parametrize("fixture", GOOD, ids=lambda p: p.stem)
def test_good_fixture_is_clean(fixture: Path) -> None:
    """Good fixtures pass our rules and cfn-lint's own, so a finding there is ours to explain."""
    assert lint(fixture.read_text(encoding="utf-8")) == []


# --- rendered products ----------------------------------------------------------------------------


def rendered_templates(config: str) -> dict[str, str]:
    """Template texts of one named configuration, as `render` writes them (path -> text)."""
    cfg = named_config(config)
    files = rendered_files(cfg)
    kinds = {a.path for a in build_manifest(cfg, files).templates()}
    return {f.path: f.content.decode("utf-8") for f in files if f.path in kinds}


def product(config: str) -> dict[str, Any]:
    """The rendered product template as a dict (decoded the way cfn-lint decodes it)."""
    text = rendered_templates(config)["product-template.yaml"]
    template, errors = decode_str(text)
    assert not errors and template is not None
    return json.loads(json.dumps(template))


def actions(template: dict[str, Any]) -> list[dict[str, Any]]:
    pipeline = next(r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline")
    return [a for stage in pipeline["Properties"]["Stages"] for a in stage["Actions"]]


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.slow  # cfn-lint over rendered templates
def test_every_rendered_template_is_lint_clean(config: str) -> None:
    """Zero cfn-lint findings (errors, warnings, informational; ours included) in every template of the render."""
    templates = rendered_templates(config)
    assert "product-template.yaml" in templates
    for path, text in templates.items():
        found = lint(text, named_config(config).region)
        assert found == [], (path, found)


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.slow  # cfn-lint over rendered templates
def test_misspelt_configuration_key_in_rendered_product_fails_e9101(config: str) -> None:
    template = product(config)
    # The deploy action: CodePipeline's StackSet action, or (deploy mode "api") a CodeBuild action.
    deploy = next(a for a in actions(template) if a["Name"] == "DeployResourcesStaging")
    key = "StackSetName" if deploy["ActionTypeId"]["Provider"] == "CloudFormationStackSet" else "ProjectName"
    misspelt = key.replace("Name", "Nme")
    deploy["Configuration"][misspelt] = deploy["Configuration"].pop(key)
    findings = lint_ours(json.dumps(template))
    assert {f.rule for f in findings} == {"E9101"}
    assert any(f"'{misspelt}'" in f.message and f"did you mean {key}?" in f.message for f in findings)


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.slow  # cfn-lint over rendered templates
def test_renamed_build_output_in_rendered_product_fails_e9102(config: str) -> None:
    template = product(config)
    build = next(a for a in actions(template) if {"Name": contract.BUILD_ARTIFACT} in a.get("OutputArtifacts", []))
    build["OutputArtifacts"] = [{"Name": "BuildOutput"}]
    findings = lint_ours(json.dumps(template))
    assert {f.rule for f in findings} == {"E9102"}
    assert any(f"input artifact '{contract.BUILD_ARTIFACT}' is not produced" in f.message for f in findings)


@pytest.mark.slow  # the full cfn-lint set over two rendered products
@pytest.mark.parametrize("edit", ["none", "misspelt-key", "renamed-output"])
def test_our_rules_alone_find_what_the_full_set_finds(edit: str) -> None:
    """The edited-product tests run our rules alone (`lint_ours`); cfn-lint with every rule (the path `validate`
    takes) finds exactly the same of ours: line, rule and message."""
    template = product("regulated")
    if edit == "misspelt-key":
        deploy = next(a for a in actions(template) if a["Name"] == "DeployResourcesStaging")
        deploy["Configuration"]["ProjectNme"] = deploy["Configuration"].pop("ProjectName", "x")
    if edit == "renamed-output":
        build = next(a for a in actions(template) if {"Name": contract.BUILD_ARTIFACT} in a.get("OutputArtifacts", []))
        build["OutputArtifacts"] = [{"Name": "BuildOutput"}]
    text = json.dumps(template)
    full = [f for f in lint(text) if f.rule in OUR_IDS]
    assert lint_ours(text) == full
    assert bool(full) == (edit != "none")


@pytest.mark.parametrize("extra", [0, 1])
@pytest.mark.slow  # cfn-lint over rendered templates
def test_e9103_accepts_exactly_the_project_name_naming_allows(extra: int) -> None:
    """At naming.py's budget for the product's own names every name fits; one character more, one does not.

    (The product's MaxLength may be lower still: the endpoint names live in the stack sets' template.)
    """
    budget = min(n.name_budget() for n in Names().all() if n.key not in NOT_IN_PRODUCT)
    template = product("default")
    project_name = template["Parameters"]["SageMakerProjectName"]
    assert project_name["MaxLength"] == Names().max_project_name_length() <= budget
    project_name["MaxLength"] = budget + extra
    findings = lint_ours(json.dumps(template))
    if extra == 0:
        assert findings == []
    else:
        assert findings and {f.rule for f in findings} == {"E9103"}
        assert all(f"SageMakerProjectName={budget + 1} (MaxLength)" in f.message for f in findings)


# --- E9103 agrees with naming.py -------------------------------------------------------------------

#: Where each generated name is used: (resource type, property) as keyed in the rule's LIMITS.
NAME_TARGETS: dict[str, tuple[str, str]] = {
    "artifact_bucket": ("AWS::S3::Bucket", "BucketName"),
    "model_package_group": ("AWS::SageMaker::ModelPackageGroup", "ModelPackageGroupName"),
    "repository": ("AWS::CodeCommit::Repository", "RepositoryName"),
    "build_project": ("AWS::CodeBuild::Project", "Name"),
    "test_project": ("AWS::CodeBuild::Project", "Name"),
    "pipeline": ("AWS::CodePipeline::Pipeline", "Name"),
    "model_rule": ("AWS::Events::Rule", "Name"),
    "code_rule": ("AWS::Events::Rule", "Name"),
    **{f"stack_set_{s.value}": (STACK_SET_ACTION, "StackSetName") for s in Stage},
    **{f"endpoint_{s.value}": ("AWS::SageMaker::Endpoint", "EndpointName") for s in Stage},
    **{f"deploy_project_{s.value}": ("AWS::CodeBuild::Project", "Name") for s in Stage},
    "approval_topic": ("AWS::SNS::Topic", "TopicName"),
    "approval_key_alias": ("AWS::KMS::Alias", "AliasName"),
    **{f"project_role_{kind}": ("AWS::IAM::Role", "RoleName") for kind in PROJECT_ROLE_KINDS},
}
#: Names used in the templates the stack sets deploy (exported by the build step), not in the product.
NOT_IN_PRODUCT = {f"endpoint_{s.value}" for s in Stage}


def test_name_targets_cover_every_generated_name() -> None:
    assert set(NAME_TARGETS) == {n.key for n in Names().all()}


@pytest.mark.parametrize("name", Names().all(), ids=lambda n: n.key)
def test_rule_limit_equals_naming_limit(name: Any) -> None:
    limit, source = LIMITS[NAME_TARGETS[name.key]]
    assert (limit, source) == (name.limit, name.source)


def test_role_name_limit_agrees_with_naming() -> None:
    assert LIMITS[("AWS::IAM::Role", "RoleName")][0] == ROLE_NAME_LIMIT


def name_locations(template: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """`Fn::Sub` pattern -> the (type, property) keys of LIMITS it is used at in `template`."""
    found: dict[str, set[tuple[str, str]]] = {}
    for res in template["Resources"].values():
        for prop, value in res.get("Properties", {}).items():
            if (res["Type"], prop) in LIMITS and isinstance(value, dict) and "Fn::Sub" in value:
                found.setdefault(value["Fn::Sub"], set()).add((res["Type"], prop))
    for action in actions(template):
        key = f"AWS::CodePipeline::Pipeline/{action['ActionTypeId']['Provider']}"
        value = action.get("Configuration", {}).get("StackSetName")
        if isinstance(value, dict) and "Fn::Sub" in value:
            found.setdefault(value["Fn::Sub"], set()).add((key, "StackSetName"))
    return found


@pytest.mark.slow  # renders whole configurations (about a second each)
def test_name_targets_are_where_the_product_uses_each_name() -> None:
    """The mapping above is checked against the rendered product, not just asserted."""
    # custom-preferences has approver emails: the approval topic and its key's alias exist only then.
    # delegated-admin deploys through CodeBuild (deploy mode "api"): the deploy projects exist only then.
    locations = {
        **name_locations(product("default")),
        **name_locations(product("custom-preferences")),
        **name_locations(product("delegated-admin")),
    }
    expected: dict[str, set[tuple[str, str]]] = {}
    for name in Names().all():
        if name.key in NOT_IN_PRODUCT:
            assert name.pattern not in locations, name.key
        else:  # two names may share a pattern (the repository and the pipeline do)
            expected.setdefault(name.pattern, set()).add(NAME_TARGETS[name.key])
    assert {p: locations.get(p) for p in expected} == expected


# --- single-rule checks on edited good fixtures (the rule's match() directly: fast, no cfn-lint run) ---


def fixture_dict(name: str) -> dict[str, Any]:
    template, errors = decode_str((FIXTURES / "good" / name).read_text(encoding="utf-8"))
    assert not errors and template is not None
    return json.loads(json.dumps(template))


def messages(rule: Any, template: dict[str, Any]) -> list[str]:
    return [m.message for m in rule.match(Template("fixture.yaml", template, [REGION]))]


def action_named(template: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in actions(template) if a["Name"] == name)


@pytest.mark.parametrize(
    ("action", "edit", "fragment"),
    [
        ("Build", lambda a: a["ActionTypeId"].update(Owner="ThirdParty"), "is owned by AWS, not 'ThirdParty'"),
        (
            "Build",
            lambda a: a["ActionTypeId"].update(Category="Deploy"),
            "is not a Deploy action (it is Build or Test)",
        ),
        (
            "StackSet",
            lambda a: a["Configuration"].update(ConcurrencyMode="soft_failure_tolerance"),
            "did you mean SOFT_FAILURE_TOLERANCE?",
        ),
        (
            "StackSet",
            lambda a: a["Configuration"].update(RegionConcurrencyType="PARALLEL"),
            "'RegionConcurrencyType' is not a documented CloudFormationStackSet configuration key (the action "
            "deploys its Regions one after another, in the order listed)",
        ),
        ("StackSet", lambda a: a["Configuration"].update(MaxConcurrentCount="2"), "(use MaxConcurrentPercentage)"),
        (
            "StackSet",
            lambda a: a["Configuration"].update(OrganizationsAutoDeployment="Enabled"),
            "do not give DeploymentTargets and Regions with OrganizationsAutoDeployment",
        ),
        (
            "StackSet",
            lambda a: a["Configuration"].pop("ConcurrencyMode"),
            "MaxConcurrentPercentage 25 has no effect: with ConcurrencyMode STRICT_FAILURE_TOLERANCE",
        ),
        (
            "MoreInstances",
            lambda a: a["Configuration"].update(
                ConcurrencyMode="STRICT_FAILURE_TOLERANCE", FailureTolerancePercentage="0"
            ),
            "MaxConcurrentPercentage 50 has no effect",
        ),
        ("StackSet", lambda a: a["Configuration"].pop("Regions"), "DeploymentTargets needs Regions too"),
        ("Website", lambda a: a["Configuration"].pop("ObjectKey"), "Extract 'false' needs ObjectKey"),
        ("Approve", lambda a: a["Configuration"].update(CustomData=["a"]), "CustomData is a list (['a'])"),
        ("Repo", lambda a: a.pop("Configuration"), "needs Configuration key(s) BranchName, RepositoryName"),
    ],
)
def test_e9101_reports(action: str, edit: Any, fragment: str) -> None:
    template = fixture_dict("E9101_every_provider.yaml")
    assert messages(ActionConfigurationKeys(), template) == []
    edit(action_named(template, action))
    found = messages(ActionConfigurationKeys(), template)
    assert len(found) == 1 and fragment in found[0], found


def test_e9102_reports_a_repeated_output_name() -> None:
    template = fixture_dict("E9102_run_order.yaml")
    assert messages(PipelineArtifactOrder(), template) == []
    action_named(template, "Package")["OutputArtifacts"] = [{"Name": "Compiled"}]
    found = messages(PipelineArtifactOrder(), template)
    assert any("output artifact 'Compiled' is already produced by Pipeline/Build/Compile" in m for m in found), found


# --- E9103 name resolution and E9101 string values --------------------------------------------------

PARAMS = {
    "Parameters": {
        "Name": {"Type": "String", "MaxLength": 24},
        "Stage": {"Type": "String", "AllowedValues": ["staging", "prod"]},
        "Both": {"Type": "String", "MaxLength": 30, "AllowedValues": ["abc"]},
        "Suffix": {"Type": "String", "Default": "models"},
        "Free": {"Type": "String"},
    }
}


@pytest.mark.parametrize(
    ("expression", "length"),
    [
        ("literal", 7),
        ({"Ref": "Name"}, 24),
        ({"Ref": "Stage"}, 7),
        ({"Ref": "Both"}, 3),
        ({"Ref": "Suffix"}, 6),
        ({"Ref": "AWS::AccountId"}, 12),
        ({"Ref": "AWS::Partition"}, len("aws-us-gov")),
        ({"Ref": "AWS::StackName"}, 128),
        ({"Fn::Sub": "sagemaker-${Name}-${Stage}"}, 10 + 24 + 1 + 7),
        ({"Fn::Sub": "${!Name}-${Name}"}, len("${Name}-") + 24),
        ({"Fn::Sub": ["x-${V}", {"V": {"Ref": "Name"}}]}, 2 + 24),
        ({"Fn::Join": ["-", ["a", {"Ref": "Name"}, "b"]]}, 1 + 1 + 24 + 1 + 1),
        ({"Fn::If": ["C", "short", {"Ref": "Name"}]}, 24),
        ({"Fn::Sub": "${Bucket.Arn}"}, None),
        ({"Ref": "SomeResource"}, None),
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, None),
    ],
)
def test_resolver_longest_length(expression: object, length: int | None) -> None:
    assert Resolver(PARAMS).length(expression) == length


def test_resolver_reports_an_unbounded_parameter() -> None:
    with pytest.raises(Unbounded) as exc:
        Resolver(PARAMS).length({"Fn::Sub": "sagemaker-${Free}"})
    assert exc.value.parameter == "Free"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("text", True),
        ({"Ref": "Name"}, True),
        ({"Ref": "Regions"}, False),  # a CommaDelimitedList
        ({"Fn::Sub": "${AWS::Region}"}, True),
        ({"Fn::GetAtt": ["Repo", "Name"]}, True),
        ({"Fn::Join": [",", ["a", "b"]]}, True),
        ({"Fn::ImportValue": "Export"}, True),
        ({"Fn::Select": [0, ["a"]]}, True),
        ({"Fn::If": ["C", "a", {"Ref": "AWS::NoValue"}]}, True),
        ({"Fn::If": ["C", "a", 1]}, False),
        ({"Fn::Split": [",", "a,b"]}, False),
        (False, False),
        (10, False),
        (["a"], False),
    ],
)
def test_configuration_value_must_be_a_string(value: object, ok: bool) -> None:
    assert (value_problem(value, frozenset({"Regions"})) is None) is ok
