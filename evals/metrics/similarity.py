"""Similarity between the two arms' answers: scikit-learn's TF-IDF cosine over character n-grams."""

from __future__ import annotations

import hashlib
import json

from evals.metrics.text import fold

# What the cosine is: a score cached under this name is reused only while it holds (evals.run).
SIMILARITY = "tfidf char_wb 2-4, smooth idf, l2, fitted on the pair"


def cosine_similarity(a: str, b: str) -> float:
    """Return the TF-IDF cosine (character 2-4-grams within words) of two answers, in [0, 1].

    Both empty -> 1.0 (identical answers); exactly one empty -> 0.0. The IDF is fitted on the
    pair alone, so a case's score never depends on which other cases ran. scikit-learn is imported
    here, on first use: a run whose answers and scores are all cached never needs it.
    """
    a, b = a.strip(), b.strip()
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), strip_accents="unicode", lowercase=True)
    try:
        matrix = vectorizer.fit_transform([a, b])
    except ValueError:  # no n-gram in either text (combining marks only): compare them as words
        return 1.0 if fold(a) == fold(b) else 0.0
    # Rows are L2-normalised, so their dot product is the cosine; clipped for float rounding.
    return min(1.0, max(0.0, float(matrix[0].multiply(matrix[1]).sum())))


def similarity_key(a: str, b: str, version: str) -> str:
    """The cache key of the cosine of ``a`` and ``b`` under metric ``version``: the texts themselves, not a run."""
    return hashlib.sha256(json.dumps(["cosine", SIMILARITY, version, a, b], ensure_ascii=False).encode()).hexdigest()
