"""Validation of a dataset: every problem in every file, reported in one run.

Checking happens in three passes over each table:

1. Parsing (:mod:`healthlab._parsing`). Each column is converted to its kind
   from :data:`healthlab.tables.TABLES`. A cell that cannot be parsed is a
   problem that quotes the raw cell.
2. A pandera ``DataFrameSchema`` built from the same table description
   (:func:`build_schema`) checks required cells, ranges, category values,
   first-of-month months and dates in the future. It runs on the distinct
   values of each column, and its ``failure_cases`` become problems on rows.
3. Rules across rows, columns and tables: unique keys, removals against
   enforcement actions, objectives met against objectives agreed, renewal
   against contract start, and client ids that are missing from ``clients``.

Every problem names the file, the spreadsheet row (header = row 1), the column
as the file spells it and the raw value. A rule that fails on many rows of one
column lists the first :data:`MAX_ROWS_PER_RULE` rows and then one line with
the count of the rest."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from healthlab._parsing import (
    MAX_ROWS_PER_RULE,
    PARSED_DTYPES,
    Distinct,
    Parsed,
    cell_problems,
    find_distinct,
    kind_name,
    parse_column,
    raw_value,
)
from healthlab._reading import (
    FIRST_DATA_ROW,
    TableInput,
    find_table_files,
    read_table,
)
from healthlab.errors import Problem
from healthlab.mapping import ColumnMapping, load_mapping
from healthlab.tables import TABLES, Column, Table

if TYPE_CHECKING:
    import pandera.pandas as pa

logger = logging.getLogger(__name__)

REQUIRED_TABLES = ("clients", "usage", "operations")
"""Tables that must have at least one data row."""

FUTURE_ALLOWED = frozenset({("clients", "contract_start"), ("clients", "renewal_date")})
"""Date columns that may lie in the future: contracts are signed ahead of time."""


def validate_dataset(
    path: str | Path, mapping: str | Path | ColumnMapping | None = None
) -> list[Problem]:
    """Check a dataset folder and return every problem found.

    Parameters
    ----------
    path
        Dataset folder with one ``<table>.csv`` or ``<table>.parquet`` per table.
    mapping
        Column-mapping YAML file (or a loaded :class:`ColumnMapping`) for files
        exported by other tools.

    Returns
    -------
    list of Problem
        Empty when the dataset is valid.

    Raises
    ------
    ConfigError
        If the column-mapping file is invalid.
    """
    _, problems = read_and_validate(path, mapping)
    return problems


def validate_frames(
    frames: Mapping[str, pd.DataFrame], source: str | Path
) -> list[Problem]:
    """Check in-memory tables, keyed by table name, and return every problem.

    Columns already typed are checked for their dtype. Text columns are parsed
    as a CSV file would be, so frames read with ``dtype=str`` work too. Rows
    are numbered as in a spreadsheet, the first row of each frame being row 2,
    whatever the frame's index. Problems name the table in place of a file.
    """
    inputs: dict[str, TableInput] = {}
    problems: dict[str, list[Problem]] = {name: [] for name in TABLES}
    for table in TABLES.values():
        frame = frames.get(table.name)
        if frame is None:
            problems[table.name].append(
                Problem(
                    file=table.name,
                    rule="missing-table",
                    message=f"table missing from {source}; expected the columns "
                    f"{', '.join(table.column_names)}",
                )
            )
            continue
        found = [str(name) for name in frame.columns]
        present = [name for name in table.column_names if name in found]
        problems[table.name] += [
            Problem(
                file=table.name,
                rule="missing-column",
                message=f"missing column `{name}`; the table has the columns: "
                f"{', '.join(found) or '(none)'}",
                column=name,
            )
            for name in table.column_names
            if name not in found
        ]
        selected = frame[present].set_axis(
            pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame))
        )
        inputs[table.name] = TableInput(
            table=table, file=table.name, frame=selected, storage="frame"
        )

    _, checked = _check_inputs(inputs)
    for name, found_problems in checked.items():
        problems[name] += found_problems
    return [problem for name in TABLES for problem in problems[name]]


def read_and_validate(
    path: str | Path, mapping: str | Path | ColumnMapping | None = None
) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Read every table of a dataset folder, parse and check it.

    Returns the parsed tables (only meaningful when there are no problems)
    and every problem found. :func:`healthlab.dataset.load_dataset` builds on
    this; most callers want that or :func:`validate_dataset`.

    Raises
    ------
    ConfigError
        If the column-mapping file is invalid.
    """
    folder = Path(path)
    if not folder.exists():
        return {}, [
            Problem(
                file=str(folder),
                rule="missing-folder",
                message="dataset folder not found; check the path, or create a "
                "sample with `healthlab sample --out FOLDER`",
            )
        ]
    if not folder.is_dir():
        return {}, [
            Problem(
                file=str(folder),
                rule="missing-folder",
                message="the path is a file, not a folder; pass the dataset folder",
            )
        ]

    column_mapping = _resolve_mapping(mapping)
    files, problems = find_table_files(folder, column_mapping)

    inputs: dict[str, TableInput] = {}
    read_problems: dict[str, list[Problem]] = {}
    for name, file in files.items():
        display = file.relative_to(folder).as_posix()
        table_input, read_problems[name] = read_table(
            file, display, TABLES[name], column_mapping.table(name)
        )
        if table_input is not None:
            inputs[name] = table_input

    frames, checked = _check_inputs(inputs)
    for name in TABLES:
        problems += read_problems.get(name, []) + checked.get(name, [])
    logger.info("Checked %s: %d problems.", folder, len(problems))
    return frames, problems


def _resolve_mapping(mapping: str | Path | ColumnMapping | None) -> ColumnMapping:
    if mapping is None:
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    return load_mapping(mapping)


def _check_inputs(
    inputs: Mapping[str, TableInput],
) -> tuple[dict[str, pd.DataFrame], dict[str, list[Problem]]]:
    """Parse and check every table, then the rules across tables."""
    frames: dict[str, pd.DataFrame] = {}
    problems: dict[str, list[Problem]] = {}
    for name, table_input in inputs.items():
        frames[name], problems[name] = _check_table(table_input)

    for name, found in _unknown_clients(inputs, frames).items():
        problems[name] += found
    return frames, problems


def _check_table(table_input: TableInput) -> tuple[pd.DataFrame, list[Problem]]:
    table = table_input.table
    problems: list[Problem] = []
    if len(table_input.frame) == 0 and table.name in REQUIRED_TABLES:
        problems.append(
            Problem(
                file=table_input.file,
                rule="empty-table",
                message=f"the file has no data rows; `{table.name}` needs at least "
                "one row",
            )
        )

    parsed: dict[str, Parsed] = {}
    for column in table.columns:
        if column.name not in table_input.frame.columns:
            continue
        parsed_column = parse_column(table_input, column)
        problems += parsed_column.problems
        if parsed_column.values is not None:
            parsed[column.name] = parsed_column

    frame = pd.DataFrame(
        {name: column.values for name, column in parsed.items()},
        index=table_input.frame.index,
    )
    problems += _schema_problems(table_input, frame, parsed)
    problems += _duplicate_problems(table_input, frame)
    problems += _row_rule_problems(table_input, frame)
    return frame, problems


# --- Pass 2: pandera schema ------------------------------------------------


def build_schema(
    table: Table, columns: list[str] | None = None, check_key: bool = True
) -> pa.DataFrameSchema:
    """Build the pandera schema that checks a parsed table.

    Parameters
    ----------
    table
        The table description.
    columns
        The columns to check; all of them when ``None``.
    check_key
        Whether the schema checks that the key is unique; it does so only when
        all the key columns are included. NOTE: with pandera 0.35 and pandas
        3.1 that check raises ``ValueError`` on a frame whose index repeats, so
        reset the index first.

    Returns
    -------
    pandera.pandas.DataFrameSchema
        A schema for frames with the parsed dtypes: ``str`` text, ``Int64``
        counts, ``float64`` amounts and ``datetime64[ns]`` dates.
    """
    import pandera.pandas as pa

    names = list(table.column_names if columns is None else columns)
    schema_columns = {
        column.name: pa.Column(
            PARSED_DTYPES[column.kind],
            checks=_column_checks(table, column),
            nullable=column.nullable,
        )
        for column in table.columns
        if column.name in names
    }
    key = list(table.key) if check_key and set(table.key) <= set(names) else None
    return pa.DataFrameSchema(
        schema_columns,
        name=table.name,
        unique=key,
        report_duplicates="all",
    )


def _column_checks(table: Table, column: Column) -> list[pa.Check]:
    """Build the value checks of one column; each ``error`` is the rule name."""
    import pandera.pandas as pa

    checks: list[pa.Check] = []
    if column.minimum is not None:
        checks.append(pa.Check.ge(column.minimum, error="below-minimum"))
    if column.maximum is not None:
        checks.append(pa.Check.le(column.maximum, error="above-maximum"))
    if column.kind == "category":
        checks.append(pa.Check.isin(column.categories, error="unknown-category"))
    if column.kind == "month":
        checks.append(
            pa.Check(lambda values: values.dt.day == 1, error="not-first-of-month")
        )
    if column.kind in ("date", "month") and (table.name, column.name) not in (
        FUTURE_ALLOWED
    ):
        checks.append(pa.Check.le(_latest_allowed(column), error="future-date"))
    return checks


def _latest_allowed(column: Column) -> pd.Timestamp:
    """Return today, or the first day of this month for a month column."""
    today = pd.Timestamp(date.today())
    return today.replace(day=1) if column.kind == "month" else today


def _schema_problems(
    table_input: TableInput, frame: pd.DataFrame, parsed: Mapping[str, Parsed]
) -> list[Problem]:
    """Run the pandera schema on the distinct values of each column.

    Every column check depends on the value alone, so checking each distinct
    value once gives the same verdict as checking every row, and keeps a file
    with a million failing rows fast. Failures are then spread back to rows.
    """
    import pandera.pandas as pa

    distinct_values = {
        name: column.distinct or find_distinct(column.values)
        for name, column in parsed.items()
        if column.values is not None
    }
    # Each column's distinct values, repeated to the length of the longest.
    length = max((len(column.values) for column in distinct_values.values()), default=0)
    compact = pd.DataFrame(
        {
            name: column.values.take(np.arange(length) % max(len(column.values), 1))
            for name, column in distinct_values.items()
        },
        index=pd.RangeIndex(length),
    )

    schema = build_schema(table_input.table, list(frame.columns), check_key=False)
    try:
        schema.validate(compact, lazy=True)
    except pa.errors.SchemaErrors as error:
        cases = error.failure_cases
    else:
        cases = None

    problems: list[Problem] = []
    if cases is not None:
        cases = cases[cases["column"].notna()]
        for (column_name, check), group in cases.groupby(
            ["column", "check"], sort=False
        ):
            problems += _check_problems(
                table_input,
                frame,
                str(column_name),
                str(check),
                group["index"].dropna().to_numpy(dtype="int64"),
                distinct_values[str(column_name)],
                parsed[str(column_name)].invalid,
            )
    return problems


def _check_problems(
    table_input: TableInput,
    frame: pd.DataFrame,
    column_name: str,
    check: str,
    positions: np.ndarray,
    distinct: Distinct,
    invalid: np.ndarray,
) -> list[Problem]:
    """Turn one failed check on distinct values into problems on rows."""
    if len(positions) == 0:
        # A schema-level failure, such as a dtype mismatch, has no row.
        return [
            Problem(
                file=table_input.file,
                rule="wrong-type",
                message=f"check {check} failed for the whole column",
                column=table_input.display(column_name),
            )
        ]
    failed = np.zeros(len(distinct.values), dtype=bool)
    failed[positions % len(distinct.values)] = True
    mask = failed[distinct.codes]
    if check == "not_nullable":
        # Cells that could not be parsed are empty now, and were reported.
        mask &= ~invalid
    rows = frame.index.to_numpy()[mask]
    if len(rows) == 0:
        return []
    rule, message = _describe_check(table_input, column_name, check)
    return cell_problems(table_input, rule, column_name, rows, message)


def _describe_check(
    table_input: TableInput, column_name: str, check: str
) -> tuple[str, str]:
    """Return the rule name and the message of one failed pandera check."""
    column = table_input.table.column(column_name)
    display_name = table_input.display(column_name)
    if check == "not_nullable":
        return "blank", f"blank cell; `{display_name}` is required"
    if check in ("below-minimum", "above-maximum"):
        if column.minimum is not None and column.maximum is not None:
            bounds = f"between {column.minimum:g} and {column.maximum:g}"
        elif column.minimum is not None:
            bounds = f"at least {column.minimum:g}"
        else:
            bounds = f"at most {column.maximum:g}"
        return check, f"out of range; `{display_name}` must be {bounds}"
    if check == "unknown-category":
        message = f"unknown value; allowed values: {', '.join(column.categories)}"
        labels = table_input.labels.get(column_name)
        if labels:
            message += f", or the mapped labels {', '.join(labels)}"
        return check, message
    if check == "not-first-of-month":
        return check, "a month must be written as its first day, such as 2026-03-01"
    if check == "future-date":
        latest = _latest_allowed(column).date()
        return check, f"in the future; the latest accepted {column.kind} is {latest}"
    return check, f"failed the check {check}"


# --- Pass 3: rules across rows, columns and tables -------------------------


def _duplicate_problems(table_input: TableInput, frame: pd.DataFrame) -> list[Problem]:
    """Report each repeated key once per later row, naming its first row."""
    key = list(table_input.table.key)
    if not set(key) <= set(frame.columns):
        return []
    keys = frame[key]
    repeated = keys.duplicated(keep=False) & keys.notna().all(axis=1)
    if not repeated.any():
        return []
    keys = keys[repeated]
    first_rows = (
        pd.Series(keys.index, index=keys.index)
        .groupby([keys[name] for name in key], sort=False)
        .transform("min")
    )
    later = first_rows[first_rows.index != first_rows.to_numpy()]
    names = ", ".join(table_input.display(name) for name in key)
    first_of = later.iloc[:MAX_ROWS_PER_RULE].to_dict()

    def message(row: int) -> str:
        return (
            f"duplicate key: row {first_of[row]} has the same {names}; "
            "each key must appear once"
        )

    return cell_problems(
        table_input, "duplicate-key", key, later.index.to_numpy(), message
    )


def _row_rule_problems(table_input: TableInput, frame: pd.DataFrame) -> list[Problem]:
    name = table_input.table.name
    if name == "operations":
        return _compare(
            table_input,
            frame,
            "removals_confirmed",
            "enforcement_requested",
            "removals-exceed-requests",
            "more removals confirmed than enforcement actions requested",
            strict=False,
        )
    if name == "qbr_meetings":
        return _compare(
            table_input,
            frame,
            "objectives_met",
            "objectives_total",
            "objectives-exceed-total",
            "more objectives met than agreed",
            strict=False,
        )
    if name == "clients":
        return _compare(
            table_input,
            frame,
            "contract_start",
            "renewal_date",
            "renewal-before-start",
            "the renewal date must be after the contract start",
            strict=True,
        )
    return []


def _compare(
    table_input: TableInput,
    frame: pd.DataFrame,
    smaller: str,
    larger: str,
    rule: str,
    message: str,
    strict: bool,
) -> list[Problem]:
    """Report the rows where ``smaller`` exceeds ``larger`` (or equals it, if strict).

    The problem points at the column that is more likely wrong: the larger one
    for a date that must follow another, the smaller one for counts.
    """
    if smaller not in frame.columns or larger not in frame.columns:
        return []
    broken = (
        frame[smaller] >= frame[larger] if strict else frame[smaller] > frame[larger]
    )
    rows = frame.index.to_numpy()[broken.fillna(False).to_numpy(dtype=bool)]
    reported, other = (larger, smaller) if strict else (smaller, larger)
    raw_other = table_input.frame[other]
    shown_other = table_input.display(other)

    def row_message(row: int) -> str:
        return f"{message} ({shown_other} is {raw_value(raw_other, row)!r})"

    return cell_problems(table_input, rule, reported, rows, row_message)


def _unknown_clients(
    inputs: Mapping[str, TableInput], frames: Mapping[str, pd.DataFrame]
) -> dict[str, list[Problem]]:
    clients = frames.get("clients")
    # An empty clients table is reported once, as empty-table. Listing every
    # client id of the other tables as unknown would bury that message.
    if clients is None or "client_id" not in clients.columns or clients.empty:
        return {}
    known = clients["client_id"].dropna().unique()
    clients_file = inputs["clients"].file
    # Spreadsheets drop the leading zeros of ids that look like numbers.
    unpadded = {str(cid).lstrip("0"): str(cid) for cid in known}

    problems: dict[str, list[Problem]] = {}
    for name, frame in frames.items():
        if name == "clients" or "client_id" not in frame.columns:
            continue
        ids = frame["client_id"]
        unknown = (ids.notna() & ~ids.isin(known)).to_numpy(dtype=bool)

        def message(row: int, ids: pd.Series = ids) -> str:
            text = f"unknown client id; it is not in {clients_file}"
            near = unpadded.get(str(ids.loc[row]).lstrip("0"))
            if near is not None:
                text += (
                    f", which has {near!r}: the leading zeros differ; keep ids as "
                    "text when a spreadsheet opens the files"
                )
            return text

        problems[name] = cell_problems(
            inputs[name],
            "unknown-client",
            "client_id",
            frame.index.to_numpy()[unknown],
            message,
        )
    return problems


# --- Reference documentation -----------------------------------------------


def markdown_reference() -> str:
    """Generate the Markdown reference of every table and its columns.

    ``data/README.md`` contains this text between two marker comments, and a
    test fails when the two differ.
    """
    sections = [_table_reference(table) for table in TABLES.values()]
    return "\n\n".join(sections) + "\n"


def _table_reference(table: Table) -> str:
    key = ", ".join(f"`{name}`" for name in table.key)
    lines = [
        f"### {table.name}",
        "",
        table.description,
        "",
        f"- File: `{table.name}.csv` or `{table.name}.parquet`.",
        f"- One row per {key}; this key must be unique.",
    ]
    if table.name in REQUIRED_TABLES:
        lines.append("- Must have at least one data row.")
    else:
        lines.append("- May have no data rows.")
    lines += [f"- Rule: {rule}." for rule in table.rules]
    lines += [
        "",
        "| Column | Type | Unit | Required | Meaning | Rules |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for column in table.columns:
        required = "no" if column.nullable else "yes"
        rules = "; ".join(_column_rules(table, column)) or "-"
        lines.append(
            f"| `{column.name}` | {kind_name(column)} | {column.unit or '-'} | "
            f"{required} | {column.description} | {rules} |"
        )
    return "\n".join(lines)


def _column_rules(table: Table, column: Column) -> list[str]:
    rules = []
    if column.kind == "int":
        rules.append("whole number")
    if column.minimum is not None and column.maximum is not None:
        rules.append(f"{column.minimum:g} to {column.maximum:g}")
    elif column.minimum is not None:
        rules.append(f">= {column.minimum:g}")
    if column.kind == "category":
        rules.append("one of " + ", ".join(f"`{value}`" for value in column.categories))
    if column.kind == "month":
        rules.append("first day of the month, YYYY-MM-01")
    if column.kind == "date":
        rules.append("YYYY-MM-DD")
    if column.kind in ("date", "month"):
        if (table.name, column.name) in FUTURE_ALLOWED:
            rules.append("may be in the future")
        else:
            rules.append("not in the future")
    if column.name == "client_id" and table.name != "clients":
        rules.append("must be a `client_id` of clients")
    return rules
