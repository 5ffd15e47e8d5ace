"""Settling a run: outcome events, token budget charging and refusal, findings from the output."""

from services.agent_runtime.backends.contract import BackendResult
from services.agent_runtime.ledger import AssignmentKey
from services.agent_runtime.settlement import Completion, refusal, settle
from services.agent_runtime.token_budget import TokenBudget
from shared.events.catalogue.tasks import TaskFailed, TaskSucceeded
from shared.events.catalogue.work import ExecuteTask

COMMAND = ExecuteTask(task_id="t1", goal_id="g1", agent_id="coder", operator="code", capability="code")
KEY = AssignmentKey("coder", "t1", 1)


def test_a_success_within_budget_is_reported_with_output_tokens_and_duration():
    result = BackendResult({"summary": "done"}, tokens_used=40)
    settlement = settle(COMMAND, Completion.succeeded(KEY, result, 250), TokenBudget(100, 50))
    assert isinstance(settlement.outcome, TaskSucceeded)
    assert (settlement.outcome.output, settlement.outcome.tokens_used, settlement.outcome.duration_ms) == (
        {"summary": "done"},
        40,
        250,
    )
    assert settlement.budget == TokenBudget(100, 90)
    assert settlement.findings == ()


def test_a_success_that_goes_past_the_budget_fails_as_budget_and_still_counts_its_tokens():
    settlement = settle(COMMAND, Completion.succeeded(KEY, BackendResult({}, 60), 5), TokenBudget(100, 50))
    assert isinstance(settlement.outcome, TaskFailed)
    assert settlement.outcome.error_class == "budget"
    assert "exceeds the budget of 100" in settlement.outcome.error
    assert settlement.budget.used == 110 and settlement.budget.exhausted


def test_work_is_refused_when_the_budget_is_spent_or_the_capability_missing():
    assert refusal(COMMAND, ["code"], TokenBudget(100, 99)) is None
    assert refusal(COMMAND, ["code"], TokenBudget(None, 10**9)) is None
    spent = refusal(COMMAND, ["code"], TokenBudget(100, 100))
    assert spent is not None and (spent.error_class, spent.error) == ("budget", "token budget spent: 100 of 100 used")
    unable = refusal(COMMAND, ["docs"], TokenBudget())
    assert unable is not None and unable.error_class == "invalid" and "'code'" in unable.error


def test_a_failure_keeps_its_error_class_and_charges_nothing():
    settlement = settle(COMMAND, Completion.failed(KEY, "rate_limit", "429", 12), TokenBudget(100, 5))
    assert isinstance(settlement.outcome, TaskFailed)
    assert (settlement.outcome.error_class, settlement.outcome.error, settlement.outcome.duration_ms) == (
        "rate_limit",
        "429",
        12,
    )
    assert settlement.budget == TokenBudget(100, 5)


def test_findings_in_the_output_are_posted_and_malformed_ones_make_it_invalid():
    shared = {"findings": [{"topic": "root_cause", "content": {"file": "a.py"}}], "summary": "x"}
    settlement = settle(COMMAND, Completion.succeeded(KEY, BackendResult(shared, 1), 1), TokenBudget())
    (finding,) = settlement.findings
    assert (finding.goal_id, finding.task_id, finding.agent_id, finding.topic, finding.content) == (
        "g1",
        "t1",
        "coder",
        "root_cause",
        {"file": "a.py"},
    )
    bad = settle(COMMAND, Completion.succeeded(KEY, BackendResult({"findings": [{"topic": ""}]}, 1), 1), TokenBudget())
    assert isinstance(bad.outcome, TaskFailed) and bad.outcome.error_class == "invalid"
    assert "non-empty string 'topic'" in bad.outcome.error and bad.findings == ()


def test_a_budget_is_restored_from_its_saved_usage_under_the_configured_limit():
    assert TokenBudget.restored(500, TokenBudget(100, 120).to_dict()) == TokenBudget(500, 120)
    assert TokenBudget.restored(None, None) == TokenBudget()
    assert TokenBudget(100, 30).remaining == 70 and TokenBudget(100, 130).remaining == 0


def test_nul_characters_in_outputs_and_errors_become_replacement_characters():
    """The event log cannot store NUL, and consumers refuse an event holding one: binary output is cleaned."""
    result = BackendResult({"stdout": "a\x00b", "lines": ["\x00"], "k\x00": 1}, tokens_used=1)
    succeeded = settle(COMMAND, Completion.succeeded(KEY, result, 1), TokenBudget()).outcome
    assert isinstance(succeeded, TaskSucceeded)
    assert succeeded.output == {"stdout": "a\ufffdb", "lines": ["\ufffd"], "k\ufffd": 1}
    failed = settle(COMMAND, Completion.failed(KEY, "crash", "crashed: \x00\x00", 1), TokenBudget()).outcome
    assert isinstance(failed, TaskFailed) and failed.error == "crashed: \ufffd\ufffd"
