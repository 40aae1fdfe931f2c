"""Calendar quarters as report periods: parsing ``2026Q3`` and month ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from healthlab.errors import ParameterError

_QUARTER = re.compile(r"(\d{4})-?[Qq]([1-4])")


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, such as 2026Q3 (July to September 2026)."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: object) -> Quarter:
        """Parse ``YYYYQn`` (``2026Q3``; ``2026-Q3`` and a lower-case q also work).

        Raises
        ------
        ParameterError
            If ``text`` is not a quarter in that form.
        """
        if isinstance(text, Quarter):
            return text
        match = _QUARTER.fullmatch(str(text).strip())
        if match is None:
            raise ParameterError(
                f"Quarter {str(text)!r} is malformed: write the year and the "
                "quarter number 1-4 as YYYYQn, for example 2026Q3."
            )
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def label(self) -> str:
        """Human-readable name, for example ``Q3 2026``."""
        return f"Q{self.number} {self.year}"

    @property
    def start(self) -> pd.Timestamp:
        """First day of the quarter."""
        return pd.Timestamp(year=self.year, month=3 * self.number - 2, day=1)

    @property
    def end(self) -> pd.Timestamp:
        """Last day of the quarter."""
        return self.next().start - pd.Timedelta(days=1)

    @property
    def months(self) -> list[pd.Timestamp]:
        """First days of the quarter's three months."""
        return [self.start + pd.DateOffset(months=offset) for offset in range(3)]

    @property
    def year_start(self) -> pd.Timestamp:
        """First day of the calendar year, where year to date begins."""
        return pd.Timestamp(year=self.year, month=1, day=1)

    def shift(self, quarters: int) -> Quarter:
        """Return the quarter ``quarters`` later (earlier when negative)."""
        index = self.year * 4 + self.number - 1 + quarters
        return Quarter(index // 4, index % 4 + 1)

    def previous(self) -> Quarter:
        """Return the quarter before this one."""
        return self.shift(-1)

    def next(self) -> Quarter:
        """Return the quarter after this one."""
        return self.shift(1)

    def contains(self, dates: pd.Series) -> pd.Series:
        """Return a boolean mask of the dates that fall in this quarter."""
        return (dates >= self.start) & (dates < self.next().start)


def quarter_of(dates: pd.Series) -> pd.Series:
    """Return the quarter label (``2026Q3``) of each date."""
    return dates.dt.year.astype(str) + "Q" + dates.dt.quarter.astype(str)
