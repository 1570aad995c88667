"""Staging test of the deployment pipeline: every staging endpoint answers correctly and fast enough.

CodeBuild runs this from the repository root (see test/buildspec.yml) with the environment the project
template declares. For every ACTIVE account of the staging organizational unit and of its child OUs,
and every deploy region, it assumes the stage's role in that account, waits (bounded) for the endpoint
to be InService, sends iris rows as CSV, checks each prediction (a class 0-2, or three probabilities
summing to 1) and compares the p95 latency with the stage config's limit.

It writes a JUnit XML report (shown in CodeBuild's Reports tab) and a JSON summary, and exits 1 if any
account or region failed, naming the account, the region and the reason. With `--variables FILE` it
also writes the summary the manual approval shows (targets passed, worst p95 latency, report link)
as shell `export` lines that the buildspec sources and exports to the pipeline.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: stage_config.py

from stage_config import EndpointTest, StageConfigError, load_stage_config

#: Iris measurements (sepal length, sepal width, petal length, petal width), five of each species,
#: in the column order of the training data and without the label, as the model expects them.
IRIS_ROWS: tuple[tuple[float, float, float, float], ...] = (
    (5.1, 3.5, 1.4, 0.2), (4.9, 3.0, 1.4, 0.2), (4.7, 3.2, 1.3, 0.2), (5.0, 3.6, 1.4, 0.2), (5.4, 3.9, 1.7, 0.4),
    (7.0, 3.2, 4.7, 1.4), (6.4, 3.2, 4.5, 1.5), (6.9, 3.1, 4.9, 1.5), (5.5, 2.3, 4.0, 1.3), (6.5, 2.8, 4.6, 1.5),
    (6.3, 3.3, 6.0, 2.5), (5.8, 2.7, 5.1, 1.9), (7.1, 3.0, 5.9, 2.1), (6.3, 2.9, 5.6, 1.8), (6.5, 3.0, 5.8, 2.2),
)  # fmt: skip
CLASSES = (0, 1, 2)
PROBABILITY_TOLERANCE = 1e-3
#: Bounded wait for InService: 30 s apart, at most 40 times (20 minutes) per endpoint.
WAITER_CONFIG = {"Delay": 30, "MaxAttempts": 40}
#: The session tag that names this project to the stage's role (mlops-gen's generator/contract.py keeps the
#: same name), valued `<project name>-<project id>`: the role lets a session call only the endpoints of the
#: project its tag names.
PROJECT_SESSION_TAG = "mlops-gen-project"
REPORT_XML = "endpoint-tests.xml"
SUMMARY_JSON = "endpoint-tests.json"

Clock = Callable[[], float]
#: (service, region, credentials) -> boto3 client; credentials as returned by sts.assume_role.
ClientFactory = Callable[[str, str, Mapping[str, Any]], Any]


class SetupError(RuntimeError):
    """The test cannot run at all (environment, config, organization)."""


@dataclass(frozen=True)
class EndpointTestEnv:
    """The CodeBuild environment this script reads (declared by the project template)."""

    stage: str
    ou_id: str
    role_name: str
    endpoint_name: str
    config_file: str
    regions: tuple[str, ...]
    #: SAGEMAKER_PROJECT_NAME and _ID: `<name>-<id>` is the session tag PROJECT_SESSION_TAG when assuming the
    #: stage's role.
    project_name: str = ""
    project_id: str = ""
    #: `<STAGE>_ACCOUNT_IDS`: only these accounts got the endpoint (accounts chosen inside the OU, or a
    #: self-managed stack set's targets); empty: every ACTIVE account of the OU tree.
    accounts: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> EndpointTestEnv:
        def need(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise SetupError(f"environment variable {name} is not set (it comes from the CodeBuild project)")
            return value

        stage = need("STAGE")
        prefix = stage.upper()
        regions = tuple(r.strip() for r in need("DEPLOY_REGIONS").split(",") if r.strip())
        return cls(
            stage=stage,
            ou_id=need(f"{prefix}_OU_ID"),
            role_name=need(f"{prefix}_ROLE_NAME"),
            endpoint_name=need(f"{prefix}_ENDPOINT_NAME"),
            config_file=need(f"{prefix}_CONFIG"),
            regions=regions,
            project_name=need("SAGEMAKER_PROJECT_NAME"),
            project_id=need("SAGEMAKER_PROJECT_ID"),
            accounts=tuple(a.strip() for a in environ.get(f"{prefix}_ACCOUNT_IDS", "").split(",") if a.strip()),
        )


@dataclass
class TargetResult:
    """The outcome for one account and region."""

    account_id: str
    account_name: str
    region: str
    endpoint: str
    passed: bool = False
    reason: str = ""
    calls: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    duration_s: float = 0.0
    predictions: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"account {self.account_id} ({self.account_name}), region {self.region}"


def active_accounts(org: Any, ou_id: str) -> list[dict[str, str]]:
    """ACTIVE accounts of `ou_id` and of every OU below it (depth first, sorted by id)."""
    accounts: list[dict[str, str]] = []
    for parent in _ou_tree(org, ou_id):
        for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
            accounts += [a for a in page["Accounts"] if a.get("Status") == "ACTIVE"]
    return sorted(({"Id": a["Id"], "Name": a.get("Name", "")} for a in accounts), key=lambda a: a["Id"])


def _ou_tree(org: Any, ou_id: str) -> Iterator[str]:
    yield ou_id
    for page in org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=ou_id):
        for child in page["OrganizationalUnits"]:
            yield from _ou_tree(org, child["Id"])


def csv_row(row: Sequence[float]) -> str:
    return ",".join(f"{x:g}" for x in row)


def prediction_problem(body: str) -> str | None:
    """Why `body` is not a valid answer for one iris row, or None.

    Valid: one class index (0, 1 or 2, as softmax models answer) or three probabilities in [0, 1]
    that sum to 1 (softprob models); numbers may be separated by commas, spaces or newlines and may be
    wrapped in brackets (JSON-style lists).
    """
    tokens = [t for t in re.split(r"[\s,\[\]]+", body.strip()) if t]
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        return f"not numbers: {body.strip()[:80]!r}"
    if len(values) == 1:
        value = values[0]
        if not value.is_integer() or int(value) not in CLASSES:
            return f"class {body.strip()!r} is not one of 0, 1, 2"
        return None
    if len(values) == len(CLASSES):
        if any(not 0.0 <= v <= 1.0 for v in values):
            return f"probabilities {values} are not all between 0 and 1"
        if abs(sum(values) - 1.0) > PROBABILITY_TOLERANCE:
            return f"probabilities {values} sum to {sum(values):.4f}, not 1"
        return None
    return f"expected a class or 3 probabilities, got {len(values)} value(s): {body.strip()[:80]!r}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def check_endpoint(
    sm: Any,
    runtime: Any,
    result: TargetResult,
    settings: EndpointTest,
    clock: Clock = time.perf_counter,
    waiter_config: Mapping[str, int] | None = None,
) -> TargetResult:
    """Wait for InService, invoke `settings.calls` times, check answers and latency; fills `result`."""
    from botocore.exceptions import ClientError, WaiterError

    try:
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=result.endpoint, WaiterConfig=dict(waiter_config or WAITER_CONFIG)
        )
    except WaiterError as exc:
        last = exc.last_response or {}
        detail = last.get("Error", {}).get("Message") or last.get("FailureReason") or last.get("EndpointStatus")
        result.reason = f"endpoint {result.endpoint} is not InService: {detail or exc}"
        return result
    latencies: list[float] = []
    for i in range(settings.calls):
        row = csv_row(IRIS_ROWS[i % len(IRIS_ROWS)])
        start = clock()
        try:
            response = runtime.invoke_endpoint(
                EndpointName=result.endpoint, ContentType="text/csv", Accept="text/csv", Body=row
            )
            body = response["Body"].read().decode("utf-8", errors="replace")
        except ClientError as exc:
            result.reason = f"invoking endpoint {result.endpoint} failed: {exc}"
            return result
        elapsed_ms = (clock() - start) * 1000.0
        if i >= settings.warmup_calls:  # a serverless endpoint's first call may wait for a cold start
            latencies.append(elapsed_ms)
        result.calls += 1
        problem = prediction_problem(body)
        if problem:
            result.reason = f"malformed prediction for row {row!r} (call {i + 1}): {problem}"
            return result
        result.predictions.append(body.strip())
    result.p50_ms = round(percentile(latencies, 50), 3)
    result.p95_ms = round(percentile(latencies, 95), 3)
    if result.p95_ms > settings.p95_latency_ms:
        result.reason = (
            f"too slow: p95 latency {result.p95_ms:.1f} ms over {len(latencies)} timed calls exceeds the limit of "
            f"{settings.p95_latency_ms:g} ms (test.p95_latency_ms)"
        )
        return result
    result.passed = True
    return result


def default_client_factory(service: str, region: str, credentials: Mapping[str, Any]) -> Any:
    import boto3

    return boto3.client(
        service,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def run_tests(
    env: EndpointTestEnv,
    settings: EndpointTest,
    org: Any,
    sts: Any,
    client_factory: ClientFactory = default_client_factory,
    clock: Clock = time.perf_counter,
    waiter_config: Mapping[str, int] | None = None,
) -> list[TargetResult]:
    """Test the endpoint in every ACTIVE account of the stage's OU tree and every deploy region."""
    from botocore.exceptions import ClientError

    if env.accounts:  # the listed accounts, whether or not this role may read the organisation
        accounts = [{"Id": account, "Name": ""} for account in env.accounts]
    else:
        accounts = active_accounts(org, env.ou_id)
    if not accounts:
        raise SetupError(f"no ACTIVE account in {env.stage} OU {env.ou_id} or its child OUs: nothing to test")
    partition = sts.get_caller_identity()["Arn"].split(":")[1]
    results: list[TargetResult] = []
    for account in accounts:
        role_arn = f"arn:{partition}:iam::{account['Id']}:role/{env.role_name}"
        try:
            credentials = sts.assume_role(
                RoleArn=role_arn,
                RoleSessionName=f"{env.project_id}-{env.stage}-test"[:64],
                Tags=[{"Key": PROJECT_SESSION_TAG, "Value": f"{env.project_name}-{env.project_id}"}],
            )["Credentials"]
        except ClientError as exc:
            for region in env.regions:
                results.append(
                    TargetResult(account["Id"], account["Name"], region, env.endpoint_name,
                                 reason=f"cannot assume {role_arn}: {exc}")
                )  # fmt: skip
            continue
        for region in env.regions:
            result = TargetResult(account["Id"], account["Name"], region, env.endpoint_name)
            started = clock()
            sm = client_factory("sagemaker", region, credentials)
            runtime = client_factory("sagemaker-runtime", region, credentials)
            results.append(check_endpoint(sm, runtime, result, settings, clock, waiter_config))
            result.duration_s = round(max(0.0, clock() - started), 3)
    return results


def junit_xml(results: Sequence[TargetResult], stage: str) -> str:
    """A JUnit report: one test case per account and region, a failure element with the reason."""
    failures = sum(not r.passed for r in results)
    suite = ET.Element(
        "testsuite",
        name=f"{stage}-endpoints",
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        time=f"{sum(r.duration_s for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite, "testcase", classname=f"{stage}.{r.account_id}.{r.region}", name=r.endpoint,
            time=f"{r.duration_s:.3f}",
        )  # fmt: skip
        if r.passed:
            ET.SubElement(case, "system-out").text = f"p50 {r.p50_ms} ms, p95 {r.p95_ms} ms over {r.calls} calls"
        else:
            failure = ET.SubElement(case, "failure", message=f"{r.label}: {r.reason}", type="EndpointTestFailure")
            failure.text = r.reason
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def summary(results: Sequence[TargetResult], env: EndpointTestEnv, settings: EndpointTest) -> dict[str, Any]:
    return {
        "stage": env.stage,
        "organizational_unit": env.ou_id,
        "endpoint": env.endpoint_name,
        "p95_latency_limit_ms": settings.p95_latency_ms,
        "passed": all(r.passed for r in results),
        "targets": [asdict(r) for r in results],
    }


def report_url(environ: Mapping[str, str], fallback: str) -> str:
    """The build's Reports tab in the CodeBuild console (from CODEBUILD_BUILD_ARN), else `fallback`.

    A console path, not an API; the JUnit report itself is in the build's report group.
    """
    from urllib.parse import quote

    arn = environ.get("CODEBUILD_BUILD_ARN", "")
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("build/"):
        return fallback
    region, account, build_id = parts[3], parts[4], parts[5].removeprefix("build/")
    project = build_id.split(":", 1)[0]
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codebuild/{account}/projects/{project}"
        f"/build/{quote(build_id, safe='')}/reports?region={region}"
    )


def pipeline_variables(results: Sequence[TargetResult], url: str) -> dict[str, str]:
    """What the test action exports to the pipeline (namespace TestVariables), for the approval's message."""
    p95 = [r.p95_ms for r in results if r.p95_ms is not None]
    return {
        "PASS_COUNT": str(sum(r.passed for r in results)),
        "TARGET_COUNT": str(len(results)),
        "P95_MS": f"{max(p95):.1f}" if p95 else "n/a",
        "REPORT_URL": url,
    }


def shell_exports(variables: Mapping[str, str]) -> str:
    """`export NAME='value'` lines the buildspec sources, so CodeBuild can export the variables."""
    import shlex

    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def write_reports(results: Sequence[TargetResult], env: EndpointTestEnv, settings: EndpointTest, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT_XML).write_text(junit_xml(results, env.stage), encoding="utf-8")
    (folder / SUMMARY_JSON).write_text(json.dumps(summary(results, env, settings), indent=2) + "\n", encoding="utf-8")


def main(
    argv: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    org: Any = None,
    sts: Any = None,
    client_factory: ClientFactory = default_client_factory,
    clock: Clock = time.perf_counter,
    waiter_config: Mapping[str, int] | None = None,
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository root (default: current folder)")
    parser.add_argument("--report-dir", type=Path, required=True, help="where the JUnit XML and JSON summary go")
    parser.add_argument(
        "--variables", type=Path, help="write the pipeline variables here as `export NAME=value` lines to source"
    )
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        env = EndpointTestEnv.from_environ(environ)
        settings = load_stage_config(args.repo / env.config_file).test
        if org is None or sts is None:
            import boto3

            org = org or boto3.client("organizations")
            sts = sts or boto3.client("sts")
        results = run_tests(env, settings, org, sts, client_factory, clock, waiter_config)
    except (SetupError, StageConfigError) as exc:
        print(f"endpoint test failed: {exc}", file=sys.stderr)
        return 1
    write_reports(results, env, settings, args.report_dir)
    if args.variables is not None:
        url = report_url(environ, str(args.report_dir / SUMMARY_JSON))
        args.variables.write_text(shell_exports(pipeline_variables(results, url)), encoding="utf-8")
    for r in results:
        if r.passed:
            print(f"PASS {r.label}: p50 {r.p50_ms} ms, p95 {r.p95_ms} ms over {r.calls} calls")
        else:
            print(f"FAIL {r.label}: {r.reason}", file=sys.stderr)
    failed = [r for r in results if not r.passed]
    if failed:
        print(f"{len(failed)} of {len(results)} endpoint test(s) failed", file=sys.stderr)
        return 1
    print(f"all {len(results)} endpoint test(s) passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
