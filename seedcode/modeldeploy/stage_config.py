"""Stage settings of the deployment: read and checked once, for build.py and test/test.py.

`staging-config.json` and `prod-config.json` are the files people edit. Every value is checked
here, and a bad one stops the build with a message naming the file, the key and the rule, before
anything is deployed. Unknown keys are errors too, so a misspelt key cannot be silently ignored.

`deployment` (optional; each key optional) sets the endpoint's guardrails: how an update shifts
traffic from the old fleet to the new one (SageMaker blue/green: a canary share first, or all at
once), how long the old fleet is kept, and the CloudWatch alarms (5XX errors, p99 model latency)
that roll the update back automatically. Its defaults are the safe production choice (`DEFAULTS`).
Autoscaling and blue/green: SageMaker allows a new model on an autoscaled variant (what every
deployment changes), but refuses an update that changes an autoscaled variant's instance type:
to change `instance_type` of a stage with autoscaling, deploy once with autoscaling disabled.

`network` (optional): `"default"` (SageMaker's own network) or `"vpc"`: the model runs in the subnets and
security groups each target account publishes in SSM (`/mlops-gen/network/subnet-ids`,
`/mlops-gen/network/security-group-ids`; README, Regulated environments), so one stack-set operation deploys
into every account's own VPC.

`inference` (optional): `"instances"` (default) or `"serverless"` with a `serverless` section
(`memory_size_mb`, `max_concurrency`, checked against SageMaker's allowed values). SageMaker documents what a
serverless endpoint does not support (VPC configuration, network isolation, data capture, among others:
https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions)
and a serverless endpoint has no instances to autoscale or to size a canary by; such settings are refused
here rather than ignored. SageMaker also cannot turn an instance-based endpoint into a serverless one (the
update fails with a ValidationError): switching an existing stage to serverless needs its endpoints deleted
first. The endpoint test's first `test.warmup_calls` calls (default 1 when serverless: a cold start) are
checked but left out of the latency percentiles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: SageMaker hosting instance types look like ml.<family>.<size> (ml.m5.large, ml.g5.xlarge).
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
#: Where data capture may write: an S3 URI (empty: the data-capture bucket mlops-gen's target-role stack set
#: creates in every stage account and deploy region, which the target role may write; `mlops-gen validate`
#: reports any other destination, since the role would need a grant there).
S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")

TOP_KEYS = {"instance_type", "instance_count", "autoscaling", "data_capture", "test"}
#: Optional top-level keys (DEFAULTS for `deployment`; the two below default to the article's endpoints).
OPTIONAL_KEYS = frozenset({"deployment", "network", "inference", "serverless"})
NETWORKS = ("default", "vpc")
INFERENCE = ("instances", "serverless")
SERVERLESS_KEYS = {"memory_size_mb", "max_concurrency"}
#: ProductionVariantServerlessConfig (botocore sagemaker service model, shapes ServerlessMemorySizeInMB and
#: ServerlessMaxConcurrency): memory 1024-6144 MB "in 1 GB increments", concurrency 1-200.
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_MAX_CONCURRENCY = 200
#: Serverless endpoints start containers on demand: the first call after idle waits for one (cold start).
SERVERLESS_WARMUP_CALLS = 1
AUTOSCALING_KEYS = {"enabled", "min_capacity", "max_capacity", "target_invocations_per_instance"}
DATA_CAPTURE_KEYS = {"enabled", "sampling_percentage", "s3_uri"}
TEST_KEYS = {"p95_latency_ms", "calls", "warmup_calls"}
TRAFFIC_ROUTING = ("canary", "all_at_once")
#: The guardrails when `deployment` (or one of its keys) is left out: the safe choice for production.
DEFAULTS: dict[str, Any] = {
    "traffic_routing": "canary",
    "canary_percent": 10,
    "wait_interval_seconds": 600,
    "termination_wait_seconds": 600,
    "maximum_execution_timeout_seconds": 3600,
    "max_5xx_errors_per_minute": 0,
    "max_model_latency_p99_ms": 1000,
}
DEPLOYMENT_KEYS = frozenset(DEFAULTS)


class StageConfigError(ValueError):
    """A stage config file that cannot be used; the message names file, key and rule."""


@dataclass(frozen=True)
class AutoScaling:
    enabled: bool
    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: int


@dataclass(frozen=True)
class DataCapture:
    enabled: bool
    sampling_percentage: int
    s3_uri: str


@dataclass(frozen=True)
class EndpointTest:
    p95_latency_ms: float
    calls: int
    #: The first calls, checked but not timed (a serverless endpoint's cold start).
    warmup_calls: int = 0


@dataclass(frozen=True)
class Serverless:
    """A serverless endpoint's size (SageMaker ProductionVariantServerlessConfig)."""

    memory_size_mb: int
    max_concurrency: int


@dataclass(frozen=True)
class Deployment:
    """How an endpoint update is rolled out and when SageMaker rolls it back (see the module doc)."""

    traffic_routing: str
    canary_percent: int
    wait_interval_seconds: int
    termination_wait_seconds: int
    maximum_execution_timeout_seconds: int
    max_5xx_errors_per_minute: int
    max_model_latency_p99_ms: float


@dataclass(frozen=True)
class StageConfig:
    """One stage's settings, validated."""

    instance_type: str
    instance_count: int
    autoscaling: AutoScaling
    data_capture: DataCapture
    test: EndpointTest
    deployment: Deployment = Deployment(**DEFAULTS)
    #: "default" or "vpc" (the account's published subnets and security groups).
    network: str = "default"
    #: None: instance-based; else the serverless endpoint's size.
    serverless: Serverless | None = None


class _Reader:
    """Typed access to one file's JSON; every failure names the file and the dotted key."""

    def __init__(self, path: Path) -> None:
        self.file = path.name

    def fail(self, key: str, rule: str, value: Any) -> StageConfigError:
        return StageConfigError(f"{self.file}: {key}: {rule}, got {json.dumps(value)}")

    def section(self, data: dict[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            raise self.fail(key, "must be an object", value)
        self.known(value, allowed, f"{key}.")
        return value

    def known(
        self, data: dict[str, Any], allowed: set[str], prefix: str = "", optional: frozenset[str] = frozenset()
    ) -> None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise StageConfigError(
                f"{self.file}: {prefix}{unknown[0]}: unknown key; allowed keys are "
                + ", ".join(f"{prefix}{k}" for k in sorted(allowed))
            )
        missing = sorted(allowed - optional - set(data))
        if missing:
            raise StageConfigError(f"{self.file}: {prefix}{missing[0]}: is required")

    def choice(self, data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
        """An optional one-of key; its first allowed value when left out."""
        value = data.get(key, allowed[0])
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}", value)
        return str(value)

    def boolean(self, data: dict[str, Any], key: str, name: str) -> bool:
        value = data[key]
        if not isinstance(value, bool):
            raise self.fail(name, "must be true or false", value)
        return value

    def integer(self, data: dict[str, Any], key: str, name: str, low: int, high: int) -> int:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(name, f"must be a whole number from {low} to {high}", value)
        return value

    def number(self, data: dict[str, Any], key: str, name: str, low: float, high: float) -> float:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
            raise self.fail(name, f"must be a number greater than {low:g} and at most {high:g}", value)
        return float(value)

    def pattern(self, data: dict[str, Any], key: str, name: str, regex: re.Pattern[str], what: str) -> str:
        value = data[key]
        if not isinstance(value, str) or not regex.match(value):
            raise self.fail(name, f"must be {what}", value)
        return value


def parse_stage_config(data: Any, path: Path) -> StageConfig:
    """Check one stage's settings (already parsed JSON) and return them typed."""
    r = _Reader(path)
    if not isinstance(data, dict):
        raise StageConfigError(f"{r.file}: must hold a JSON object, got {type(data).__name__}")
    network = r.choice(data, "network", NETWORKS)
    inference = r.choice(data, "inference", INFERENCE)
    if inference == "serverless":
        return parse_serverless(r, data, network)
    if "serverless" in data:
        raise r.fail("serverless", 'applies only with "inference": "serverless"', data["serverless"])
    r.known(data, TOP_KEYS | OPTIONAL_KEYS, optional=OPTIONAL_KEYS)
    instance_type = r.pattern(
        data, "instance_type", "instance_type", INSTANCE_TYPE, "a SageMaker instance type like ml.m5.large"
    )
    instance_count = r.integer(data, "instance_count", "instance_count", 1, 100)
    autoscaling = parse_autoscaling(r, data)
    if autoscaling.enabled and not autoscaling.min_capacity <= instance_count <= autoscaling.max_capacity:
        raise r.fail(
            "instance_count",
            f"must lie between autoscaling.min_capacity ({autoscaling.min_capacity}) and "
            f"autoscaling.max_capacity ({autoscaling.max_capacity}) when autoscaling is enabled",
            instance_count,
        )
    return StageConfig(
        instance_type,
        instance_count,
        autoscaling,
        parse_data_capture(r, data),
        parse_test(r, data, 0),
        parse_deployment(r, data),
        network=network,
    )


def parse_serverless(r: _Reader, data: dict[str, Any], network: str) -> StageConfig:
    """A serverless stage: its size, and a clear refusal of every setting a serverless endpoint cannot use.

    SageMaker's feature exclusions for Serverless Inference name VPC configuration, network isolation and data
    capture; autoscaling and canary sizes are fractions of an instance fleet, which a serverless endpoint lacks.
    https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions
    """
    r.known(data, TOP_KEYS | OPTIONAL_KEYS, optional=OPTIONAL_KEYS | {"instance_type", "instance_count", "autoscaling"})
    why = 'does not apply to a serverless endpoint ("inference": "serverless"): remove it'
    for key in ("instance_type", "instance_count"):
        if key in data:
            raise r.fail(key, why, data[key])
    if network == "vpc":
        raise r.fail("network", "cannot be vpc with serverless inference (SageMaker: no VPC configuration)", network)
    autoscaling = parse_autoscaling(r, data) if "autoscaling" in data else AutoScaling(False, 1, 1, 1)
    if autoscaling.enabled:
        raise r.fail("autoscaling.enabled", "must be false: SageMaker scales a serverless endpoint itself", True)
    data_capture = parse_data_capture(r, data)
    if data_capture.enabled:
        raise r.fail("data_capture.enabled", "must be false: SageMaker has no data capture for serverless", True)
    deployment = parse_deployment(r, data, routing_default="all_at_once")
    if deployment.traffic_routing == "canary":
        raise r.fail(
            "deployment.traffic_routing",
            "must be all_at_once with serverless inference (a canary is a share of an instance fleet)",
            deployment.traffic_routing,
        )
    s = r.section(data, "serverless", SERVERLESS_KEYS)
    memory = s["memory_size_mb"]
    if isinstance(memory, bool) or memory not in SERVERLESS_MEMORY_MB:
        raise r.fail("serverless.memory_size_mb", f"must be one of {', '.join(map(str, SERVERLESS_MEMORY_MB))}", memory)
    serverless = Serverless(
        memory_size_mb=memory,
        max_concurrency=r.integer(s, "max_concurrency", "serverless.max_concurrency", 1, SERVERLESS_MAX_CONCURRENCY),
    )
    return StageConfig(
        "",
        0,
        autoscaling,
        data_capture,
        parse_test(r, data, SERVERLESS_WARMUP_CALLS),
        deployment,
        network=network,
        serverless=serverless,
    )


def parse_autoscaling(r: _Reader, data: dict[str, Any]) -> AutoScaling:
    a = r.section(data, "autoscaling", AUTOSCALING_KEYS)
    autoscaling = AutoScaling(
        enabled=r.boolean(a, "enabled", "autoscaling.enabled"),
        min_capacity=r.integer(a, "min_capacity", "autoscaling.min_capacity", 1, 100),
        max_capacity=r.integer(a, "max_capacity", "autoscaling.max_capacity", 1, 100),
        target_invocations_per_instance=r.integer(
            a, "target_invocations_per_instance", "autoscaling.target_invocations_per_instance", 1, 1_000_000
        ),
    )
    if autoscaling.max_capacity < autoscaling.min_capacity:
        raise r.fail(
            "autoscaling.max_capacity",
            f"must be at least autoscaling.min_capacity ({autoscaling.min_capacity})",
            autoscaling.max_capacity,
        )
    return autoscaling


def parse_data_capture(r: _Reader, data: dict[str, Any]) -> DataCapture:
    d = r.section(data, "data_capture", DATA_CAPTURE_KEYS)
    s3_uri = d["s3_uri"]
    if s3_uri != "":
        s3_uri = r.pattern(d, "s3_uri", "data_capture.s3_uri", S3_URI, 'an S3 URI like "s3://bucket/prefix" or ""')
    return DataCapture(
        enabled=r.boolean(d, "enabled", "data_capture.enabled"),
        sampling_percentage=r.integer(d, "sampling_percentage", "data_capture.sampling_percentage", 0, 100),
        s3_uri=s3_uri,
    )


def parse_test(r: _Reader, data: dict[str, Any], warmup_default: int) -> EndpointTest:
    value = data.get("test")
    if not isinstance(value, dict):
        raise r.fail("test", "must be an object", value)
    r.known(value, TEST_KEYS, "test.", optional=frozenset({"warmup_calls"}))
    calls = r.integer(value, "calls", "test.calls", 1, 10_000)
    warmup = r.integer({"w": value.get("warmup_calls", warmup_default)}, "w", "test.warmup_calls", 0, 100)
    if warmup >= calls:
        raise r.fail("test.warmup_calls", f"must be fewer than test.calls ({calls})", warmup)
    return EndpointTest(
        p95_latency_ms=r.number(value, "p95_latency_ms", "test.p95_latency_ms", 0, 60_000),
        calls=calls,
        warmup_calls=warmup,
    )


def parse_deployment(r: _Reader, data: dict[str, Any], routing_default: str = "canary") -> Deployment:
    """The optional `deployment` section, each missing key taking its safe default."""
    given = data.get("deployment", {})
    if not isinstance(given, dict):
        raise r.fail("deployment", "must be an object", given)
    r.known(given, set(DEPLOYMENT_KEYS), "deployment.", optional=DEPLOYMENT_KEYS)
    d = {**DEFAULTS, "traffic_routing": routing_default, **given}
    routing = d["traffic_routing"]
    if routing not in TRAFFIC_ROUTING:
        raise r.fail("deployment.traffic_routing", f"must be one of {', '.join(TRAFFIC_ROUTING)}", routing)
    deployment = Deployment(
        traffic_routing=routing,
        # SageMaker: a canary may be at most half of the fleet's capacity.
        canary_percent=r.integer(d, "canary_percent", "deployment.canary_percent", 1, 50),
        wait_interval_seconds=r.integer(d, "wait_interval_seconds", "deployment.wait_interval_seconds", 0, 3600),
        termination_wait_seconds=r.integer(
            d, "termination_wait_seconds", "deployment.termination_wait_seconds", 0, 3600
        ),
        maximum_execution_timeout_seconds=r.integer(
            d, "maximum_execution_timeout_seconds", "deployment.maximum_execution_timeout_seconds", 600, 28_800
        ),
        max_5xx_errors_per_minute=r.integer(
            d, "max_5xx_errors_per_minute", "deployment.max_5xx_errors_per_minute", 0, 1_000_000
        ),
        max_model_latency_p99_ms=r.number(
            d, "max_model_latency_p99_ms", "deployment.max_model_latency_p99_ms", 0, 60_000
        ),
    )
    # SageMaker: the execution timeout must exceed the waits it contains.
    waits = deployment.termination_wait_seconds + deployment.wait_interval_seconds
    if deployment.maximum_execution_timeout_seconds <= waits:
        raise r.fail(
            "deployment.maximum_execution_timeout_seconds",
            f"must be more than the waits it contains ({waits} s: termination_wait_seconds + wait_interval_seconds)",
            deployment.maximum_execution_timeout_seconds,
        )
    return deployment


def load_stage_config(path: Path) -> StageConfig:
    """Read and check one stage config file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageConfigError(f"{path.name}: file not found in the repository ({path})") from None
    except json.JSONDecodeError as exc:
        raise StageConfigError(f"{path.name}: is not valid JSON: {exc}") from None
    return parse_stage_config(data, path)
