"""Similarity between the two arms' answers: a TF-IDF cosine over character n-grams, in pure Python."""

from __future__ import annotations

import math
import unicodedata
from collections import Counter

from evals.metrics.text import fold


def cosine_similarity(a: str, b: str) -> float:
    """Return the TF-IDF cosine (character 2-4-grams within words) of two answers, in [0, 1].

    Both empty -> 1.0 (identical answers); exactly one empty -> 0.0. The IDF is fitted on
    the pair alone so a case's score never depends on which other cases ran. The weighting is
    scikit-learn's ``TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4),
    strip_accents="unicode")`` (smooth IDF, L2 norm), computed here in pure Python: scoring a
    cached run then imports no scikit-learn (``tests/test_metrics.py`` checks it agrees).
    """
    a, b = a.strip(), b.strip()
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    counts = [Counter(_char_wb_ngrams(text)) for text in (a, b)]
    if not counts[0] or not counts[1]:  # no n-gram at all; fall back to equality
        return 1.0 if fold(a) == fold(b) else 0.0
    # Smooth IDF over the two documents: idf(t) = ln((1 + n) / (1 + df(t))) + 1, n = 2.
    idf = {t: math.log(3 / (1 + sum(t in c for c in counts))) + 1.0 for t in counts[0].keys() | counts[1].keys()}
    vectors = [{t: n * idf[t] for t, n in c.items()} for c in counts]
    norms = [math.sqrt(sum(v * v for v in vec.values())) for vec in vectors]
    dot = sum(w * vectors[1].get(t, 0.0) for t, w in vectors[0].items())
    return min(1.0, max(0.0, dot / (norms[0] * norms[1])))


def _char_wb_ngrams(text: str, sizes: range = range(2, 5)) -> list[str]:
    """Character n-grams within words, padded with a space each side, as scikit-learn's ``char_wb``."""
    lowered = text.lower()
    decomposed = unicodedata.normalize("NFKD", lowered)
    if decomposed != lowered:  # scikit-learn's strip_accents_unicode
        lowered = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    grams: list[str] = []
    for word in lowered.split():
        padded = f" {word} "
        for n in sizes:
            grams.extend(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
            if len(padded) <= n:  # the whole padded word was the gram: longer sizes would repeat it
                break
    return grams
