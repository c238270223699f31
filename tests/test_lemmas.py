"""The lemma memo (evals.lemmas): a re-run loads no dictionary, and never matches a word differently."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evals.lemmas import MEMO_FILE

WORDS = ["montons", "luminosité", "fermée", "closed", "rappels", "minuteur", "volumes", "te"]
# A fresh interpreter per step: the metric's lemma tables are per process.
SCRIPT = """
import json, sys
from pathlib import Path
from evals.lemmas import load_lemmas, save_lemmas
from evals.metrics.text import word_keys
folder, release, words = Path(sys.argv[1]), sys.argv[2] or None, json.loads(sys.argv[3])
loaded = load_lemmas(folder, release)
keys = {w: sorted(word_keys(w)) for w in words}
saved = save_lemmas(folder, release)
print(json.dumps({"loaded": loaded, "saved": saved, "keys": keys, "dictionaries": "simplemma" in sys.modules}))
"""


def _step(folder: Path, words: list[str], release: str = "") -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder), release, json.dumps(words)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def test_a_rerun_takes_its_lemmas_from_the_memo_and_gets_the_same_keys(tmp_path: Path) -> None:
    first = _step(tmp_path, WORDS)
    assert first["dictionaries"] and first["loaded"] == 0
    # Two languages per word of three letters or more, and its accent-folded form when it differs.
    assert first["saved"] >= 2 * 7

    again = _step(tmp_path, WORDS)
    assert again["keys"] == first["keys"]
    assert not again["dictionaries"], "every word was in the memo: simplemma must not be imported"
    assert again["loaded"] == first["saved"] and again["saved"] == 0

    # A word never seen is looked up as before, and added.
    more = _step(tmp_path, [*WORDS, "allumerons"])
    assert more["dictionaries"] and more["saved"] == 2
    assert more["keys"]["allumerons"] == _step(tmp_path / "empty", ["allumerons"])["keys"]["allumerons"]


def test_lemmas_of_another_simplemma_release_are_not_used(tmp_path: Path) -> None:
    _step(tmp_path, WORDS, release="0.0-other")
    other = _step(tmp_path, WORDS)
    assert other["loaded"] == 0 and other["dictionaries"]


def test_a_damaged_memo_is_started_again_and_an_unwritable_one_only_costs_the_lookups(tmp_path: Path) -> None:
    (tmp_path / MEMO_FILE).write_bytes(b"not a database" * 100)
    first = _step(tmp_path, WORDS)
    assert first["saved"] > 0 and _step(tmp_path, WORDS)["loaded"] == first["saved"]

    # A cache folder that cannot be made (its parent is a file, which stops root too).
    (tmp_path / "a-file").write_text("")
    blocked = _step(tmp_path / "a-file" / "cache", WORDS)
    assert blocked["keys"] == first["keys"] and blocked["saved"] == 0 and blocked["loaded"] == 0


def test_reading_an_absent_memo_makes_no_folder(tmp_path: Path) -> None:
    from evals.lemmas import load_lemmas

    assert load_lemmas(tmp_path / "cache") == 0
    assert not (tmp_path / "cache").exists()
