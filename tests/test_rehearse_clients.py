"""The rehearsal's boto3 clients (generator/live/rehearse/server.py LocalAws): one session for every credential
set, one client per credentials, service and region, one data loader and one class per service for all, and
every client signs with the credentials it was asked for. No server is needed: making a client sends no request."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.live.rehearse.server import ACCESS_KEY, LocalAws, libyaml_stack_templates, moto_template_loader

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
    loaders = {id(aws.client("sts", aws.session(c))._loader) for c in (None, ROLE, OTHER)}
    assert len(loaders) == 1
    assert LocalAws(URL, "eu-west-1").client("sts") is not aws.client("sts")  # nothing shared across rehearsals


def test_clients_of_one_service_share_the_class_botocore_builds() -> None:
    """speed.reusing_client_classes: one class per service for the rehearsal's session, the class botocore
    builds (same operations, same bases); another service, or a client of another session, gets its own."""
    import boto3

    from generator.live.rehearse.speed import reusing_client_classes

    aws = LocalAws(URL, "eu-west-1")
    built = type(aws.client("sts"))  # before the reuse: botocore's own class
    with reusing_client_classes():
        first, second = aws.client("sts", aws.session(ROLE)), aws.client("sts", aws.session(OTHER))
        other_region = aws.client("sts", aws.session(ROLE), region="us-east-1")
        elsewhere = boto3.Session("k", "s", region_name="eu-west-1").client("sts", endpoint_url=URL)
        assert type(first) is type(second) is type(other_region)
        assert type(elsewhere) is not type(first)  # another session: a class of its own
        assert type(aws.client("iam", aws.session(ROLE))) is not type(first)  # another service, another class
    after = aws.client("sts", aws.session({**ROLE, "AccessKeyId": "AKIATHIRD"}))
    assert type(after) is not type(first)  # the reuse ends with the rehearsal
    for cls in (type(first), type(after)):
        assert cls._PY_TO_OP_NAME == built._PY_TO_OP_NAME and cls.__bases__ == built.__bases__
        assert cls.__name__ == built.__name__
    assert (signed_as(first), signed_as(second), signed_as(other_region)) == ("AKIAROLE", "AKIAOTHER", "AKIAROLE")
    assert other_region.meta.region_name == "us-east-1"


def test_any_session_s_clients_share_a_class_and_each_session_keeps_its_own() -> None:
    """As tests/test_doctor.py uses it (boto3's default sessions): a session's clients of one service share a
    class, another session's clients get their own (a class carries its session's `creating-client-class`
    handlers)."""
    import boto3

    from generator.live.rehearse.speed import reusing_client_classes

    one, two = (boto3.Session("k", "s", region_name="eu-west-1") for _ in range(2))
    with reusing_client_classes():
        first, again = one.client("sts", endpoint_url=URL), one.client("sts", region_name="us-east-1")
        other = two.client("sts", endpoint_url=URL)
        assert type(first) is type(again) and type(other) is not type(first)
        assert type(one.client("iam")) is not type(first)
    assert type(one.client("sts")) is not type(first)


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


GOLDEN = Path(__file__).parent / "golden"
SEED = Path(__file__).parent.parent / "seedcode"


@pytest.mark.slow  # parses every golden template with pure-Python YAML too
@pytest.mark.parametrize(
    "path", [*sorted(GOLDEN.glob("*/*.yaml")), *sorted(SEED.rglob("*template*.y*ml"))], ids=lambda p: p.name
)
def test_stack_templates_parse_on_libyaml_as_moto_parses_them(path: Path) -> None:
    """The rehearsal's speed-up (server.libyaml_stack_templates) gives moto the data its own parser gives."""
    from moto.cloudformation.models import Stack

    text = path.read_text(encoding="utf-8")
    moto_parse = Stack.parse_template
    moto_parses = moto_parse(text)
    with libyaml_stack_templates():
        assert Stack.parse_template is not moto_parse
        assert Stack.parse_template(text) == moto_parses
        assert Stack.parse_template(json.dumps(moto_parses)) == moto_parses  # JSON text (a YAML subset)
    assert Stack.parse_template is moto_parse  # undone afterwards


def test_the_libyaml_loader_keeps_moto_s_short_forms() -> None:
    text = "A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub ['${a}', {a: !Ref Y}]\nD: !GetAZs ''\nE: '0123'\n"
    assert yaml.load(text, Loader=moto_template_loader()) == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["R", "Arn"]},
        "C": {"Fn::Sub": ["${a}", {"a": {"Ref": "Y"}}]},
        "D": {"Fn::GetAZs": ""},
        "E": "0123",
    }


def test_each_distinct_template_text_is_parsed_once_and_each_stack_gets_its_own_copy() -> None:
    """server.libyaml_stack_templates keeps one parse per template text: the same text again is not parsed
    again, another text (one character changed) is, and every caller gets its own data to change."""
    from unittest import mock

    from moto.cloudformation.models import Stack

    text = "Resources:\n  R:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !Sub '${AWS::StackName}-a'}\n"
    changed = text.replace("-a'", "-b'")
    with libyaml_stack_templates(), mock.patch("yaml.load", wraps=yaml.load) as parse:
        first = Stack.parse_template(text)
        first["Resources"]["R"]["Properties"]["TopicName"] = "changed by the first stack"
        second = Stack.parse_template(text)
        assert parse.call_count == 1
        assert second["Resources"]["R"]["Properties"]["TopicName"] == {"Fn::Sub": "${AWS::StackName}-a"}
        assert Stack.parse_template(changed)["Resources"]["R"]["Properties"]["TopicName"] == {
            "Fn::Sub": "${AWS::StackName}-b"
        }
        assert parse.call_count == 2
        as_json = json.dumps(second)
        assert Stack.parse_template(as_json) == second == Stack.parse_template(as_json)
        assert parse.call_count == 3


def test_moto_s_backend_for_a_host_is_looked_up_once_per_host() -> None:
    """speed.remembering_backend_hosts: the answer moto gives for each host, asked once per host; a host no
    backend serves is asked again each time (moto warns about it)."""
    from unittest import mock

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from generator.live.rehearse.speed import remembering_backend_hosts

    dispatcher = DomainDispatcherApplication(create_backend_app)
    hosts = [
        "iam.amazonaws.com",
        "sts.eu-west-1.amazonaws.com",
        "api.sagemaker.eu-west-1.amazonaws.com",
        "runtime.sagemaker.eu-west-1.amazonaws.com",
        "cloudformation.us-east-1.amazonaws.com",
        "moto_api",
    ]
    expected = [dispatcher.get_backend_for_host(h) for h in hosts]
    assert len(set(expected)) == len(hosts) and all(expected)
    original = DomainDispatcherApplication.get_backend_for_host
    asked: list[str | None] = []

    def counting(self: Any, host: str | None) -> Any:
        asked.append(host)
        return original(self, host)

    with mock.patch.object(DomainDispatcherApplication, "get_backend_for_host", counting):
        with remembering_backend_hosts():
            assert [dispatcher.get_backend_for_host(h) for h in hosts * 3] == expected * 3
            assert asked == hosts
            assert dispatcher.get_backend_for_host("nothing.example") is None
            assert dispatcher.get_backend_for_host("nothing.example") is None
            assert asked == [*hosts, "nothing.example", "nothing.example"]
        assert DomainDispatcherApplication.get_backend_for_host is counting  # undone afterwards


def test_a_verification_describes_each_model_and_package_once() -> None:
    """endpoints.Reads: the same model (account, region, name) or package (ARN) is asked once; changing any
    one of them asks again."""
    from generator.live.rehearse.endpoints import Reads

    class Client:
        def __init__(self) -> None:
            self.asked: list[tuple[str, str]] = []

        def describe_model(self, ModelName: str) -> dict[str, Any]:  # boto3's parameter name
            self.asked.append(("model", ModelName))
            return {"ModelName": ModelName, "n": len(self.asked)}

        def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
            self.asked.append(("package", ModelPackageName))
            return {"ModelPackageArn": ModelPackageName, "n": len(self.asked)}

    sm, reads = Client(), Reads()
    first = reads.model(sm, "111111111111", "eu-west-1", "m")
    assert reads.model(sm, "111111111111", "eu-west-1", "m") is first
    assert len(sm.asked) == 1
    for account, region, name in (
        ("222222222222", "eu-west-1", "m"),
        ("111111111111", "us-east-1", "m"),
        ("111111111111", "eu-west-1", "other"),
    ):
        assert reads.model(sm, account, region, name) != first
    assert len(sm.asked) == 4
    package = reads.package(sm, "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1")
    assert reads.package(sm, "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1") is package
    assert reads.package(sm, "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/2") != package
    assert sm.asked[4:] == [
        ("package", "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/1"),
        ("package", "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/2"),
    ]


@pytest.mark.slow  # the first clients of a process parse the service models
def test_one_data_loader_per_process_and_new_clients_for_each_rehearsal() -> None:
    """botocore's parsed models are shared by every rehearsal of the process; clients and credentials are not."""
    first, second = LocalAws(URL, "eu-west-1"), LocalAws(URL, "eu-west-1")
    assert first.client("sts") is not second.client("sts")
    assert first.client("sts")._loader is second.client("sts")._loader
    assert first.boto3_session() is not second.boto3_session()


def test_the_account_of_an_access_key_is_looked_up_once_until_that_key_changes(aws: None) -> None:
    """speed.remembering_key_accounts answers as moto's lookup does: a key of an account (an IAM user's, an
    assumed role's) is that account's while it exists; a key found nowhere is the default account's until moto
    creates a key of that id (creating other keys does not ask again: before, every sts:AssumeRole made the
    management account's key be looked up again, over every account)."""
    from unittest import mock

    import boto3
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam import models

    from generator.live.rehearse.speed import remembering_key_accounts

    iam = boto3.client("iam")
    iam.create_user(UserName="u")
    user_key = iam.create_access_key(UserName="u")["AccessKey"]["AccessKeyId"]
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(trust))
    other_account = "111111111111"
    role_arn = f"arn:aws:iam::{other_account}:role/r"
    moto_lookup = models.get_account_id_from
    asked: list[str] = []

    def counting(access_key: str) -> str:
        asked.append(access_key)
        return moto_lookup(access_key)

    def assume() -> str:
        return str(
            boto3.client(
                "sts", aws_access_key_id=user_key, aws_secret_access_key="x", aws_session_token="t"
            ).assume_role(RoleArn=role_arn, RoleSessionName="session")["Credentials"]["AccessKeyId"]
        )

    with mock.patch.object(models, "get_account_id_from", counting), remembering_key_accounts():
        lookup = models.get_account_id_from
        assert [lookup(k) for k in (user_key, user_key, "testing", "testing")] == [DEFAULT_ACCOUNT_ID] * 4
        assert asked == [user_key, "testing"]
        assumed = assume()
        assert [lookup(assumed), lookup(assumed), lookup("testing")] == [
            other_account,
            other_account,
            DEFAULT_ACCOUNT_ID,
        ]
        assert asked == [user_key, "testing", assumed]  # another key was created: "testing" is still nowhere
        future = "ASIAFUTUREKEY0000000"
        assert lookup(future) == DEFAULT_ACCOUNT_ID
        with mock.patch.object(models, "generate_access_key_id_from_account_id", return_value=future):
            assert assume() == future  # now a key of that id exists: asked again, found in the role's account
        assert lookup(future) == other_account == moto_lookup(future)
        assert asked[-2:] == [future, future]
        iam.delete_access_key(UserName="u", AccessKeyId=user_key)
        assert lookup(user_key) == DEFAULT_ACCOUNT_ID == moto_lookup(user_key)
        assert asked[-1] == user_key  # deleted: looked up again
    assert models.get_account_id_from is moto_lookup


def test_an_account_s_backend_is_found_as_moto_finds_it(aws: None) -> None:
    """speed.finding_account_backends_directly: the backend moto makes for an account, once, and the service
    listed once among the backends in use (what a reset clears), whether the patch is on or not."""
    from moto.core.base_backend import BackendDict
    from moto.sagemaker.models import SageMakerModelBackend

    from generator.live.rehearse.speed import finding_account_backends_directly

    def exercise() -> tuple[list[str], int, bool]:
        backends = BackendDict(SageMakerModelBackend, "sagemaker")
        first = backends["111111111111"]
        assert backends["111111111111"] is first
        backends["222222222222"]["eu-west-1"]
        listed = sum(instance is backends for instance in BackendDict._instances)
        BackendDict.reset()
        return sorted(first.keys()), listed, len(backends) == 0

    moto_answer = exercise()
    with finding_account_backends_directly():
        assert exercise() == moto_answer == ([], 1, True)


def test_a_response_class_s_methods_are_named_as_moto_names_them() -> None:
    """speed.naming_response_methods_directly: for every attribute of the response classes a rehearsal serves
    (and names none has), the same answer as moto's list of the class's functions; a method patched in later
    is seen (fidelity.py adds SageMaker's model package group policy methods)."""
    from unittest import mock

    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core import responses
    from moto.core.utils import method_names_from_class
    from moto.iam.responses import IamResponse
    from moto.s3.responses import S3Response
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sts.responses import TokenResponse

    from generator.live.rehearse.speed import naming_response_methods_directly

    classes = (CloudFormationResponse, IamResponse, S3Response, SageMakerResponse, TokenResponse)
    with naming_response_methods_directly():
        for cls in classes:
            assert type(cls) is type  # no metaclass whose attributes `getattr` would find and `dir` leave out
            listed = set(method_names_from_class(cls))
            for name in [*dir(cls), "no_such_action", "get_model_package_group_policy"]:
                assert (name in responses.method_names_from_class(cls)) == (name in listed), (cls, name)
        assert 5 not in responses.method_names_from_class(SageMakerResponse)
        with mock.patch.object(SageMakerResponse, "get_model_package_group_policy", lambda self: None, create=True):
            assert "get_model_package_group_policy" in responses.method_names_from_class(SageMakerResponse)
        assert "get_model_package_group_policy" not in responses.method_names_from_class(SageMakerResponse)
    assert responses.method_names_from_class is method_names_from_class


@pytest.mark.slow  # decodes every golden prerequisites template with cfn-lint too
@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*/prerequisites-template.yaml")), ids=lambda p: p.parent.name)
def test_the_prerequisites_policies_are_those_validate_reads(path: Path) -> None:
    """roles._prerequisites parses with libyaml (`load_template`); validate decodes with cfn-lint: the same
    policies, role by role and managed policy by managed policy."""
    from generator.checks.iam_check import decode_template, managed_policies, prerequisite_policies
    from generator.iam.resolve import load_template

    ours = load_template(path.read_text(encoding="utf-8"), path.name)
    validates = decode_template(path)
    assert ours == validates  # the same data, whole
    assert prerequisite_policies(ours, "eu-west-1") == prerequisite_policies(validates, "eu-west-1")
    assert managed_policies(ours, "eu-west-1") == managed_policies(validates, "eu-west-1")


def test_full_collections_are_rarer_while_a_rehearsal_runs_and_as_before_after() -> None:
    import gc

    from generator.live.rehearse.speed import FULL_COLLECTION_THRESHOLD, collecting_garbage_less_often

    before = gc.get_threshold()
    with collecting_garbage_less_often():
        assert gc.get_threshold() == (before[0], before[1], max(before[2], FULL_COLLECTION_THRESHOLD))
    assert gc.get_threshold() == before
    with pytest.raises(ValueError), collecting_garbage_less_often():
        raise ValueError("a rehearsal that fails")
    assert gc.get_threshold() == before
