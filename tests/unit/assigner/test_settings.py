"""Assigner settings: breaker thresholds come from the environment (ARCHITECT_ASSIGNER_BREAKER_*)."""

from __future__ import annotations

import pytest

from services.assigner.breaker import ARCHITECT_BREAKER, BreakerConfig
from services.assigner.settings import AssignerSettings


def test_breaker_defaults_are_the_report_figures() -> None:
    policy = AssignerSettings().breaker_policy()
    assert policy.default == BreakerConfig()
    assert policy.per_role["architect"] == ARCHITECT_BREAKER


def test_breaker_thresholds_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHITECT_ASSIGNER_BREAKER_FAILURE_THRESHOLD", "2")
    monkeypatch.setenv("ARCHITECT_ASSIGNER_BREAKER_OPEN_TIMEOUT_S", "5")
    monkeypatch.setenv("ARCHITECT_ASSIGNER_BREAKER_HALF_OPEN_PROBES", "3")
    monkeypatch.setenv("ARCHITECT_ASSIGNER_BREAKER_SUCCESS_THRESHOLD", "4")

    policy = AssignerSettings().breaker_policy()

    assert policy.default == BreakerConfig(
        failure_threshold=2, open_timeout_s=5.0, half_open_max_probes=3, success_threshold=4
    )
    assert policy.for_agent("worker", {"code"}) == policy.default


def test_an_invalid_breaker_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHITECT_ASSIGNER_BREAKER_FAILURE_THRESHOLD", "0")
    with pytest.raises(ValueError, match="failure_threshold must be at least 1"):
        AssignerSettings().breaker_policy()
