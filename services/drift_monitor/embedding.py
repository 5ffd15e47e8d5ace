"""Text embeddings for drift scoring: a provider protocol, a dependency-free default and an optional model.

The default, `HashedNgramEmbedding`, needs no model download and gives the same vector for the same text in
every process (it hashes with blake2b, never Python's salted `hash()`), so a drift score computed live and
one recomputed during a replay agree exactly.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from services.drift_monitor.vectors import Vector, l2_normalise

DEFAULT_DIMENSION = 512
_WORD = re.compile(r"\w+", re.UNICODE)
_SPACES = re.compile(r"\s+")


@runtime_checkable
class EmbeddingProvider(Protocol):
    """Turns texts into fixed-size vectors; one vector per text, in order."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed each text; every returned vector has the provider's dimension."""
        ...


class EmbeddingBackendUnavailable(RuntimeError):
    """An optional embedding backend was requested but its package is not installed."""


@functools.lru_cache(maxsize=131_072)
def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    # Signed hashing: the sign bit makes colliding features cancel on average instead of piling up,
    # so unrelated texts sit near cosine 0 rather than sharing a positive bias.
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    sign = 1.0 if value & 1 else -1.0
    return (value >> 1) % dimension, sign


class HashedNgramEmbedding:
    """Character 3-5 grams plus word unigrams and bigrams, hashed into `dimension` buckets, L2-normalised.

    Counts are damped (1 + log count) so one repeated word does not dominate a text. Character n-grams catch
    spelling-level and format-level similarity; word features weigh vocabulary (`word_weight` scales them).
    """

    def __init__(
        self,
        dimension: int = DEFAULT_DIMENSION,
        char_ngrams: tuple[int, int] = (3, 5),
        word_ngrams: tuple[int, int] = (1, 2),
        word_weight: float = 1.0,
    ) -> None:
        if dimension < 1:
            raise ValueError("dimension must be positive")
        if not 1 <= char_ngrams[0] <= char_ngrams[1] or not 1 <= word_ngrams[0] <= word_ngrams[1]:
            raise ValueError("n-gram ranges must be (low, high) with 1 <= low <= high")
        self.dimension = dimension
        self.char_ngrams = char_ngrams
        self.word_ngrams = word_ngrams
        self.word_weight = word_weight

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed each text deterministically."""
        return [self.embed_one(text) for text in texts]

    def embed_one(self, text: str) -> Vector:
        """Embed a single text; an empty text maps to the zero vector."""
        vector = [0.0] * self.dimension
        for feature, count in Counter(self._features(text)).items():
            index, sign = _bucket(feature, self.dimension)
            damped = 1.0 if count == 1 else 1.0 + math.log(count)
            vector[index] += sign * damped * (self.word_weight if feature[0] == "w" else 1.0)
        return l2_normalise(vector)

    def _features(self, text: str) -> list[str]:
        normalised = _SPACES.sub(" ", text.lower()).strip()
        features: list[str] = []
        padded = f" {normalised} "
        low, high = self.char_ngrams
        for n in range(low, high + 1):
            features.extend("c:" + padded[i : i + n] for i in range(len(padded) - n + 1))
        words = _WORD.findall(normalised)
        low, high = self.word_ngrams
        for n in range(low, high + 1):
            features.extend("w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        return features


class SentenceTransformerEmbedding:
    """Embeddings from a sentence-transformers model (optional extra, imported only when constructed)."""

    def __init__(self, model_name: str = "all-MiniLM-L6-v2", device: str | None = None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise EmbeddingBackendUnavailable(
                "SentenceTransformerEmbedding needs the 'sentence-transformers' package, which is not "
                "installed; install it (pip install sentence-transformers) or use HashedNgramEmbedding"
            ) from error
        self.model_name = model_name
        self._model: Any = SentenceTransformer(model_name, device=device)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed each text with the model, normalised to unit length."""
        if not texts:
            return []
        vectors = self._model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)
        return [[float(x) for x in vector] for vector in vectors]
