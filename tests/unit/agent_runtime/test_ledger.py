"""The execution ledger: each (agent, task, attempt) is accepted once, moves queued -> running -> done, and is
pruned only when assignments that old are refused as stale anyway."""

import pytest

from services.agent_runtime.ledger import AssignmentKey, ExecutionLedger, LedgerEntry

KEY = AssignmentKey("coder", "t1", 1)
DAY = 24 * 3600.0


def test_an_assignment_is_accepted_once_and_its_repeats_are_duplicates():
    ledger = ExecutionLedger(retention_s=DAY)
    assert ledger.admit(KEY, "{}", assigned_at=100.0, now=101.0) == "accepted"
    assert ledger.admit(KEY, "{}", assigned_at=100.0, now=102.0) == "duplicate"
    ledger.start(KEY)
    ledger.finish(KEY, "succeeded")
    assert ledger.admit(KEY, "{}", assigned_at=100.0, now=103.0) == "duplicate"
    assert ledger.admit(AssignmentKey("coder", "t1", 2), "{}", assigned_at=100.0, now=103.0) == "accepted"


def test_assignments_older_than_the_retention_are_stale():
    ledger = ExecutionLedger(retention_s=DAY)
    assert ledger.admit(KEY, "{}", assigned_at=0.0, now=DAY + 1) == "stale"
    assert len(ledger) == 0


def test_status_moves_forward_only_and_done_drops_the_command():
    ledger = ExecutionLedger(retention_s=DAY)
    ledger.admit(KEY, '{"x": 1}', assigned_at=1.0, now=1.0)
    assert ledger.start(KEY).status == "running"
    with pytest.raises(ValueError, match="is running, not queued"):
        ledger.start(KEY)
    done = ledger.finish(KEY, "failed")
    assert (done.status, done.command, done.outcome) == ("done", None, "failed")
    with pytest.raises(ValueError, match="already done"):
        ledger.finish(KEY, "failed")


def test_a_queued_assignment_can_finish_without_running_when_it_is_refused():
    ledger = ExecutionLedger(retention_s=DAY)
    ledger.admit(KEY, "{}", assigned_at=1.0, now=1.0)
    assert ledger.finish(KEY, "failed").status == "done"


def test_entries_round_trip_through_their_json_form_and_restore_by_status():
    ledger = ExecutionLedger(retention_s=DAY)
    for task, assigned_at in (("b", 2.0), ("a", 1.0), ("c", 3.0)):
        ledger.admit(AssignmentKey("coder", task, 1), f'{{"t": "{task}"}}', assigned_at=assigned_at, now=3.0)
    ledger.start(AssignmentKey("coder", "c", 1))
    restored = ExecutionLedger(DAY, [LedgerEntry.from_dict(entry.to_dict()) for entry in ledger])
    assert [e.key.task_id for e in restored.with_status("queued")] == ["a", "b"]
    assert [e.key.task_id for e in restored.with_status("running")] == ["c"]
    assert restored.get(AssignmentKey("coder", "a", 1)) == ledger.get(AssignmentKey("coder", "a", 1))
    assert KEY.state_key() == "executed/coder/t1/1"


def test_pruning_drops_only_finished_entries_past_the_retention():
    ledger = ExecutionLedger(retention_s=DAY)
    old_done, old_queued, recent_done = (AssignmentKey("coder", t, 1) for t in ("old", "waiting", "recent"))
    ledger.admit(old_done, "{}", assigned_at=0.0, now=0.0)
    ledger.admit(old_queued, "{}", assigned_at=0.0, now=0.0)
    ledger.admit(recent_done, "{}", assigned_at=DAY, now=DAY)
    ledger.finish(old_done, "succeeded")
    ledger.finish(recent_done, "succeeded")
    assert ledger.prune(now=DAY + 10) == [old_done]
    assert ledger.get(old_queued) is not None and ledger.get(recent_done) is not None
