"""``make demo``: the whole stack on this machine, a real workload through it, a live view and a summary.

1. Starts a KRaft Kafka broker of its own (empty) and Postgres, creates the topics and a fresh demo database.
2. Starts every service as a process: scheduler, assigner, orchestrator, projector, the gateway and an agent
   runtime hosting the bundled demo fleet (scripted agents, one of them flaky).
3. Submits goals through the gateway's HTTP API: one per built-in method, a gated feature whose deploy step
   waits for a human, and a goal type no method knows (decomposed by the planner agent).
4. Shows live progress from the read models; approves the gate through the CLI, as a person would.
5. Prints a summary: goals, agents (breaker states, successes, failures), events and dead letters.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from rich.console import Console
from rich.live import Live

from shared.db.connection import connect
from shared.infra.cache import cache_root
from shared.infra.demo_view import (
    Snapshot,
    agents_table,
    goals_table,
    progress_line,
    progress_view,
    read_snapshot,
)
from shared.infra.environment import LocalEnvironment, bring_up
from shared.infra.stack import LocalStack, ServiceFailed, full_stack, interrupt

if TYPE_CHECKING:
    import psycopg

GATEWAY_PORT = int(os.environ.get("ARCHITECT_DEMO_GATEWAY_PORT", "8080"))
DEMO_DATABASE = "architect_demo"
#: A broker of the demo's own, started empty and stopped at the end, so every run tells the same story.
DEMO_KAFKA_NAME = "demo"
DEMO_KAFKA_PORT = 19292
APPROVER = "demo-lead"
DEADLINE_S = float(os.environ.get("ARCHITECT_DEMO_TIMEOUT_S", "300"))
#: Longest wait for the agents' heartbeats after the last goal ends (the demo fleet beats every 3 s).
SETTLE_S = 5.0


@dataclass(frozen=True)
class DemoGoal:
    slug: str
    goal_type: str
    title: str
    params: dict[str, object]


WORKLOAD = (
    DemoGoal("csv-export", "implement_feature", "Add CSV export to reports", {}),
    DemoGoal("sso", "implement_feature", "Single sign-on, deploy after sign-off", {"approval_before_deploy": True}),
    DemoGoal("stale-cache", "fix_bug", "Stale cache after schema change", {}),
    DemoGoal("upload-race", "fix_bug", "Race in upload retries", {}),
    DemoGoal("billing-split", "refactor", "Split the billing module", {}),
    DemoGoal("notes-2-4", "write_release_notes", "Release notes for 2.4 (no method: the planner decomposes it)", {}),
)

console = Console()


def main() -> int:
    signal.signal(signal.SIGTERM, interrupt)
    started = time.monotonic()
    env: LocalEnvironment | None = None
    stack: LocalStack | None = None
    try:
        env = bring_up(
            DEMO_DATABASE,
            fresh=True,
            kafka_name=DEMO_KAFKA_NAME,
            kafka_port=DEMO_KAFKA_PORT,
            say=lambda m: console.print(f"[dim]·[/] {m}"),
        )
        api_key = secrets.token_urlsafe(18)
        stack = LocalStack(
            env.bootstrap,
            env.database_url,
            cache_root() / "logs" / "demo",
            extra_env={"ARCHITECT_ORCHESTRATOR_APPROVERS": APPROVER, "ARCHITECT_LOG_LEVEL": "INFO"},
        )
        stack.start_all(full_stack(GATEWAY_PORT, f"{api_key}=demo:submit+approve+admin"))
        console.print(f"[dim]·[/] services started: {', '.join(stack.names())} (logs in {stack.log_dir})")
        wait_for_fleet(env, stack)
        goal_ids = submit_workload(api_key, stack)
        final = follow(env, stack, goal_ids, started)
        summarize(final, len(goal_ids), time.monotonic() - started, stack)
        return 0 if final.all_completed(len(goal_ids)) else 1
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted[/]: stopping everything")
        return 130
    except ServiceFailed as failure:
        console.print(f"[bold red]a service failed[/]: {failure}")
        return 1
    finally:
        if stack is not None:
            codes = stack.stop()
            console.print("[dim]·[/] stopped " + ", ".join(f"{n} ({c})" for n, c in codes.items()))
        if env is not None:
            env.stop()


def wait_for_fleet(env: LocalEnvironment, stack: LocalStack, timeout_s: float = 90.0) -> None:
    """Until the gateway answers and the demo fleet's agents are registered in the read model."""
    deadline = time.monotonic() + timeout_s
    with console.status("waiting for the gateway and the fleet to register ..."):
        while time.monotonic() < deadline:
            stack.check()
            if _gateway_ready() and _registered_agents(env) >= 8:
                console.print(f"[dim]·[/] gateway ready on http://127.0.0.1:{GATEWAY_PORT}; fleet registered")
                return
            time.sleep(1)
    raise ServiceFailed(f"the gateway or the fleet was not ready within {timeout_s:.0f}s; see {stack.log_dir}")


def _gateway_ready() -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{GATEWAY_PORT}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _registered_agents(env: LocalEnvironment) -> int:
    with connect(env.database_url) as conn:
        return conn.execute("SELECT count(*) FROM agents WHERE status IN ('registered', 'alive')").fetchone()[0]


def submit_workload(api_key: str, stack: LocalStack) -> list[str]:
    goal_ids = []
    run = secrets.token_hex(2)
    with httpx.Client(base_url=f"http://127.0.0.1:{GATEWAY_PORT}", headers={"X-API-Key": api_key}) as client:
        for goal in WORKLOAD:
            body = {"goal_id": f"{goal.slug}-{run}", "goal_type": goal.goal_type, "title": goal.title}
            response = client.post("/goals", json=body | {"params": goal.params})
            if response.status_code != 202:
                raise ServiceFailed(f"the gateway refused a goal: {response.status_code} {response.text}")
            goal_ids.append(response.json()["goal_id"])
            console.print(f"[dim]·[/] submitted {goal_ids[-1]} ([bold]{goal.goal_type}[/]): {goal.title}")
    return goal_ids


def follow(env: LocalEnvironment, stack: LocalStack, goal_ids: list[str], started: float) -> Snapshot:
    """Live view until every goal is finished (or the deadline); approves gates through the CLI."""
    approved: set[tuple[str, str]] = set()
    deadline = time.monotonic() + DEADLINE_S
    # A terminal gets a live view; a log gets a progress line whenever the progress changes (a Live view there
    # would print its last frame on exit, and the summary would then repeat its tables).
    last_line = ""
    with connect(env.database_url) as conn, Live(console=console, refresh_per_second=2, transient=True) as live:
        while True:
            stack.check()
            snapshot = read_snapshot(conn, goal_ids)
            elapsed_s = time.monotonic() - started
            if console.is_terminal:
                live.update(progress_view(snapshot, len(goal_ids), elapsed_s))
            else:
                line = progress_line(snapshot, len(goal_ids), 0.0)
                if line != last_line:
                    console.print(progress_line(snapshot, len(goal_ids), elapsed_s))
                    last_line = line
            for gate in snapshot.pending_approvals:
                if gate not in approved:
                    time.sleep(2)  # let the gate be seen waiting
                    approve_with_cli(env, *gate)
                    approved.add(gate)
            if snapshot.all_finished(len(goal_ids)):
                return settled(conn, goal_ids, snapshot)
            if time.monotonic() > deadline:
                return snapshot
            time.sleep(1)


def settled(conn: psycopg.Connection, goal_ids: list[str], snapshot: Snapshot) -> Snapshot:
    """The snapshot once the agents' next heartbeats have reached the read model (their running counts come
    from heartbeats, so right after the last goal ends an agent can still show the task it just finished)."""
    deadline = time.monotonic() + SETTLE_S
    while any(agent.in_flight for agent in snapshot.agents) and time.monotonic() < deadline:
        time.sleep(0.5)
        snapshot = read_snapshot(conn, goal_ids)
    return snapshot


def approve_with_cli(env: LocalEnvironment, goal_id: str, task_id: str) -> None:
    command = [sys.executable, "-m", "shared.cli.main", "goals", "approve", goal_id, task_id, "--approver", APPROVER]
    result = subprocess.run(
        command,
        env=os.environ | {"ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": env.bootstrap},
        capture_output=True,
        text=True,
        timeout=60,
    )
    outcome = "[green]ok[/]" if result.returncode == 0 else f"[red]failed[/] {result.stderr.strip()}"
    console.print(f"[magenta]approval[/]: architect goals approve {goal_id} {task_id} --approver {APPROVER}: {outcome}")


def summarize(snapshot: Snapshot, expected: int, elapsed_s: float, stack: LocalStack) -> None:
    completed = sum(g.status == "completed" for g in snapshot.goals)
    console.rule("[bold]Summary")
    console.print(goals_table(snapshot, title="Goals (from the read models)"))
    console.print(agents_table(snapshot))
    console.print(
        f"{completed}/{expected} goals completed in {elapsed_s:.0f}s · {snapshot.events} events for these goals · "
        f"{snapshot.breaker_openings} breaker opening(s) · {snapshot.dead_letters} dead letters"
    )
    if completed < expected:
        console.print(f"[red]not every goal completed[/]; service logs are in {stack.log_dir}")
    console.print(
        "Next: [bold]architect streams replay --correlation GOAL_ID[/] for a goal's causal timeline, "
        "[bold]make run[/] to keep the stack up with the gateway on :8080."
    )


if __name__ == "__main__":
    sys.exit(main())
