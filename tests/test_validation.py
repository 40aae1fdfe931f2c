"""Tests of healthlab.validation: each bad input named by file, row, column, value."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from dataset_factory import BASE_TABLES, make_dataset

from healthlab.dataset import load_dataset
from healthlab.errors import DataValidationError
from healthlab.tables import TABLES
from healthlab.validation import (
    MAX_ROWS_PER_RULE,
    build_schema,
    markdown_reference,
    validate_dataset,
    validate_frames,
)

REPO = Path(__file__).resolve().parents[1]
DATA_README = REPO / "data" / "README.md"


def replace_row(table: str, old: str, new: str) -> str:
    """Return a base table's CSV text with one substring replaced, exactly once."""
    text = BASE_TABLES[table]
    assert text.count(old) == 1, f"{old!r} must occur once in {table}"
    return text.replace(old, new)


def write_parquet(folder: Path, name: str, frame: pd.DataFrame) -> None:
    (folder / f"{name}.csv").unlink()
    frame.to_parquet(folder / f"{name}.parquet", index=False)


@dataclass(frozen=True)
class Expected:
    """The one problem a bad input must produce."""

    rule: str
    file: str
    match: str
    row: int | None = None
    column: str | None = None
    value: str | None = None


Builder = Callable[[Path], Path]


def _missing_folder(tmp_path: Path) -> Path:
    return tmp_path / "no-such-folder"


def _missing_file(tmp_path: Path) -> Path:
    return make_dataset(tmp_path, usage=None)


def _missing_column(tmp_path: Path) -> Path:
    frame = pd.read_csv(make_dataset(tmp_path) / "usage.csv", dtype=str)
    return make_dataset(tmp_path, usage=frame.drop(columns="logins"))


def _not_a_number(tmp_path: Path) -> Path:
    clients = replace_row("clients", "2027-06-01,10,", "2027-06-01,ten,")
    return make_dataset(tmp_path, clients=clients)


def _thousands_separator(tmp_path: Path) -> Path:
    usage = replace_row("usage", "0001,2026-02-01,42,950", '0001,2026-02-01,42,"1,950"')
    return make_dataset(tmp_path, usage=usage)


def _blank_number(tmp_path: Path) -> Path:
    usage = replace_row("usage", "0002,2026-02-01,5,70", "0002,2026-02-01,5,")
    return make_dataset(tmp_path, usage=usage)


def _blank_id(tmp_path: Path) -> Path:
    nps = replace_row("nps", "0002,2026-03-03,r3,4", " ,2026-03-03,r3,4")
    return make_dataset(tmp_path, nps=nps)


def _nps_above_ten(tmp_path: Path) -> Path:
    return make_dataset(tmp_path, nps=replace_row("nps", "r1,9", "r1,11"))


def _nps_fraction(tmp_path: Path) -> Path:
    return make_dataset(tmp_path, nps=replace_row("nps", "r2,7", "r2,7.5"))


def _negative_count(tmp_path: Path) -> Path:
    operations = replace_row(
        "operations", "website,copyright,2,2,1", "website,copyright,-2,2,1"
    )
    return make_dataset(tmp_path, operations=operations)


def _removals_exceed_requests(tmp_path: Path) -> Path:
    operations = replace_row(
        "operations", "counterfeit,110,95,88", "counterfeit,110,95,96"
    )
    return make_dataset(tmp_path, operations=operations)


def _objectives_exceed_total(tmp_path: Path) -> Path:
    meetings = replace_row("qbr_meetings", "negative,1,3", "negative,4,3")
    return make_dataset(tmp_path, qbr_meetings=meetings)


def _invalid_date(tmp_path: Path) -> Path:
    nps = replace_row("nps", "2026-02-20", "2026-02-30")
    return make_dataset(tmp_path, nps=nps)


def _future_date(tmp_path: Path) -> Path:
    meetings = replace_row("qbr_meetings", "2026-02-11", "2099-02-11")
    return make_dataset(tmp_path, qbr_meetings=meetings)


def _implausible_date(tmp_path: Path) -> Path:
    clients = replace_row("clients", "2024-01-01", "1024-01-01")
    return make_dataset(tmp_path, clients=clients)


def _month_not_first_day(tmp_path: Path) -> Path:
    impact = replace_row("economic_impact", "0002,2026-02-01", "0002,2026-02-14")
    return make_dataset(tmp_path, economic_impact=impact)


def _unknown_client(tmp_path: Path) -> Path:
    usage = replace_row("usage", "0002,2026-03-01", "0003,2026-03-01")
    return make_dataset(tmp_path, usage=usage)


def _duplicate_key(tmp_path: Path) -> Path:
    usage = BASE_TABLES["usage"] + "0001,2026-02-01,41,940\n"
    return make_dataset(tmp_path, usage=usage)


def _byte_order_mark(tmp_path: Path) -> Path:
    data = b"\xef\xbb\xbf" + BASE_TABLES["renewals"].encode()
    return make_dataset(tmp_path, renewals=data)


def _empty_table(tmp_path: Path) -> Path:
    return make_dataset(tmp_path, operations=BASE_TABLES["operations"].split("\n")[0])


def _unknown_category(tmp_path: Path) -> Path:
    clients = replace_row("clients", "Blue Owl,smb,", "Blue Owl,SMB,")
    return make_dataset(tmp_path, clients=clients)


def _renewal_before_start(tmp_path: Path) -> Path:
    clients = replace_row("clients", "2025-06-01,2027-06-01", "2025-06-01,2025-05-31")
    return make_dataset(tmp_path, clients=clients)


def _csv_and_parquet(tmp_path: Path) -> Path:
    folder = make_dataset(tmp_path)
    pd.read_csv(folder / "nps.csv", dtype=str).to_parquet(folder / "nps.parquet")
    return folder


def _binary_file(tmp_path: Path) -> Path:
    return make_dataset(tmp_path, usage=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def _workbook(tmp_path: Path) -> Path:
    return make_dataset(tmp_path, clients=b"PK\x03\x04\x14\x00\x06\x00")


def _latin1(tmp_path: Path) -> Path:
    clients = replace_row("clients", "Blue Owl", "Bleu Hibou Caf\u00e9")
    return make_dataset(tmp_path, clients=clients.encode("latin-1"))


def _extra_field(tmp_path: Path) -> Path:
    usage = replace_row("usage", "0002,2026-01-01,6,80", "0002,2026-01-01,6,80,12")
    return make_dataset(tmp_path, usage=usage)


def _duplicate_header(tmp_path: Path) -> Path:
    renewals = BASE_TABLES["renewals"].replace("arr_usd\n", "arr_usd,outcome\n")
    renewals = renewals.replace("110000\n", "110000,renewed\n")
    return make_dataset(tmp_path, renewals=renewals)


def _empty_file(tmp_path: Path) -> Path:
    return make_dataset(tmp_path, renewals="")


def _parquet_numeric_id(tmp_path: Path) -> Path:
    folder = make_dataset(tmp_path)
    frame = pd.read_csv(folder / "usage.csv", dtype={"client_id": "int64"})
    frame["month"] = pd.to_datetime(frame["month"])
    write_parquet(folder, "usage", frame)
    return folder


def _parquet_text_count(tmp_path: Path) -> Path:
    folder = make_dataset(tmp_path)
    frame = pd.read_csv(
        folder / "usage.csv", dtype={"client_id": str, "active_users": str}
    )
    frame["month"] = pd.to_datetime(frame["month"])
    write_parquet(folder, "usage", frame)
    return folder


def _parquet_fraction(tmp_path: Path) -> Path:
    folder = make_dataset(tmp_path)
    frame = pd.read_csv(folder / "nps.csv", dtype={"client_id": str})
    frame["response_date"] = pd.to_datetime(frame["response_date"])
    frame["score"] = frame["score"].astype("float64")
    frame.loc[2, "score"] = 6.5
    write_parquet(folder, "nps", frame)
    return folder


BAD_INPUTS = [
    pytest.param(
        _missing_folder,
        Expected("missing-folder", "no-such-folder", "dataset folder not found"),
        id="missing-folder",
    ),
    pytest.param(
        _missing_file,
        Expected(
            "missing-file",
            "usage.csv or usage.parquet",
            r"file not found.*client_id, month, active_users, logins",
        ),
        id="missing-file",
    ),
    pytest.param(
        _missing_column,
        Expected(
            "missing-column",
            "usage.csv",
            r"missing column `logins`; the file has the columns: "
            r"client_id, month, active_users",
            column="logins",
        ),
        id="missing-column",
    ),
    pytest.param(
        _not_a_number,
        Expected(
            "not-a-number", "clients.csv", "not a number", 3, "licensed_seats", "ten"
        ),
        id="text-in-integer-column",
    ),
    pytest.param(
        _thousands_separator,
        Expected("not-a-number", "usage.csv", "not a number", 3, "logins", "1,950"),
        id="thousands-separator",
    ),
    pytest.param(
        _blank_number,
        Expected(
            "blank", "usage.csv", "blank cell; `logins` is required", 6, "logins", ""
        ),
        id="blank-count",
    ),
    pytest.param(
        _blank_id,
        Expected("blank", "nps.csv", "`client_id` is required", 4, "client_id", " "),
        id="blank-id",
    ),
    pytest.param(
        _nps_above_ten,
        Expected(
            "above-maximum", "nps.csv", "must be between 0 and 10", 2, "score", "11"
        ),
        id="nps-above-ten",
    ),
    pytest.param(
        _nps_fraction,
        Expected("not-an-integer", "nps.csv", "not a whole number", 3, "score", "7.5"),
        id="nps-fraction",
    ),
    pytest.param(
        _negative_count,
        Expected(
            "below-minimum",
            "operations.csv",
            "must be at least 0",
            11,
            "detections",
            "-2",
        ),
        id="negative-count",
    ),
    pytest.param(
        _removals_exceed_requests,
        Expected(
            "removals-exceed-requests",
            "operations.csv",
            r"more removals confirmed than enforcement actions requested "
            r"\(enforcement_requested is '95'\)",
            4,
            "removals_confirmed",
            "96",
        ),
        id="removals-exceed-requests",
    ),
    pytest.param(
        _objectives_exceed_total,
        Expected(
            "objectives-exceed-total",
            "qbr_meetings.csv",
            r"more objectives met than agreed \(objectives_total is '3'\)",
            3,
            "objectives_met",
            "4",
        ),
        id="objectives-exceed-total",
    ),
    pytest.param(
        _invalid_date,
        Expected(
            "not-a-date",
            "nps.csv",
            "not a date in the format YYYY-MM-DD",
            3,
            "response_date",
            "2026-02-30",
        ),
        id="invalid-date",
    ),
    pytest.param(
        _future_date,
        Expected(
            "future-date",
            "qbr_meetings.csv",
            "in the future; the latest accepted date is",
            3,
            "meeting_date",
            "2099-02-11",
        ),
        id="future-date",
    ),
    pytest.param(
        _implausible_date,
        Expected(
            "implausible-date",
            "clients.csv",
            "outside 1900-2199",
            2,
            "contract_start",
            "1024-01-01",
        ),
        id="implausible-date",
    ),
    pytest.param(
        _month_not_first_day,
        Expected(
            "not-first-of-month",
            "economic_impact.csv",
            "written as its first day",
            6,
            "month",
            "2026-02-14",
        ),
        id="month-not-first-day",
    ),
    pytest.param(
        _unknown_client,
        Expected(
            "unknown-client",
            "usage.csv",
            "unknown client id; it is not in clients.csv",
            7,
            "client_id",
            "0003",
        ),
        id="unknown-client",
    ),
    pytest.param(
        _duplicate_key,
        Expected(
            "duplicate-key",
            "usage.csv",
            r"duplicate key: row 3 has the same client_id, month",
            8,
            "client_id, month",
            "0001, 2026-02-01",
        ),
        id="duplicate-key",
    ),
    pytest.param(
        _byte_order_mark,
        Expected(
            "byte-order-mark",
            "renewals.csv",
            r"byte-order mark \(BOM\); save the file as UTF-8 without BOM",
            1,
            "client_id",
        ),
        id="byte-order-mark",
    ),
    pytest.param(
        _empty_table,
        Expected(
            "empty-table", "operations.csv", "no data rows; `operations` needs at least"
        ),
        id="empty-table",
    ),
    pytest.param(
        _unknown_category,
        Expected(
            "unknown-category",
            "clients.csv",
            "unknown value; allowed values: enterprise, mid_market, smb",
            3,
            "segment",
            "SMB",
        ),
        id="unknown-category",
    ),
    pytest.param(
        _renewal_before_start,
        Expected(
            "renewal-before-start",
            "clients.csv",
            r"must be after the contract start \(contract_start is '2025-06-01'\)",
            3,
            "renewal_date",
            "2025-05-31",
        ),
        id="renewal-before-start",
    ),
    pytest.param(
        _csv_and_parquet,
        Expected(
            "ambiguous-file",
            "nps.csv and nps.parquet",
            "keep one of them",
        ),
        id="csv-and-parquet",
    ),
    pytest.param(
        _binary_file,
        Expected("unreadable-file", "usage.csv", "binary, not CSV text"),
        id="binary-file",
    ),
    pytest.param(
        _workbook,
        Expected("unreadable-file", "clients.csv", "Excel workbook"),
        id="excel-workbook",
    ),
    pytest.param(
        _latin1,
        Expected("encoding", "clients.csv", "invalid UTF-8", 3, value="0xe9"),
        id="not-utf8",
    ),
    pytest.param(
        _extra_field,
        Expected("csv-syntax", "usage.csv", "has 5 fields but the header has 4", 5),
        id="extra-field",
    ),
    pytest.param(
        _duplicate_header,
        Expected("duplicate-column", "renewals.csv", "more than once", 1, "outcome"),
        id="duplicate-header",
    ),
    pytest.param(
        _empty_file,
        Expected("empty-file", "renewals.csv", "needs a header line"),
        id="empty-file",
    ),
    pytest.param(
        _parquet_numeric_id,
        Expected(
            "wrong-type",
            "usage.parquet",
            r"stored as int64.*lose leading zeros",
            column="client_id",
        ),
        id="parquet-numeric-id",
    ),
    pytest.param(
        _parquet_text_count,
        Expected(
            "wrong-type",
            "usage.parquet",
            r"stored as str, but `active_users` holds integer values",
            column="active_users",
        ),
        id="parquet-text-count",
    ),
    pytest.param(
        _parquet_fraction,
        Expected(
            "not-an-integer", "nps.parquet", "not a whole number", 4, "score", "6.5"
        ),
        id="parquet-fraction",
    ),
]


@pytest.mark.parametrize(("build", "expected"), BAD_INPUTS)
def test_bad_input_reported(tmp_path: Path, build: Builder, expected: Expected) -> None:
    problems = validate_dataset(build(tmp_path))

    matching = [problem for problem in problems if problem.rule == expected.rule]
    assert len(matching) == 1, "\n".join(str(problem) for problem in problems)
    problem = matching[0]
    assert problem.file.endswith(expected.file)
    assert re.search(expected.match, problem.message), problem.message
    assert problem.row == expected.row
    assert problem.column == expected.column
    assert problem.value == expected.value
    assert f"`{expected.rule}`" in DATA_README.read_text(encoding="utf-8")


def test_load_raises_every_problem(tmp_path: Path) -> None:
    folder = make_dataset(
        tmp_path,
        nps=replace_row("nps", "r2,7", "r2,7.5"),
        renewals=replace_row("renewals", "renewed", "lapsed"),
    )
    expected = validate_dataset(folder)

    with pytest.raises(DataValidationError, match=r"2 problems found") as caught:
        load_dataset(folder)

    assert caught.value.problems == expected
    assert "nps.csv, row 3, column `score`: not a whole number" in str(caught.value)
    assert "renewals.csv, row 2, column `outcome`: unknown value" in str(caught.value)


def test_valid_dataset_has_no_problems(dataset_dir: Path) -> None:
    assert validate_dataset(dataset_dir) == []


def test_many_problems_reported_together(tmp_path: Path) -> None:
    folder = make_dataset(
        tmp_path,
        usage=None,
        nps=replace_row("nps", "r1,9", "r1,11").replace("r2,7", "r2,7.5"),
        operations=replace_row("operations", "2,2,1,9", "-2,2,3,9"),
        qbr_meetings=b"\xef\xbb\xbf" + BASE_TABLES["qbr_meetings"].encode(),
        renewals=replace_row("renewals", "0001,2026-01-01", "0042,2099-01-01"),
        clients=replace_row("clients", "0002,Blue Owl,smb", "0002,Blue Owl,tiny"),
    )

    problems = validate_dataset(folder)

    found = {(problem.file, problem.rule, problem.row) for problem in problems}
    assert found == {
        ("usage.csv or usage.parquet", "missing-file", None),
        ("clients.csv", "unknown-category", 3),
        ("nps.csv", "above-maximum", 2),
        ("nps.csv", "not-an-integer", 3),
        ("operations.csv", "below-minimum", 11),
        ("operations.csv", "removals-exceed-requests", 11),
        ("qbr_meetings.csv", "byte-order-mark", 1),
        ("renewals.csv", "future-date", 2),
        ("renewals.csv", "unknown-client", 2),
    }


def test_problems_follow_table_order(tmp_path: Path) -> None:
    folder = make_dataset(
        tmp_path,
        renewals=replace_row("renewals", "renewed", "lapsed"),
        clients=replace_row("clients", "Blue Owl,smb", "Blue Owl,tiny"),
    )

    files = [problem.file for problem in validate_dataset(folder)]

    assert files == ["clients.csv", "renewals.csv"]


def test_repeated_problems_capped(tmp_path: Path) -> None:
    extra_rows = "".join(f"0001,2026-01-{day:02d},r{day}x,12\n" for day in range(1, 31))
    folder = make_dataset(tmp_path, nps=BASE_TABLES["nps"] + extra_rows)

    problems = validate_dataset(folder)

    listed = [problem for problem in problems if problem.row is not None]
    summary = [problem for problem in problems if problem.row is None]
    assert len(listed) == MAX_ROWS_PER_RULE
    assert [problem.row for problem in listed] == list(range(5, 5 + MAX_ROWS_PER_RULE))
    assert len(summary) == 1
    assert summary[0].rule == "above-maximum"
    assert summary[0].column == "score"
    assert summary[0].message.startswith(f"{30 - MAX_ROWS_PER_RULE} more rows")


def test_large_bad_file_capped(tmp_path: Path) -> None:
    rows = 200_000
    operations = pd.DataFrame(
        {
            "client_id": ["0001", "0002"] * (rows // 2),
            "month": "2026-01-15",
            "channel": "tv",
            "infringement_type": "counterfeit",
            "detections": "many",
            "enforcement_requested": "1",
            "removals_confirmed": "2",
            "median_days_to_removal": "",
        }
    )
    folder = make_dataset(tmp_path, operations=operations)

    problems = validate_dataset(folder)

    summaries = {p.rule: p.message for p in problems if p.row is None}
    assert set(summaries) == {
        "not-first-of-month",
        "unknown-category",
        "not-a-number",
        "duplicate-key",
        "removals-exceed-requests",
    }
    assert summaries["not-a-number"].startswith(f"{rows - MAX_ROWS_PER_RULE} more")
    assert len(problems) == 5 * (MAX_ROWS_PER_RULE + 1)


def test_duplicate_key_names_both_rows(tmp_path: Path) -> None:
    usage = BASE_TABLES["usage"] + "0002,2026-01-01,1,1\n0002,2026-01-01,2,2\n"
    folder = make_dataset(tmp_path, usage=usage)

    problems = validate_dataset(folder)

    assert [(p.row, p.message) for p in problems] == [
        (
            8,
            "duplicate key: row 5 has the same client_id, month; each key must "
            "appear once",
        ),
        (
            9,
            "duplicate key: row 5 has the same client_id, month; each key must "
            "appear once",
        ),
    ]


def test_unparsed_cell_not_reported_as_blank(tmp_path: Path) -> None:
    folder = make_dataset(tmp_path, nps=replace_row("nps", "r1,9", "r1,nine"))

    rules = [problem.rule for problem in validate_dataset(folder)]

    assert rules == ["not-a-number"]


def test_row_numbers_count_blank_lines(tmp_path: Path) -> None:
    usage = replace_row(
        "usage", "0002,2026-01-01,6,80\n", "\n,,,\n0002,2026-01-01,-6,80\n"
    )
    folder = make_dataset(tmp_path, usage=usage)

    problems = validate_dataset(folder)

    assert [(problem.row, problem.value) for problem in problems] == [(7, "-6")]


def test_row_numbers_count_quoted_line_breaks(tmp_path: Path) -> None:
    meetings = BASE_TABLES["qbr_meetings"] + '0001,2026-03-20,happy,1,1,"two\nlines"\n'
    folder = make_dataset(tmp_path, qbr_meetings=meetings)

    problems = validate_dataset(folder)

    assert [(problem.row, problem.value) for problem in problems] == [(4, "happy")]


def test_cells_are_trimmed(tmp_path: Path) -> None:
    usage = replace_row("usage", "0002,2026-02-01,5,70", " 0002 , 2026-02-01 , 5 ,70 ")
    folder = make_dataset(tmp_path, usage=usage)

    assert validate_dataset(folder) == []


def test_current_month_accepted(tmp_path: Path) -> None:
    this_month = pd.Timestamp.today().strftime("%Y-%m-01")
    usage = BASE_TABLES["usage"] + f"0001,{this_month},10,10\n"
    folder = make_dataset(tmp_path, usage=usage)

    assert validate_dataset(folder) == []


def test_optional_tables_may_be_empty(tmp_path: Path) -> None:
    headers = {
        name: BASE_TABLES[name].split("\n")[0] + "\n"
        for name in ("nps", "economic_impact", "qbr_meetings", "renewals")
    }
    folder = make_dataset(tmp_path, **headers)

    assert validate_dataset(folder) == []


def test_extra_files_and_folders_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = make_dataset(tmp_path)
    (folder / "_ground_truth").mkdir()
    (folder / "_ground_truth" / "clients.csv").write_text("not,a,table\n")
    (folder / "notes.txt").write_bytes(b"\x00\x01")

    with caplog.at_level(logging.INFO, logger="healthlab"):
        problems = validate_dataset(folder)

    assert problems == []
    assert "Skipping sub-folder" in caplog.text
    assert "_ground_truth" in caplog.text
    assert "notes.txt" in caplog.text


def test_file_name_case_hint(tmp_path: Path) -> None:
    folder = make_dataset(tmp_path)
    (folder / "usage.csv").rename(folder / "Usage.CSV")

    problems = validate_dataset(folder)

    assert len(problems) == 1
    assert "found Usage.CSV: rename it to usage.csv" in problems[0].message


def test_semicolon_separator_hint(tmp_path: Path) -> None:
    folder = make_dataset(tmp_path, renewals=BASE_TABLES["renewals"].replace(",", ";"))

    problems = validate_dataset(folder)

    assert [problem.rule for problem in problems] == ["missing-column"]
    assert "the header is one column, 'client_id;renewal_date;" in problems[0].message
    assert "separate cells with ';': save it with commas" in problems[0].message


def test_duplicate_column_lists_raw_header(tmp_path: Path) -> None:
    usage = BASE_TABLES["usage"].replace("logins", "active_users", 1)
    folder = make_dataset(tmp_path, usage=usage)

    problems = validate_dataset(folder)

    assert [problem.rule for problem in problems] == [
        "duplicate-column",
        "missing-column",
    ]
    assert problems[1].message.endswith(
        "the file has the columns: client_id, month, active_users, active_users"
    )


def test_empty_clients_reported_once(tmp_path: Path) -> None:
    folder = make_dataset(tmp_path, clients=BASE_TABLES["clients"].split("\n")[0])

    problems = validate_dataset(folder)

    assert [(problem.file, problem.rule) for problem in problems] == [
        ("clients.csv", "empty-table")
    ]


def test_unknown_client_leading_zeros_hint(tmp_path: Path) -> None:
    usage = replace_row("usage", "0002,2026-03-01", "2,2026-03-01")
    folder = make_dataset(tmp_path, usage=usage)

    problems = validate_dataset(folder)

    assert len(problems) == 1
    assert problems[0].rule == "unknown-client"
    assert problems[0].value == "2"
    assert re.search(
        r"not in clients\.csv, which has '0002': the leading zeros differ",
        problems[0].message,
    )


def test_one_hidden_row_in_singular(tmp_path: Path) -> None:
    rows = range(1, MAX_ROWS_PER_RULE + 2)
    extra = "".join(f"0001,2026-01-{day:02d},r{day}x,12\n" for day in rows)
    folder = make_dataset(tmp_path, nps=BASE_TABLES["nps"] + extra)

    problems = validate_dataset(folder)

    assert problems[-1].message.startswith("1 more row breaks this rule")


def test_path_is_file(tmp_path: Path) -> None:
    target = tmp_path / "clients.csv"
    target.write_text(BASE_TABLES["clients"])

    problems = validate_dataset(target)

    assert [problem.rule for problem in problems] == ["missing-folder"]
    assert "the path is a file, not a folder" in problems[0].message


def test_parquet_dataset_valid(tmp_path: Path) -> None:
    data = load_dataset(make_dataset(tmp_path / "csv"))
    folder = tmp_path / "parquet"
    folder.mkdir()
    for name in ("clients", "usage", "nps", "operations"):
        data.table(name).to_parquet(folder / f"{name}.parquet")
    for name in ("economic_impact", "qbr_meetings", "renewals"):
        (folder / f"{name}.csv").write_text(BASE_TABLES[name])

    assert validate_dataset(folder) == []


def test_parquet_all_null_optional_column(tmp_path: Path) -> None:
    folder = make_dataset(tmp_path)
    frame = load_dataset(folder).qbr_meetings.assign(internal_notes=None)
    write_parquet(folder, "qbr_meetings", frame)

    assert validate_dataset(folder) == []


def test_validate_frames_loaded_tables(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)
    frames = {name: data.table(name) for name in ("clients", "usage", "nps")}
    frames |= {
        name: pd.read_csv(dataset_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        for name in ("operations", "economic_impact", "qbr_meetings", "renewals")
    }

    assert validate_frames(frames, "memory") == []


def test_validate_frames_problems(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)
    frames = {name: data.table(name) for name in ("clients", "usage", "nps")}
    frames["nps"] = frames["nps"].assign(score=[9, 12, 4])
    frames["usage"] = frames["usage"].drop(columns="logins")

    problems = validate_frames(frames, "memory")

    assert [(p.file, p.rule, p.row, p.column) for p in problems] == [
        ("usage", "missing-column", None, "logins"),
        ("nps", "above-maximum", 3, "score"),
        ("operations", "missing-table", None, None),
        ("economic_impact", "missing-table", None, None),
        ("qbr_meetings", "missing-table", None, None),
        ("renewals", "missing-table", None, None),
    ]
    assert "table missing from memory" in problems[2].message


def test_build_schema_checks_loaded_frame(dataset_dir: Path) -> None:
    import pandera.pandas as pa

    usage = load_dataset(dataset_dir).usage.astype({"active_users": "Int64"})
    usage = usage.astype({"logins": "Int64"})
    schema = build_schema(TABLES["usage"])
    doubled = pd.concat([usage, usage.iloc[:1]], ignore_index=True)

    schema.validate(usage)
    with pytest.raises(pa.errors.SchemaError, match="client_id"):
        schema.validate(doubled)


def test_problem_string_names_everything(tmp_path: Path) -> None:
    folder = _nps_above_ten(tmp_path)

    text = str(validate_dataset(folder)[0])

    assert text == (
        "nps.csv, row 2, column `score`: out of range; `score` must be between "
        "0 and 10 (value: '11') [above-maximum]"
    )


def test_readme_tables_match_model() -> None:
    text = DATA_README.read_text(encoding="utf-8")
    begin = "<!-- BEGIN generated tables -->\n\n"
    end = "\n<!-- END generated tables -->"

    committed = text[text.index(begin) + len(begin) : text.index(end)]

    assert committed == markdown_reference(), (
        "data/README.md is out of date; paste the output of "
        "`python -c 'from healthlab.validation import markdown_reference as m; "
        "print(m())'` between the markers"
    )


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "healthlab", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def test_cli_validate_reports_problems(tmp_path: Path) -> None:
    folder = make_dataset(
        tmp_path,
        nps=replace_row("nps", "r2,7", "r2,7.5"),
        usage=replace_row("usage", "0002,2026-03-01", "0003,2026-03-01"),
    )

    result = _run_cli("validate", str(folder))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "usage.csv, row 7, column `client_id`: unknown client id; it is not in "
        "clients.csv (value: '0003') [unknown-client]",
        "nps.csv, row 3, column `score`: not a whole number (value: '7.5') "
        "[not-an-integer]",
        f"{folder}: 2 problems found.",
    ]


def test_cli_validate_missing_folder(tmp_path: Path) -> None:
    result = _run_cli("validate", str(tmp_path / "absent"))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "dataset folder not found" in result.stderr


def test_cli_validate_bad_mapping(dataset_dir: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("tables:\n  client:\n    file: a.csv\n")

    result = _run_cli("validate", str(dataset_dir), "--mapping", str(mapping))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"Column mapping {mapping} is invalid" in result.stderr
    assert "unknown table `client`" in result.stderr


def test_cli_validate_valid(dataset_dir: Path) -> None:
    result = _run_cli("validate", str(dataset_dir))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{dataset_dir}: valid."


def test_not_a_number_hint(tmp_path: Path) -> None:
    clients = replace_row("clients", "2027-06-01,10,", '2027-06-01,"1,000",')
    folder = make_dataset(tmp_path, clients=clients)

    problems = validate_dataset(folder)

    assert [(problem.rule, problem.value) for problem in problems] == [
        ("not-a-number", "1,000")
    ]
    assert problems[0].message.endswith(
        "no thousands separator or unit, such as 1234.5"
    )
