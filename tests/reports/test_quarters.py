"""Report quarters: parsing and month arithmetic."""

from __future__ import annotations

import pandas as pd
import pytest

from healthlab.errors import ParameterError
from healthlab.reports.quarters import Quarter, quarter_of


@pytest.mark.parametrize("text", ["2026Q3", "2026q3", "2026-Q3", " 2026Q3 "])
def test_parse_accepts_forms(text: str) -> None:
    assert Quarter.parse(text) == Quarter(2026, 3)


@pytest.mark.parametrize("text", ["2026Q5", "2026Q0", "Q3 2026", "26Q3", "", "2026"])
def test_parse_rejects_malformed(text: str) -> None:
    with pytest.raises(ParameterError, match="is malformed: write the year"):
        Quarter.parse(text)


def test_quarter_months_and_bounds() -> None:
    quarter = Quarter(2026, 3)
    assert str(quarter) == "2026Q3"
    assert quarter.label == "Q3 2026"
    assert quarter.months == [pd.Timestamp(f"2026-{m:02d}-01") for m in (7, 8, 9)]
    assert quarter.end == pd.Timestamp("2026-09-30")
    assert quarter.year_start == pd.Timestamp("2026-01-01")


def test_shift_crosses_years() -> None:
    assert Quarter(2026, 1).previous() == Quarter(2025, 4)
    assert Quarter(2025, 4).next() == Quarter(2026, 1)
    assert Quarter(2026, 3).shift(-4) == Quarter(2025, 3)


def test_contains_and_quarter_of() -> None:
    dates = pd.Series(
        pd.to_datetime(["2026-06-30", "2026-07-01", "2026-09-30", "2026-10-01"])
    )
    assert Quarter(2026, 3).contains(dates).tolist() == [False, True, True, False]
    assert quarter_of(dates).tolist() == ["2026Q2", "2026Q3", "2026Q3", "2026Q4"]
