"""Vocabulary novelty: the share of an output's words its baseline never used."""

import random

import pytest

from services.drift_monitor.agent_state import AgentDriftState
from services.drift_monitor.embedding import HashedNgramEmbedding
from services.drift_monitor.sample import BehaviourSample
from services.drift_monitor.signals import DriftAlert
from services.drift_monitor.vocabulary import leave_one_out_novelty, novelty, vocabulary, words


def test_words_are_lower_case_letter_runs() -> None:
    assert words('Fix the {"parser"} in src/cache_2.py!') == ["fix", "the", "parser", "in", "src", "cache", "py"]


def test_novelty_is_the_share_of_words_never_seen() -> None:
    known = vocabulary(["fix the parser", "test the cache"])

    assert novelty("fix the cache", known) == 0.0
    assert novelty("bake the garlic bread", known) == pytest.approx(0.75)
    assert novelty("", known) == 0.0


def test_leave_one_out_novelty_counts_the_words_only_that_text_uses() -> None:
    assert leave_one_out_novelty(["a b", "a c", "a b c d"]) == [0.0, 0.0, pytest.approx(0.25)]
    assert leave_one_out_novelty(["alone"]) == []


@pytest.mark.timeout(120)
def test_an_agent_with_an_open_vocabulary_raises_no_alert() -> None:
    # Words drawn from a Zipfian vocabulary of 3000: every output brings words its baseline never used, as
    # real outputs do, at a steady rate. The baseline's leave-one-out novelty learns that rate.
    embedding = HashedNgramEmbedding()
    syllables = ["ka", "lo", "mi", "ter", "van", "po", "ru", "sel", "din", "ab", "or", "qu", "fen", "zi", "ba"]
    lexicon = ["".join(random.Random(i).choices(syllables, k=4)) for i in range(3000)]
    weights = [1 / rank for rank in range(1, len(lexicon) + 1)]
    for agent in range(4):
        rng = random.Random(agent)
        state = AgentDriftState("a1", "worker")
        for _ in range(600):
            text = " ".join(rng.choices(lexicon, weights, k=rng.randint(20, 40)))
            sample = BehaviourSample("a1", "worker", text, frozenset({"read_file"}), True)

            assert not [s for s in state.observe(sample, embedding.embed_one(text)) if isinstance(s, DriftAlert)]
