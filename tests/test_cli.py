"""The console script's dispatch and the set-up step the README's benchmark command relies on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evals.cli import main


def test_train_if_missing_keeps_an_existing_adapter(tmp_path: Path, tiny_adapter_dir: Path, capsys) -> None:
    final = tmp_path / "output" / "20260101-000000" / "final"
    shutil.copytree(tiny_adapter_dir, final)
    before = sorted(p.name for p in (tmp_path / "output").iterdir())
    assert main(["train", "--if-missing", "--output-dir", str(tmp_path / "output")]) == 0
    assert f"adapter found at {final}" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == before  # nothing trained


def test_unknown_subcommand_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fly"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
