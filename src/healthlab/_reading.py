"""Finding and reading the table files of a dataset folder, before type checks.

Every problem that stops a file from being read (a missing or doubled file, a
binary or non-UTF-8 file, broken CSV syntax) becomes a
:class:`~healthlab.errors.Problem` rather than an exception, so that one run can
report the problems of every file at once.

CSV cells are read as text (``dtype=str``, no NA guessing), so ids such as
``007`` keep their leading zeros and the raw cell can be quoted in a message.
The index of every frame returned here is the spreadsheet row number: the
header is row 1 and the first data row is row 2. Parquet files follow the same
numbering, so their first record is row 2 too.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from healthlab.errors import Problem
from healthlab.mapping import ColumnMapping, TableMapping
from healthlab.tables import TABLES, Table

logger = logging.getLogger(__name__)

FIRST_DATA_ROW = 2
"""Spreadsheet row number of the first data row, below the header on row 1."""

# Bytes read to recognise a binary file; a CSV file never contains NUL.
_SNIFF_BYTES = 65536
_ZIP_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"
_OTHER_SEPARATORS = (";", "\t", "|")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_PANDAS_LINE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


@dataclass
class TableInput:
    """One table as read from its file, with the column names the file uses.

    ``frame`` has the healthlab column names, only for the columns that were
    found, and its index is the spreadsheet row number. ``storage`` says how
    columns are checked: ``csv`` columns are raw text and are all parsed,
    ``parquet`` columns must already have the right type, and ``frame``
    (in-memory tables) columns are parsed when they hold text and otherwise
    checked for their type.
    """

    table: Table
    file: str
    frame: pd.DataFrame
    storage: Literal["csv", "parquet", "frame"]
    source_columns: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def display(self, column: str) -> str:
        """Return the name of a healthlab column as the file spells it."""
        return self.source_columns.get(column, column)


def find_table_files(
    folder: Path, mapping: ColumnMapping
) -> tuple[dict[str, Path], list[Problem]]:
    """Match each table to its file in ``folder``.

    Returns the file of every table found once, and a problem for every table
    that has no file or both a ``.csv`` and a ``.parquet`` file. Other files
    and sub-folders (such as ``_ground_truth``) are logged at INFO and skipped.
    """
    files: dict[str, Path] = {}
    problems: list[Problem] = []
    claimed: set[Path] = set()

    for table in TABLES.values():
        table_mapping = mapping.table(table.name)
        if table_mapping.file is not None:
            candidates = [table_mapping.file]
        else:
            candidates = [f"{table.name}.csv", f"{table.name}.parquet"]
        present = [name for name in candidates if (folder / name).is_file()]
        claimed.update((folder / name).resolve() for name in present)

        if len(present) > 1:
            problems.append(
                Problem(
                    file=" and ".join(present),
                    rule="ambiguous-file",
                    message=f"both files contain the `{table.name}` table; keep one "
                    "of them and move or delete the other",
                )
            )
        elif not present:
            problems.append(_missing_file(folder, table, candidates, table_mapping))
        else:
            files[table.name] = folder / present[0]

    for entry in sorted(folder.iterdir()):
        resolved = entry.resolve()
        # A sub-folder that contains a mapped table file is not skipped.
        if entry.name.startswith(".") or any(
            path == resolved or resolved in path.parents for path in claimed
        ):
            continue
        kind = "sub-folder" if entry.is_dir() else "file"
        logger.info("Skipping %s %s: it is not a table of the dataset.", kind, entry)
    return files, problems


def _missing_file(
    folder: Path, table: Table, candidates: list[str], table_mapping: TableMapping
) -> Problem:
    expected = " or ".join(candidates)
    columns = ", ".join(table_mapping.source_column(c) for c in table.column_names)
    origin = " (named in the column mapping)" if table_mapping.file else ""
    message = (
        f"file not found{origin}; it holds the `{table.name}` table "
        f"({table.description.rstrip('.')}) with the columns {columns}"
    )

    # A file that differs only in case is a common export mistake.
    wanted = {name.lower() for name in candidates}
    near = [
        entry.name
        for entry in sorted(folder.iterdir())
        if entry.is_file() and entry.name.lower() in wanted
    ]
    if near:
        message += f"; found {', '.join(near)}: rename it to {candidates[0]}"
    return Problem(file=expected, rule="missing-file", message=message)


def read_table(
    path: Path, display: str, table: Table, table_mapping: TableMapping
) -> tuple[TableInput | None, list[Problem]]:
    """Read one table file and rename its columns to the healthlab names.

    Returns ``None`` as the table when the file cannot be read at all, with
    the problems that explain why. Missing columns are reported and left out
    of the frame, so the columns that are present can still be checked.
    """
    storage: Literal["csv", "parquet"]
    if path.suffix.lower() == ".parquet":
        frame, problems = _read_parquet(path, display)
        storage = "parquet"
    else:
        frame, problems = _read_csv(path, display)
        storage = "csv"
    if frame is None:
        return None, problems

    # The header as the file spells it: pandas renames a repeated `a` to `a.1`.
    found = frame.attrs.pop("header", None) or [str(name) for name in frame.columns]
    source_columns: dict[str, str] = {}
    missing: list[tuple[str, str]] = []
    for column in table.column_names:
        source = table_mapping.source_column(column)
        if source in frame.columns:
            source_columns[column] = source
        else:
            missing.append((column, source))
    if missing and _is_one_column_with_separators(found, source_columns):
        problems.append(_wrong_separator(display, found[0]))
    else:
        problems += [
            _missing_column(display, column, source, found)
            for column, source in missing
        ]

    extra = [name for name in found if name not in source_columns.values()]
    if extra:
        logger.info(
            "Skipping columns of %s that healthlab does not use: %s", display, extra
        )

    selected = frame[list(source_columns.values())]
    selected.columns = pd.Index(list(source_columns))
    labels = {
        column: table_mapping.labels(column)
        for column in table_mapping.values
        if column in source_columns
    }
    table_input = TableInput(
        table=table,
        file=display,
        frame=selected,
        storage=storage,
        source_columns={k: v for k, v in source_columns.items() if k != v},
        date_format=table_mapping.date_format,
        labels=labels,
    )
    return table_input, problems


def _missing_column(file: str, column: str, source: str, found: list[str]) -> Problem:
    message = f"missing column `{source}`"
    if source != column:
        message += f" (mapped to `{column}`)"
    message += f"; the file has the columns: {', '.join(found) or '(none)'}"

    near = [name for name in found if name.strip().lower() == source.lower()]
    if near:
        message += f". `{near[0]}` differs only in case or spaces: rename it"
    return Problem(file=file, rule="missing-column", message=message, column=source)


def _is_one_column_with_separators(
    found: list[str], source_columns: dict[str, str]
) -> bool:
    return (
        not source_columns
        and len(found) == 1
        and any(separator in found[0] for separator in _OTHER_SEPARATORS)
    )


def _wrong_separator(file: str, header: str) -> Problem:
    separator = next(sep for sep in _OTHER_SEPARATORS if sep in header)
    return Problem(
        file=file,
        rule="missing-column",
        message=f"the header is one column, {header!r}, so every column is "
        f"missing; the file seems to separate cells with {separator!r}: save it "
        "with commas",
    )


def _read_csv(path: Path, display: str) -> tuple[pd.DataFrame | None, list[Problem]]:
    try:
        data = path.read_bytes()
    except OSError as error:
        return None, [_unreadable(display, f"cannot read the file: {error}")]

    head = data[:_SNIFF_BYTES]
    if head.startswith(_UTF16_BOMS):
        return None, [
            _unreadable(display, "the file is UTF-16 text; save it as UTF-8 CSV")
        ]
    if head.startswith(_ZIP_MAGIC):
        return None, [
            _unreadable(
                display,
                "the file is a zip archive, such as an Excel workbook, not CSV "
                "text; export the sheet as CSV (UTF-8)",
            )
        ]
    if head.startswith(_PARQUET_MAGIC):
        return None, [
            _unreadable(display, "the file is Parquet; rename it to end in .parquet")
        ]
    if b"\x00" in head:
        return None, [
            _unreadable(display, "the file is binary, not CSV text; export it as CSV")
        ]

    problems: list[Problem] = []
    has_bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8) :] if has_bom else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = body.count(b"\n", 0, error.start) + 1
        byte = body[error.start : error.start + 1]
        return None, [
            Problem(
                file=display,
                rule="encoding",
                message="invalid UTF-8; the file seems to be saved in another "
                "encoding (such as Windows-1252): save it as UTF-8",
                row=line,
                value=f"0x{byte.hex()}",
            )
        ]
    if not text.strip():
        return None, [
            Problem(
                file=display,
                rule="empty-file",
                message="the file is empty; it needs a header line with the column "
                "names",
            )
        ]

    header = next(csv.reader(io.StringIO(text.partition("\n")[0])), [])
    if has_bom:
        problems.append(
            Problem(
                file=display,
                rule="byte-order-mark",
                message="the header starts with a UTF-8 byte-order mark (BOM); "
                "save the file as UTF-8 without BOM",
                row=1,
                column=header[0] if header else None,
            )
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    for name in duplicated:
        problems.append(
            Problem(
                file=display,
                rule="duplicate-column",
                message="the header names this column more than once; keep one",
                row=1,
                column=name,
            )
        )

    try:
        frame = pd.read_csv(
            io.BytesIO(body),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8",
        )
    except pd.errors.ParserError as error:
        problems.append(_syntax_problem(display, error))
        return None, problems

    frame.index = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame))
    frame = _drop_empty_rows(frame, display)
    if duplicated:
        frame.attrs["header"] = header
    return frame, problems


def _drop_empty_rows(frame: pd.DataFrame, display: str) -> pd.DataFrame:
    """Drop rows whose every cell is blank, keeping the row numbers of the rest.

    Spreadsheets export trailing empty rows as ``,,,``; they carry no data.
    """
    if frame.columns.empty:
        return frame
    empty = frame.iloc[:, 0].fillna("").eq("")
    for name in frame.columns[1:]:
        if not empty.any():
            break
        empty &= frame[name].fillna("").eq("")
    if empty.any():
        logger.info("Skipping %d empty rows of %s.", int(empty.sum()), display)
        frame = frame[~empty]
    return frame


def _syntax_problem(display: str, error: pd.errors.ParserError) -> Problem:
    match = _PANDAS_LINE.search(str(error))
    if match is None:
        return _unreadable(display, f"the CSV syntax is invalid: {error}")
    expected, line, seen = match.groups()
    return Problem(
        file=display,
        rule="csv-syntax",
        message=f"the line has {seen} fields but the header has {expected}; quote "
        "cells that contain commas",
        row=int(line),
    )


def _read_parquet(
    path: Path, display: str
) -> tuple[pd.DataFrame | None, list[Problem]]:
    import pyarrow as pa

    try:
        with path.open("rb") as handle:
            magic = handle.read(len(_PARQUET_MAGIC))
    except OSError as error:
        return None, [_unreadable(display, f"cannot read the file: {error}")]
    if magic != _PARQUET_MAGIC:
        return None, [
            _unreadable(
                display,
                "the file is not Parquet (it lacks the PAR1 signature); write it "
                "as Parquet or save it as .csv",
            )
        ]
    try:
        frame = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as error:
        return None, [_unreadable(display, f"cannot read the Parquet file: {error}")]

    # A frame saved with a meaningful index (such as client_id) keeps it as a column.
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame.columns = pd.Index([str(name) for name in frame.columns])
    frame.index = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame))
    return frame, []


def _unreadable(display: str, message: str) -> Problem:
    return Problem(file=display, rule="unreadable-file", message=message)
