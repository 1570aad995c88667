"""What makes the local server and its clients fast without changing any answer (issue 15, benchmarks/README.md
fifth pass): each patch below keeps, while a rehearsal runs, an answer that moto or botocore would otherwise
compute again from the same inputs, keyed by everything it depends on; tests/test_rehearse_clients.py shows that
a changed input is computed afresh. The behaviour patches (where moto differs from AWS) are in fidelity.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock


@contextmanager
def reusing_client_classes() -> Iterator[None]:
    """While the rehearsal runs, every client of one service that one session makes is of one class.

    botocore builds a new client class for every client (a method per operation of the service model: 10 to
    15 ms for IAM or SageMaker), and a rehearsal makes one client per account and service. The class depends
    only on the service model and on the session's `creating-client-class` handlers, both the same for every
    client of one session, so one class per (session's event emitter, service, API version) is the class
    botocore would build (tests/test_rehearse_clients.py); another session's clients get their own."""
    from botocore.client import ClientCreator

    original = ClientCreator._create_client_class
    classes: dict[tuple[Any, str, str], Any] = {}  # the emitter itself in the key: kept alive, never an id reused

    def create_client_class(self: Any, service_name: str, service_model: Any) -> Any:
        key = (self._event_emitter, service_name, service_model.api_version)
        if key not in classes:
            classes[key] = original(self, service_name, service_model)
        return classes[key]

    with mock.patch.object(ClientCreator, "_create_client_class", create_client_class):
        yield


@contextmanager
def remembering_backend_hosts() -> Iterator[None]:
    """moto's server finds the backend of each request by trying every service's URL patterns on its host in
    turn (a few hundred regular expressions, about a twentieth of a rehearsal's CPU): the answer for a host
    depends on the host alone (the patterns are fixed when the server starts), so it is looked up once per host
    while the server runs. A host no backend serves is asked again every time, as moto does (it warns)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.get_backend_for_host
    found: dict[tuple[int, str | None], Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        key = (id(self), host)
        if key not in found:
            backend = original(self, host)
            if not backend:
                return backend
            found[key] = backend
        return found[key]

    with mock.patch.object(DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host):
        yield


#: The collector's threshold for full collections while a rehearsal runs (Python's default: 10).
FULL_COLLECTION_THRESHOLD = 100


@contextmanager
def collecting_garbage_less_often() -> Iterator[None]:
    """Full garbage collections ten times rarer while the rehearsal runs, then Python's thresholds again.

    A rehearsal's objects mostly live until it ends (moto's state of every account, the service models, moto's
    modules), and each full collection walks all of them: a 100-account rehearsal made 12 full collections, 4.4 s
    of its CPU (timed with gc.callbacks); at this threshold 6, 1.9 s, the peak memory unchanged (386 against 384
    MB). The young generations are collected as before; what is collected never changes, only when."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], max(before[2], FULL_COLLECTION_THRESHOLD))
    try:
        yield
    finally:
        gc.set_threshold(*before)


@contextmanager
def finding_account_backends_directly() -> Iterator[None]:
    """moto looks up an account's backend of a service (`BackendDict[account]`, every request, several times)
    by building the list of every account's id and searching it, then searching its list of services in use
    with a Python `__eq__` per entry (`moto.core.base_backend.BackendDict._create_account_specific_backend`,
    5.2.5): with 200 accounts, the cost of every request grew with the organisation. The same two questions
    asked of the dict itself (a str key: `in list(d.keys())` and `in d` agree) and by identity first (`in`
    of a list answers True for the object itself before any `__eq__`), with moto's lock."""
    from moto.core.base_backend import AccountSpecificBackend, BackendDict, backend_lock

    def create(self: Any, account_id: str) -> None:
        with backend_lock:
            if account_id not in self:
                self[account_id] = AccountSpecificBackend(
                    service_name=self.service_name,
                    account_id=account_id,
                    backend=self.backend,
                    use_boto3_regions=self._use_boto3_regions,
                    additional_regions=self._additional_regions,
                )
            instances: list[Any] = BackendDict._instances  # type: ignore[misc]  # as moto reads it
            if not any(instance is self for instance in instances) and self not in instances:
                instances.append(self)

    with mock.patch.object(BackendDict, "_create_account_specific_backend", create):
        yield


@contextmanager
def naming_response_methods_directly() -> Iterator[None]:
    """moto decides whether a request's action is a method of its response class by listing every function
    of the class (`moto.core.utils.method_names_from_class`: `inspect.getmembers`, a getattr per attribute, for
    every request) and searching the list. `inspect.getmembers` lists the names `dir` gives (a class's and its
    bases' attributes) whose value is a function: for the one name asked, the same answer is whether the
    class's attribute of that name is a function (a metaclass's attributes, which `dir` leaves out, would be
    bound methods, not functions). Asked afresh each time: a method patched in answers as it is."""
    import inspect

    from moto.core import responses

    class FunctionNames:
        def __init__(self, clazz: Any) -> None:
            self.clazz = clazz

        def __contains__(self, name: object) -> bool:
            return isinstance(name, str) and inspect.isfunction(getattr(self.clazz, name, None))

    with mock.patch.object(responses, "method_names_from_class", FunctionNames):
        yield


@contextmanager
def remembering_key_accounts() -> Iterator[None]:
    """The account moto serves a request's access key as, looked up once per key.

    moto (`moto.iam.models.get_account_id_from`) looks for the key in every account's IAM backend, in every
    partition, for every request: with 100 accounts a twentieth of the rehearsal's CPU, growing with the
    organisation. An account found is remembered and checked on each use (the key still in that account's
    backend of that partition: a deleted key or a reset is looked up again); a key found nowhere (the management
    account's, the product roles' local keys) is remembered until moto creates a key of that id (IAM
    CreateAccessKey, or the temporary key of sts:AssumeRole), the only thing that could change that answer."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam import models
    from moto.iam.models import IAMBackend, iam_backends
    from moto.utilities.utils import PARTITION_NAMES

    original = models.get_account_id_from
    found: dict[str, tuple[str, str]] = {}  # key -> (account, partition)
    nowhere: set[str] = set()
    lock = threading.Lock()

    def get_account_id_from(access_key: str) -> str:
        where = found.get(access_key)
        if where is not None and access_key in iam_backends[where[0]][where[1]].access_keys:
            return where[0]
        if access_key in nowhere:
            return DEFAULT_ACCOUNT_ID  # what the lookup answers for a key it finds nowhere
        answer = original(access_key)
        with lock:
            partition = next((p for p in PARTITION_NAMES if access_key in iam_backends[answer][p].access_keys), None)
            if partition is not None:
                found[access_key] = (answer, partition)
            else:
                nowhere.add(access_key)
        return answer

    def counting(name: str) -> Any:
        method = getattr(IAMBackend, name)

        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            key = method(self, *args, **kwargs)
            with lock:
                nowhere.discard(key.access_key_id)
            return key

        return create

    creators = {name: counting(name) for name in ("create_access_key", "create_temp_access_key")}
    with (
        mock.patch.object(models, "get_account_id_from", get_account_id_from),
        mock.patch.multiple(IAMBackend, **creators),
    ):
        yield
