"""The deploy actions' stack-set settings: only documented action keys, and the concurrency the flags promise.

E9101's fixtures (tests/lint_fixtures) check the rule itself; these check what the generator emits and
how `--region-concurrency` is handled where the native action has no such key.
"""

from __future__ import annotations

import pytest

from generator.checks.lint_rules.ActionConfigurationKeys import (
    KEY_SOURCES,
    SPECS,
    UNDOCUMENTED,
    strict_concurrency_problem,
)
from generator.config import DeployMode, RegionConcurrency, deploy_mode
from generator.errors import InputError
from generator.naming import Stage
from generator.product.compose import build_product
from generator.product.stacksets import CONCURRENCY_MODE
from tests.conftest import CONFIGS, make_config, named_config

STACK_SET = ("Deploy", "CloudFormationStackSet")


def deploy_configurations(name: str) -> dict[str, dict[str, object]]:
    """Action name -> Configuration of the native stack-set actions of a named configuration's product."""
    template = build_product(named_config(name)).to_dict()
    pipeline = next(r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline")
    return {
        a["Name"]: a["Configuration"]
        for stage in pipeline["Properties"]["Stages"]
        for a in stage["Actions"]
        if a["ActionTypeId"]["Provider"] == "CloudFormationStackSet"
    }


NATIVE = sorted(name for name in CONFIGS if deploy_mode(named_config(name)) is DeployMode.NATIVE)


@pytest.mark.parametrize("name", NATIVE)
def test_native_actions_set_only_documented_keys(name: str) -> None:
    configurations = deploy_configurations(name)
    assert len(configurations) == len(Stage)
    for configuration in configurations.values():
        assert set(configuration) <= SPECS[STACK_SET].allowed
        assert not set(configuration) & set(UNDOCUMENTED)
        # The reference: "If OrganizationsAutoDeployment is specified, do not specify DeploymentTargets and Regions."
        assert "OrganizationsAutoDeployment" not in configuration
        assert {"DeploymentTargets", "Regions"} <= set(configuration)


@pytest.mark.parametrize("name", NATIVE)
def test_native_actions_deploy_at_the_concurrency_asked_for(name: str) -> None:
    for configuration in deploy_configurations(name).values():
        assert configuration["ConcurrencyMode"] == CONCURRENCY_MODE == "SOFT_FAILURE_TOLERANCE"
        assert strict_concurrency_problem(dict(configuration)) is None
        # The same configuration under the default mode would deploy one account at a time (prod: tolerance 0).
        strict = {k: v for k, v in configuration.items() if k != "ConcurrencyMode"}
        if (
            configuration["FailureTolerancePercentage"] == "0"
            and int(str(configuration["MaxConcurrentPercentage"])) > 1
        ):
            assert strict_concurrency_problem(strict) is not None


def test_every_documented_key_cites_a_page() -> None:
    for kind, keys in KEY_SOURCES.items():
        assert set(keys) == SPECS[kind].allowed, kind
        for key, url in keys.items():
            assert url.startswith(("https://docs.aws.amazon.com/codepipeline/", "https://github.com/aws-")), (kind, key)


def test_region_concurrency_parallel_is_refused_where_the_action_deploys_regions_in_order() -> None:
    with pytest.raises(InputError) as caught:
        make_config(**{"deploy-regions": "eu-west-1,us-east-1", "region-concurrency": "parallel"})
    assert str(caught.value).startswith("--region-concurrency: parallel cannot be honoured")
    assert "no documented RegionConcurrencyType" in str(caught.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"deploy-regions": "eu-west-1,us-east-1"},  # the default (not asked for): the action's own order applies
        {"deploy-regions": "eu-west-1,us-east-1", "region-concurrency": "sequential"},  # what the action does
        {"region-concurrency": "parallel"},  # one region: nothing to run in parallel
        # api mode: deploy.py sends RegionConcurrencyType to the CloudFormation API, which has it
        {"deploy-regions": "eu-west-1,us-east-1", "region-concurrency": "parallel", "stackset-admin": "delegated"},
    ],
)
def test_region_concurrency_accepted(overrides: dict[str, str]) -> None:
    cfg = make_config(**overrides)
    assert cfg.preferences.region_concurrency in set(RegionConcurrency)
