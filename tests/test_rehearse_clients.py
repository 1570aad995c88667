"""The rehearsal's boto3 clients (generator/live/rehearse/server.py LocalAws): one session per credential
set, one client per credentials, service and region, one data loader for all, and every client signs
with the credentials it was asked for. No server is needed: making a client sends no request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from generator.live.rehearse.server import ACCESS_KEY, LocalAws

URL = "http://127.0.0.1:9"
ROLE = {"AccessKeyId": "AKIAROLE", "SecretAccessKey": "role-secret", "SessionToken": "role-token"}
OTHER = {"AccessKeyId": "AKIAOTHER", "SecretAccessKey": "other-secret", "SessionToken": "other-token"}


def signed_as(client: Any) -> str:
    return str(client._request_signer._credentials.get_frozen_credentials().access_key)


@pytest.mark.slow  # creates boto3 clients of many services (loads their models)
def test_clients_are_reused_per_credentials_service_and_region() -> None:
    aws = LocalAws(URL, "eu-west-1")
    management = aws.client("sagemaker")
    assert aws.client("sagemaker") is management
    assert aws.client("sagemaker", aws.session()) is management
    assert aws.client("sagemaker", region="eu-west-1") is management
    assert aws.client("sagemaker", region="us-east-1") is not management
    assert aws.client("sagemaker", region="us-east-1").meta.region_name == "us-east-1"
    assert aws.client("s3") is not management
    role = aws.client("sagemaker", aws.session(ROLE))
    assert role is not management and aws.client("sagemaker", aws.session(ROLE)) is role
    assert aws.client("sagemaker", aws.session(OTHER)) not in (role, management)
    assert (signed_as(management), signed_as(role), signed_as(aws.client("sagemaker", aws.session(OTHER)))) == (
        ACCESS_KEY,
        "AKIAROLE",
        "AKIAOTHER",
    )
    assert management.meta.endpoint_url == URL


def test_one_session_per_credential_set_and_one_loader_for_all() -> None:
    aws = LocalAws(URL, "eu-west-1")
    assert aws.session(ROLE) is aws.session(dict(ROLE))
    assert aws.session(ROLE) is not aws.session(OTHER)
    loaders = {id(aws.session(c)._session.get_component("data_loader")) for c in (None, ROLE, OTHER)}
    assert len(loaders) == 1
    assert LocalAws(URL, "eu-west-1").client("sts") is not aws.client("sts")  # nothing shared across rehearsals


def test_assumed_credentials_are_kept_until_they_are_about_to_expire() -> None:
    """One AssumeRole per account and role for the rehearsal, as an SDK's credential provider does;
    credentials within five minutes of their expiry are assumed afresh."""
    from generator.live.rehearse.server import local_aws

    with local_aws("eu-west-1") as aws:
        first = aws.assume("111111111111", "OrganizationAccountAccessRole")
        assert aws.assume("111111111111", "OrganizationAccountAccessRole") is first
        other = aws.assume("222222222222", "OrganizationAccountAccessRole")
        assert other is not first
        assert aws.client("sts", other).get_caller_identity()["Account"] == "222222222222"
        (key,) = [k for k in aws._assumed if "111111111111" in k[0]]
        aws._assumed[key]["Expiration"] = datetime.now(UTC) + timedelta(minutes=4)
        renewed = aws.assume("111111111111", "OrganizationAccountAccessRole")
        assert renewed is not first
        assert aws.client("sts", renewed).get_caller_identity()["Account"] == "111111111111"


@pytest.mark.slow  # starts the rehearsal's local AWS server
def test_clients_wait_for_the_local_server_rather_than_retry() -> None:
    """A large organisation's CreateStackInstances takes moto minutes; a client that timed out after
    botocore's default 60 s retried it and created every stack instance twice (BucketAlreadyExists)."""
    from generator.live.rehearse.server import READ_TIMEOUT_S

    aws = LocalAws(URL, "eu-west-1")
    for client in (aws.client("cloudformation"), aws.client("sagemaker", aws.session(ROLE), region="us-east-1")):
        assert client.meta.config.read_timeout == READ_TIMEOUT_S >= 600
