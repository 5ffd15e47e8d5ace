import math
import os
import subprocess
import sys

import pytest

from services.drift_monitor.embedding import (
    EmbeddingBackendUnavailable,
    EmbeddingProvider,
    HashedNgramEmbedding,
    SentenceTransformerEmbedding,
)
from services.drift_monitor.vectors import cosine, norm

TEXT = "Refactor the parser module and add a regression test for the cache."


def test_hashed_embedding_has_the_default_dimension_and_unit_length():
    vector = HashedNgramEmbedding().embed([TEXT])[0]

    assert len(vector) == 512
    assert math.isclose(norm(vector), 1.0)


def test_hashed_embedding_is_a_provider():
    assert isinstance(HashedNgramEmbedding(), EmbeddingProvider)


def test_hashed_embedding_returns_one_vector_per_text_in_order():
    provider = HashedNgramEmbedding(dimension=64)

    vectors = provider.embed(["alpha", "beta", "alpha"])

    assert len(vectors) == 3
    assert vectors[0] == vectors[2]
    assert vectors[0] != vectors[1]


def test_empty_text_embeds_to_the_zero_vector():
    assert HashedNgramEmbedding(dimension=32).embed_one("") == [0.0] * 32


def test_hashed_embedding_ignores_case_and_whitespace_layout():
    provider = HashedNgramEmbedding()

    assert provider.embed_one("Fix  the\nParser") == provider.embed_one("fix the parser")


def test_related_texts_are_closer_than_unrelated_ones():
    provider = HashedNgramEmbedding()
    base, related, unrelated = provider.embed(
        [TEXT, "Refactor the parser and add a test for the cache module.", "Garlic butter pasta at the beach."]
    )

    assert cosine(base, related) > 0.5
    assert cosine(base, unrelated) < 0.2


def test_hashed_embedding_is_identical_across_processes_with_different_hash_seeds():
    script = (
        "from services.drift_monitor.embedding import HashedNgramEmbedding;"
        f"print(repr(HashedNgramEmbedding().embed_one({TEXT!r})[:16]))"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
        )
        outputs.add(result.stdout)

    assert outputs == {repr(HashedNgramEmbedding().embed_one(TEXT)[:16]) + "\n"}


def test_invalid_dimensions_are_refused():
    with pytest.raises(ValueError):
        HashedNgramEmbedding(dimension=0)


def test_sentence_transformer_embedding_explains_the_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails as if not installed

    with pytest.raises(EmbeddingBackendUnavailable, match="sentence-transformers"):
        SentenceTransformerEmbedding()
