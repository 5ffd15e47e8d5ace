"""Protocol specs: plain-data descriptions that build the protocol they describe."""

from __future__ import annotations

from fractions import Fraction

import pytest

from services.consensus.protocols import LeaderTieBreak, ProtocolSpec, Supermajority, Vote, Weighted


def test_a_spec_round_trips_through_plain_dicts() -> None:
    spec = ProtocolSpec("supermajority", fraction=Fraction(3, 4), basis="electorate", tie_break=True)
    assert ProtocolSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["fraction"] == "3/4"


def test_a_supermajority_spec_builds_the_configured_fraction() -> None:
    protocol = ProtocolSpec("supermajority", fraction="3/4").build(decision_id="d", term=0, weights={})
    assert protocol == Supermajority(Fraction(3, 4))


def test_a_weighted_spec_builds_with_the_decisions_weights_and_leader() -> None:
    protocol = ProtocolSpec("weighted", tie_break=True).build(decision_id="d", term=2, weights={"a": 0.9, "b": 0.5})
    assert isinstance(protocol, LeaderTieBreak)
    assert protocol.inner == Weighted({"a": 0.9, "b": 0.5})
    assert protocol.decide([Vote("a", "x"), Vote("b", "y")], "ab").choice == "x"


def test_an_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError):
        ProtocolSpec("dictatorship")  # type: ignore[arg-type]


def test_a_supermajority_below_one_half_is_refused() -> None:
    with pytest.raises(ValueError):
        ProtocolSpec("supermajority", fraction=Fraction(1, 3))
