"""Speech-recognition noise (evals/perturb): deterministic, faithful to the case, French-sounding."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evals.cli import main
from evals.perturb.generator import (
    Edit,
    drop,
    homophone,
    number,
    perturb_case,
    perturb_cases,
    render,
    resegment,
    respell,
    tokenize,
)
from evals.perturb.lexicon import Lexicon, lexicon_path, load_lexicon
from evals.perturb.spelling import number_words, spell_phon
from evals.records import Case
from evals.suite import load_suite

SEEDS = range(40)


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return load_lexicon()


@pytest.fixture(scope="module")
def clean() -> list[Case]:
    return [c for c in load_suite().cases if c.category in ("commands", "routing")]


def _case(prompt: str) -> Case:
    return Case(id="c", category="commands", prompt=prompt, expected_tools=("volume_up",), keywords=("son",))


def _outputs(edit: Edit, text: str, lex: Lexicon) -> set[str]:
    """Every text one edit makes of ``text`` over 40 seeds."""
    found = set()
    for seed in SEEDS:
        result = edit(tokenize(text), random.Random(seed), lex)
        if result is not None:
            found.add(render(result[0]))
    return found


def test_the_lexicon_is_the_installed_lexique(lex: Lexicon) -> None:
    assert lexicon_path().name == "Lexique383.txt"
    assert lex.entry("son").phon == lex.entry("sont").phon == "s§"
    assert len(lex.by_ortho) > 100_000


def test_importing_the_generator_does_not_load_the_lexicon() -> None:
    code = (
        "import evals.plugin, evals.perturb.generator, evals.cli.perturb\n"
        "from evals.perturb.lexicon import load_lexicon\n"
        "print(load_lexicon.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"


def test_same_seed_same_variants(clean: list[Case], lex: Lexicon) -> None:
    first = perturb_cases(clean, (1, 2, 3), 3, seed=5, lex=lex)
    again = perturb_cases(clean, (1, 2, 3), 3, seed=5, lex=lex)
    assert [c.prompt for c in first] == [c.prompt for c in again]
    # One variant asked alone is the one the batch wrote: no state carries between draws.
    alone = perturb_case(clean[3], 2, 2, seed=5, lex=lex)
    assert alone == next(c for c in first if c.id == alone.id)


def test_same_seed_same_variants_in_another_process(clean: list[Case], lex: Lexicon) -> None:
    code = (
        "from evals.suite import load_suite\nfrom evals.perturb.generator import perturb_cases\n"
        "cases = [c for c in load_suite().cases if c.category in ('commands', 'routing')]\n"
        "print('\\n'.join(c.prompt for c in perturb_cases(cases, (1, 2, 3), 2, seed=5)))"
    )
    env = {"PYTHONHASHSEED": "123", "PATH": "/usr/bin", "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.splitlines() == [c.prompt for c in perturb_cases(clean, (1, 2, 3), 2, seed=5, lex=lex)]


def test_another_seed_other_variants(clean: list[Case], lex: Lexicon) -> None:
    a = [c.prompt for c in perturb_cases(clean, (2,), 2, seed=0, lex=lex)]
    b = [c.prompt for c in perturb_cases(clean, (2,), 2, seed=1, lex=lex)]
    assert a != b


def test_variants_keep_the_case_and_say_level_and_index(clean: list[Case], lex: Lexicon) -> None:
    cases = perturb_cases(clean, (1, 2, 3), 3, seed=0, lex=lex)
    assert len(cases) == len(clean) * (1 + 3 * 3)
    assert len({c.id for c in cases}) == len(cases)
    by_id = {c.id: c for c in clean}
    for case in cases:
        origin = by_id[case.source or ""]
        assert (case.category, case.expected_tools, case.keywords) == (
            origin.category,
            origin.expected_tools,
            origin.keywords,
        )
        assert case.level in (0, 1, 2, 3)
        if case.level == 0:
            assert case.prompt == origin.prompt and case.id == origin.id
        else:
            assert case.prompt != origin.prompt and case.intended == origin.prompt
            assert case.id == f"{origin.id}@L{case.level}.{case.variant}"
    for origin in clean:
        for level in (1, 2, 3):
            prompts = [c.prompt for c in cases if c.source == origin.id and c.level == level]
            assert len(set(prompts)) == 3, (origin.id, level, prompts)


def test_level_counts_edits(clean: list[Case], lex: Lexicon) -> None:
    from evals.perturb.generator import perturb_text

    long = next(c for c in clean if c.id == "route_multi_cluster_logs").prompt
    for level in (0, 1, 2, 3):
        assert len(perturb_text(long, level, random.Random(1), lex).edits) == level


def test_homophones_are_french_words_that_sound_the_same(lex: Lexicon) -> None:
    found = _outputs(homophone, "monte le son", lex)
    assert "monte le sont" in found
    for text in found:
        for word in text.split():
            assert lex.entry(word) is not None, (text, word)


def test_resegment_moves_word_boundaries(lex: Lexicon) -> None:
    assert "vais rouille" in _outputs(resegment, "verrouille", lex)
    assert any(t.endswith(" cité") for t in _outputs(resegment, "luminosité", lex))
    assert "les cran" in _outputs(resegment, "l'écran", lex)
    assert "faire me la fenêtre" in _outputs(resegment, "ferme la fenêtre", lex)


def test_names_are_respelled_by_ear(lex: Lexicon) -> None:
    found = _outputs(respell, "lance Spotify", lex)
    assert found and all(t.startswith("lance ") and "Spotify" not in t for t in found)
    assert spell_phon("kRom") == "crom"


def test_drop_loses_elisions_accents_and_punctuation(lex: Lexicon) -> None:
    found = _outputs(drop, "c'est trop fort, baisse l'écran", lex)
    assert {
        "c est trop fort, baisse l'écran",
        "cest trop fort, baisse l'écran",
        "c'est trop fort baisse l'écran",
    } <= found
    assert "c'est trop fort, baisse l'ecran" in found


def test_numbers_switch_format_but_not_articles(lex: Lexicon) -> None:
    assert _outputs(number, "rappelle-moi à 18 heures", lex) == {
        "rappelle-moi à dix-huit heures",
        "rappelle-moi à 18h",
    }
    assert _outputs(number, "un minuteur de cinq minutes", lex) == {"un minuteur de 5 minutes"}
    assert _outputs(number, "baisse un peu", lex) == set()
    assert _outputs(number, "dans dix-huit minutes", lex) == {"dans 18 minutes"}
    assert [number_words(n) for n in (0, 21, 71, 80, 99)] == [
        "zéro",
        "vingt et un",
        "soixante et onze",
        "quatre-vingts",
        "quatre-vingt-dix-neuf",
    ]


def test_no_elision_before_a_consonant(clean: list[Case], lex: Lexicon) -> None:
    """Lexique lists "s'" and "l'" as words; a recognizer never writes "l'son" or "c'et" (the labels' commonest no)."""
    bad = re.compile(r"\b[cdjlmnst]'\s*([bcdfgjklmnpqrstvwxz]|et\b|ai\b|es\b)", re.IGNORECASE)
    for case in perturb_cases(clean, (1, 2, 3), 3, seed=0, lex=lex):
        assert not bad.search(case.prompt), case.prompt


def test_perturb_command_writes_a_suite_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "asr.yaml"
    assert main(["perturb", "--out", str(out), "--variants", "2", "--seed", "3"]) == 0
    suite = load_suite(out)
    assert suite.version.endswith("+asr.s3.k2.L123")
    levels = [c.level for c in suite.cases]
    assert {lv: levels.count(lv) for lv in (0, 1, 2, 3)} == {0: 20, 1: 40, 2: 40, 3: 40}
    printed = capsys.readouterr().out
    assert "level 1:" in printed and "level 3:" in printed and "→" in printed
    twice = tmp_path / "twice.yaml"
    assert main(["perturb", "--suite", str(out), "--out", str(twice), "--variants", "2", "--seed", "3"]) == 0
    assert [c.id for c in load_suite(twice).cases] == [c.id for c in suite.cases]  # variants are not perturbed again
    again = tmp_path / "again.yaml"
    assert main(["perturb", "--out", str(again), "--variants", "2", "--seed", "3"]) == 0
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8").replace(str(out), str(again))


def test_perturb_command_refuses_bad_levels(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["perturb", "--levels", "1,5"])
    assert "noise levels go from 1 to 3" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("level", "variant", "message"),
    [(7, 0, "'level' must be a noise level 0-3"), (1, -1, "'variant' must be an index >= 0"), ("1", 0, "'level'")],
)
def test_a_variant_with_a_bad_level_is_refused(tmp_path: Path, level: object, variant: object, message: str) -> None:
    import yaml

    from evals.suite import SuiteError

    data = yaml.safe_load(Path(load_suite().path).read_text(encoding="utf-8"))
    data["cases"] = [
        {**data["cases"][0], "id": "x@L1.0", "source": data["cases"][0]["id"], "level": level, "variant": variant}
    ]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SuiteError, match=re.escape(message)) as info:
        load_suite(path)
    assert str(path) in str(info.value) and "x@L1.0" in str(info.value)
