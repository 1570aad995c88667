"""`mlops-gen doctor` against moto organisations built to fail each check in turn.

One green organisation (management account 123456789012, StackSets trusted access on, a staging OU
with an account and a nested OU holding another, a prod OU with one account, the rendered
target-role stack set deployed to both OUs through moto's StackSets API), then one change per test
that must turn exactly the expected check red.

Where moto 5.2.5 falls short of Organizations, the test says so:
- it rejects the StackSets principal in (Register|List)DelegatedAdministrator(s) ("unrecognized
  service principal"), although AWS documents it; the `stacksets_delegation` fixture adds it to
  moto's list of supported principals;
- it keeps a member account's organisation reads in that account's own empty backend (only
  DescribeOrganization and ListRoots reach the management account's data), while real Organizations
  lets a delegated administrator read the whole organisation; the delegated-administrator test
  therefore reads the organisation through the management account's client while STS says the
  caller is the delegated administrator;
- it lets anyone assume any role, and its IAM allows everything; answers only real IAM gives
  (AccessDenied on AssumeRole, AccessDenied listing delegated administrators) come from
  `botocore.stub.Stubber`, which checks each stubbed request and response against the API model;
- its stack instances are always CURRENT/SUCCEEDED: INOPERABLE and FAILED instances are stubbed too.
It does create OrganizationAccountAccessRole (trusting the management account) in every account
`CreateAccount` makes, as Organizations does; doctor reads the target role's trust through it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.organizations.models import FakeDelegatedAdministrator
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from generator.cli import app
from generator.companions.target_role import build_target_role, build_target_role_stack_set
from generator.config import DEFAULT_TARGET_ROLE, ServiceRoles, StackSetAdmin
from generator.live import doctor
from generator.live.doctor import run_checks
from generator.live.doctor.common import ACCOUNT_ACCESS_ROLE, CheckResult, DoctorError, DoctorOptions
from generator.live.doctor.organization import STACKSETS_PRINCIPAL, Caller, CallerKind, check_caller
from generator.live.doctor.target_roles import check_target_roles
from generator.live.rehearse.speed import reusing_client_classes
from generator.naming import BootstrapNames
from generator.product.org_id import check_org_id
from generator.product.parameters import PER_SERVICE_ROLES, USE_ROLE
from tests.conftest import make_config
from tests.moto_helpers import create_stack_set_from_template

REGION = "eu-west-1"
MANAGEMENT = "123456789012"  # moto's default account creates the organisation, so it is the management account
STACK_SET = BootstrapNames().target_role_stack_set
BUILD_ROLE = f"arn:aws:iam::{MANAGEMENT}:role/service-role/{PER_SERVICE_ROLES['build']}"
runner = CliRunner()


def credentials_kwargs(credentials: Mapping[str, Any]) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


#: A test's clients by (service, region, access key) and its accounts' credentials, kept for the test (the `aws`
#: fixture empties them): building a boto3 client costs more than most moto calls, and a session's user keeps one.
_CLIENTS: dict[tuple[str, str, str], Any] = {}
_CREDENTIALS: dict[str, dict[str, Any]] = {}


def client_factory(service: str, credentials: Mapping[str, Any] | None = None, /, region: str | None = None) -> Any:
    """What `doctor.session_clients` gives the checks, for the in-process moto."""
    keys = credentials_kwargs(credentials) if credentials else {}
    key = (service, region or REGION, keys.get("aws_access_key_id", ""))
    if key not in _CLIENTS:
        _CLIENTS[key] = boto3.client(service, region_name=region or REGION, **keys)
    return _CLIENTS[key]


def member_credentials(account: str) -> dict[str, Any]:
    """Credentials in `account` through the role Organizations creates in every new account."""
    if account not in _CREDENTIALS:
        role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        answer = client_factory("sts").assume_role(RoleArn=role, RoleSessionName="test-admin")
        _CREDENTIALS[account] = dict(answer["Credentials"])
    return dict(_CREDENTIALS[account])


@dataclass
class Org:
    """The green organisation: ids a test mutates or asserts on."""

    orgs: Any
    root: str
    staging_ou: str
    nested_ou: str
    prod_ou: str
    accounts: dict[str, str] = field(default_factory=dict)  # name -> id

    def options(self, **overrides: Any) -> DoctorOptions:
        values: dict[str, Any] = {
            "staging_ou": self.staging_ou,
            "prod_ou": self.prod_ou,
            "region": REGION,
            "target_role_name": DEFAULT_TARGET_ROLE,
        }
        values.update(overrides)
        return DoctorOptions(**values)

    def add_account(self, name: str, parent: str) -> str:
        """An account moved into `parent` (added after `deploy_target_role`, it gets no instance: no auto-deploy)."""
        status = self.orgs.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        account = str(status["AccountId"])
        self.orgs.move_account(AccountId=account, SourceParentId=self.root, DestinationParentId=parent)
        self.accounts[name] = account
        return account

    def deploy_target_role(self, **render: Any) -> str:
        """What the platform engineer does with target-role-stackset.yaml, through moto's StackSets API.

        The stack's AWS::CloudFormation::StackSet resource, as rendered (`render` flags as keywords),
        turned into CreateStackSet and CreateStackInstances; returns the stack set's name.
        """
        cfg = make_config(staging_ou=self.staging_ou, prod_ou=self.prod_ou, **render)
        wrapper = build_target_role_stack_set(cfg, build_target_role(cfg)).to_dict()
        # The stack runs in the management account.
        return create_stack_set_from_template(client_factory("cloudformation"), wrapper, MANAGEMENT)

    def member_iam(self, name: str) -> Any:
        """IAM in a member account, as an administrator there (through OrganizationAccountAccessRole)."""
        return client_factory("iam", member_credentials(self.accounts[name]))


def build_org(*, trusted_access: bool = True, feature_set: str = "ALL", deploy: bool = True) -> Org:
    orgs = client_factory("organizations")
    orgs.create_organization(FeatureSet=feature_set)
    root = orgs.list_roots()["Roots"][0]["Id"]

    def ou(name: str, parent: str) -> str:
        return str(orgs.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"])

    staging = ou("staging", root)
    org = Org(orgs, root, staging, ou("staging-eu", staging), ou("prod", root))
    org.add_account("staging-1", org.staging_ou)
    org.add_account("staging-eu-1", org.nested_ou)
    org.add_account("prod-1", org.prod_ou)
    if trusted_access:
        orgs.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    if deploy:
        org.deploy_target_role()
    return org


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    _CLIENTS.clear()
    _CREDENTIALS.clear()
    # Speed only: a session's clients of one service share the class botocore builds (test_rehearse_clients.py).
    with mock_aws(), reusing_client_classes():
        yield
    _CLIENTS.clear()
    _CREDENTIALS.clear()


@pytest.fixture
def org(aws: None) -> Org:
    return build_org()


@pytest.fixture
def stacksets_delegation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let moto register StackSets delegated administrators, as AWS does (see the module docstring)."""
    supported = [*FakeDelegatedAdministrator.SUPPORTED_SERVICES, STACKSETS_PRINCIPAL]
    monkeypatch.setattr(FakeDelegatedAdministrator, "SUPPORTED_SERVICES", supported)


def run(org: Org, *, sts: Any = None, orgs: Any = None, **overrides: Any) -> dict[str, CheckResult]:
    results = run_checks(
        org.options(**overrides),
        sts or client_factory("sts"),
        orgs or client_factory("organizations"),
        client_factory,
    )
    by_name = {r.name: r for r in results}
    assert len(by_name) == len(results), "check names must be unique"
    return by_name


def failed(results: Mapping[str, CheckResult]) -> set[str]:
    return {name for name, r in results.items() if not r.ok}


GREEN = ["caller", "org-id", "trusted-access", "staging-ou", "prod-ou", "ous-differ", "staging-accounts",
         "prod-accounts",
         "management-not-target"]  # fmt: skip


# --- the green organisation --------------------------------------------------------------------------------------


#: A project's own staging-test role (the default --service-roles project), as doctor samples it.
PROJECT_TEST_ROLE = "arn:aws:iam::123456789012:role/mlops-gen/sagemaker-doctor-p-doctor-test"


def test_green_organisation_passes_every_check(org: Org) -> None:
    results = run(org, check_roles=True)
    assert failed(results) == set()
    targets = [org.accounts[n] for n in ("staging-1", "staging-eu-1", "prod-1")]
    assert list(results) == GREEN + [f"target-role:{a}" for a in targets]
    assert "management account 123456789012" in results["caller"].detail
    # the nested OU's account is a staging target: StackSets deploy to nested OUs too
    assert org.accounts["staging-eu-1"] in results["staging-accounts"].detail
    assert "2 active account(s)" in results["staging-accounts"].detail
    assert "1 nested OU(s)" in results["staging-ou"].detail
    role = results["target-role:" + targets[2]]
    assert role.detail == (
        f"prod: instance CURRENT/SUCCEEDED in {REGION}; the trust of arn:aws:iam::{targets[2]}:role/"
        f"{DEFAULT_TARGET_ROLE} admits {PROJECT_TEST_ROLE} and sagemaker.amazonaws.com (read through "
        f"{ACCOUNT_ACCESS_ROLE})"
    )


def test_cli_green_json_and_table(org: Org) -> None:
    args = ["doctor", "--staging-ou", org.staging_ou, "--prod-ou", org.prod_ou, "--region", REGION]
    as_json = runner.invoke(app, [*args, "--json", "--check-roles"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)  # --json prints only JSON
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]][: len(GREEN)] == GREEN
    assert set(report["checks"][0]) == {"name", "ok", "detail", "fix", "warning"}
    assert len(report["checks"]) == len(GREEN) + 3

    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    for name in GREEN:
        assert name in table.stdout
    assert "FAIL" not in table.stdout
    assert "all checks passed" in table.stdout


def test_ou_listing_is_paginated(org: Org) -> None:
    """moto pages ListAccountsForParent by 20: all 25 accounts must be counted."""
    for i in range(24):
        org.add_account(f"prod-{i + 2}", org.prod_ou)
    assert "25 active account(s)" in run(org)["prod-accounts"].detail


# --- one failure at a time ---------------------------------------------------------------------------------------


def test_member_account_caller_fails_and_skips_organisation_checks(org: Org, stacksets_delegation: None) -> None:
    member = member_credentials(org.accounts["prod-1"])
    results = run(
        org,
        sts=client_factory("sts", member),
        orgs=client_factory("organizations", member),
        check_roles=True,
    )
    caller = results["caller"]
    assert not caller.ok
    assert f"account {org.accounts['prod-1']} is neither the management account ({MANAGEMENT})" in caller.detail
    assert MANAGEMENT in caller.fix and "--profile" in caller.fix
    # a plain member may not read the organisation: the rest is reported as not checked, not guessed
    assert list(results) == GREEN
    # (DescribeOrganization, which read_caller needs anyway, tells a member the organisation's id)
    assert all(r.detail.startswith("not checked") for name, r in results.items() if name not in ("caller", "org-id"))


def test_cli_member_account_exits_1(org: Org, stacksets_delegation: None) -> None:
    member = member_credentials(org.accounts["staging-1"])
    env = {
        "AWS_ACCESS_KEY_ID": member["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": member["SecretAccessKey"],
        "AWS_SESSION_TOKEN": member["SessionToken"],
    }
    args = ["doctor", "--staging-ou", org.staging_ou, "--prod-ou", org.prod_ou, "--region", REGION, "--json"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["checks"][0]["name"] == "caller" and not report["checks"][0]["ok"]
    assert org.accounts["staging-1"] in report["checks"][0]["detail"]


def test_delegated_administrator_fails_with_the_codepipeline_limitation(org: Org, stacksets_delegation: None) -> None:
    tooling = org.add_account("tooling", org.root)
    org.orgs.register_delegated_administrator(AccountId=tooling, ServicePrincipal=STACKSETS_PRINCIPAL)
    sts = client_factory("sts", member_credentials(tooling))
    results = run(org, sts=sts)  # organisation reads: see the module docstring
    caller = results["caller"]
    assert not caller.ok
    assert f"account {tooling} is a delegated administrator for StackSets" in caller.detail
    assert "CloudFormationStackSet" in caller.detail
    assert "cloudformation-coverage-roadmap/issues/796" in caller.detail
    assert f"management account {MANAGEMENT}" in caller.fix
    assert "--stackset-admin delegated" in caller.fix
    # a delegated administrator may read the organisation, so the other checks still run
    assert failed(results) == {"caller"}


def test_delegated_administrator_passes_in_delegated_mode(org: Org, stacksets_delegation: None) -> None:
    """Rendered with --stackset-admin delegated, the deploys call the API with CallAs: the caller check passes."""
    from generator.config import StackSetAdmin

    tooling = org.add_account("tooling", org.root)
    org.orgs.register_delegated_administrator(AccountId=tooling, ServicePrincipal=STACKSETS_PRINCIPAL)
    sts = client_factory("sts", member_credentials(tooling))
    results = run(org, sts=sts, stackset_admin=StackSetAdmin.DELEGATED)
    caller = results["caller"]
    assert caller.ok, caller.detail
    assert f"account {tooling} is a registered delegated administrator for StackSets" in caller.detail
    assert "CallAs=DELEGATED_ADMIN" in caller.detail
    assert failed(results) == set()
    # the same caller without the delegated mode still fails (the native action cannot deploy from it)
    assert failed(run(org, sts=sts)) == {"caller"}


def test_delegated_mode_does_not_admit_a_plain_member(org: Org, stacksets_delegation: None) -> None:
    from generator.config import StackSetAdmin

    member = client_factory("sts", member_credentials(org.accounts["staging-1"]))
    assert not run(org, sts=member, stackset_admin=StackSetAdmin.DELEGATED)["caller"].ok


def test_not_delegated_when_only_another_service_delegates_to_the_caller(org: Org) -> None:
    """A delegated administrator for another service (here Service Catalog) is still just a member for StackSets."""
    tooling = org.add_account("tooling", org.root)
    org.orgs.register_delegated_administrator(AccountId=tooling, ServicePrincipal="servicecatalog.amazonaws.com")
    caller = Caller(tooling, f"arn:aws:sts::{tooling}:assumed-role/Admin/me", MANAGEMENT, "ALL")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            FakeDelegatedAdministrator,
            "SUPPORTED_SERVICES",
            [*FakeDelegatedAdministrator.SUPPORTED_SERVICES, STACKSETS_PRINCIPAL],
        )
        result, kind = check_caller(client_factory("organizations"), caller)
    assert kind is CallerKind.MEMBER and not result.ok
    assert "neither the management account" in result.detail


def test_trusted_access_not_enabled(aws: None) -> None:
    org = build_org(trusted_access=False)
    results = run(org)
    assert failed(results) == {"trusted-access"}
    assert STACKSETS_PRINCIPAL in results["trusted-access"].detail
    assert "aws cloudformation activate-organizations-access" in results["trusted-access"].fix


def test_trusted_access_for_other_services_only(aws: None) -> None:
    org = build_org(trusted_access=False)
    org.orgs.enable_aws_service_access(ServicePrincipal="servicecatalog.amazonaws.com")
    assert failed(run(org)) == {"trusted-access"}


def test_consolidated_billing_organisation(aws: None) -> None:
    org = build_org(trusted_access=False, feature_set="CONSOLIDATED_BILLING")
    results = run(org)
    assert failed(results) == {"trusted-access"}
    assert "CONSOLIDATED_BILLING" in results["trusted-access"].detail
    assert "Enable all features" in results["trusted-access"].fix


def test_missing_ou(org: Org) -> None:
    missing = "ou-zz99-99999999"
    results = run(org, prod_ou=missing)
    assert failed(results) == {"prod-ou"}  # and no prod-accounts line: there is no OU to count
    assert "prod-accounts" not in results
    assert results["prod-ou"].detail.startswith(f"{missing}: OrganizationalUnitNotFoundException")
    assert "--prod-ou" in results["prod-ou"].fix
    assert "nesting not checked" in results["ous-differ"].detail


def test_same_ou_twice(org: Org) -> None:
    results = run(org, prod_ou=org.staging_ou)
    assert failed(results) == {"ous-differ"}
    assert results["ous-differ"].detail == f"--staging-ou and --prod-ou are both {org.staging_ou}"


def test_prod_ou_nested_in_staging_ou(org: Org) -> None:
    results = run(org, prod_ou=org.nested_ou)
    assert failed(results) == {"ous-differ"}
    assert f"the prod OU {org.nested_ou} is nested in the staging OU {org.staging_ou}" in results["ous-differ"].detail


def test_staging_ou_nested_in_prod_ou(org: Org) -> None:
    results = run(org, staging_ou=org.nested_ou, prod_ou=org.staging_ou)
    assert failed(results) == {"ous-differ"}
    assert "staging OU" in results["ous-differ"].detail and "nested in the prod OU" in results["ous-differ"].detail


def test_empty_ou(org: Org) -> None:
    empty = org.orgs.create_organizational_unit(ParentId=org.root, Name="empty")["OrganizationalUnit"]["Id"]
    results = run(org, prod_ou=empty)
    assert failed(results) == {"prod-accounts"}
    assert results["prod-accounts"].detail == f"no ACTIVE account in {empty} or its nested OUs"
    assert f"--destination-parent-id {empty}" in results["prod-accounts"].fix


def test_ou_whose_only_account_is_closed(org: Org) -> None:
    org.orgs.close_account(AccountId=org.accounts["prod-1"])
    results = run(org, check_roles=True)
    assert failed(results) == {"prod-accounts"}
    assert f"found only {org.accounts['prod-1']} (SUSPENDED)" in results["prod-accounts"].detail
    assert f"target-role:{org.accounts['prod-1']}" not in results  # a closed account is no target


def test_management_account_moved_into_a_target_ou(org: Org) -> None:
    org.orgs.move_account(AccountId=MANAGEMENT, SourceParentId=org.root, DestinationParentId=org.nested_ou)
    results = run(org, check_roles=True)
    assert failed(results) == {"management-not-target"}
    result = results["management-not-target"]
    assert f"management account {MANAGEMENT} is inside the staging OU ({org.staging_ou})" in result.detail
    assert f"--account-id {MANAGEMENT}" in result.fix
    # StackSets skip it: it is neither counted as a staging account nor a role target
    assert "2 active account(s)" in results["staging-accounts"].detail
    assert f"target-role:{MANAGEMENT}" not in results


def test_management_account_alone_in_an_ou_is_no_target(org: Org) -> None:
    alone = org.orgs.create_organizational_unit(ParentId=org.root, Name="alone")["OrganizationalUnit"]["Id"]
    org.orgs.move_account(AccountId=MANAGEMENT, SourceParentId=org.root, DestinationParentId=alone)
    results = run(org, prod_ou=alone)
    assert failed(results) == {"prod-accounts", "management-not-target"}


def test_roles_are_not_checked_without_the_flag(org: Org) -> None:
    org.add_account("prod-2", org.prod_ou)
    results = run(org)
    assert failed(results) == set()
    assert not [name for name in results if name.startswith("target-role:")]


def test_cli_check_roles_failure_exits_1_with_table(org: Org) -> None:
    bare = org.add_account("staging-2", org.staging_ou)
    args = ["doctor", "--staging-ou", org.staging_ou, "--prod-ou", org.prod_ou, "--region", REGION, "--check-roles"]
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 1
    assert "FAIL" in result.stdout
    assert f"1 failed: target-role:{bare}" in result.stdout


# --- --check-roles: stack instances and the role's trust, per target account ---------------------------------------


def set_trust(org: Org, name: str, trust: Mapping[str, Any]) -> None:
    """Replace the target role's trust in one account, as an administrator there could."""
    org.member_iam(name).update_assume_role_policy(RoleName=DEFAULT_TARGET_ROLE, PolicyDocument=json.dumps(trust))


def generated_trust(org: Org, name: str) -> dict[str, Any]:
    document = org.member_iam(name).get_role(RoleName=DEFAULT_TARGET_ROLE)["Role"]["AssumeRolePolicyDocument"]
    return json.loads(document) if isinstance(document, str) else dict(document)


def test_account_without_a_stack_instance(org: Org) -> None:
    bare = org.add_account("prod-2", org.prod_ou)  # joined after the deployment; moto has no auto-deployment
    results = run(org, check_roles=True)
    assert failed(results) == {f"target-role:{bare}"}
    result = results[f"target-role:{bare}"]
    assert result.detail == f"prod: no instance of stack set {STACK_SET} (CallAs SELF) in account {bare}"
    assert "target-role-stackset.yaml" in result.fix and f"--stack-set-name {STACK_SET}" in result.fix
    assert results[f"target-role:{org.accounts['prod-1']}"].ok


def test_stack_set_not_deployed(aws: None) -> None:
    org = build_org(deploy=False)
    results = run(org, check_roles=True)
    roles = {name for name in results if name.startswith("target-role:")}
    assert failed(results) == roles and len(roles) == 3
    result = results[f"target-role:{org.accounts['prod-1']}"]
    assert "StackSetNotFoundException" in result.detail and STACK_SET in result.detail
    assert "target-role-stackset.yaml" in result.fix


def test_stack_set_is_named_by_the_renders_prefix(aws: None) -> None:
    org = build_org(deploy=False)
    org.deploy_target_role(name_prefix="sagemaker-acme-")
    assert failed(run(org, check_roles=True))  # the default prefix names another stack set
    assert failed(run(org, check_roles=True, name_prefix="sagemaker-acme-")) == set()


def test_trust_that_does_not_admit_the_codebuild_role(aws: None) -> None:
    """The shared CodeBuild role (--service-roles per-service): the trust names it, by parameter."""
    org = build_org(deploy=False)
    org.deploy_target_role(service_roles="per-service")
    trust = generated_trust(org, "staging-eu-1")
    (pipeline,) = [s for s in trust["Statement"] if s["Sid"] == "PipelineRolesTestEndpoints"]
    other = f"arn:aws:iam::{MANAGEMENT}:role/service-role/{USE_ROLE}"
    pipeline["Condition"] = {"ArnEquals": {"aws:PrincipalArn": other}}
    set_trust(org, "staging-eu-1", trust)
    results = run(org, check_roles=True, service_roles=ServiceRoles.PER_SERVICE)
    account = org.accounts["staging-eu-1"]
    assert failed(results) == {f"target-role:{account}"}
    result = results[f"target-role:{account}"]
    assert f"does not let {BUILD_ROLE} assume it (no statement allows it)" in result.detail
    assert "sagemaker.amazonaws.com" not in result.detail  # SageMaker is still admitted
    assert "--service-roles" in result.fix and f"PipelineRoleName {PER_SERVICE_ROLES['build']}" in result.fix
    assert results[f"target-role:{org.accounts['staging-1']}"].ok


def test_rendered_with_use_role_but_checked_per_service(aws: None) -> None:
    org = build_org(deploy=False)
    org.deploy_target_role(service_roles="use-role")
    roles = {f"target-role:{account}" for account in org.accounts.values()}
    assert failed(run(org, check_roles=True)) == roles
    green = run(org, check_roles=True, service_roles=ServiceRoles.USE_ROLE)
    assert failed(green) == set()
    assert f"role/service-role/{USE_ROLE}" in green[f"target-role:{org.accounts['prod-1']}"].detail


def test_trust_without_sagemaker_fails(org: Org) -> None:
    trust = generated_trust(org, "prod-1")
    trust["Statement"] = [s for s in trust["Statement"] if s["Sid"] != "SageMakerRunsEndpoints"]
    set_trust(org, "prod-1", trust)
    result = run(org, check_roles=True)[f"target-role:{org.accounts['prod-1']}"]
    assert not result.ok
    assert "does not let sagemaker.amazonaws.com assume it" in result.detail
    assert BUILD_ROLE not in result.detail.split("(read through")[1]  # the CodeBuild role is still admitted


def test_trust_with_a_condition_doctor_cannot_evaluate_is_reported(org: Org) -> None:
    trust = generated_trust(org, "prod-1")
    (pipeline,) = [s for s in trust["Statement"] if s["Sid"] == "PipelineRolesTestEndpoints"]
    pipeline["Condition"]["StringEquals"] = {"aws:PrincipalTag/team": "ml-platform"}
    set_trust(org, "prod-1", trust)
    result = run(org, check_roles=True)[f"target-role:{org.accounts['prod-1']}"]
    assert not result.ok  # reported, not passed
    assert "trust:PipelineRolesTestEndpoints has condition(s) doctor cannot evaluate" in result.detail
    assert "aws:PrincipalTag/team" in result.detail
    assert "check them by hand" in result.fix and "--service-roles" not in result.fix


def test_target_role_deleted_by_hand(org: Org) -> None:
    iam = org.member_iam("prod-1")
    for policy in iam.list_role_policies(RoleName=DEFAULT_TARGET_ROLE)["PolicyNames"]:
        iam.delete_role_policy(RoleName=DEFAULT_TARGET_ROLE, PolicyName=policy)
    iam.delete_role(RoleName=DEFAULT_TARGET_ROLE)
    result = run(org, check_roles=True)[f"target-role:{org.accounts['prod-1']}"]
    assert not result.ok
    assert "instance CURRENT/SUCCEEDED" in result.detail and "NoSuchEntity" in result.detail
    assert "--target-role-name" in result.fix


def test_cli_check_roles_reads_service_roles_from_mlops_gen_toml(
    aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = build_org(deploy=False)
    org.deploy_target_role(service_roles="use-role")
    config = f'staging-ou = "{org.staging_ou}"\nprod-ou = "{org.prod_ou}"\nregion = "{REGION}"\n'
    (tmp_path / "mlops-gen.toml").write_text(config + 'service-roles = "use-role"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["doctor", "--check-roles", "--json"])
    assert result.exit_code == 0, result.output
    # the flag wins over the file
    result = runner.invoke(app, ["doctor", "--check-roles", "--json", "--service-roles", "per-service"])
    assert result.exit_code == 1
    bad = [c for c in json.loads(result.stdout)["checks"] if not c["ok"]]
    assert len(bad) == 3 and all(PER_SERVICE_ROLES["build"] in c["detail"] for c in bad)


# --- answers only real IAM and Organizations give (Stubber) ---------------------------------------------------------

CALLER = Caller("111122223333", "arn:aws:sts::111122223333:assumed-role/Admin/me", MANAGEMENT, "ALL")


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name=REGION, aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    return client, Stubber(client)


def test_plain_member_is_denied_listing_delegated_administrators() -> None:
    orgs, stub = stubbed("organizations")
    stub.add_client_error(
        "list_delegated_administrators",
        service_error_code="AccessDeniedException",
        service_message="You don't have permissions to access this resource.",
        http_status_code=400,
        expected_params={"ServicePrincipal": STACKSETS_PRINCIPAL},
    )
    with stub:
        result, kind = check_caller(orgs, CALLER)
    stub.assert_no_pending_responses()
    assert kind is CallerKind.MEMBER and not result.ok
    assert "AccessDeniedException" in result.detail
    assert "only the management account and delegated administrators may list" in result.detail


def test_delegated_administrator_from_the_real_response_shape() -> None:
    orgs, stub = stubbed("organizations")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    admin = {
        "Id": CALLER.account,
        "Arn": f"arn:aws:organizations::{MANAGEMENT}:account/o-exampleorgid/{CALLER.account}",
        "Email": "tooling@example.com",
        "Name": "tooling",
        "Status": "ACTIVE",
        "State": "ACTIVE",
        "JoinedMethod": "CREATED",
        "JoinedTimestamp": when,
        "DelegationEnabledDate": when,
    }
    # two pages: the paginator must follow NextToken
    stub.add_response(
        "list_delegated_administrators",
        {"DelegatedAdministrators": [{**admin, "Id": "777788889999"}], "NextToken": "page-2"},
        {"ServicePrincipal": STACKSETS_PRINCIPAL},
    )
    stub.add_response(
        "list_delegated_administrators",
        {"DelegatedAdministrators": [admin]},
        {"ServicePrincipal": STACKSETS_PRINCIPAL, "NextToken": "page-2"},
    )
    with stub:
        result, kind = check_caller(orgs, CALLER)
    stub.assert_no_pending_responses()
    assert kind is CallerKind.DELEGATED_ADMIN and not result.ok


def stack_instance(account: str, status: str, detailed: str, reason: str | None, ou: str) -> dict[str, Any]:
    """One StackInstanceSummary, every field ListStackInstances returns."""
    summary: dict[str, Any] = {
        "StackSetId": f"{STACK_SET}:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "Region": REGION,
        "Account": account,
        "StackId": f"arn:aws:cloudformation:{REGION}:{account}:stack/StackSet-{STACK_SET}-0f1e2d3c/4b5a6978",
        "Status": status,
        "StackInstanceStatus": {"DetailedStatus": detailed},
        "OrganizationalUnitId": ou,
        "DriftStatus": "NOT_CHECKED",
        "LastOperationId": "7c3a9b1e-2d4f-4e6a-8b0c-1d2e3f4a5b6c",
    }
    if reason is not None:
        summary["StatusReason"] = reason
    return summary


def test_inoperable_and_failed_instances_are_reported_per_account(org: Org) -> None:
    cfn, stub = stubbed("cloudformation")
    staging, nested, prod = (org.accounts[n] for n in ("staging-1", "staging-eu-1", "prod-1"))
    # StatusReason texts as StackSets writes them
    execution = "stacksets-exec-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    inoperable = f"Account {staging} should have '{execution}' role with trust relationship to CloudFormation service."
    failed_reason = (
        "ResourceLogicalId:TargetRole, ResourceType:AWS::IAM::Role, "
        f"ResourceStatusReason:{DEFAULT_TARGET_ROLE} already exists."
    )
    params = {"StackSetName": STACK_SET, "CallAs": "SELF"}
    # two pages: the paginator must follow NextToken
    stub.add_response(
        "list_stack_instances",
        {
            "Summaries": [
                stack_instance(staging, "INOPERABLE", "INOPERABLE", inoperable, org.staging_ou),
                stack_instance(nested, "CURRENT", "SUCCEEDED", None, org.nested_ou),
            ],
            "NextToken": "page-2",
        },
        params,
    )
    stub.add_response(
        "list_stack_instances",
        {"Summaries": [stack_instance(prod, "OUTDATED", "FAILED", failed_reason, org.prod_ou)]},
        {**params, "NextToken": "page-2"},
    )

    def factory(service: str, credentials: Mapping[str, Any] | None = None) -> Any:
        return cfn if service == "cloudformation" else client_factory(service, credentials)

    with stub:
        results = run_checks(
            org.options(check_roles=True), client_factory("sts"), client_factory("organizations"), factory
        )
    stub.assert_no_pending_responses()
    by_name = {r.name: r for r in results}
    assert failed(by_name) == {f"target-role:{staging}", f"target-role:{prod}"}
    bad = by_name[f"target-role:{staging}"]
    assert f"{REGION} INOPERABLE/INOPERABLE: {inoperable}" in bad.detail
    assert "stack-set execution trust" in bad.fix and "AWSServiceRoleForCloudFormationStackSetsOrgMember" in bad.fix
    bad = by_name[f"target-role:{prod}"]
    assert f"{REGION} OUTDATED/FAILED: {failed_reason}" in bad.detail
    assert "update-stack-set" in bad.fix and "ParameterKey=PipelineAccountId,UsePreviousValue=true" in bad.fix
    assert "admits" in by_name[f"target-role:{nested}"].detail  # the good one's trust was read (moto)


def test_running_operation_says_wait(org: Org) -> None:
    cfn, stub = stubbed("cloudformation")
    accounts = {org.accounts["prod-1"]: "prod"}
    summary = stack_instance(org.accounts["prod-1"], "OUTDATED", "RUNNING", "User Initiated", org.prod_ou)
    stub.add_response("list_stack_instances", {"Summaries": [summary]}, {"StackSetName": STACK_SET, "CallAs": "SELF"})
    caller = Caller(MANAGEMENT, f"arn:aws:sts::{MANAGEMENT}:assumed-role/Admin/me", MANAGEMENT, "ALL")

    with stub:
        (result,) = check_target_roles(
            org.options(), caller, CallerKind.MANAGEMENT, client_factory("sts"), lambda s, c=None: cfn, accounts
        )
    assert not result.ok and "OUTDATED/RUNNING: User Initiated" in result.detail
    assert result.fix.startswith("A stack set operation is still running")


def test_delegated_administrator_lists_instances_as_delegated_admin() -> None:
    """A stack set a delegated administrator made is only visible with CallAs=DELEGATED_ADMIN."""
    cfn, cfn_stub = stubbed("cloudformation")
    sts, sts_stub = stubbed("sts")
    account = "444455556666"
    cfn_stub.add_response(
        "list_stack_instances",
        {"Summaries": [stack_instance(account, "CURRENT", "SUCCEEDED", None, "ou-ab12-22222222")]},
        {"StackSetName": STACK_SET, "CallAs": "DELEGATED_ADMIN"},
    )
    # OrganizationAccountAccessRole trusts the management account only: a delegated administrator may not assume it
    access = f"arn:aws:iam::{account}:role/{ACCOUNT_ACCESS_ROLE}"
    message = f"User: {CALLER.arn} is not authorized to perform: sts:AssumeRole on resource: {access}"
    sts_stub.add_client_error(
        "assume_role",
        "AccessDenied",
        message,
        403,
        expected_params={"RoleArn": access, "RoleSessionName": "mlops-gen-doctor", "DurationSeconds": 900},
    )
    options = DoctorOptions(
        "ou-ab12-11111111", "ou-ab12-22222222", REGION, DEFAULT_TARGET_ROLE, True, StackSetAdmin.DELEGATED
    )
    with cfn_stub, sts_stub:
        (result,) = check_target_roles(
            options, CALLER, CallerKind.DELEGATED_ADMIN, sts, lambda s, c=None: cfn, {account: "prod"}
        )
    cfn_stub.assert_no_pending_responses()
    sts_stub.assert_no_pending_responses()
    assert result.ok, result  # the instance is CURRENT/SUCCEEDED: not being able to look closer is no failure
    assert result.detail == (
        f"prod: instance CURRENT/SUCCEEDED in {REGION}; trust not inspected: cannot assume {access} "
        f"(AccessDenied: {message})"
    )


def test_access_role_not_assumable_is_reported_not_failed(org: Org) -> None:
    """A custom --account-access-role (e.g. Control Tower's) that the caller may not assume."""
    sts, stub = stubbed("sts")
    stub.add_response(
        "get_caller_identity",
        {"UserId": "AIDAEXAMPLEEXAMPLE01", "Account": MANAGEMENT, "Arn": f"arn:aws:iam::{MANAGEMENT}:user/platform"},
        {},
    )
    targets = [org.accounts[n] for n in ("staging-1", "staging-eu-1", "prod-1")]
    for account in targets:
        access = f"arn:aws:iam::{account}:role/AWSControlTowerExecution"
        stub.add_client_error(
            "assume_role",
            "AccessDenied",
            f"User: arn:aws:iam::{MANAGEMENT}:user/platform is not authorized to perform: sts:AssumeRole on "
            f"resource: {access}",
            403,
            expected_params={"RoleArn": access, "RoleSessionName": "mlops-gen-doctor", "DurationSeconds": 900},
        )
    with stub:
        results = run(org, sts=sts, check_roles=True, account_access_role="AWSControlTowerExecution")
    stub.assert_no_pending_responses()
    assert failed(results) == set()
    for account in targets:
        detail = results[f"target-role:{account}"].detail
        assert f"trust not inspected: cannot assume arn:aws:iam::{account}:role/AWSControlTowerExecution" in detail


# --- errors before any check ---------------------------------------------------------------------------------------


def test_no_credentials_is_one_line(tmp_path: Path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
        "AWS_WEB_IDENTITY_TOKEN_FILE": None,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    args = ["doctor", "--staging-ou", "ou-ab12-11111111", "--prod-ou", "ou-ab12-22222222", "--region", REGION]
    result = runner.invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 2  # a setup problem of the user's, as in every command
    assert json.loads(result.stdout)["error"]["flag"] == "credentials"  # --json: the error object only
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: credentials: no AWS credentials")


def test_unknown_profile_is_an_input_error(aws: None) -> None:
    args = ["doctor", "--staging-ou", "ou-ab12-11111111", "--prod-ou", "ou-ab12-22222222", "--region", REGION]
    result = runner.invoke(app, [*args, "--profile", "no-such-profile"])
    assert result.exit_code == 2
    assert "--profile: no AWS profile named 'no-such-profile'" in result.stderr


def test_account_outside_any_organisation(aws: None) -> None:
    with pytest.raises(DoctorError, match="not in an AWS organisation"):
        doctor.read_caller(client_factory("sts"), client_factory("organizations"))


def test_bad_ou_id_exits_2_naming_the_flag(aws: None) -> None:
    result = runner.invoke(
        app, ["doctor", "--staging-ou", "ou-AB", "--prod-ou", "ou-ab12-22222222", "--region", REGION]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --staging-ou: must be an organizational unit id")


def test_ous_and_role_name_come_from_mlops_gen_toml(org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mlops-gen.toml").write_text(
        f'staging-ou = "{org.staging_ou}"\nprod-ou = "{org.prod_ou}"\nregion = "{REGION}"\n'
        'target-role-name = "sagemaker-acme-deployer"\nformat = "json"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["doctor", "--check-roles", "--json"])
    assert result.exit_code == 1  # the accounts have the default role, not sagemaker-acme-deployer
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["staging-ou"]["ok"] and checks["prod-ou"]["ok"]
    role_checks = [c for name, c in checks.items() if name.startswith("target-role:")]
    assert len(role_checks) == 3 and not any(c["ok"] for c in role_checks)
    assert all("role/sagemaker-acme-deployer" in c["detail"] for c in role_checks)


def test_doctor_options_reject_bad_role_name() -> None:
    from generator.errors import InputError

    flags = {"staging-ou": "ou-ab12-11111111", "prod-ou": "ou-ab12-22222222", "region": REGION}
    with pytest.raises(InputError, match="--target-role-name"):
        doctor.doctor_options({**flags, "target-role-name": "bad role"}, {}, environ={})
    same = doctor.doctor_options({**flags, "prod-ou": "ou-ab12-11111111"}, {}, environ={})
    assert same.staging_ou == same.prod_ou  # equal OUs are a check, not an input error


def test_doctor_options_for_check_roles() -> None:
    from generator.errors import InputError

    flags = {"staging-ou": "ou-ab12-11111111", "prod-ou": "ou-ab12-22222222", "region": REGION}
    with pytest.raises(InputError, match="--account-access-role"):
        doctor.doctor_options({**flags, "account-access-role": "no spaces"}, {}, environ={})
    with pytest.raises(InputError, match=r"--name-prefix \(name-prefix in the config file\)"):
        doctor.doctor_options(flags, {"name-prefix": "acme-"}, environ={})
    options = doctor.doctor_options(flags, {"service-roles": "use-role", "name-prefix": "sagemaker-acme-"}, environ={})
    assert options.service_roles is ServiceRoles.USE_ROLE and options.name_prefix == "sagemaker-acme-"
    assert options.account_access_role == ACCOUNT_ACCESS_ROLE


def test_console_script_against_a_moto_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """--endpoint-url and the installed `mlops-gen` in its own process: the wiring of real clients."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10)
        fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": url}
        for name, value in fake.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        org = build_org()
        bare = org.add_account("prod-2", org.prod_ou)
        monkeypatch.delenv("AWS_ENDPOINT_URL")  # from here on only --endpoint-url points at the server
        script = shutil.which("mlops-gen", path=str(Path(sys.executable).parent)) or "mlops-gen"
        args = [script, "doctor", "--staging-ou", org.staging_ou, "--prod-ou", org.prod_ou, "--region", REGION]
        args += ["--check-roles", "--json", "--endpoint-url", url]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 1, proc.stderr
        report = json.loads(proc.stdout)
        assert {c["name"] for c in report["checks"] if not c["ok"]} == {f"target-role:{bare}"}
        assert len(report["checks"]) == len(GREEN) + 4
    finally:
        server.stop()


# --- the organisation id (--org-id) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "says"),
    [
        (None, "has no OrganizationId default, so every Studio user would have to type it: render again with --org-id"),
        ("o-zzzzzzzzzz", "was rendered with --org-id o-zzzzzzzzzz, but this organisation is"),
    ],
)
def test_check_org_id_says_why_a_render_does_not_fit(expected: str | None, says: str) -> None:
    problem = check_org_id(expected, "o-a1b2c3d4e5")
    assert problem is not None and says in problem and problem.endswith("render again with --org-id o-a1b2c3d4e5")
    assert check_org_id("o-a1b2c3d4e5", "o-a1b2c3d4e5") is None


def test_org_id_check_against_describe_organization(org: Org) -> None:
    actual = boto3.client("organizations").describe_organization()["Organization"]["Id"]
    assert run(org)["org-id"] == CheckResult(
        "org-id", True, f"organisation {actual}: render (and doctor) with --org-id {actual}"
    )
    assert run(org, org_id=actual)["org-id"].ok
    wrong = run(org, org_id="o-zzzzzzzzzz")["org-id"]
    assert not wrong.ok and wrong.fix == f"render again with --org-id {actual}" and actual in wrong.detail


def test_cli_org_id_is_validated_naming_the_flag(org: Org) -> None:
    args = ["doctor", "--staging-ou", org.staging_ou, "--prod-ou", org.prod_ou, "--region", REGION]
    result = runner.invoke(app, [*args, "--org-id", "o-UPPER"])
    assert result.exit_code == 2 and "--org-id" in result.output
