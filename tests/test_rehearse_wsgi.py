"""The rehearsal's own calls answered in-process (generator/live/rehearse/wsgi.py): the local server's application
gets the WSGI environment werkzeug's server builds for the same request, and the clients get the same answers
as over loopback HTTP, without a socket."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

from generator.live.rehearse import wsgi
from generator.live.rehearse.server import LocalAws, local_aws

pytestmark = pytest.mark.slow  # starts the local server and loads service models

REGION = "eu-west-1"
#: What only a socket has (or what differs per connection): the rest of the environment must be equal.
SOCKET_KEYS = {"werkzeug.socket", "REMOTE_PORT", "wsgi.input", "wsgi.errors"}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAws]:
    with local_aws("eu-west-1") as aws:
        yield aws


@pytest.fixture
def recorded() -> Iterator[list[dict[str, Any]]]:
    """Every environment the local server's application is called with (its body read into `body`)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__
    seen: list[dict[str, Any]] = []

    def recording(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        seen.append({**environ, "body": body})
        return original(self, environ, start_response)

    with mock.patch.object(DomainDispatcherApplication, "__call__", recording):
        yield seen


def over_http(aws: LocalAws, service: str) -> Any:
    """A client of the local server over loopback HTTP (no in-process answers), signed as the management account."""
    import boto3
    from botocore.config import Config

    return boto3.Session("testing", "testing", region_name=aws.region).client(
        service, endpoint_url=aws.url, config=Config(retries={"max_attempts": 1})
    )


def sent(client: Any, operation: str, **params: Any) -> Any:
    """Call `operation`, keeping the request botocore prepared (a failure of the call itself is fine here)."""
    requests: list[Any] = []
    client.meta.events.register("before-send", lambda request, **_: requests.append(request))
    with contextlib.suppress(client.exceptions.ClientError):
        getattr(client, operation)(**params)
    return requests[-1]


#: Requests of each protocol and the odd corners of HTTP: bytes headers (X-Amz-Target), an S3 metadata header
#: with an underscore, a key with non-ASCII characters, spaces and a plus, a query string, HEAD, an empty POST.
CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("sts", "get_caller_identity", {}),
    ("iam", "list_roles", {"PathPrefix": "/a b/"}),
    ("sagemaker", "list_model_package_groups", {"NameContains": "iris"}),
    (
        "s3",
        "create_bucket",
        {"Bucket": "wsgi-bucket", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}},
    ),
    ("s3", "put_object", {"Bucket": "wsgi-bucket", "Key": "dir/ä b+c.txt", "Body": b"x", "Metadata": {"my_key": "v"}}),
    ("s3", "head_object", {"Bucket": "wsgi-bucket", "Key": "dir/ä b+c.txt"}),
    ("s3", "list_objects_v2", {"Bucket": "wsgi-bucket", "Prefix": "dir/ä"}),
    ("cloudformation", "list_stack_sets", {}),
]


@pytest.mark.parametrize(("service", "operation", "params"), CALLS, ids=[c[1] for c in CALLS])
def test_the_application_gets_the_environment_werkzeug_s_server_builds(
    server: LocalAws, recorded: list[dict[str, Any]], service: str, operation: str, params: dict[str, Any]
) -> None:
    request = sent(over_http(server, service), operation, **params)
    request.reset_stream()  # sent once: rewound, as botocore rewinds a body to send it again
    wsgi.answer(server.app, request)
    assert len(recorded) == 2
    over_socket, in_process = ({k: v for k, v in e.items() if k not in SOCKET_KEYS} for e in recorded)
    assert in_process == over_socket
    assert list(in_process) == list(over_socket)  # the headers in the order they were sent


def test_a_bytes_header_is_read_as_the_server_reads_it() -> None:
    """The failing fixture of the class above: botocore gives X-Amz-Target as bytes; `str()` of it gave "b'...'",
    which moto answered with a 500 (its action name ended in a quote)."""
    from botocore.awsrequest import AWSPreparedRequest

    request = AWSPreparedRequest(
        "POST", "http://127.0.0.1:5000/", {"X-Amz-Target": b"SageMaker.ListModels"}, b"{}", False
    )
    assert wsgi.environ(request)["HTTP_X_AMZ_TARGET"] == "SageMaker.ListModels"


def test_the_clients_get_the_answers_they_get_over_http(server: LocalAws) -> None:
    """In-process and over HTTP, the same parsed answers (request ids and dates aside), errors included."""
    from botocore.exceptions import ClientError

    varying = {"x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "date"}

    def strip(answer: dict[str, Any]) -> dict[str, Any]:
        answer = dict(answer)
        metadata = answer.pop("ResponseMetadata")
        headers = {k: v for k, v in metadata["HTTPHeaders"].items() if k not in varying}
        body = answer.pop("Body", None)
        return {**answer, "Body": body.read() if body is not None else None, "status": metadata["HTTPStatusCode"]} | {
            "headers": headers
        }

    def call(client: Any, operation: str, **params: Any) -> Any:
        try:
            return strip(getattr(client, operation)(**params))
        except ClientError as exc:
            return strip({"Error": exc.response["Error"], "ResponseMetadata": exc.response["ResponseMetadata"]})

    s3, http_s3 = server.client("s3"), over_http(server, "s3")
    s3.create_bucket(Bucket="answers", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="answers", Key="k_1 ä", Body=b"payload", Metadata={"under_score": "1", "Dash-Key": "2"})
    for operation, params in [
        ("get_object", {"Bucket": "answers", "Key": "k_1 ä"}),
        ("head_object", {"Bucket": "answers", "Key": "k_1 ä"}),
        ("get_object", {"Bucket": "answers", "Key": "missing"}),
        ("head_object", {"Bucket": "answers", "Key": "missing"}),
        ("list_objects_v2", {"Bucket": "answers"}),
        ("get_object", {"Bucket": "answers", "Key": "k_1 ä", "Range": "bytes=1-3"}),
        ("delete_object", {"Bucket": "answers", "Key": "missing"}),
    ]:
        assert call(s3, operation, **params) == call(http_s3, operation, **params), operation
    for service, operation, params in [
        ("sts", "get_caller_identity", {}),
        ("sagemaker", "describe_model", {"ModelName": "missing"}),
        ("iam", "get_role", {"RoleName": "missing"}),
    ]:
        assert call(server.client(service), operation, **params) == call(
            over_http(server, service), operation, **params
        )
    assert call(s3, "get_object", Bucket="answers", Key="k_1 ä")["Metadata"] == {"under_score": "1", "dash-key": "2"}


def test_the_rehearsal_s_clients_open_no_socket(server: LocalAws) -> None:
    """A client of `LocalAws` with the server's application is answered in-process: sending over HTTP fails here."""
    with mock.patch("botocore.httpsession.URLLib3Session.send", side_effect=AssertionError("sent over HTTP")):
        assert server.client("sts").get_caller_identity()["Account"] == "123456789012"


def test_only_requests_to_the_server_are_answered_in_process() -> None:
    from botocore.awsrequest import AWSPreparedRequest

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Two", "a"), ("x-two", "b")])
        return [b"answered"]

    import threading

    serving = threading.Event()
    serving.set()
    handler = wsgi.answering(app, "http://127.0.0.1:5000", serving)
    for url in ("http://127.0.0.1:50001/", "http://127.0.0.1:500/", "https://sts.amazonaws.com/"):
        assert handler(AWSPreparedRequest("GET", url, {}, None, False)) is None
    for url in ("http://127.0.0.1:5000", "http://127.0.0.1:5000/", "http://127.0.0.1:5000/x?y=1"):
        response = handler(AWSPreparedRequest("GET", url, {}, None, False))
        assert (response.status_code, response.content) == (200, b"answered")
        assert response.headers["x-two"] == "a, b"  # as urllib3 joins a repeated header
    head = handler(AWSPreparedRequest("HEAD", "http://127.0.0.1:5000/", {}, None, False))
    assert (head.status_code, head.content, head.headers["Content-Type"]) == (200, b"", "text/plain")
    assert head.headers["Connection"] == "close" and "Transfer-Encoding" not in head.headers
    get = handler(AWSPreparedRequest("GET", "http://127.0.0.1:5000/", {}, None, False))
    assert get.headers["Transfer-Encoding"] == "chunked"  # no Content-Length: werkzeug's server sends it chunked
    serving.clear()  # the server stopped: botocore sends the request, which fails as it would
    assert handler(AWSPreparedRequest("GET", "http://127.0.0.1:5000/", {}, None, False)) is None


def test_an_application_error_is_the_500_werkzeug_s_server_sends_and_logs() -> None:
    import logging

    from botocore.awsrequest import AWSPreparedRequest

    def failing(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("a bug in the application")

    with mock.patch.object(logging.getLogger("werkzeug"), "error") as logged:
        response = wsgi.answer(failing, AWSPreparedRequest("POST", "http://127.0.0.1:5000/", {}, b"x", False))
    assert response.status_code == 500
    assert b"Internal Server Error" in response.content
    assert "Error on request" in logged.call_args.args[0] and "a bug in the application" in logged.call_args.args[1]


def test_a_streamed_body_is_sent_from_where_it_is_to_its_end() -> None:
    """As urllib3 sends it (botocore rewinds a body itself before sending it again); a body without a length,
    sent chunked, reaches the application as werkzeug's server passes it on: no Content-Length, input ended."""
    from botocore.awsrequest import AWSPreparedRequest

    body = io.BytesIO(b"prefix:streamed body")
    body.seek(7)
    environ = wsgi.environ(AWSPreparedRequest("PUT", "http://127.0.0.1:5000/b/k", {}, body, False))
    assert environ["wsgi.input"].read() == b"streamed body"
    assert environ["CONTENT_LENGTH"] == str(len(b"streamed body"))
    assert body.read() == b""
    chunked = {"Transfer-Encoding": "chunked"}
    environ = wsgi.environ(AWSPreparedRequest("PUT", "http://127.0.0.1:5000/b/k", chunked, b"data", False))
    assert "CONTENT_LENGTH" not in environ and environ["wsgi.input_terminated"] is True
    empty = wsgi.environ(AWSPreparedRequest("POST", "http://127.0.0.1:5000/", {}, None, False))
    assert empty["CONTENT_LENGTH"] == "0"  # http.client sends Content-Length: 0 for a POST without a body
    for method in ("GET", "DELETE"):
        assert "CONTENT_LENGTH" not in wsgi.environ(
            AWSPreparedRequest(method, "http://127.0.0.1:5000/", {}, None, False)
        )
    assert wsgi.environ(AWSPreparedRequest("GET", "http://127.0.0.1:5000", {}, None, False))["PATH_INFO"] == "/"


def test_headers_are_folded_as_werkzeug_folds_them() -> None:
    """Repeated headers joined with a comma, names with an underscore dropped, except S3 metadata, which moto's
    request handler keeps under its original spelling."""
    from botocore.awsrequest import AWSPreparedRequest
    from botocore.compat import HTTPHeaders
    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY

    headers = HTTPHeaders()
    sent = [("X-Twice", "1"), ("X-Twice", "2"), ("X_Under", "u"), ("x-amz-meta-my_key", "m")]
    for name, value in [*sent, ("x-amz-meta-a_b", "u"), ("x-amz-meta-a-b", "d")]:
        headers.add_header(name, value)
    environ = wsgi.environ(AWSPreparedRequest("GET", "http://127.0.0.1:5000/", headers, None, False))
    assert environ["HTTP_X_TWICE"] == "1,2"
    assert environ["HTTP_HOST"] == "127.0.0.1:5000" and environ["HTTP_ACCEPT_ENCODING"] == "identity"
    assert "HTTP_X_UNDER" not in environ
    assert environ["HTTP_X_AMZ_META_MY_KEY"] == "m"
    assert environ["HTTP_X_AMZ_META_A_B"] == "d"  # never an underscored name for a dashed one
    assert environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] == {"HTTP_X_AMZ_META_MY_KEY": "x-amz-meta-my_key"}


def test_moto_s_api_is_called_in_process_and_an_error_status_raises(server: LocalAws) -> None:
    with mock.patch("urllib.request.urlopen", side_effect=AssertionError("sent over HTTP")):
        server.post("/moto-api/reset")
        with pytest.raises(RuntimeError, match="moto's API answered 500"):
            server.post("/moto-api/static/sagemaker/endpoint-results", b"not json")


def test_the_server_formats_a_request_s_log_line_only_when_it_is_logged(server: LocalAws) -> None:
    """At the rehearsal's level (werkzeug logs errors only) no request line is formatted; at INFO it is logged."""
    import logging

    import boto3

    from generator.live.rehearse import server as module

    assert logging.getLogger("werkzeug").level == logging.ERROR  # local_aws quiets the server
    sts = boto3.Session("testing", "testing", region_name="eu-west-1").client("sts", endpoint_url=server.url)
    with mock.patch("werkzeug.serving.uri_to_iri", side_effect=AssertionError("formatted")):
        sts.get_caller_identity()
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    try:
        with mock.patch.object(logging.getLogger("werkzeug"), "info") as info:
            sts.get_caller_identity()
        assert info.call_count == 1 and "POST / HTTP/1.1" in info.call_args.args[1]
    finally:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    assert module.POLL_INTERVAL_S == 0.05


def test_header_values_http_client_refuses_are_refused_and_a_given_host_kept() -> None:
    from botocore.awsrequest import AWSPreparedRequest

    def env(headers: dict[str, Any]) -> dict[str, Any]:
        return wsgi.environ(AWSPreparedRequest("GET", "http://127.0.0.1:5000/", headers, None, False))

    with pytest.raises(UnicodeEncodeError):
        env({"X-Value": "€"})
    with pytest.raises(ValueError, match="Invalid header value"):
        env({"X-Value": "a\r\nInjected: b"})
    assert env({"Host": "example.com"})["HTTP_HOST"] == "example.com"
    assert wsgi.environ(AWSPreparedRequest("GET", "http://localhost/", {}, None, False))["HTTP_HOST"] == "localhost"


def test_a_stopped_server_s_clients_fail_as_they_did_over_http() -> None:
    from botocore.exceptions import EndpointConnectionError

    with local_aws(REGION) as aws:
        sts = aws.client("sts")
        assert sts.get_caller_identity()["Account"] == "123456789012"
    with pytest.raises(EndpointConnectionError):
        sts.get_caller_identity()
