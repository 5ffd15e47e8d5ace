"""Poison of every kind on every topic a service of the stack reads: each consumer group dead-letters each
record with the reason of its kind, and the stack keeps working (a burst of goals and sagas sent right behind
the poison ends as it should, with every invariant)."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from services.projector.crdt_state_store import BAD_CRDT_STATE
from services.projector.service import CRDT_GROUP
from shared.bus.dead_letters import DeadLetter
from shared.bus.reader import read_to_end
from shared.bus.topics import DEAD_LETTERS, STATE_CRDT
from shared.crdt import fleet_state
from shared.crdt.replication import state_key
from tests.faults.conftest import FaultRow
from tests.faults.harness import FaultStack
from tests.faults.invariants import check_all
from tests.faults.records import KINDS, POISON_HEADER, consumers, publish_poison
from tests.faults.workload import wait_until

pytestmark = pytest.mark.integration


def letters_by_poison(faults: FaultStack, poison: dict[str, tuple[str, str]]) -> dict[str, list[DeadLetter]]:
    found: dict[str, list[DeadLetter]] = defaultdict(list)
    for record in read_to_end(faults.settings, [DEAD_LETTERS]):
        letter = DeadLetter.from_record(record)
        poison_id = next((v.decode() for k, v in letter.original_headers if k == POISON_HEADER), None)
        if poison_id in poison:
            found[poison_id].append(letter)
    return found


@pytest.mark.timeout(240, func_only=True)
def test_poison_of_every_kind_on_every_input_topic_is_dead_lettered_with_its_reason(
    faults: FaultStack, fault: FaultRow
) -> None:
    by_topic = consumers(faults.runtime_group)
    fault.fault = f"poison: {len(KINDS)} kinds x {len(by_topic)} input topics"
    workload = faults.workload()
    poison = publish_poison(faults.settings, sorted(by_topic), faults.tag)
    workload.burst(faults.producer, goals=3, sagas=3)
    expected = {(poison_id, group) for poison_id, (topic, _) in poison.items() for group in by_topic[topic]}

    def missing() -> set[tuple[str, str]]:
        found = letters_by_poison(faults, poison)
        return expected - {(poison_id, letter.consumer_group) for poison_id, ls in found.items() for letter in ls}

    wait_until(
        "every poison record to be dead-lettered by every group that reads it",
        lambda: not missing(),
        120,
        alive=faults.alive,
    )

    wrong = []
    for poison_id, letters in letters_by_poison(faults, poison).items():
        topic, kind = poison[poison_id]
        for letter in letters:
            if (letter.source_topic, letter.reason) != (topic, KINDS[kind]) or not letter.error:
                wrong.append(
                    f"{poison_id} by {letter.consumer_group}: {letter.source_topic} {letter.reason} {letter.error!r}"
                )
            elif letter.value is None or (kind == "oversized" and len(letter.value) <= faults.settings.max_event_bytes):
                wrong.append(f"{poison_id} by {letter.consumer_group}: the original value was not kept")
    assert not wrong, "dead letters with the wrong reason or source:\n" + "\n".join(wrong)
    fault.detail = f"{len(expected)} dead letters with their reason; " + check_all(faults, workload)


@pytest.mark.timeout(240, func_only=True)
def test_a_record_on_the_crdt_topic_that_is_no_state_is_dead_lettered_and_every_replica_goes_on(
    faults: FaultStack, fault: FaultRow
) -> None:
    """The CRDT topic holds raw states, not envelopes, read by the projector and by every service's replica. A
    state of the right type but the wrong shape used to end the follower thread of every replica that read it, and
    fail the projector's whole batch."""
    fault.fault = f"poison: a wrong-shaped state on {STATE_CRDT}"
    log_sizes = log_sizes_now(faults)
    workload = faults.workload()
    name, poison_id = fleet_state.completed_counter("agent", f"poison-{faults.tag}"), f"crdt-{faults.tag}"
    value = json.dumps({"object": name, "replica": "faults", "type": "GCounter", "state": {"counts": [1]}})
    faults.producer.publish_raw(
        STATE_CRDT, state_key(name, "faults"), value.encode(), [(POISON_HEADER, poison_id.encode())]
    )
    faults.producer.flush()
    workload.burst(faults.producer, goals=3, sagas=3)

    wait_until(
        "the projector to dead-letter the record",
        lambda: bool(letters_by_poison(faults, {poison_id: (STATE_CRDT, "")}).get(poison_id)),
        120,
        alive=faults.alive,
    )
    for letter in letters_by_poison(faults, {poison_id: (STATE_CRDT, "")})[poison_id]:  # a retried batch: twice
        assert (letter.source_topic, letter.reason, letter.consumer_group) == (STATE_CRDT, BAD_CRDT_STATE, CRDT_GROUP)
        assert "not a CRDT state record" in letter.error and letter.value == value.encode()
    fault.detail = "dead-lettered by the projector; " + check_all(faults, workload)
    stopped = [name for name, text in logged_since(faults, log_sizes).items() if any(s in text for s in ENDED)]
    assert not stopped, f"a replica's follower thread failed in: {stopped}"


#: What a service logs when a replica's follower thread fails: its own line, or Python's for an uncaught error.
ENDED = (f"following {STATE_CRDT} failed", "Exception in thread crdt")


def log_sizes_now(faults: FaultStack) -> dict[str, int]:
    return {log.name: log.stat().st_size for log in faults.stack.log_dir.glob("*.log")}


def logged_since(faults: FaultStack, sizes: dict[str, int]) -> dict[str, str]:
    """Each service's log written since ``sizes`` were taken (the stack, and its logs, serve the whole package)."""
    logged = {}
    for log in faults.stack.log_dir.glob("*.log"):
        with log.open("rb") as f:
            f.seek(sizes.get(log.name, 0))
            logged[log.name] = f.read().decode(errors="replace")
    return logged
