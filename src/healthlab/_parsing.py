"""Parsing the columns of a table into their kinds, once per distinct value.

Each column is converted to the kind :data:`healthlab.tables.TABLES` gives it:
text is stripped, numbers and dates are parsed, and Parquet or in-memory
columns are checked for their storage type. Parsing works on the distinct
values of a column and spreads the result back to the rows, so a file with a
million rows and a few thousand distinct values stays fast. A cell that cannot
be parsed becomes a :class:`~healthlab.errors.Problem` that quotes the raw cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from healthlab._reading import TableInput
from healthlab.errors import Problem
from healthlab.tables import Column

MAX_ROWS_PER_RULE = 20
"""Rows listed for one rule in one column; the rest are counted in one line."""

PARSED_DTYPES = {
    "str": "str",
    "category": "str",
    "int": "Int64",
    "float": "float64",
    "date": "datetime64[ns]",
    "month": "datetime64[ns]",
}
"""The dtype of each column kind after parsing; blank cells are missing values."""

# Dates outside these years are typing mistakes, and pandas' datetime64[ns]
# cannot hold years after 2262.
_EARLIEST_DATE = pd.Timestamp("1900-01-01")
_LATEST_DATE = pd.Timestamp("2199-12-31")

_KIND_NAMES = {
    "str": "text",
    "int": "integer",
    "float": "number",
    "date": "date",
    "month": "month",
    "category": "category",
}


@dataclass
class Distinct:
    """The distinct values of one column, a missing value last if there is one.

    ``codes`` gives, for each row, the position of its value in ``values``.
    """

    values: ExtensionArray
    codes: np.ndarray


def find_distinct(values: pd.Series) -> Distinct:
    """Factorize a column, turning its missing values into one distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    array = uniques.array
    missing = codes < 0
    if missing.any():
        array = array.take(np.append(np.arange(len(array)), -1), allow_fill=True)
        codes = np.where(missing, len(array) - 1, codes)
    return Distinct(array, codes)


@dataclass
class Parsed:
    """One column after parsing: typed values, the cells that failed, problems.

    ``values`` is ``None`` when the whole column has the wrong storage type.
    ``distinct`` contains the parsed distinct values when parsing computed them.
    """

    values: pd.Series | None
    invalid: np.ndarray
    problems: list[Problem]
    distinct: Distinct | None = None


def parse_column(table_input: TableInput, column: Column) -> Parsed:
    """Parse or convert one column of a table to the dtype of its kind."""
    raw = table_input.frame[column.name]
    if table_input.storage == "csv" or (
        table_input.storage == "frame" and _is_text(raw)
    ):
        return _parse_text(table_input, column, raw)
    return _convert_typed(table_input, column, raw)


def _is_text(raw: pd.Series) -> bool:
    if isinstance(raw.dtype, pd.CategoricalDtype):
        return pd.api.types.infer_dtype(raw.cat.categories) in ("string", "empty")
    if pd.api.types.is_string_dtype(raw.dtype):
        return pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty")
    return False


def _parse_text(table_input: TableInput, column: Column, raw: pd.Series) -> Parsed:
    """Parse a text column once per distinct value, then spread to every row."""
    unique = find_distinct(raw.astype("str"))
    codes = unique.codes
    text = pd.Series(unique.values, dtype="str").str.strip()
    blank = (text == "").to_numpy(dtype=bool)
    text = text.mask(blank)

    problems: list[Problem] = []
    failed = np.zeros(len(text), dtype=bool)
    if column.kind == "str":
        values: pd.Series = text
    elif column.kind == "category":
        labels = table_input.labels.get(column.name)
        values = text.replace(labels) if labels else text
    elif column.kind in ("int", "float"):
        values, failures = _parse_numbers(text, column)
        for rule, message, mask in failures:
            problems += cell_problems(
                table_input, rule, column.name, _rows(raw, mask[codes]), message
            )
            failed |= mask
    else:
        values, failures = _parse_dates(text, table_input.date_format)
        for rule, message, mask in failures:
            problems += cell_problems(
                table_input, rule, column.name, _rows(raw, mask[codes]), message
            )
            failed |= mask

    spread = pd.Series(values.array.take(codes), index=raw.index)
    return Parsed(spread, failed[codes], problems, Distinct(values.array, codes))


_Failures = list[tuple[str, str, np.ndarray]]


def _parse_numbers(text: pd.Series, column: Column) -> tuple[pd.Series, _Failures]:
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", copy=True)
    not_number = text.notna().to_numpy() & ~np.isfinite(numbers)
    failures: _Failures = [
        (
            "not-a-number",
            "not a number; write digits with a decimal point and no thousands "
            "separator or unit, such as 1234.5",
            not_number,
        )
    ]
    numbers[not_number] = np.nan
    if column.kind == "float":
        return pd.Series(numbers), failures

    # Integers above 2**53 do not survive the float parse exactly.
    fractional = np.isfinite(numbers) & (
        (numbers != np.round(numbers)) | (np.abs(numbers) > 2**53)
    )
    failures.append(("not-an-integer", "not a whole number", fractional))
    numbers[fractional] = np.nan
    return pd.Series(pd.array(numbers, dtype="Int64")), failures


def _parse_dates(
    text: pd.Series, date_format: str | None
) -> tuple[pd.Series, _Failures]:
    parsed = pd.to_datetime(text, format=date_format or "ISO8601", errors="coerce")
    expected = date_format or "YYYY-MM-DD"
    unparsed = text.notna().to_numpy() & parsed.isna().to_numpy()
    values, implausible = _plausible_dates(parsed)
    failures: _Failures = [
        ("not-a-date", f"not a date in the format {expected}", unparsed),
        ("implausible-date", "date outside 1900-2199; check the year", implausible),
    ]
    return values, failures


def _plausible_dates(parsed: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Drop the time of day and set dates outside 1900-2199 to NaT."""
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)
    implausible = (
        ((parsed < _EARLIEST_DATE) | (parsed > _LATEST_DATE)).fillna(False).to_numpy()
    )
    values = parsed.mask(implausible).dt.normalize().astype("datetime64[ns]")
    return values.reset_index(drop=True), implausible


def _convert_typed(table_input: TableInput, column: Column, raw: pd.Series) -> Parsed:
    """Check the storage type of a Parquet or in-memory column and convert it."""
    no_failures = np.zeros(len(raw), dtype=bool)
    kind = column.kind
    if raw.isna().all():
        dtype = pd.api.types.pandas_dtype(PARSED_DTYPES[kind])
        empty = pd.Series(pd.NA, index=raw.index, dtype=object).astype(dtype)
        return Parsed(empty, no_failures, [])

    if kind in ("str", "category") and _is_text(raw):
        return _parse_text(table_input, column, raw)
    if kind in ("int", "float") and _is_number(raw):
        values, failures = _convert_numbers(raw, column)
    elif kind in ("date", "month") and _is_date(raw):
        if not pd.api.types.is_datetime64_any_dtype(raw.dtype):
            raw = pd.to_datetime(raw, errors="coerce")
        values, implausible = _plausible_dates(raw)
        failures = [("implausible-date", "date outside 1900-2199", implausible)]
    else:
        return Parsed(None, no_failures, [_wrong_type(table_input, column, raw)])

    problems: list[Problem] = []
    invalid = no_failures.copy()
    for rule, message, mask in failures:
        problems += cell_problems(
            table_input, rule, column.name, _rows(raw, mask), message
        )
        invalid |= mask
    return Parsed(values.set_axis(raw.index), invalid, problems)


def _is_number(raw: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(raw.dtype) and not (
        pd.api.types.is_bool_dtype(raw.dtype)
    )


def _is_date(raw: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return True
    return raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) in (
        "date",
        "datetime",
    )


def _convert_numbers(raw: pd.Series, column: Column) -> tuple[pd.Series, _Failures]:
    numbers = raw.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    infinite = np.isinf(numbers)
    failures: _Failures = [("not-a-number", "not a finite number", infinite)]
    numbers[infinite] = np.nan
    if column.kind == "float":
        return pd.Series(numbers), failures

    fractional = np.isfinite(numbers) & (numbers != np.round(numbers))
    failures.append(("not-an-integer", "not a whole number", fractional))
    numbers[fractional] = np.nan
    return pd.Series(pd.array(numbers, dtype="Int64")), failures


def _wrong_type(table_input: TableInput, column: Column, raw: pd.Series) -> Problem:
    message = (
        f"the column is stored as {raw.dtype}, but `{column.name}` holds "
        f"{kind_name(column)} values; store it with that type"
    )
    if column.kind == "str" and pd.api.types.is_numeric_dtype(raw.dtype):
        message += " (ids stored as numbers lose leading zeros, 0042 becomes 42)"
    return Problem(
        file=table_input.file,
        rule="wrong-type",
        message=message,
        column=table_input.display(column.name),
    )


def kind_name(column: Column) -> str:
    """Return the kind of a column as the documentation names it."""
    return _KIND_NAMES[column.kind]


def _rows(raw: pd.Series, mask: np.ndarray) -> np.ndarray:
    return raw.index.to_numpy()[mask]


def cell_problems(
    table_input: TableInput,
    rule: str,
    column: str | list[str],
    rows: np.ndarray,
    message: str | Callable[[int], str],
) -> list[Problem]:
    """Build one problem per row, for the first rows only, plus a count of the rest.

    ``column`` is a healthlab column name, or the columns of a key. Each
    problem names the column as the file spells it and quotes the raw cell.
    """
    names = [column] if isinstance(column, str) else column
    shown_column = ", ".join(table_input.display(name) for name in names)
    rows = np.sort(rows)
    problems = []
    for row in rows[:MAX_ROWS_PER_RULE]:
        row = int(row)
        value = ", ".join(raw_value(table_input.frame[name], row) for name in names)
        problems.append(
            Problem(
                file=table_input.file,
                rule=rule,
                message=message(row) if callable(message) else message,
                row=row,
                column=shown_column,
                value=value,
            )
        )

    hidden = len(rows) - MAX_ROWS_PER_RULE
    if hidden > 0:
        verb = "row breaks" if hidden == 1 else "rows break"
        problems.append(
            Problem(
                file=table_input.file,
                rule=rule,
                message=f"{hidden} more {verb} this rule in this column; only "
                f"the first {MAX_ROWS_PER_RULE} are listed",
                column=shown_column,
            )
        )
    return problems


def raw_value(raw: pd.Series, row: int) -> str:
    """Return one cell as text for a message; a missing cell is ``""``."""
    value: Any = raw.loc[row]
    if not isinstance(value, str) and pd.isna(value):
        return ""
    return str(value)
