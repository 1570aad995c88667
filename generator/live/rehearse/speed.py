"""What makes the local server and its clients fast without changing any answer (issue 15, benchmarks/README.md
fifth pass): each patch below keeps, while a rehearsal runs, an answer that moto or botocore would otherwise
compute again from the same inputs, keyed by everything it depends on; tests/test_rehearse_clients.py shows that
a changed input is computed afresh. The behaviour patches (where moto differs from AWS) are in fidelity.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

if TYPE_CHECKING:
    from generator.live.rehearse.server import LocalAws


@contextmanager
def reusing_client_classes(aws: LocalAws) -> Iterator[None]:
    """While the rehearsal runs, every client of one service that `aws`'s session makes is of one class.

    botocore builds a new client class for every client (a method per operation of the service model: 10 to
    15 ms for IAM or SageMaker), and a rehearsal makes one client per account and service. The class depends
    only on the service model and on the session's `creating-client-class` handlers, both the same for every
    client of `aws`'s session, so one class per (service, API version) is the class botocore would build
    (tests/test_rehearse_clients.py). Clients of any other session are left alone."""
    from botocore.client import ClientCreator

    original = ClientCreator._create_client_class
    classes: dict[tuple[str, str], Any] = {}

    def create_client_class(self: Any, service_name: str, service_model: Any) -> Any:
        if not aws.owns(self._event_emitter):
            return original(self, service_name, service_model)
        key = (service_name, service_model.api_version)
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


@contextmanager
def remembering_key_accounts() -> Iterator[None]:
    """The account moto serves a request's access key as, looked up once per key.

    moto (`moto.iam.models.get_account_id_from`) looks for the key in every account's IAM backend, in every
    partition, for every request: with 100 accounts a twentieth of the rehearsal's CPU, growing with the
    organisation. An account found is remembered and checked on each use (the key still in that account's
    backend: a deleted key or a reset is looked up again); a key found nowhere (the management account's, the
    product roles' local keys) is remembered until moto creates any new access key (IAM CreateAccessKey, or the
    temporary key of sts:AssumeRole), since only a new key could change that answer."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam import models
    from moto.iam.models import IAMBackend, iam_backends
    from moto.utilities.utils import PARTITION_NAMES

    original = models.get_account_id_from
    found: dict[str, str] = {}
    nowhere: dict[str, int] = {}  # key -> the count of keys created when it was found nowhere
    created = [0]
    lock = threading.Lock()

    def get_account_id_from(access_key: str) -> str:
        account = found.get(access_key)
        if account is not None and any(
            access_key in iam_backends[account][partition].access_keys for partition in PARTITION_NAMES
        ):
            return account
        if nowhere.get(access_key) == created[0]:
            return DEFAULT_ACCOUNT_ID  # what the lookup answers for a key it finds nowhere
        before = created[0]
        answer = original(access_key)
        if any(access_key in iam_backends[answer][p].access_keys for p in PARTITION_NAMES):
            found[access_key] = answer
        else:
            nowhere[access_key] = before
        return answer

    def counting(name: str) -> Any:
        method = getattr(IAMBackend, name)

        def create(self: Any, *args: Any, **kwargs: Any) -> Any:
            key = method(self, *args, **kwargs)
            with lock:
                created[0] += 1
            return key

        return create

    creators = {name: counting(name) for name in ("create_access_key", "create_temp_access_key")}
    with (
        mock.patch.object(models, "get_account_id_from", get_account_id_from),
        mock.patch.multiple(IAMBackend, **creators),
    ):
        yield
