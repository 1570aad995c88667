"""Deploy one stage's stack set through the CloudFormation API (the pipeline's deploy mode "api").

CodeBuild runs this from the repository root (see deploy/buildspec.yml) when CodePipeline's own
CloudFormationStackSet action cannot do the job: from a delegated StackSets administrator account
(every call carries `CallAs=DELEGATED_ADMIN`, which the action cannot send), or with accounts chosen
inside the stage's OU (`AccountFilterType` INTERSECTION, which the action cannot express).

It reads the same files the native action reads, from the BuildArtifact folder: the endpoint
template and the stage's parameter file (a JSON list of ParameterKey/ParameterValue). Then:

1. creates the stack set if it does not exist (`DescribeStackSet` answers StackSetNotFoundException),
   else updates it (every existing instance gets the new template and parameters);
2. creates the stack instances still missing: the OU's (or the listed accounts') in each region;
3. waits for each operation with a bounded waiter, in the regions' order (`RegionOrder`).

On a failed or stopped operation it prints every failed instance's account, region, status and
reason, and exits 1. Every AWS call is declared in permissions.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from botocore.waiter import WaiterModel, create_waiter_with_client

#: There is no boto3 waiter for stack-set operations: the model beside this file polls
#: DescribeStackSetOperation (`mlops-gen destroy` uses the same file).
WAITER_FILE = Path(__file__).with_name("stackset-operation-waiter.json")
WAITER_MODEL: dict[str, Any] = json.loads(WAITER_FILE.read_text(encoding="utf-8"))
(WAITER_NAME,) = WAITER_MODEL["waiters"]
WAITER_DELAY: int = WAITER_MODEL["waiters"][WAITER_NAME]["delay"]
WAITER_MAX_ATTEMPTS: int = WAITER_MODEL["waiters"][WAITER_NAME]["maxAttempts"]
CALL_AS_VALUES = ("SELF", "DELEGATED_ADMIN")
FILTER_TYPES = ("NONE", "INTERSECTION")
REGION_CONCURRENCY = ("PARALLEL", "SEQUENTIAL")
#: Accounts deployed at MaxConcurrentPercentage, not at failure tolerance + 1 (see `Environment.preferences`).
CONCURRENCY_MODE = "SOFT_FAILURE_TOLERANCE"


class DeployError(RuntimeError):
    """A failure the deploy reports as is (its message names what failed)."""


@dataclass(frozen=True)
class DeployEnv:
    """The CodeBuild environment this script reads (declared by the deploy projects of the template)."""

    stage: str
    stack_set: str
    description: str
    template_file: str
    parameters_file: str
    call_as: str
    ous: tuple[str, ...]
    accounts: tuple[str, ...]
    account_filter: str
    auto_deployment: bool
    regions: tuple[str, ...]
    failure_tolerance: int
    max_concurrent: int
    region_concurrency: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DeployEnv:
        def need(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise DeployError(f"environment variable {name} is not set (it comes from the CodeBuild project)")
            return value

        def one_of(name: str, allowed: tuple[str, ...]) -> str:
            value = need(name)
            if value not in allowed:
                raise DeployError(f"environment variable {name} must be one of {', '.join(allowed)}, got {value!r}")
            return value

        def listed(name: str) -> tuple[str, ...]:
            return tuple(v.strip() for v in environ.get(name, "").split(",") if v.strip())

        def percentage(name: str) -> int:
            value = need(name)
            if not value.isdigit() or not 0 <= int(value) <= 100:
                raise DeployError(f"environment variable {name} must be a whole number from 0 to 100, got {value!r}")
            return int(value)

        account_filter = one_of("DEPLOY_ACCOUNT_FILTER_TYPE", FILTER_TYPES)
        accounts = listed("DEPLOY_ACCOUNT_IDS")
        if account_filter != "NONE" and not accounts:
            raise DeployError(f"DEPLOY_ACCOUNT_FILTER_TYPE is {account_filter} but DEPLOY_ACCOUNT_IDS lists no account")
        ous, regions = listed("DEPLOY_OU_IDS"), listed("DEPLOY_REGIONS")
        if not ous or not regions:
            raise DeployError(
                "environment variables DEPLOY_OU_IDS and DEPLOY_REGIONS must each list at least one value"
            )
        return cls(
            stage=need("STAGE"),
            stack_set=need("STACK_SET_NAME"),
            description=environ.get("STACK_SET_DESCRIPTION", "").strip(),
            template_file=need("EXPORT_TEMPLATE_NAME"),
            parameters_file=need("STACK_SET_PARAMETERS_FILE"),
            call_as=one_of("STACK_SET_CALL_AS", CALL_AS_VALUES),
            ous=ous,
            accounts=accounts,
            account_filter=account_filter,
            auto_deployment=need("DEPLOY_AUTO_DEPLOYMENT").lower() == "true",
            regions=regions,
            failure_tolerance=percentage("FAILURE_TOLERANCE_PERCENTAGE"),
            max_concurrent=max(1, percentage("MAX_CONCURRENT_PERCENTAGE")),
            region_concurrency=one_of("REGION_CONCURRENCY_TYPE", REGION_CONCURRENCY),
        )

    def preferences(self) -> dict[str, Any]:
        """OperationPreferences: the tolerance and concurrency chosen at render time, regions in order.

        SOFT_FAILURE_TOLERANCE: under the default (STRICT) the concurrency is at most the failure tolerance + 1,
        so with a tolerance of 0 one account at a time, whatever MaxConcurrentPercentage says
        (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html).
        """
        return {
            "FailureTolerancePercentage": self.failure_tolerance,
            "MaxConcurrentPercentage": self.max_concurrent,
            "ConcurrencyMode": CONCURRENCY_MODE,
            "RegionConcurrencyType": self.region_concurrency,
            "RegionOrder": list(self.regions),
        }

    def targets(self, accounts: tuple[str, ...] | None = None) -> dict[str, Any]:
        """DeploymentTargets: the OUs, narrowed to `accounts` (default: the listed ones) when filtering."""
        targets: dict[str, Any] = {"OrganizationalUnitIds": list(self.ous)}
        if self.account_filter != "NONE":
            targets["Accounts"] = list(self.accounts if accounts is None else accounts)
            targets["AccountFilterType"] = self.account_filter
        return targets


def operation_waiter(cfn: Any, delay: int = WAITER_DELAY, max_attempts: int = WAITER_MAX_ATTEMPTS) -> Any:
    """A botocore waiter on DescribeStackSetOperation: success SUCCEEDED, failure FAILED or STOPPED."""
    model = json.loads(json.dumps(WAITER_MODEL))
    model["waiters"][WAITER_NAME].update({"delay": delay, "maxAttempts": max_attempts})
    return create_waiter_with_client(WAITER_NAME, WaiterModel(model), cfn)


def failed_instances(cfn: Any, stack_set: str, operation_id: str, call_as: str) -> list[str]:
    """One line per instance of the operation that did not succeed: account, region, status and reason."""
    lines = []
    paginator = cfn.get_paginator("list_stack_set_operation_results")
    for page in paginator.paginate(StackSetName=stack_set, OperationId=operation_id, CallAs=call_as):
        for result in page.get("Summaries", []):
            if result.get("Status") == "SUCCEEDED":
                continue
            reason = result.get("StatusReason") or result.get("AccountGateResult", {}).get("StatusReason") or ""
            lines.append(
                f"account {result.get('Account', '?')}, region {result.get('Region', '?')}: "
                f"{result.get('Status', '?')}{': ' + reason if reason else ''}"
            )
    return lines


def wait_for(cfn: Any, env: DeployEnv, operation_id: str, what: str, waiter: Any) -> None:
    """Wait for one operation; on failure print the failed instances and raise DeployError."""
    print(f"waiting for {what} (operation {operation_id})", flush=True)
    try:
        waiter.wait(StackSetName=env.stack_set, OperationId=operation_id, CallAs=env.call_as)
    except WaiterError as exc:
        status, reason = "UNKNOWN", str(exc)
        try:
            operation = cfn.describe_stack_set_operation(
                StackSetName=env.stack_set, OperationId=operation_id, CallAs=env.call_as
            )["StackSetOperation"]
            status, reason = operation.get("Status", status), operation.get("StatusReason", reason)
        except ClientError as described:
            reason = f"{reason}; DescribeStackSetOperation: {described}"
        lines = failed_instances(cfn, env.stack_set, operation_id, env.call_as)
        for line in lines:
            print(f"FAILED {line}", file=sys.stderr)
        raise DeployError(
            f"stack set {env.stack_set}: {what} ended {status} ({reason}); {len(lines)} instance(s) did not succeed"
        ) from None
    print(f"{what}: SUCCEEDED", flush=True)


def existing_instances(cfn: Any, env: DeployEnv) -> set[tuple[str, str]]:
    """(account, region) of every instance the stack set has."""
    found = set()
    paginator = cfn.get_paginator("list_stack_instances")
    for page in paginator.paginate(StackSetName=env.stack_set, CallAs=env.call_as):
        found |= {(i["Account"], i["Region"]) for i in page.get("Summaries", [])}
    return found


def stack_set_exists(cfn: Any, env: DeployEnv) -> bool:
    try:
        status = cfn.describe_stack_set(StackSetName=env.stack_set, CallAs=env.call_as)["StackSet"].get("Status")
    except cfn.exceptions.StackSetNotFoundException:
        return False
    return status != "DELETED"


def missing_targets(env: DeployEnv, existing: set[tuple[str, str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(accounts, regions) to create instances for; accounts is () for a whole OU.

    With listed accounts the missing pairs are known exactly. For a whole OU only the regions without
    any instance are: accounts joining the OU later are auto-deployment's job.
    """
    if env.account_filter != "NONE":
        missing = {(a, r) for a in env.accounts for r in env.regions} - existing
        accounts = tuple(a for a in env.accounts if any(m[0] == a for m in missing))
        return accounts, tuple(r for r in env.regions if any(m[1] == r for m in missing))
    covered = {region for _, region in existing}
    return (), tuple(r for r in env.regions if r not in covered)


def deploy(cfn: Any, env: DeployEnv, template: str, parameters: list[dict[str, str]], waiter: Any) -> dict[str, Any]:
    """Create or update the stack set, add missing instances, wait for each operation."""
    common: dict[str, Any] = {"StackSetName": env.stack_set, "TemplateBody": template, "Parameters": parameters}
    if env.description:
        common["Description"] = env.description
    auto = {"Enabled": env.auto_deployment}
    if env.auto_deployment:
        auto["RetainStacksOnAccountRemoval"] = False
    summary: dict[str, Any] = {"stack_set": env.stack_set, "call_as": env.call_as}
    if stack_set_exists(cfn, env):
        operation = cfn.update_stack_set(
            **common, AutoDeployment=auto, OperationPreferences=env.preferences(), CallAs=env.call_as
        )["OperationId"]
        summary["stack_set_action"] = "updated"
        wait_for(cfn, env, operation, "the update of every existing instance", waiter)
    else:
        cfn.create_stack_set(**common, PermissionModel="SERVICE_MANAGED", AutoDeployment=auto, CallAs=env.call_as)
        summary["stack_set_action"] = "created"
        print(f"created stack set {env.stack_set} (CallAs {env.call_as})", flush=True)
    accounts, regions = missing_targets(env, existing_instances(cfn, env))
    if regions:
        operation = cfn.create_stack_instances(
            StackSetName=env.stack_set,
            DeploymentTargets=env.targets(accounts or None),
            Regions=list(regions),
            OperationPreferences=env.preferences(),
            CallAs=env.call_as,
        )["OperationId"]
        where = f"OU {', '.join(env.ous)}" + (f" accounts {', '.join(accounts)}" if accounts else "")
        wait_for(cfn, env, operation, f"new instances in {where}, regions {', '.join(regions)}", waiter)
    summary["created_instances"] = {"accounts": list(accounts), "regions": list(regions)}
    summary["instances"] = sorted(f"{a}/{r}" for a, r in existing_instances(cfn, env))
    return summary


def read_inputs(env: DeployEnv, artifact_dir: Path) -> tuple[str, list[dict[str, str]]]:
    """The template and the parameter list the build step wrote into BuildArtifact."""
    try:
        template = (artifact_dir / env.template_file).read_text(encoding="utf-8")
        text = (artifact_dir / env.parameters_file).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DeployError(f"{exc.filename}: not in the BuildArtifact folder {artifact_dir}") from None
    try:
        parameters = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DeployError(f"{env.parameters_file}: not JSON ({exc})") from None
    if not isinstance(parameters, list) or not all(
        isinstance(p, dict) and set(p) == {"ParameterKey", "ParameterValue"} for p in parameters
    ):
        raise DeployError(f"{env.parameters_file}: expected a JSON list of ParameterKey/ParameterValue objects")
    return template, parameters


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, cfn: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact-dir", type=Path, required=True, help="the BuildArtifact folder")
    args = parser.parse_args(argv)
    try:
        env = DeployEnv.from_environ(os.environ if environ is None else environ)
        template, parameters = read_inputs(env, args.artifact_dir)
        if cfn is None:
            import boto3

            cfn = boto3.client("cloudformation")
        summary = deploy(cfn, env, template, parameters, operation_waiter(cfn))
    except DeployError as exc:
        print(f"deploy failed: {exc}", file=sys.stderr)
        return 1
    except ClientError as exc:
        print(f"deploy failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
