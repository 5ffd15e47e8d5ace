"""Decision latency per tier with scripted zero-latency voters (5, 15, 31 agents): p50/p99.

Two measurements per (tier, electorate size):

* **engine**: the pure engine alone (``services.consensus.engine.decide``), in this process: a decision is
  requested and every voter answers at once; the time from the request to DecisionReached. This is the cost of
  the aggregate and its audit trail, without any I/O.
* **service**: through the real broker and the consensus service (``python -m services.consensus``): the bench
  publishes RequestDecision (``ballot_via="commands"``), a responder answers every RoundOpened with a CastVote
  per voter and every ContributionsRequested with a contribution per agent, at once; the latency is from
  publishing the request to seeing DecisionReached (both on this machine's clock). Decisions run one after
  another (closed loop). Strategic decisions debate: every agent proposes the same position, so the debate
  converges after one round (propose, critique, revise); tactical decisions reach a supermajority in round
  one; operational ones an instant majority.

    python -m bench.decision_latency [--sizes 5 15 31] [--decisions 30] [--bootstrap HOST:PORT] [--engine-only]

Without ``--bootstrap`` a broker of its own is started (and stopped) with clean storage. The consensus service
uses a fixed consumer group id: give a broker no other consensus engine uses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from bench.assignment_latency import percentile
from services.consensus.engine import EngineOptions, decide
from shared.bus.bootstrap import ensure_topics
from shared.bus.client_config import kafka_config
from shared.bus.producer import EventProducer
from shared.bus.topics import DECISIONS_EVENTS
from shared.events.catalogue.decisions import CastVote, Contribute, RequestDecision
from shared.events.codec import DecodeError, decode, new_event
from shared.events.envelope import Envelope, Payload
from shared.infra.kafka_broker import LocalKafka
from shared.infra.stack import LocalStack
from shared.settings import Settings

TIERS = ("operational", "tactical", "strategic")
KAFKA_NAME, KAFKA_PORT = "bench-consensus", 19692


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {"p50": percentile(ordered, 0.50), "p99": percentile(ordered, 0.99), "mean": statistics.fmean(ordered)}


def answers(event: Envelope[Any], electorate: list[str]) -> list[Payload]:
    """What zero-latency voters send in reply to a decision event: a vote or contribution each, all for "yes"."""
    p = event.payload
    if event.type == "RoundOpened" and p.ballot == "fresh":
        return [CastVote(decision_id=p.decision_id, voter=v, choice="yes", round=p.round) for v in electorate]
    if event.type == "ContributionsRequested":
        position = None if p.phase == "critique" else "yes"
        return [
            Contribute(decision_id=p.decision_id, agent=a, round=p.round, phase=p.phase, text="ok", position=position)
            for a in p.agents
        ]
    return []


def command(decision_id: str, payload: Payload) -> Envelope[Any]:
    return new_event(payload, producer="bench", stream_id=decision_id, correlation_id=decision_id)


def request(decision_id: str, tier: str, electorate: list[str]) -> RequestDecision:
    return RequestDecision(
        decision_id=decision_id,
        question="Ship it?",
        tier=tier,
        electorate=electorate,
        options=["yes", "no"],
        ballot_via="commands",
    )


# -- the engine alone ------------------------------------------------------------------------------------------


def engine_latency(tier: str, size: int, decisions: int) -> dict[str, float]:
    options, samples = EngineOptions(), []
    electorate = [f"agent-{n}" for n in range(size)]
    for _ in range(decisions):
        decision_id = f"dec-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        pending = [command(decision_id, request(decision_id, tier, electorate))]
        record: dict[str, Any] | None = None
        reached = False
        while pending and not reached:
            step = decide(record, pending.pop(0), time.time(), options)
            record = step.record
            for out in step.emit:
                event = getattr(out, "event", out)
                reached = reached or event.type == "DecisionReached"
                pending += [command(decision_id, a) for a in answers(event, electorate)]
        assert reached, f"{tier} decision of {size} did not reach a choice"
        samples.append((time.perf_counter() - started) * 1000)
    return summary(samples)


# -- through the broker and the service ------------------------------------------------------------------------


class Responder:
    """Follows the decision events and answers at once; records when each decision was reached."""

    def __init__(self, settings: Settings, electorates: dict[str, list[str]]) -> None:
        self.settings, self.electorates = settings, electorates
        self.reached: dict[str, float] = {}
        self.producer = EventProducer(settings, client_id="bench-voters")
        self.consumer = Consumer(
            kafka_config(settings) | {"group.id": f"bench-{uuid.uuid4()}", "enable.auto.commit": False}
        )
        partitions = self.consumer.list_topics(DECISIONS_EVENTS, timeout=30).topics[DECISIONS_EVENTS].partitions
        self.consumer.assign([TopicPartition(DECISIONS_EVENTS, p, OFFSET_END) for p in partitions])
        self.lock = threading.Condition()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            replies = 0
            for message in self.consumer.consume(500, 0.05):
                if message.error() is not None:
                    continue
                try:
                    event = decode(message.value(), message.key())
                except DecodeError:
                    continue
                electorate = self.electorates.get(event.stream_id)
                if electorate is None:
                    continue
                if event.type == "DecisionReached":
                    with self.lock:
                        self.reached[event.stream_id] = time.perf_counter()
                        self.lock.notify_all()
                for answer in answers(event, electorate):
                    self.producer.publish(command(event.stream_id, answer))
                    replies += 1
            if replies:
                self.producer.flush()

    def wait(self, decision_id: str, timeout_s: float = 60.0) -> float:
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while decision_id not in self.reached:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"decision {decision_id} was not reached in {timeout_s:g}s")
                self.lock.wait(0.2)
            return self.reached[decision_id]

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.consumer.close()
        self.producer.close()


def service_latency(
    settings: Settings, responder: Responder, tier: str, size: int, decisions: int, warm_up: int = 3
) -> dict[str, float]:
    producer, samples = responder.producer, []
    electorate = [f"agent-{n}" for n in range(size)]
    for n in range(warm_up + decisions):
        decision_id = f"bench-{tier[:3]}-{size}-{uuid.uuid4().hex[:8]}"
        responder.electorates[decision_id] = electorate
        started = time.perf_counter()
        producer.publish(command(decision_id, request(decision_id, tier, electorate)))
        producer.flush()
        reached = responder.wait(decision_id)
        if n >= warm_up:
            samples.append((reached - started) * 1000)
    return summary(samples)


@contextmanager
def consensus_service(bootstrap: str | None, log_dir: Path) -> Iterator[Settings]:
    kafka = None
    if bootstrap is None:
        kafka = LocalKafka(KAFKA_NAME, KAFKA_PORT)
        say(f"starting a broker of its own ({KAFKA_NAME} on 127.0.0.1:{KAFKA_PORT}) with clean storage ...")
        bootstrap = kafka.start(clean=True)
    settings = Settings(kafka_bootstrap_servers=bootstrap, topic_partitions=3)
    ensure_topics(settings)
    env = {
        "ARCHITECT_TOPIC_PARTITIONS": "3",
        "ARCHITECT_DATA_DIR": str(log_dir / "data"),
        "ARCHITECT_LOG_LEVEL": "WARNING",
    }
    stack = LocalStack(bootstrap, "", log_dir / "logs", extra_env=env)
    try:
        stack.start("consensus")
        yield settings
    finally:
        say(f"stopped the consensus service ({stack.stop()}); logs in {stack.log_dir}")
        if kafka is not None:
            kafka.stop()
            kafka.clean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 15, 31])
    parser.add_argument("--decisions", type=int, default=30, help="decisions measured per tier and size")
    parser.add_argument("--bootstrap", help="an existing broker (default: start one of its own)")
    parser.add_argument("--engine-only", action="store_true", help="measure the pure engine only")
    args = parser.parse_args()

    rows: list[str] = [
        "| tier | voters | engine p50 ms | engine p99 ms | service p50 ms | service p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    engine = {(t, s): engine_latency(t, s, args.decisions) for t in TIERS for s in args.sizes}
    service: dict[tuple[str, int], dict[str, float]] = {}
    if not args.engine_only:
        with consensus_service(args.bootstrap, Path("/tmp") / f"bench-consensus-{uuid.uuid4().hex[:6]}") as settings:
            responder = Responder(settings, {})
            try:
                warm = f"bench-warm-{uuid.uuid4().hex[:6]}"
                responder.electorates[warm] = ["agent-0"]
                responder.producer.publish(command(warm, request(warm, "operational", ["agent-0"])))
                responder.producer.flush()
                responder.wait(warm, 180.0)
                for tier in TIERS:
                    for size in args.sizes:
                        say(f"service: {tier} with {size} voters ...")
                        service[(tier, size)] = service_latency(settings, responder, tier, size, args.decisions)
            finally:
                responder.close()
    for tier in TIERS:
        for size in args.sizes:
            e, s = engine[(tier, size)], service.get((tier, size))
            through = f"{s['p50']:,.1f} | {s['p99']:,.1f}" if s else "- | -"
            rows.append(f"| {tier} | {size} | {e['p50']:,.2f} | {e['p99']:,.2f} | {through} |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
