"""Pure metric functions over answers. Higher is better for all four.

- ``cosine_similarity`` (``similarity``): TF-IDF over character n-grams between the two arms' answers.
- ``keyword_match`` (``text``): how many of a case's keywords an answer contains (N/total).
- ``relevance`` (``relevance``, metric version 4): F1 between the tools an answer routes to and
  the tools the case expects. Calls come first, read as a runtime would (``calls.parse_calls``);
  free-text mentions (the suite's lexicons, by lemma and stem: ``text.word_keys``) count only when
  the answer has no call. Refusals, recitals of the tool list, echoes of the request (an order
  restating it included) and degenerate loops score 0 (``flags``).
- ``valid_call`` (``relevance``): 1.0 when the answer holds parseable calls of exactly the expected tools.

Modules: ``text`` (folding, tokens, keywords, lemma/stem keys, compiled lexicons), ``calls`` (the
call parser, ``resolve_id``), ``flags`` (refusal, echo, loop, recital), ``relevance`` (``analyse``,
``score_answer``, ``METRIC_VERSION``), ``similarity`` (the cosine).

docs/metrics.md states every rule with an example. Nothing here reads a file: the lemmatizer's
dictionaries (simplemma), the stemmers (snowballstemmer) and the edit distance (rapidfuzz) are
imported on first use and their results cached.
"""

from __future__ import annotations

from evals.metrics.calls import CallForm, Designation, parse_calls, resolve_id
from evals.metrics.flags import FlagName, is_echo, is_loop, is_refusal, iter_flags
from evals.metrics.relevance import (
    HIGHER_IS_BETTER,
    METRIC_VERSION,
    ROUTED_THRESHOLD,
    Analysis,
    MetricName,
    ToolMentions,
    analyse,
    f1,
    find_tools,
    score_answer,
    valid_call,
)
from evals.metrics.similarity import cosine_similarity, similarity_key
from evals.metrics.text import fold, keyword_hits, keyword_match, tokens, word_keys

__all__ = [
    "HIGHER_IS_BETTER",
    "METRIC_VERSION",
    "ROUTED_THRESHOLD",
    "Analysis",
    "CallForm",
    "Designation",
    "FlagName",
    "MetricName",
    "ToolMentions",
    "analyse",
    "cosine_similarity",
    "f1",
    "find_tools",
    "fold",
    "is_echo",
    "is_loop",
    "is_refusal",
    "iter_flags",
    "keyword_hits",
    "keyword_match",
    "parse_calls",
    "resolve_id",
    "score_answer",
    "similarity_key",
    "tokens",
    "valid_call",
    "word_keys",
]
