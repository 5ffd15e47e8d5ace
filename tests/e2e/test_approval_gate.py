"""Done means: an approval gate blocks until approved (here through the `architect goals approve` CLI), and only
by a caller allowed to approve (ARCHITECT_ORCHESTRATOR_APPROVERS in the stack)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from services.orchestrator.htn.builtin_domain import APPROVAL_PARAM
from tests.e2e.harness import EndToEnd
from tests.e2e.knobs import APPROVERS

pytestmark = pytest.mark.integration
STILL_BLOCKED_FOR_S = 3.0


def architect(e2e: EndToEnd, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"ARCHITECT_KAFKA_BOOTSTRAP_SERVERS": e2e.settings.kafka_bootstrap_servers}
    return subprocess.run(
        [sys.executable, "-m", "shared.cli.main", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.timeout(120, func_only=True)
def test_an_approval_gate_blocks_until_approved(e2e: EndToEnd) -> None:
    goal_id = e2e.submit("implement_feature", {APPROVAL_PARAM: True}, title="ship behind a gate")
    gate_task = f"{goal_id}/deploy_staging"

    requested = e2e.wait_event("the approval request", goal_id=goal_id, types=["ApprovalRequested"], timeout_s=60)
    assert requested.payload.task_id == gate_task
    time.sleep(STILL_BLOCKED_FOR_S)
    row = e2e.goal(goal_id)
    assert row is not None and row["status"] == "planned", row
    tasks = e2e.query("SELECT operator, status FROM tasks WHERE goal_id = %s", goal_id)
    assert sorted(t["operator"] for t in tasks if t["status"] == "succeeded") == ["code", "design", "review", "tests"]
    assert not e2e.tap.events(goal_id=goal_id, types=["TaskCreated"], where=lambda e: e.payload.task_id == gate_task)
    approvals = e2e.query("SELECT status FROM approvals WHERE goal_id = %s AND task_id = %s", goal_id, gate_task)
    assert [a["status"] for a in approvals] == ["pending"]

    # Someone not among the approvers: the command is dead-lettered as forbidden and the gate stays closed.
    refused = architect(e2e, "goals", "approve", goal_id, gate_task, "--approver", "intern")
    assert refused.returncode == 0, refused.stderr
    e2e.wait_until(
        "the intern's approval to be dead-lettered",
        lambda: e2e.query(
            "SELECT reason FROM dead_letters WHERE consumer_group = 'architect-orchestrator' AND reason = 'forbidden'"
            " AND error LIKE '%%intern%%' AND convert_from(value, 'UTF8') LIKE %s",
            f"%{gate_task}%",
        ),
        30,
    )
    assert not e2e.tap.events(
        goal_id=goal_id, types=["ApprovalGranted", "TaskCreated"], where=lambda e: e.payload.task_id == gate_task
    )
    assert (e2e.goal(goal_id) or {}).get("status") == "planned"

    approved = architect(e2e, "goals", "approve", goal_id, gate_task, "--approver", APPROVERS[0])
    assert approved.returncode == 0, approved.stderr

    e2e.wait_completed(goal_id)  # and the tap has read the goal's events
    granted = e2e.tap.events(goal_id=goal_id, types=["ApprovalGranted"])
    assert [(g.payload.task_id, g.payload.approver) for g in granted] == [(gate_task, APPROVERS[0])]
    types = e2e.types_of(goal_id)
    assert types.index("ApprovalGranted") < types.index("GoalCompleted")
