"""Models in each target account's own VPC, rehearsed (`rehearse --vpc`, `--break-network`).

What the platform team does in every staging and prod account (README, Regulated environments) is done here
in each local account: a VPC with two subnets and a security group in EC2, and their ids in the two SSM
parameters the endpoint template reads through SSM parameter types (generator/network.py). The deploy
repository's stage configs ask for `"network": "vpc"` (`vpc_bundle`), so one stack-set operation must deploy
every account's model into that account's subnets: after each deployment `instance_problems` checks it.

CloudFormation fails a stack whose SSM-typed parameter names an SSM parameter that does not exist; moto
5.2.5 raises AttributeError instead, failing the whole CreateStackInstances call. `resolving_per_instance`
records the missing parameter for that account and region and lets moto go on, and `instance_problems`
turns the record into that instance's failure, as CloudFormation fails that instance only (the stack-set
runner then rolls it back and applies the action's failure tolerance).
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from generator import contract
from generator.naming import Stage
from generator.network import SECURITY_GROUPS_PARAMETER, SUBNETS_PARAMETER

NOTES = (
    "CloudFormation fails a stack instance whose SSM-typed parameter names a missing SSM parameter; moto 5.2.5 "
    "raises AttributeError and fails the whole CreateStackInstances call. Patched to record the missing "
    "parameter per account and region; the stack-set runner fails that instance only.",
)
#: (account, region) -> SSM parameter names a stack instance there could not resolve.
_MISSING: dict[tuple[str, str], list[str]] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Published:
    """One account's and region's network for the models, as its SSM parameters name it."""

    account: str
    region: str
    vpc: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]


def publish(aws: Any, session: Any, account: str, region: str) -> Published:
    """A VPC, two private subnets and a security group in `account`/`region`, named in the SSM parameters."""
    ec2 = aws.client("ec2", session, region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2))
    group = ec2.create_security_group(GroupName="mlops-gen-models", Description="SageMaker models", VpcId=vpc)
    ssm = aws.client("ssm", session, region)
    ssm.put_parameter(Name=SUBNETS_PARAMETER, Type="StringList", Value=",".join(subnets), Overwrite=True)
    ssm.put_parameter(Name=SECURITY_GROUPS_PARAMETER, Type="StringList", Value=group["GroupId"], Overwrite=True)
    return Published(account, region, vpc, subnets, (group["GroupId"],))


def vpc_bundle(bundle: bytes) -> bytes:
    """The seed bundle with `"network": "vpc"` in every stage config (the data scientists' choice)."""
    from generator.product.seed import zip_bytes

    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        files = {info.filename: archive.read(info) for info in archive.infolist()}
    for stage in Stage:
        name = contract.STAGE_CONFIG[stage]
        config = json.loads(files[name])
        config["network"] = "vpc"
        files[name] = (json.dumps(config, indent=2) + "\n").encode("utf-8")
    return zip_bytes(files)


@contextmanager
def resolving_per_instance() -> Iterator[None]:
    """A missing SSM parameter fails its own stack instance (see the module doc), while the rehearsal runs."""
    from moto.cloudformation.parsing import ResourceMap
    from moto.ssm.models import ssm_backends

    original = ResourceMap.parse_ssm_parameter

    def parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
        if ssm_backends[self._account_id][self._region_name].get_parameter(value) is None:
            with _LOCK:
                _MISSING.setdefault((self._account_id, self._region_name), []).append(value)
            return [] if "List" in value_type else ""
        return original(self, value, value_type)

    _MISSING.clear()
    with mock.patch.object(ResourceMap, "parse_ssm_parameter", parse_ssm_parameter):
        yield
    _MISSING.clear()


def described_models(aws: Any, session: Any, region: str) -> list[dict[str, Any]]:
    """DescribeModel of every model in the session's account and `region`: what the per-instance checks read
    (this module's network check, fidelity.model_role_problems), listed and described once for all of them."""
    sm = aws.client("sagemaker", session, region)
    return [
        sm.describe_model(ModelName=summary["ModelName"])
        for page in sm.get_paginator("list_models").paginate()
        for summary in page["Models"]
    ]


def instance_problems(
    aws: Any, session: Any, account: str, region: str, models: list[dict[str, Any]] | None = None
) -> list[str]:
    """Why the stack instance in `account`/`region` fails: an SSM parameter it could not resolve, or a model
    in a VPC whose subnets or security groups are not the ones the account publishes (`models`: the account's
    `described_models`, read here when not given)."""
    with _LOCK:
        missing = _MISSING.pop((account, region), [])
    if missing:
        return [
            f"CloudFormation: SSM parameter {name} (an SSM parameter type of the endpoint template) does not "
            f"exist in account {account}, region {region}: publish the account's subnets and security groups "
            "(README, Regulated environments)"
            for name in dict.fromkeys(missing)
        ]
    return [line for ok, line in _vpc_models(aws, session, account, region, models) if not ok]


def models_in_their_network(
    aws: Any, session: Any, account: str, region: str, models: list[dict[str, Any]] | None = None
) -> list[str]:
    """One log line per model of `account`/`region` that runs in the network the account publishes."""
    return [line for ok, line in _vpc_models(aws, session, account, region, models) if ok]


def _vpc_models(
    aws: Any, session: Any, account: str, region: str, models: list[dict[str, Any]] | None
) -> list[tuple[bool, str]]:
    """(in the published network?, a line saying where it runs) for every model with a VpcConfig."""
    found: list[tuple[bool, str]] = []
    for model in described_models(aws, session, region) if models is None else models:
        config = model.get("VpcConfig")
        if not config:
            continue
        ssm = aws.client("ssm", session, region)  # only for VPC models: a client per account costs ~40 ms
        published = {
            "Subnets": _string_list(ssm, SUBNETS_PARAMETER),
            "SecurityGroupIds": _string_list(ssm, SECURITY_GROUPS_PARAMETER),
        }
        used = {key: sorted(config.get(key, [])) for key in published}
        where = f"model {model['ModelName']} in account {account}, region {region} runs in {used}"
        if used == published:
            found.append((True, f"{where}: the network the account publishes in SSM"))
        else:
            found.append((False, f"{where}, not in the network the account publishes in SSM ({published})"))
    return found


def _string_list(ssm: Any, name: str) -> list[str]:
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return []
    return sorted(v.strip() for v in str(value).split(",") if v.strip())
