"""Figure 1: the raw ceiling of the broker with confluent-kafka alone, no envelopes, no handlers.

Produces ``--messages`` values of exactly 1 KiB (encoded TaskSucceeded envelopes, so lz4 sees realistic JSON)
keyed by goal id to a fresh ``--partitions`` topic with the settings of Architect's producer (acks=all,
idempotent, lz4, linger 5 ms), waits for every delivery report, then reads them all back with
``consume(batch)`` from offset zero. The broker runs on the same cores as this script.

    python -m bench.kafka_ceiling [--messages 500000] [--partitions 6] [--batch 5000]
"""

from __future__ import annotations

import argparse
import random
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.event_mix import prose, task_output
from bench.infrastructure import bench_kafka, say
from bench.machine import describe_machine
from bench.progress import ProgressLine
from bench.report import Outcome, ResultTable, publish_results, rate, thousands
from shared.events.catalogue.tasks import TaskSucceeded
from shared.events.codec import encode, new_event

#: Unique names, so a run on a shared broker ($ARCHITECT_KAFKA_BOOTSTRAP_SERVERS) meets no one else's records.
TOPIC = f"bench.ceiling.{uuid.uuid4().hex[:8]}"
WARM_UP_TOPIC = f"bench.warm-up.{uuid.uuid4().hex[:8]}"
VALUE_BYTES = 1024
DISTINCT_VALUES = 4096
DISTINCT_KEYS = 10_000


def kilobyte_events(rng: random.Random, count: int, size: int = VALUE_BYTES) -> list[bytes]:
    """``count`` distinct encoded TaskSucceeded envelopes of exactly ``size`` bytes each."""
    values = []
    for number in range(count):
        goal_id = f"goal-{rng.getrandbits(64):016x}"
        task_id = f"{goal_id}:t{number % 8}"
        output = task_output(rng, task_id, 600)
        fields = {
            "task_id": task_id,
            "goal_id": goal_id,
            "agent_id": f"agent-{rng.randrange(200):03d}",
            "tokens_used": rng.randint(200, 20_000),
            "duration_ms": rng.randint(500, 120_000),
        }
        value = b""
        for _ in range(10):  # the summary absorbs the difference; a timestamp's length may vary once
            payload = TaskSucceeded(output=output, **fields)
            value = encode(new_event(payload, producer="bench", stream_id=goal_id, correlation_id=goal_id))
            if len(value) == size:
                break
            output = output | {"summary": prose(rng, len(output["summary"]) + size - len(value))}
        values.append(value)
    return values


def create_topics(bootstrap: str, partitions: int, timeout_s: float = 30.0) -> None:
    """The benchmark topic and the warm-up topic, replication 1."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [NewTopic(TOPIC, num_partitions=partitions, replication_factor=1), NewTopic(WARM_UP_TOPIC, 1, 1)]
    for future in admin.create_topics(topics).values():
        future.result(timeout_s)


def delete_topics(bootstrap: str, timeout_s: float = 30.0) -> None:
    """Remove what ``create_topics`` made (matters on a shared broker)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics([TOPIC, WARM_UP_TOPIC]).values():
        future.result(timeout_s)


def produce(bootstrap: str, values: list[bytes], keys: list[bytes], messages: int) -> tuple[float, int]:
    """Produce ``messages`` records and wait for all delivery reports; returns (seconds, failed deliveries)."""
    delivered = failed = 0

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        nonlocal delivered, failed
        if err is None:
            delivered += 1
        else:
            failed += 1

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "compression.type": "lz4",
            "linger.ms": 5,
            "on_delivery": on_delivery,
        }
    )
    # Connections and the idempotent producer id are set up before the clock starts.
    producer.produce(WARM_UP_TOPIC, b"warm-up")
    if producer.flush(60):
        raise TimeoutError("the warm-up message was not delivered in 60 s")
    delivered = 0
    progress = ProgressLine("produced (acknowledged)")
    started = time.perf_counter()
    for number in range(messages):
        while True:
            try:
                producer.produce(TOPIC, values[number % len(values)], keys[number % len(keys)])
                break
            except BufferError:
                producer.poll(0.05)
        if number % 1000 == 0:
            producer.poll(0)
            progress(delivered, messages)
    remaining = producer.flush(300)
    seconds = time.perf_counter() - started
    progress(delivered, messages)
    if remaining:
        raise TimeoutError(f"{remaining} message(s) still undelivered after 300 s")
    return seconds, failed


def consume(bootstrap: str, partitions: int, messages: int, batch: int, timeout_s: float = 600.0) -> tuple[float, int]:
    """Read ``messages`` records from offset zero of every partition; returns (seconds, value bytes read)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-ceiling",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    received = value_bytes = 0
    progress = ProgressLine("consumed")
    try:
        started = time.perf_counter()
        consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(partitions)])
        deadline = time.monotonic() + timeout_s
        while received < messages:
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumed {received} of {messages} messages in {timeout_s:.0f}s")
            for msg in consumer.consume(batch, 1.0):
                if msg.error() is None:
                    received += 1
                    value_bytes += len(msg.value())
            progress(received, messages)
        return time.perf_counter() - started, value_bytes
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> Outcome:
    """Run the figure, print it and return it."""
    parser = argparse.ArgumentParser(prog="python -m bench.kafka_ceiling", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500_000, help="messages to produce and consume")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch", type=int, default=5000, help="messages per consume() call")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    say(f"building {DISTINCT_VALUES} distinct {VALUE_BYTES}-byte values ...")
    values = kilobyte_events(rng, DISTINCT_VALUES)
    keys = [f"goal-{rng.getrandbits(64):016x}".encode() for _ in range(DISTINCT_KEYS)]
    machine = describe_machine()
    with bench_kafka() as broker:
        create_topics(broker.bootstrap_servers, args.partitions)
        try:
            say(f"producing {args.messages:,} messages to {TOPIC} ({args.partitions} partitions) ...")
            produce_s, failed = produce(broker.bootstrap_servers, values, keys, args.messages)
            say(f"consuming {args.messages:,} messages ...")
            consume_s, consumed_bytes = consume(broker.bootstrap_servers, args.partitions, args.messages, args.batch)
            on_disk = broker.stored_bytes(TOPIC)
        finally:
            delete_topics(broker.bootstrap_servers)

    payload = args.messages * VALUE_BYTES
    table = ResultTable(
        f"Kafka ceiling, confluent-kafka only: {thousands(args.messages)} messages of {VALUE_BYTES} bytes, "
        f"{args.partitions} partitions, 1 broker on this machine",
        ["phase", "settings", "seconds", "msgs/s", "MB/s"],
        text_columns=2,
    )
    table.add(
        "produce",
        "acks=all idempotent lz4 linger.ms=5, until every delivery report",
        f"{produce_s:.1f}",
        thousands(rate(args.messages, produce_s)),
        f"{rate(payload, produce_s) / 1e6:.1f}",
    )
    table.add(
        "consume",
        f"assign from offset 0, consume({args.batch}), len(value) each",
        f"{consume_s:.1f}",
        thousands(rate(args.messages, consume_s)),
        f"{rate(consumed_bytes, consume_s) / 1e6:.1f}",
    )
    table.notes.append(f"MB = 10^6 bytes of message values. Failed deliveries: {failed}.")
    if on_disk:
        table.notes.append(
            f"On broker disk: {on_disk / 1e6:,.1f} MB for {payload / 1e6:,.1f} MB of values "
            f"(lz4 ratio {payload / on_disk:.2f})."
        )
    summary = {
        "messages": args.messages,
        "value_bytes": VALUE_BYTES,
        "partitions": args.partitions,
        "produce_msgs_per_s": round(rate(args.messages, produce_s)),
        "produce_mb_per_s": round(rate(payload, produce_s) / 1e6, 1),
        "consume_msgs_per_s": round(rate(args.messages, consume_s)),
        "consume_mb_per_s": round(rate(consumed_bytes, consume_s) / 1e6, 1),
        "failed_deliveries": failed,
        "stored_bytes": on_disk,
    }
    return publish_results(Outcome("kafka_ceiling", machine, [table], summary))


if __name__ == "__main__":
    main()
