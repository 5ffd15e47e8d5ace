"""The transactional client's replacement rules, on stand-in librdkafka clients (the broker restart itself is
tests/integration/test_transactional_restart.py): a hung ``send_offsets_to_transaction`` is abandoned and the
next transaction starts on a new client, a client that lost every broker is replaced before it can hang, and a
process whose clients keep hanging exits for its supervisor."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from shared.bus import transactional_client
from shared.bus.transactional_client import EXIT_CLIENT_HUNG, ClientReplaced, TransactionalClient

pytestmark = pytest.mark.timeout(30)


class StandIn:
    """Records the calls made on it; ``send_offsets_to_transaction`` blocks while ``hang`` is set."""

    def __init__(self, config: dict[str, Any], hang: bool = False, init_error: KafkaError | None = None) -> None:
        self.config, self.calls = config, []
        self.hang = threading.Event()
        if hang:
            self.hang.set()
        self.init_error = init_error

    def init_transactions(self, timeout: float) -> None:
        self.calls.append("init")
        if self.init_error is not None:
            error, self.init_error = self.init_error, None
            raise KafkaException(error)

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def send_offsets_to_transaction(self, offsets: Any, metadata: Any, timeout: float) -> None:
        self.calls.append("send_offsets")
        while self.hang.is_set():
            threading.Event().wait(0.05)

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")

    def poll(self, timeout: float) -> int:
        return 0


class Factory:
    def __init__(self, *clients: dict[str, Any]) -> None:
        self.made: list[StandIn] = []
        self._plans = list(clients)

    def __call__(self, config: dict[str, Any]) -> StandIn:
        client = StandIn(config, **(self._plans.pop(0) if self._plans else {}))
        self.made.append(client)
        return client


@pytest.fixture(autouse=True)
def short_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transactional_client, "SEND_OFFSETS_LIMIT_S", 0.3)


def test_a_hung_send_offsets_is_abandoned_and_the_next_transaction_runs_on_a_new_client() -> None:
    factory = Factory({"hang": True})
    txn = TransactionalClient({}, new_client=factory)
    hung = factory.made[0]
    txn.begin()
    with pytest.raises(ClientReplaced):
        txn.send_offsets([], None)
    assert txn.abort() is False and "abort" not in hung.calls, "a hung client is never called again"
    txn.begin()
    fresh = factory.made[1]
    assert txn.client is fresh and fresh.calls == ["init", "begin"]
    txn.send_offsets([], None)
    assert txn._abandoned == [hung], "the hung client is kept alive, not destroyed under its blocked call"
    hung.hang.clear()


def test_a_client_that_lost_every_broker_is_replaced_at_the_next_begin() -> None:
    factory = Factory()
    txn = TransactionalClient({}, new_client=factory)
    txn.begin()
    txn._config["error_cb"](KafkaError(KafkaError._ALL_BROKERS_DOWN))
    txn.abort()
    txn.begin()
    assert len(factory.made) == 2 and factory.made[1].calls == ["init", "begin"]
    assert txn._abandoned == [], "a client that did not hang is destroyed, not kept"


def test_a_new_client_that_cannot_initialise_yet_is_tried_again_at_the_next_begin() -> None:
    factory = Factory({}, {"init_error": KafkaError(KafkaError._TIMED_OUT)})
    txn = TransactionalClient({}, new_client=factory)
    txn._config["error_cb"](KafkaError(KafkaError._ALL_BROKERS_DOWN))
    with pytest.raises(KafkaException):
        txn.begin()
    txn.begin()
    assert len(factory.made) == 2, "the same new client is initialised again, not yet another one"
    assert factory.made[1].calls == ["init", "init", "begin"]


def test_a_failed_abort_replaces_the_client() -> None:
    factory = Factory()
    txn = TransactionalClient({}, new_client=factory)

    def refuse(timeout: float) -> None:
        raise KafkaException(KafkaError(KafkaError.INVALID_TXN_STATE, "invalid state", fatal=True))

    factory.made[0].abort_transaction = refuse  # type: ignore[method-assign]
    txn.begin()
    assert txn.abort() is False
    txn.begin()
    assert txn.client is factory.made[1]


def test_clients_that_keep_hanging_end_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(transactional_client.os, "_exit", fake_exit)
    monkeypatch.setattr(transactional_client.logging, "shutdown", lambda: None)
    factory = Factory(*({"hang": True} for _ in range(transactional_client.MAX_ABANDONED)))
    txn = TransactionalClient({}, new_client=factory)
    for _ in range(transactional_client.MAX_ABANDONED - 1):
        txn.begin()
        with pytest.raises(ClientReplaced):
            txn.send_offsets([], None)
    txn.begin()
    with pytest.raises(SystemExit):
        txn.send_offsets([], None)
    assert exits == [EXIT_CLIENT_HUNG]
    for client in factory.made:
        client.hang.clear()
