"""Helpers for the seed-code tests (no tests here): load the scripts from the RENDERED bundle, and
build a moto organization with staging/prod OUs, so the tests prove what actually ships."""

from __future__ import annotations

import importlib.util
import io
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from generator.contract import SEED_BUNDLE
from tests.conftest import make_config, rendered_files

REGION = "eu-west-1"
PROJECT = "iris"
PROJECT_ID = "p-abc123def456"


@dataclass(frozen=True)
class Seed:
    """The extracted bundle and its two scripts, imported from it."""

    root: Path
    build: ModuleType
    endpoint_test: ModuleType


def extract_bundle(folder: Path, **overrides: Any) -> Path:
    files = {f.path: f.content for f in rendered_files(make_config(**overrides))}
    with zipfile.ZipFile(io.BytesIO(files[SEED_BUNDLE])) as archive:
        archive.extractall(folder)
    return folder


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    root = extract_bundle(tmp_path_factory.mktemp("seed"))
    sys.path.insert(0, str(root))
    try:
        yield Seed(root, _load("seed_build", root / "build.py"), _load("seed_endpoint_test", root / "test" / "test.py"))
    finally:
        for name in ("seed_build", "seed_endpoint_test", "stage_config", "regions"):
            sys.modules.pop(name, None)
        while str(root) in sys.path:
            sys.path.remove(str(root))


@dataclass(frozen=True)
class Org:
    """A moto organization: staging OU (with a child OU), prod OU, and their accounts."""

    staging_ou: str
    staging_child_ou: str
    prod_ou: str
    staging_accounts: tuple[str, ...]
    prod_accounts: tuple[str, ...]
    suspended: str


def make_org() -> Org:
    """Two ACTIVE staging accounts (one in a child OU), a SUSPENDED one, and one prod account."""
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]

    def ou(parent: str, name: str) -> str:
        return str(org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"])

    def account(name: str, parent: str) -> str:
        account_id = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"][
            "AccountId"
        ]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
        return str(account_id)

    staging, prod = ou(root, "staging"), ou(root, "prod")
    child = ou(staging, "staging-eu")
    closed = account("staging-closed", child)
    org.close_account(AccountId=closed)  # SUSPENDED: nothing may be tested or expected there
    return Org(
        staging_ou=staging,
        staging_child_ou=child,
        prod_ou=prod,
        staging_accounts=(account("staging-a", staging), account("staging-b", child)),
        prod_accounts=(account("prod-a", prod),),
        suspended=closed,
    )


def assumed_session(account_id: str, role_name: str, region: str = REGION) -> boto3.Session:
    """A session in `account_id` through STS, the way the pipeline reaches target accounts."""
    sts = boto3.client("sts", region_name=region)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role_name}", RoleSessionName="seed-test")[
        "Credentials"
    ]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
