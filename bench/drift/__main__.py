"""`python -m bench.drift [--interactions N]`: the five-arm drift mitigation table beside the published one."""

from __future__ import annotations

import argparse
from collections import defaultdict

from bench.drift.arms import ARMS, SessionResult, fresh, run_session
from services.agent_runtime.scripted_drift import FormatDrift, ScriptedBehaviour, SemanticDrift, ToolAvoidance

#: Five scripted agent types: (name, behaviour, onset, ramp).
AGENTS: tuple[tuple[str, type[ScriptedBehaviour], int, int], ...] = (
    ("semantic-fast", SemanticDrift, 100, 40),
    ("semantic-slow", SemanticDrift, 100, 200),
    ("format", FormatDrift, 100, 40),
    ("tool-avoidance", ToolAvoidance, 100, 40),
    ("format-slow", FormatDrift, 100, 200),
)
PUBLISHED = {"emc": (35, 10), "dar": (42, 15), "aba": (28, 8), "all": (82, 23)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interactions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results: dict[str, list[SessionResult]] = defaultdict(list)
    for arm in ARMS:
        for index, (name, kind, onset, ramp) in enumerate(AGENTS):
            behaviour = fresh(kind, args.seed + index, onset, ramp)
            results[arm].append(run_session(arm, name, behaviour, args.interactions))
    base = results["none"]
    base_drift = sum(r.mean_drift for r in base)
    base_tasks, base_tokens = sum(r.tasks for r in base), sum(r.tokens for r in base)
    base_latency = sum(r.latency_ms for r in base)
    print(f"{args.interactions} interactions x {len(AGENTS)} scripted agents per arm (drift onset at 100)\n")
    header = f"{'arm':<6}{'mean drift':>11}{'reduction':>11}{'published':>11}{'+tasks':>9}{'+tokens':>9}"
    print(header + f"{'published':>11}{'+latency':>10}")
    for arm in ARMS:
        rows = results[arm]
        drift = sum(r.mean_drift for r in rows)
        reduction = 100 * (1 - drift / base_drift) if base_drift else 0.0
        extra_tasks = 100 * (sum(r.tasks for r in rows) / base_tasks - 1)
        extra_tokens = 100 * (sum(r.tokens for r in rows) / base_tokens - 1)
        extra_latency = 100 * (sum(r.latency_ms for r in rows) / base_latency - 1)
        published = PUBLISHED.get(arm)
        pub_reduction = f"{published[0]}%" if published else "-"
        pub_compute = f"+{published[1]}%" if published else "-"
        print(
            f"{arm:<6}{drift / len(rows):>11.3f}{reduction:>10.0f}%{pub_reduction:>11}"
            f"{extra_tasks:>+8.1f}%{extra_tokens:>+8.1f}%{pub_compute:>11}{extra_latency:>+9.1f}%"
        )
    print("\ndetection delay (interactions from onset to the first DriftAlert, arm none; target <= 50):")
    for r in base:
        delay = "not detected" if r.detection_delay is None else str(r.detection_delay)
        print(f"  {r.agent:<16}{delay}")


if __name__ == "__main__":
    main()
