"""The rehearsal's own calls answered by the local server's WSGI application in this process, without a socket.

A rehearsal's own clients (the administrator's, each account's checks) and the local server live in one process.
Over loopback HTTP each call cost a socket, a thread the server starts for it, HTTP written and parsed on both
sides: about a tenth of a 100-account rehearsal's CPU (benchmarks/README.md, sixth pass). botocore lets a
`before-send` handler give the response instead of sending ("None or an instance of AWSResponse",
https://docs.aws.amazon.com/botocore/latest/topics/events.html; the hook moto's own in-process mock uses).
`answer` hands the request to the **same** application the server runs, with the WSGI environment werkzeug's
server would build for it (`werkzeug.serving.WSGIRequestHandler.make_environ` and moto's
`MotoRequestHandler.make_environ`, werkzeug 3.1 and moto 5.2.5), so the same code answers. The seed's build and
test scripts run as their own processes and still call the server over HTTP, as CodeBuild's would.
tests/test_rehearse_wsgi.py sends the same requests both ways and requires the same environment and answers.
"""

from __future__ import annotations

import functools
import io
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

#: urllib3 2 (`HTTPConnection.request`, `body_to_chunks`) sends `Content-Length: 0` for a request without a body
#: unless its method is one of these.
_METHODS_NOT_EXPECTING_BODY = {"GET", "HEAD", "DELETE", "TRACE", "OPTIONS", "CONNECT"}


def _body_bytes(body: Any) -> bytes:
    """The bytes urllib3 writes for botocore's body: bytes, text, or a readable stream, read from where it is to
    its end (as urllib3 leaves it: botocore rewinds a body itself before sending it again)."""
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    data = body.read()
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


@functools.cache
def _werkzeug() -> str:
    """`Werkzeug/<version>`, as the server names itself (read from the package's metadata once: 0.6 ms a read)."""
    from importlib.metadata import version

    return f"Werkzeug/{version('werkzeug')}"


def _text(value: str | bytes) -> str:
    """A header name or value as the server reads it: http.client writes text as Latin-1 (a character outside it
    fails the call) and bytes as they are, refuses CR or LF in a value, and the server decodes the header block
    as Latin-1 (botocore gives some values as bytes: X-Amz-Target)."""
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text.encode("latin-1")  # UnicodeEncodeError, as http.client's putheader raises
    if "\r" in text or "\n" in text:
        raise ValueError(f"Invalid header value {text!r}")  # http.client's message
    return text


def _wire_headers(request: Any, url: Any, body: bytes) -> list[tuple[str, str]]:
    """The header lines urllib3 sends for `request`, in order: Host and Accept-Encoding (http.client's
    `putrequest`, unless botocore set them), Content-Length when botocore set neither it nor Transfer-Encoding,
    then botocore's headers."""
    given = [(_text(name), _text(value)) for name, value in request.headers.items()]
    names = {name.lower() for name, _ in given}
    lines: list[tuple[str, str]] = []
    if "host" not in names:
        port = url.port
        lines.append(("Host", url.hostname if port in (None, 80) else f"{url.hostname}:{port}"))
    if "accept-encoding" not in names:
        lines.append(("Accept-Encoding", "identity"))
    unsized = "content-length" not in names and "transfer-encoding" not in names
    if unsized and (body or request.method.upper() not in _METHODS_NOT_EXPECTING_BODY):
        lines.append(("Content-Length", str(len(body))))
    return lines + given


def environ(request: Any) -> dict[str, Any]:
    """The WSGI environment werkzeug's server (with moto's request handler) builds for `request` (botocore's
    `AWSPreparedRequest`) arriving at the URL it is addressed to."""
    from moto.core.request import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        environ_key_for_header,
        should_preserve_original_header_name,
    )

    url = urlsplit(request.url)
    path = url.path or "/"  # botocore's URLLib3Session._path_url
    raw_path = path + (f"?{url.query}" if url.query else "")
    body = _body_bytes(request.body)
    headers = _wire_headers(request, url, body)

    def dance(text: str) -> str:  # werkzeug._internal._wsgi_encoding_dance
        return text.encode().decode("latin1")

    env: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme or "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": _werkzeug(),
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": dance(unquote(path)),
        "QUERY_STRING": dance(url.query),
        "REQUEST_URI": dance(raw_path),
        "RAW_URI": dance(raw_path),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": url.hostname or "127.0.0.1",
        "SERVER_PORT": str(url.port or 80),
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    # werkzeug: headers with an underscore are dropped, repeated ones joined (no value has CR or LF: `_text`)
    for name, value in headers:
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
            if key in env:
                value = f"{env[key]},{value}"
        env[key] = value
    if "chunked" in env.get("HTTP_TRANSFER_ENCODING", "").lower():
        env["wsgi.input_terminated"] = True  # werkzeug dechunks the body: here it is whole already
    # moto's MotoRequestHandler: S3 metadata headers keep their underscores, under their original spelling.
    dashed = {environ_key_for_header(name) for name, _ in headers if "_" not in name}
    preserved: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in headers:
        key = environ_key_for_header(name)
        if should_preserve_original_header_name(name) and key not in dashed:
            preserved.setdefault(key, name)
            values.setdefault(key, []).append(value)
    for key, key_values in values.items():
        env[key] = ",".join(key_values)
    env[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
    return env


def answer(app: Callable[..., Any], request: Any) -> Any:
    """`app`'s response to `request` as botocore's `AWSResponse`, as werkzeug's server sends it and urllib3
    reads it (`werkzeug.serving.WSGIRequestHandler.run_wsgi`): its Server and Date headers first, then the
    application's, `Transfer-Encoding: chunked` when there is no Content-Length (except for HEAD, 1xx, 204 and
    304), `Connection: close`; no body for HEAD, 1xx, 204 and 304, at most Content-Length bytes; repeated headers
    joined as urllib3 joins them. An exception in the application is logged as the server logs it ("Error on
    request") and answered with werkzeug's Internal Server Error page (botocore then retries, as it would)."""
    import traceback
    from email.utils import formatdate

    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse
    from werkzeug.exceptions import InternalServerError
    from werkzeug.test import run_wsgi_app

    env = environ(request)
    try:
        chunks, status, app_headers = run_wsgi_app(app, env, buffered=True)
    except Exception:  # werkzeug.serving.WSGIRequestHandler.run_wsgi does the same
        logging.getLogger("werkzeug").error("Error on request:\n%s", traceback.format_exc())
        chunks, status, app_headers = run_wsgi_app(InternalServerError(), env, buffered=True)
    body = b"".join(chunks)
    code = int(status.split(" ", 1)[0])
    server = f"{_werkzeug()} Python/{sys.version.split()[0]}"
    lines = [("Server", server), ("Date", formatdate(usegmt=True)), *app_headers.items()]
    names = {name.lower() for name, _ in lines}
    bodiless = request.method == "HEAD" or 100 <= code < 200 or code in (204, 304)
    if "content-length" not in names and not bodiless:
        lines.append(("Transfer-Encoding", "chunked"))
    lines.append(("Connection", "close"))
    if bodiless:
        body = b""
    elif "content-length" in names:
        body = body[: int(app_headers["Content-Length"])]  # http.client reads no further
    headers: dict[str, str] = {}
    spelled: dict[str, str] = {}
    for name, value in lines:
        first = spelled.setdefault(name.lower(), name)
        headers[first] = f"{headers[first]}, {value}" if first in headers else value
    return AWSResponse(request.url, code, headers, MockRawResponse(body))


def answering(app: Callable[..., Any], url: str, serving: threading.Event) -> Callable[..., Any]:
    """A botocore `before-send` handler: while `serving` is set, requests addressed to `url` (the local server)
    are answered by `app` in this process; anything else, or anything once the server stopped, is left to
    botocore (None: it sends the request, which then fails as a stopped server's would)."""
    prefix = url.rstrip("/") + "/"

    def before_send(request: Any, **_: Any) -> Any:
        if not serving.is_set() or not (request.url.startswith(prefix) or request.url == prefix[:-1]):
            return None
        return answer(app, request)

    return before_send
