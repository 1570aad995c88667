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

import io
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

#: What `http.client` adds to every request botocore sends through urllib3 (botocore sets neither).
_CLIENT_HEADERS = {"accept-encoding": "identity"}
#: http.client sends `Content-Length: 0` for these methods when there is no body (`_METHODS_EXPECTING_BODY`).
_METHODS_EXPECTING_BODY = {"PATCH", "POST", "PUT"}


def _body_bytes(body: Any) -> bytes:
    """The bytes urllib3 would write for botocore's body: bytes, text, or a readable stream (read whole)."""
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    start = body.tell() if hasattr(body, "tell") else None
    data = body.read()
    if start is not None and hasattr(body, "seek"):
        body.seek(start)  # botocore rewinds a body to retry it: leave it where it was
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


def _text(value: str | bytes) -> str:
    """A header name or value as the server reads it: http.client writes text as Latin-1 and bytes as they are,
    and the server decodes the header block as Latin-1 (botocore gives some values as bytes: X-Amz-Target)."""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def environ(request: Any) -> dict[str, Any]:
    """The WSGI environment werkzeug's server (with moto's request handler) builds for `request` (botocore's
    `AWSPreparedRequest`) arriving at the URL it is addressed to."""
    from moto.core.request import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        environ_key_for_header,
        should_preserve_original_header_name,
    )

    url = urlsplit(request.url)
    raw_path = url.path + (f"?{url.query}" if url.query else "")
    body = _body_bytes(request.body)
    headers = [(_text(name), _text(value)) for name, value in request.headers.items()]
    names = {name.lower() for name, _ in headers}
    headers.insert(0, ("Host", url.netloc))
    headers += [(name.title(), value) for name, value in _CLIENT_HEADERS.items() if name not in names]
    if "content-length" not in names and (body or request.method in _METHODS_EXPECTING_BODY):
        headers.append(("Content-Length", str(len(body))))

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
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": dance(unquote(url.path)),
        "QUERY_STRING": dance(url.query),
        "REQUEST_URI": dance(raw_path),
        "RAW_URI": dance(raw_path),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": url.hostname or "127.0.0.1",
        "SERVER_PORT": str(url.port or 80),
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    for name, value in headers:  # werkzeug: headers with an underscore are dropped, repeated ones joined
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        value = value.replace("\r\n", "")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
            if key in env:
                value = f"{env[key]},{value}"
        env[key] = value
    # moto's MotoRequestHandler: S3 metadata headers keep their underscores, under their original spelling.
    dashed = {environ_key_for_header(name) for name, _ in headers if "_" not in name}
    preserved: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in headers:
        key = environ_key_for_header(name)
        if should_preserve_original_header_name(name) and key not in dashed:
            preserved.setdefault(key, name)
            values.setdefault(key, []).append(value.replace("\r\n", ""))
    for key, key_values in values.items():
        env[key] = ",".join(key_values)
    env[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
    return env


def answer(app: Callable[..., Any], request: Any) -> Any:
    """`app`'s response to `request` as botocore's `AWSResponse`, as the server would have sent it: no body for
    HEAD, 1xx, 204 and 304; repeated headers joined as urllib3 joins them; an exception in the application a 500,
    which werkzeug's server answers with its Internal Server Error page (botocore then retries, as it would)."""
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse
    from werkzeug.exceptions import InternalServerError
    from werkzeug.test import run_wsgi_app

    env = environ(request)
    try:
        chunks, status, response_headers = run_wsgi_app(app, env, buffered=True)
        body = b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
    except Exception:  # werkzeug.serving.WSGIRequestHandler.run_wsgi does the same
        chunks, status, response_headers = run_wsgi_app(InternalServerError(), env, buffered=True)
        body = b"".join(chunks)
    code = int(status.split(" ", 1)[0])
    if request.method == "HEAD" or code < 200 or code in (204, 304):
        body = b""
    headers: dict[str, str] = {}
    lower: dict[str, str] = {}
    for name, value in response_headers.items():
        seen = lower.setdefault(name.lower(), name)
        headers[seen] = f"{headers[seen]}, {value}" if seen in headers else value
    return AWSResponse(request.url, code, headers, MockRawResponse(body))


def answering(app: Callable[..., Any], url: str) -> Callable[..., Any]:
    """A botocore `before-send` handler: requests addressed to `url` (the local server) are answered by `app`
    in this process; anything else is left to botocore (None: it sends the request)."""
    prefix = url.rstrip("/") + "/"

    def before_send(request: Any, **_: Any) -> Any:
        if not (request.url.startswith(prefix) or request.url == prefix[:-1]):
            return None
        return answer(app, request)

    return before_send
