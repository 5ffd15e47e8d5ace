"""Dense vector arithmetic on plain lists of floats (embeddings are JSON-friendly lists)."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

Vector = list[float]


def norm(vector: Sequence[float]) -> float:
    """Euclidean length of `vector`."""
    return math.hypot(*vector)


def l2_normalise(vector: Sequence[float]) -> Vector:
    """`vector` scaled to unit length; the zero vector stays zero (it has no direction)."""
    length = norm(vector)
    if length == 0.0:
        return [0.0] * len(vector)
    return [x / length for x in vector]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity in [-1, 1]; 0.0 when either vector is zero, so empty outputs look unrelated."""
    if len(a) != len(b):
        raise ValueError(f"vectors differ in dimension: {len(a)} != {len(b)}")
    length = norm(a) * norm(b)
    if length == 0.0:
        return 0.0
    dot = sum(map(operator.mul, a, b))
    return max(-1.0, min(1.0, dot / length))


def mean_vector(vectors: Sequence[Sequence[float]]) -> Vector:
    """Component-wise mean of equally sized vectors."""
    if not vectors:
        raise ValueError("cannot average zero vectors")
    dimension = len(vectors[0])
    totals = [0.0] * dimension
    for vector in vectors:
        if len(vector) != dimension:
            raise ValueError(f"vectors differ in dimension: {len(vector)} != {dimension}")
        for i, x in enumerate(vector):
            totals[i] += x
    return [t / len(vectors) for t in totals]
