"""The JARVIS benchmark: one test per prompt of the suite (select with ``pytest -m jarvis``).

The plugin parametrizes ``jarvis_case`` over the suite with the ``jarvis`` marker and the
case's category marker; both arms' answers are generated in batches on the first test.
"""

from __future__ import annotations

from evals.plugin import assert_case


def test_jarvis_case(jarvis_case, jarvis_scored, jarvis_policy) -> None:
    assert_case(jarvis_scored, jarvis_policy)
