"""Tests of healthlab._io: atomic writes and the checks on output paths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from healthlab._io import (
    check_not_input,
    ensure_folder,
    write_table,
    write_text_atomic,
)
from healthlab.errors import ConfigError


def test_write_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c" / "notes.txt"
    write_text_atomic(target, "done")
    assert target.read_text(encoding="utf-8") == "done"
    assert [path.name for path in target.parent.iterdir()] == ["notes.txt"]


def test_write_under_a_file_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "report.txt"
    blocker.write_text("keep", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"report\.txt is a file, not a folder"):
        write_text_atomic(blocker / "deep" / "out.txt", "lost")
    assert blocker.read_text(encoding="utf-8") == "keep"


def test_write_onto_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "scores.csv").mkdir()
    with pytest.raises(ConfigError, match=r"scores\.csv: it is a folder"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "scores.csv")


def test_failed_write_leaves_old_file(tmp_path: Path) -> None:
    target = tmp_path / "scores.parquet"
    target.write_bytes(b"old")
    bad = pd.DataFrame({"a": [object()]})
    with pytest.raises(Exception, match="object"):
        write_table(bad, target)
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["scores.parquet"]


def test_ensure_folder_existing(tmp_path: Path) -> None:
    assert ensure_folder(tmp_path) == tmp_path


@pytest.mark.parametrize("name", ["scores.xlsx", "scores"])
def test_write_table_unknown_suffix(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="must end in .csv, .parquet, .json"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("name", ["usage.csv", "clients.parquet", "nps.CSV"])
def test_check_not_input_rejects_tables(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="table of the dataset .* overwritten"):
        check_not_input(tmp_path / name, tmp_path)


@pytest.mark.parametrize("name", ["scores.csv", "sub/usage.csv", "usage.json"])
def test_check_not_input_allows_others(tmp_path: Path, name: str) -> None:
    check_not_input(tmp_path / name, tmp_path)
