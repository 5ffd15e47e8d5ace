"""Vocabulary novelty: the share of an output's words that its agent never used in its baseline.

A second view of semantic drift, beside the embedding distance. The distance of one output to the baseline
mean is noisy: an on-topic output samples its words from the agent's usual vocabulary, and which words it
happens to pick moves the distance about as much as a few off-topic words do. Novelty counts only what is
new: an agent that starts talking about something else brings words its baseline never contained, while an
on-topic output re-uses the baseline's words. It is the out-of-vocabulary rate of text-drift monitoring,
measured against the agent's own baseline, and it does not depend on the embedding provider.

Like the other channels of the shift detector it is judged against the baseline itself: each baseline
output's novelty against the vocabulary of the others (leave-one-out), so an agent with a naturally open
vocabulary has a high novelty mean and spread and is not flagged for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def words(text: str) -> list[str]:
    """The words of `text` (letters only, lower case), in order."""
    return _WORD.findall(text.lower())


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Every word used in `texts`."""
    return frozenset(word for text in texts for word in words(text))


def novelty(text: str, known: frozenset[str]) -> float:
    """Share of the words of `text` not in `known`, in [0, 1]; 0 for a text without words."""
    found = words(text)
    if not found:
        return 0.0
    return sum(word not in known for word in found) / len(found)


def leave_one_out_novelty(texts: Sequence[str]) -> list[float]:
    """Each text's novelty against the vocabulary of the others: how a fresh on-baseline output scores.

    A word is new to text i against the others exactly when text i is the only one that uses it. Empty for
    fewer than two texts.
    """
    if len(texts) < 2:
        return []
    per_text = [words(text) for text in texts]
    used_by = Counter(word for found in per_text for word in set(found))
    return [sum(used_by[word] == 1 for word in found) / len(found) if found else 0.0 for found in per_text]
