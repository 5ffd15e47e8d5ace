"""CRDT merge rate, and convergence time of 5 replicas under concurrent updates.

* **merge rate** (pure, this process): merges per second of two replicas' states of a G-Counter (5 replica
  entries), an OR-Set and an LWW map of ``--elements`` entries each (half of them shared, half disjoint).
* **convergence** (real broker): 5 :class:`shared.crdt.replica.Replica` instances, each in its own thread,
  apply ``--updates`` increments to one G-Counter and add/remove their session in one OR-Set, publishing each
  state to ``architect.state.crdt``; the time from the start until every replica's view shows the total count
  and the empty session set. Repeated ``--runs`` times.

    python -m bench.crdt_merge [--elements 100 1000] [--updates 200] [--runs 5] [--bootstrap HOST:PORT]

Without ``--bootstrap`` a broker of its own is started (and stopped) with clean storage.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from typing import Any

from bench.assignment_latency import percentile
from shared.bus.bootstrap import ensure_topics
from shared.crdt.g_counter import GCounter
from shared.crdt.hlc import HybridTimestamp
from shared.crdt.lww_map import LWWMap
from shared.crdt.or_set import ORSet
from shared.crdt.replica import Replica
from shared.infra.kafka_broker import LocalKafka
from shared.settings import Settings

REPLICAS = 5
KAFKA_NAME, KAFKA_PORT = "bench-crdt", 19592


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pair(kind: str, elements: int) -> tuple[Any, Any]:
    """Two replicas' states that share half their entries."""
    if kind == "GCounter":
        a, b = GCounter(), GCounter()
        for n in range(REPLICAS):
            a, b = a.increment(f"r{n}", n + 1), b.increment(f"r{n}", n + 2)
        return a, b
    shared, own = elements // 2, elements - elements // 2
    if kind == "ORSet":
        a = b = ORSet()
        for n in range(shared):
            a, b = a.add(f"e{n}", f"a:{n}"), b.add(f"e{n}", f"a:{n}")
        for n in range(own):
            a, b = a.add(f"a{n}", f"a:x{n}"), b.add(f"b{n}", f"b:x{n}")
        return a, b
    a = b = LWWMap()
    for n in range(shared):
        a = a.set(f"k{n}", n, HybridTimestamp(1000 + n, 0, "a"))
        b = b.set(f"k{n}", -n, HybridTimestamp(1000 + n, 1, "b"))
    for n in range(own):
        a, b = a.set(f"a{n}", n, HybridTimestamp(5, 0, "a")), b.set(f"b{n}", n, HybridTimestamp(5, 0, "b"))
    return a, b


def merge_rate(kind: str, elements: int, seconds: float = 1.0) -> float:
    a, b = pair(kind, elements)
    merges, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a.merge(b)
        merges += 1
    return merges / (time.perf_counter() - started)


def converge_once(settings: Settings, updates: int) -> float:
    tag = uuid.uuid4().hex[:8]
    counter, sessions = f"bench-completed-{tag}", f"bench-sessions-{tag}"
    replicas = [Replica(settings, f"bench-{n}-{tag}").start() for n in range(REPLICAS)]
    time.sleep(1.0)  # every follower has read the topic up to now

    def work(replica: Replica) -> None:
        me = replica.replica_id
        replica.update(sessions, lambda s: (s or ORSet()).add(me, f"{me}:join"), flush=False)
        for _ in range(updates):
            replica.update(counter, lambda c: (c or GCounter()).increment(me), flush=False)
        replica.update(sessions, lambda s: (s or ORSet()).remove(me))

    try:
        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(r,)) for r in replicas]
        for thread in threads:
            thread.start()
        total = updates * REPLICAS
        for replica in replicas:
            replica.wait_until(counter, lambda c: c.value == total or None, 120)
            replica.wait_until(sessions, lambda s: s.elements == set() or None, 120)
        elapsed = time.perf_counter() - started
        for thread in threads:
            thread.join(10)
        return elapsed * 1000
    finally:
        for replica in replicas:
            replica.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--elements", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--updates", type=int, default=200, help="counter increments per replica and run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bootstrap", help="an existing broker (default: start one of its own)")
    parser.add_argument("--merge-only", action="store_true")
    args = parser.parse_args()

    lines = ["| CRDT | entries | merges/s |", "|---|---:|---:|"]
    lines.append(f"| GCounter | {REPLICAS} | {merge_rate('GCounter', REPLICAS):,.0f} |")
    for kind in ("ORSet", "LWWMap"):
        for elements in args.elements:
            lines.append(f"| {kind} | {elements} | {merge_rate(kind, elements):,.0f} |")
    print("\n".join(lines))
    if args.merge_only:
        return
    kafka = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        kafka = LocalKafka(KAFKA_NAME, KAFKA_PORT)
        say(f"starting a broker of its own ({KAFKA_NAME} on 127.0.0.1:{KAFKA_PORT}) with clean storage ...")
        bootstrap = kafka.start(clean=True)
    try:
        settings = Settings(kafka_bootstrap_servers=bootstrap, topic_partitions=3)
        ensure_topics(settings)
        samples = sorted(converge_once(settings, args.updates) for _ in range(args.runs))
        updates = args.updates * REPLICAS + 2 * REPLICAS
        print(
            f"\nconvergence of {REPLICAS} replicas, {updates} concurrent updates (each state published): "
            f"p50 {percentile(samples, 0.5):,.0f} ms, max {samples[-1]:,.0f} ms over {args.runs} runs"
        )
    finally:
        if kafka is not None:
            kafka.stop()
            kafka.clean()


if __name__ == "__main__":
    main()
