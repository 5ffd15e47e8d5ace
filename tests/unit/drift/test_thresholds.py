import pytest

from services.drift_monitor.thresholds import DriftThresholds, RoleThresholds


def test_default_thresholds_follow_the_report():
    thresholds = DriftThresholds()

    assert (thresholds.alert_below, thresholds.reset_below) == (0.6, 0.5)
    assert thresholds.recover_at > thresholds.alert_below


def test_a_role_can_have_its_own_thresholds():
    strict = DriftThresholds(alert_below=0.8, reset_below=0.7, recover_at=0.85)
    by_role = RoleThresholds(by_role={"architect": strict})

    assert by_role.for_role("architect") == strict
    assert by_role.for_role("worker") == DriftThresholds()


def test_thresholds_out_of_order_are_refused():
    with pytest.raises(ValueError, match="reset_below"):
        DriftThresholds(alert_below=0.5, reset_below=0.6)


def test_role_thresholds_are_read_from_plain_configuration():
    config = {"default": {"alert_below": 0.55}, "roles": {"manager": {"alert_below": 0.7, "recover_at": 0.75}}}

    by_role = RoleThresholds.from_dict(config)

    assert by_role.for_role("worker") == DriftThresholds(alert_below=0.55)
    assert by_role.for_role("manager") == DriftThresholds(alert_below=0.7, recover_at=0.75)
