"""The librdkafka client behind a transactional ``EventProducer``, replaced when it can no longer be trusted.

A broker restart leaves librdkafka's transactional producer in a state it does not always get out of:
``send_offsets_to_transaction`` ignores its timeout (confluentinc/librdkafka#5456) and waits for a group
coordinator it cached before the restart, which may never come back as such (#5511). Seen here: the assigner
blocked in it for good after every broker restart, the whole time writing nothing (found by
``bench.recovery`` and the fault suite). So:

- ``send_offsets`` runs the call on a helper thread and waits at most ``SEND_OFFSETS_LIMIT_S`` (it normally
  takes milliseconds). Past that the client is abandoned as it is (destroying it would wait for the hung call),
  ``ClientReplaced`` is raised (the caller re-reads the batch, as after any failed transaction), and the next
  ``begin`` starts on a new client, whose ``init_transactions`` fences the old one and aborts its transaction.
- A client that lost every broker (``_ALL_BROKERS_DOWN``), or that could not abort its transaction, is replaced
  at the next ``begin`` as well, before it can hang: the new one finds the coordinators afresh.
- While a new client cannot initialise (the broker still away), ``begin`` raises ``KafkaException`` after
  ``RENEW_INIT_TIMEOUT_S`` and tries again at the next ``begin``.
- After ``MAX_ABANDONED`` hung clients in a row the process exits with ``EXIT_CLIENT_HUNG`` (75) so that its
  supervisor restarts it: the state of every service is in Kafka.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

log = logging.getLogger(__name__)

#: ``send_offsets_to_transaction`` normally takes milliseconds; a call that takes longer than this has hung.
SEND_OFFSETS_LIMIT_S = 20.0
#: How long ``begin`` waits for a new client's ``init_transactions`` before giving up until the next ``begin``.
RENEW_INIT_TIMEOUT_S = 10.0
#: Hung clients abandoned in a row before the process gives up and exits.
MAX_ABANDONED = 3
#: The exit code of a process whose Kafka client hung (its supervisor restarts it; state comes from Kafka).
EXIT_CLIENT_HUNG = 75


class ClientReplaced(KafkaException):
    """The transaction's client hung and was abandoned; nothing of the transaction becomes visible."""


class TransactionalClient:
    """Owns the current transactional ``Producer`` (``client``) and replaces it when needed."""

    def __init__(
        self,
        config: dict[str, Any],
        init_timeout_s: float = 60.0,
        new_client: Callable[[dict[str, Any]], Any] = Producer,
    ) -> None:
        self._config = config | {"error_cb": self._on_error}
        self._new_client = new_client
        self.client = new_client(self._config)
        self._replace = False  # start the next transaction on a new client
        self._initialising = False  # ``client`` is new and its init_transactions has not succeeded yet
        self._hung = False  # ``client`` is blocked in a call on the helper thread: never call it again
        self._abandoned: list[Any] = []  # hung clients, kept alive: destroying one waits for its call
        self._abandoned_in_a_row = 0
        # Fences any older instance with the same id (a zombie after a restart) and aborts its open transaction.
        self.client.init_transactions(init_timeout_s)

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._replace = True
            log.warning(
                "the transactional producer lost every broker (%s): the next transaction uses a new client", error.str()
            )

    def begin(self) -> None:
        try:
            self.client.poll(0)  # serve error callbacks: a lost broker shows there
        except KafkaException as exc:  # a fatal error (fenced, invalid state) is raised here
            log.error("the transactional client failed for good, the next transaction uses a new client: %s", exc)
            self._replace = True
        if self._replace or self._initialising or self._hung:
            self._renew()
        self.client.begin_transaction()

    def _renew(self) -> None:
        if not self._initialising:
            old, self.client = self.client, self._new_client(self._config)
            self._initialising, self._replace = True, False
            if self._hung:
                self._abandoned.append(old)
                self._hung = False
            else:
                _destroy_in_background(old)
        try:
            self.client.init_transactions(RENEW_INIT_TIMEOUT_S)
        except KafkaException as exc:
            if _fatal(exc):  # this one is unusable: another next time
                self._initialising, self._replace = False, True
            raise
        self._initialising = False
        log.warning("continuing on a new transactional client")

    def send_offsets(self, offsets: list[Any], group_metadata: Any) -> None:
        client = self.client
        done: Future[None] = Future()

        def call() -> None:
            try:
                client.send_offsets_to_transaction(offsets, group_metadata, SEND_OFFSETS_LIMIT_S)
                done.set_result(None)
            except BaseException as exc:  # handed to the waiting thread
                done.set_exception(exc)

        threading.Thread(target=call, name="send-offsets", daemon=True).start()
        try:
            done.result(SEND_OFFSETS_LIMIT_S)
        except TimeoutError:
            self._abandon()
            raise ClientReplaced(
                KafkaError(KafkaError._TIMED_OUT, "send_offsets_to_transaction hung; the client was replaced")
            ) from None
        self._abandoned_in_a_row = 0

    def _abandon(self) -> None:
        self._hung = True
        self._abandoned_in_a_row += 1
        log.error(
            "send_offsets_to_transaction blocked for more than %gs (a librdkafka hang, %d in a row): "
            "abandoning the client",
            SEND_OFFSETS_LIMIT_S,
            self._abandoned_in_a_row,
        )
        if self._abandoned_in_a_row >= MAX_ABANDONED:
            log.critical(
                "%d transactional clients hung in a row; exiting so that the service is restarted",
                self._abandoned_in_a_row,
            )
            logging.shutdown()
            os._exit(EXIT_CLIENT_HUNG)

    def abort(self) -> bool:
        """Abort the transaction; False when the client cannot be used any more (it is replaced at ``begin``)."""
        if self._hung:
            return False  # the new client's init_transactions aborts it
        try:
            self.client.abort_transaction(60)
        except KafkaException as exc:
            # The broker is away, or the client is in a state it cannot abort from (fenced, fatal): the next
            # ``begin`` starts on a new client, whose initialisation aborts this transaction on the broker.
            log.error("aborting the transaction failed, the next one uses a new client: %s", exc)
            self._replace = True
            return False
        return True


def _fatal(exc: KafkaException) -> bool:
    return bool(exc.args) and isinstance(exc.args[0], KafkaError) and exc.args[0].fatal()


def _destroy_in_background(client: Any) -> None:
    """Drop the last reference on another thread: librdkafka's destroy may wait for its broker threads."""
    holder = [client]
    del client
    threading.Thread(target=holder.clear, name="kafka-client-destroy", daemon=True).start()
