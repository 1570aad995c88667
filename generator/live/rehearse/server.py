"""The embedded local AWS: one moto server on 127.0.0.1, started and stopped around a rehearsal.

moto's `ThreadedMotoServer` runs in a thread of this process, so its backends are this process's
moto backends: the fidelity patches (`fidelity.py`) apply to it, and a rehearsal starts and ends
with a reset so nothing leaks from one rehearsal into the next. The rehearsal's own clients are answered
by the server's application in this process (`wsgi.py`); the build scripts, separate processes, call it
over HTTP.
"""

from __future__ import annotations

import logging
import pickle
import threading
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from generator.errors import MlopsGenError

#: The moto release the fidelity patches (fidelity.py) and the call-time authorizer are written against:
#: they patch moto's internal classes, which change between releases. pyproject's `rehearse` extra pins it.
MOTO_VERSION = "5.2.5"
INSTALL_HINT = "pip install 'mlops-gen[rehearse]'"
#: How long a client waits for the local server's answer. botocore's default (60 s) then retries the request:
#: for CreateStackInstances over a 100-account OU, which moto answers only once it has created every stack
#: instance (over a minute), the retry created the instances a second time and failed on BucketAlreadyExists.
#: The server is local and synchronous: a slow answer is work in progress, never a lost connection.
READ_TIMEOUT_S = 3600


class RehearsalUnavailable(MlopsGenError):
    """The local AWS cannot run here: moto is missing or not the release the rehearsal patches (exit 2)."""

    exit_code = 2


def _credentials_key(credentials: dict[str, Any] | None) -> Credentials:
    """The credential set a session is for: the management account's when none are given."""
    if credentials is None:
        return (ACCESS_KEY, SECRET_KEY, None)
    return (credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials.get("SessionToken") or None)


def _expires_soon(expiration: Any, margin: timedelta = timedelta(minutes=5)) -> bool:
    """True when assumed credentials expire within `margin` (botocore gives a timezone-aware datetime)."""
    if not isinstance(expiration, datetime):
        return True
    moment = expiration if expiration.tzinfo else expiration.replace(tzinfo=UTC)
    return moment - datetime.now(UTC) < margin


def check_moto(installed: str | None = None) -> None:
    """Refuse to start unless moto `MOTO_VERSION` (with its server) is installed."""
    from importlib.metadata import PackageNotFoundError, version

    if installed is None:
        try:
            installed = version("moto")
        except PackageNotFoundError:
            raise RehearsalUnavailable(f"rehearse needs moto {MOTO_VERSION} (not installed): {INSTALL_HINT}") from None
    if installed != MOTO_VERSION:
        raise RehearsalUnavailable(
            f"rehearse patches moto {MOTO_VERSION}'s internals, but moto {installed} is installed: {INSTALL_HINT} "
            f"(it pins moto=={MOTO_VERSION})"
        )
    try:
        import flask  # noqa: F401  # moto's server runs on flask (moto[server])
    except ImportError:
        raise RehearsalUnavailable(f"rehearse needs moto's server (flask is missing): {INSTALL_HINT}") from None


#: Credentials the local server accepts; any value works, these are moto's documented ones.
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
#: The account moto serves to the credentials above: the organisation's management account.
MANAGEMENT_ACCOUNT = "123456789012"


Credentials = tuple[str, str, str | None]


@cache
def _data_loader() -> Any:
    """botocore's data loader, one per process: it reads each service model and the endpoint rules from JSON once
    and keeps them (botocore shares one loader between all clients of a session the same way). A rehearsal made
    14 clients of new services and parsed their models afresh: 0.8 s of each in-process rehearsal (the tests run
    about thirty). The models are botocore's installed files; nothing of a rehearsal is kept in it."""
    import botocore.loaders

    return botocore.loaders.create_loader()


@dataclass(frozen=True)
class Session:
    """A credential set the rehearsal calls the local server as: a handle, not a boto3 session. Every client is
    made by the one boto3 session of `LocalAws` with these keys given explicitly
    (`boto3.Session.client(aws_access_key_id=...)`): the client signs with them and nothing else."""

    credentials: Credentials


@dataclass(frozen=True)
class LocalAws:
    """Where the local server listens, and clients against it.

    One botocore session makes every client (its event handlers registered once, its data loader reading each
    service model and the endpoint rules from JSON once), one client per (credentials, service, region), each
    client of a service of one class (speed.reusing_client_classes, while `local_aws` runs). Each account of the
    organisation has its own assumed-role credentials, as the pipeline's clients do; before, each credential
    set had its own botocore session and each of its clients its own class: about a tenth of a 100-account
    rehearsal's CPU (benchmarks/README.md, fifth pass). boto3 clients are safe to share across threads.
    """

    url: str
    region: str
    #: The server's WSGI application: when given, this process's clients are answered by it directly
    #: (wsgi.py) rather than over loopback HTTP; the build scripts, separate processes, still use `url`.
    app: Any = field(default=None, compare=False, repr=False)
    #: Set while the server runs (`local_aws`): once it stops, this process's calls go to `url` and fail there.
    serving: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    _core: list[Any] = field(default_factory=list, compare=False, repr=False)
    _sessions: dict[Credentials, Session] = field(default_factory=dict, compare=False, repr=False)
    _clients: dict[tuple[Credentials, str, str], Any] = field(default_factory=dict, compare=False, repr=False)
    _assumed: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)

    def session(self, credentials: dict[str, Any] | None = None) -> Session:
        """The management account's credentials, or assumed-role `credentials` (AccessKeyId, SecretAccessKey,
        SessionToken), to pass to `client`."""
        key = _credentials_key(credentials)
        return self._sessions.setdefault(key, Session(key))

    def boto3_session(self) -> Any:
        """The one boto3 session every client of this rehearsal comes from (the management account's keys are
        its own; other credentials are given to each client)."""
        if not self._core:
            import boto3
            import botocore.session

            core = botocore.session.Session()
            core.register_component("data_loader", _data_loader())
            if self.app is not None:
                from generator.live.rehearse.wsgi import answering

                core.register("before-send", answering(self.app, self.url, self.serving))
            self._core.append(boto3.Session(ACCESS_KEY, SECRET_KEY, region_name=self.region, botocore_session=core))
        return self._core[0]

    def client(self, service: str, session: Session | None = None, region: str | None = None) -> Any:
        """A client of the local server for `service` in `region`, as `session`'s credentials (the
        management account by default); the same client for the same credentials, service and region."""
        credentials = (session or self.session()).credentials
        key = (credentials, service, region or self.region)
        if key not in self._clients:
            from botocore.config import Config

            access_key, secret_key, token = credentials
            self._clients[key] = self.boto3_session().client(
                service,
                endpoint_url=self.url,
                region_name=key[2],
                config=Config(read_timeout=READ_TIMEOUT_S),
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                aws_session_token=token,
            )
        return self._clients[key]

    def assume(self, account: str, role: str, session_name: str = "mlops-gen-rehearsal") -> Session:
        """A session in `account` as `role`, the way the pipeline and administrators reach member accounts.

        The assumed credentials are kept until shortly before they expire, as an SDK's credential
        provider keeps them: a rehearsal reaches each account many times (every stack instance, every
        check), and a new AssumeRole each time meant a new session and new clients each time."""
        arn = f"arn:aws:iam::{account}:role/{role}"
        kept = self._assumed.get((arn, session_name))
        if kept is None or _expires_soon(kept["Expiration"]):
            kept = self.client("sts").assume_role(RoleArn=arn, RoleSessionName=session_name)["Credentials"]
            self._assumed[(arn, session_name)] = kept
        return self.session(kept)

    def post(self, path: str, body: bytes = b"") -> None:
        """POST to moto's own API (`/moto-api/...`): reset, canned answers (in-process when the application is
        at hand, as the clients are); an error status raises."""
        headers = {"Content-Type": "application/json"}
        if self.app is not None and self.serving.is_set():
            from botocore.awsrequest import AWSPreparedRequest

            from generator.live.rehearse.wsgi import answer

            answered = answer(self.app, AWSPreparedRequest("POST", self.url + path, headers, body, False))
            if answered.status_code >= 400:
                raise RuntimeError(f"moto's API answered {answered.status_code} to {path}: {answered.text[:200]}")
            return
        request = urllib.request.Request(self.url + path, data=body, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def environment(self, credentials: dict[str, str] | None = None) -> dict[str, str]:
        """What a build subprocess needs to reach this server and nothing else (as the role `credentials`
        stand for, when given: a CodeBuild project's service role)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"] if credentials else ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"] if credentials else SECRET_KEY,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # No profile, config or credentials file of the user's may point the build elsewhere.
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }


def moto_template_loader() -> Any:
    """moto's CloudFormation loader (PyYAML's full `Constructor` and moto's short-form constructor) on libyaml's
    parser: the same data in a tenth of the CPU."""
    import yaml
    from moto.cloudformation.utils import yaml_tag_constructor

    loader: Any = type("MotoCLoader", (getattr(yaml, "CLoader", yaml.Loader),), {})
    loader.add_multi_constructor("", yaml_tag_constructor)
    return loader


@contextmanager
def libyaml_stack_templates() -> Iterator[None]:
    """Parse each stack's template with `moto_template_loader` while the server runs, each distinct text once.

    moto parses the stack-set template again for every stack instance, with PyYAML's pure-Python parser: nine
    tenths of what a stack instance cost the rehearsal (a py-spy profile of 40 instances, benchmarks/README.md).
    Speed only, not behaviour: tests/test_rehearse_clients.py parses every template the rehearsal deploys both
    ways and requires the same data; JSON text is parsed as moto parses it (YAML first, then JSON)."""
    from unittest import mock

    import yaml
    from moto.cloudformation.models import Stack

    loader = moto_template_loader()
    parsed: dict[str, bytes] = {}

    def parse(template: str) -> Any:
        try:
            return yaml.load(template, Loader=loader)
        except (yaml.parser.ParserError, yaml.scanner.ScannerError):  # what moto catches
            import json

            return json.loads(template)

    def parse_template(template: str) -> dict[str, Any]:
        # Each stack instance of a stack set parses the same text (and an update re-creates every instance,
        # fidelity.py): it is parsed once, and each stack gets its own copy (moto may change what it is given).
        if template not in parsed:
            parsed[template] = pickle.dumps(parse(template), protocol=pickle.HIGHEST_PROTOCOL)
        return pickle.loads(parsed[template])  # type: ignore[no-any-return]

    with mock.patch.object(Stack, "parse_template", staticmethod(parse_template)):
        yield


#: How often the server's loop looks whether it was asked to stop. socketserver's default (0.5 s) made every
#: rehearsal wait half a second for its server to stop, idle; at 0.05 s the idle loop's wake-ups cost nothing
#: measurable and the stop waits at most that.
POLL_INTERVAL_S = 0.05


def _server(ip_address: str) -> Any:
    """moto's `ThreadedMotoServer` on a free port of `ip_address`, its loop polling every `POLL_INTERVAL_S`, its
    request log formatted only when logged."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class Handler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """werkzeug formats every request's log line (the path decoded, a date) before its logger drops it
            at the rehearsal's level: a fiftieth of the server's CPU. Formatted only when it would be logged."""
            if logging.getLogger("werkzeug").isEnabledFor(logging.INFO):
                super().log_request(code, size)

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:  # moto 5.2.5's, with the poll interval and the handler above
            app = self.app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=Handler)
            self._server_ready_event.set()
            self._server.serve_forever(poll_interval=POLL_INTERVAL_S)

    return Server(ip_address=ip_address, port=0, verbose=False)


@contextmanager
def local_aws(region: str) -> Iterator[LocalAws]:
    """Start moto's threaded server on a free port of 127.0.0.1; stop it whatever happens."""
    from generator.live.rehearse.speed import (
        collecting_garbage_less_often,
        finding_account_backends_directly,
        naming_response_methods_directly,
        remembering_backend_hosts,
        remembering_key_accounts,
        reusing_client_classes,
    )

    # The server logs every request (werkzeug) and moto warns about each resource type its
    # CloudFormation skips; the rehearsal reports what it models itself instead.
    quiet = {name: logging.getLogger(name).level for name in ("werkzeug", "moto")}
    for name in quiet:
        logging.getLogger(name).setLevel(logging.ERROR)
    server = _server("127.0.0.1")
    server.start()
    aws: LocalAws | None = None
    try:
        host, port = server.get_host_and_port()
        aws = LocalAws(f"http://{host}:{port}", region, app=server.app)
        aws.serving.set()
        aws.post("/moto-api/reset")
        with (
            warnings.catch_warnings(),
            libyaml_stack_templates(),
            reusing_client_classes(),
            remembering_backend_hosts(),
            remembering_key_accounts(),
            finding_account_backends_directly(),
            naming_response_methods_directly(),
            collecting_garbage_less_often(),
        ):
            warnings.simplefilter("ignore")
            yield aws
        aws.post("/moto-api/reset")
    finally:
        if aws is not None:
            aws.serving.clear()
        server.stop()
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)
