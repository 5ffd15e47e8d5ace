"""`python -m bench.drift [--interactions N]`: the five-arm drift mitigation table beside the published one,
detection delays for every scenario, and the false alarms on agents that do not drift."""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import replace

from bench.drift.arms import ARMS, SessionResult, fresh, run_session
from services.agent_runtime.scripted_drift import FormatDrift, ScriptedBehaviour, SemanticDrift, ToolAvoidance
from services.drift_monitor.agent_state import DriftSettings
from services.drift_monitor.thresholds import DriftThresholds, RoleThresholds

#: Five scripted agent types: (name, behaviour, onset, ramp).
AGENTS: tuple[tuple[str, type[ScriptedBehaviour], int, int], ...] = (
    ("semantic-fast", SemanticDrift, 100, 40),
    ("semantic-slow", SemanticDrift, 100, 200),
    ("format", FormatDrift, 100, 40),
    ("tool-avoidance", ToolAvoidance, 100, 40),
    ("format-slow", FormatDrift, 100, 200),
)
#: Agents that never drift, for the false-alarm count: one of each behaviour per seed.
STABLE: tuple[tuple[str, type[ScriptedBehaviour]], ...] = (
    ("semantic", SemanticDrift),
    ("format", FormatDrift),
    ("tool-avoidance", ToolAvoidance),
)
NEVER = 10**9
PUBLISHED = {"emc": (35, 10), "dar": (42, 15), "aba": (28, 8), "all": (82, 23)}


def settings_from(args: argparse.Namespace) -> DriftSettings:
    """The monitor's defaults, with the detector's knobs as given on the command line."""
    thresholds = replace(
        DriftThresholds(), cusum_h=args.cusum_h, cusum_k=args.cusum_k, shift_reset_after=args.shift_reset_after
    )
    return DriftSettings(thresholds=RoleThresholds(default=thresholds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interactions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stable-seeds", type=int, default=10, help="stable agents per behaviour (false alarms)")
    parser.add_argument("--delay-seeds", type=int, default=10, help="seeds per scenario for the delay spread")
    parser.add_argument("--cusum-h", type=float, default=DriftThresholds().cusum_h, help="0: EMA alerts only")
    parser.add_argument("--cusum-k", type=float, default=DriftThresholds().cusum_k)
    parser.add_argument(
        "--shift-reset-after",
        type=int,
        default=DriftThresholds().shift_reset_after,
        help="reset an agent still shifted this many interactions after its CUSUM alarm (0: stability only)",
    )
    args = parser.parse_args()
    settings = settings_from(args)
    results: dict[str, list[SessionResult]] = defaultdict(list)
    for arm in ARMS:
        for index, (name, kind, onset, ramp) in enumerate(AGENTS):
            behaviour = fresh(kind, args.seed + index, onset, ramp)
            results[arm].append(run_session(arm, name, behaviour, args.interactions, settings))
    print(f"{args.interactions} interactions x {len(AGENTS)} scripted agents per arm (drift onset at 100)")
    print(
        f"shift detector: CUSUM k={args.cusum_k:g} h={args.cusum_h:g} (0: off, EMA alerts only); resets below"
        f" stability 0.5 or {args.shift_reset_after} interactions into a shift (0: stability only)\n"
    )
    print_arms(results)
    print_delays(results["none"])
    print_delay_spread(args, settings)
    print_false_alarms(results, args, settings)


def print_arms(results: dict[str, list[SessionResult]]) -> None:
    base = results["none"]
    base_drift = sum(r.mean_drift for r in base)
    base_tasks, base_tokens = sum(r.tasks for r in base), sum(r.tokens for r in base)
    base_latency = sum(r.latency_ms for r in base)
    header = f"{'arm':<6}{'mean drift':>11}{'reduction':>11}{'published':>11}{'+tasks':>9}{'+tokens':>9}"
    print(header + f"{'published':>11}{'+latency':>10}{'resets':>8}")
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
            f"{sum(r.resets for r in rows):>8}"
        )


def _delay(value: int | None) -> str:
    return "never" if value is None else str(value)


def print_delays(base: list[SessionResult]) -> None:
    print("\ndetection delay (interactions from onset to the first DriftAlert, arm none; target <= 50):")
    print(f"  {'agent':<16}{'alert':>6}  {'raised by':<28}{'EMA < 0.6 alone':>16}")
    for r in base:
        print(f"  {r.agent:<16}{_delay(r.detection_delay):>6}  {r.alert_reason:<28}{_delay(r.stability_delay):>16}")
    worst = max((r.detection_delay for r in base if r.detection_delay is not None), default=None)
    missed = sum(r.detection_delay is None for r in base)
    print(f"  worst {_delay(worst)}, {missed} scenario(s) never alerted")


def print_delay_spread(args: argparse.Namespace, settings: DriftSettings) -> None:
    """Detection delay of each scenario over several seeds (arm none; a session runs to 150 after onset)."""
    print(f"\ndetection delay over seeds 1..{args.delay_seeds} (arm none): median / worst / share <= 50")
    for name, kind, onset, ramp in AGENTS:
        delays = [
            run_session("none", name, fresh(kind, seed, onset, ramp), onset + 150, settings).detection_delay
            for seed in range(1, args.delay_seeds + 1)
        ]
        found = sorted(d for d in delays if d is not None)
        within = sum(d <= 50 for d in found)
        median = found[len(found) // 2] if found else None
        worst = "never" if len(found) < len(delays) else _delay(found[-1] if found else None)
        print(f"  {name:<16}{_delay(median):>6} / {worst:>5} / {within}/{len(delays)}")


def print_false_alarms(
    results: dict[str, list[SessionResult]], args: argparse.Namespace, settings: DriftSettings
) -> None:
    stable = [
        run_session("none", name, fresh(kind, 1000 + seed, NEVER, 40), args.interactions, settings)
        for seed in range(args.stable_seeds)
        for name, kind in STABLE
    ]
    alerted = [r for r in stable if r.first_alert is not None]
    scored = sum(r.interactions - 20 for r in stable)
    print("\nfalse alarms (DriftAlert on an agent that does not drift; target ~0):")
    print(
        f"  {len(stable)} stable agents ({args.stable_seeds} per behaviour), {args.interactions} interactions each"
        f" ({scored} scored): {len(alerted)} alerted"
        + "".join(f"; {r.agent} at {r.first_alert} ({r.alert_reason})" for r in alerted)
    )
    before = sum(r.alerts_before_onset for rows in results.values() for r in rows)
    sessions = sum(len(rows) for rows in results.values())
    print(f"  drifting agents before their onset (80 scored interactions x {sessions} sessions): {before} alerted")


if __name__ == "__main__":
    main()
