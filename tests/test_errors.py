"""Tests of healthlab.errors: problem text and the validation error message."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthlab.errors import MAX_LISTED, DataValidationError, Problem


def _problems(count: int) -> list[Problem]:
    return [
        Problem("usage.csv", "below-minimum", "out of range", row, "logins", "-1")
        for row in range(2, 2 + count)
    ]


def test_problem_text() -> None:
    text = str(_problems(1)[0])
    assert text == (
        "usage.csv, row 2, column `logins`: out of range (value: '-1') [below-minimum]"
    )


def test_message_lists_few_problems() -> None:
    error = DataValidationError("data/sample", _problems(3))
    lines = str(error).splitlines()
    assert lines[0] == "Dataset data/sample is invalid: 3 problems found."
    assert len(lines) == 5
    assert lines[-1] == "Fix these problems and run the command again."


def test_message_names_table_file() -> None:
    error = DataValidationError("customers.csv", _problems(2))
    first = str(error).splitlines()[0]
    assert first == "Table customers.csv is invalid: 2 problems found."


def test_message_fits_one_screen(tmp_path: Path) -> None:
    error = DataValidationError(str(tmp_path), _problems(500))
    lines = str(error).splitlines()
    assert len(lines) == MAX_LISTED + 3
    assert len(error.problems) == 500
    assert lines[-2] == (
        f"  ... and {500 - MAX_LISTED} more; `healthlab validate {tmp_path}` "
        "lists them all."
    )


def test_table_source_no_validate_hint() -> None:
    error = DataValidationError("bank.csv", _problems(MAX_LISTED + 1))
    assert str(error).splitlines()[-2] == "  ... and 1 more."
    with pytest.raises(DataValidationError, match="bank.csv is invalid: 21 problems"):
        raise error
