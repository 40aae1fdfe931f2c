"""Tests of healthlab.dataset: typed tables, per-client views and the last month."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pandas as pd
import pytest
from dataset_factory import BASE_TABLES, make_dataset

from healthlab.dataset import Dataset, load_dataset
from healthlab.errors import DataValidationError, HealthlabError, ParameterError
from healthlab.tables import TABLES

EXPECTED_DTYPES = {
    "str": "str",
    "category": "str",
    "int": "int64",
    "float": "float64",
    "date": "datetime64[ns]",
    "month": "datetime64[ns]",
}


def test_fields_match_tables() -> None:
    names = [field.name for field in dataclasses.fields(Dataset)]

    assert names == ["source", *TABLES]


def test_load_gives_documented_dtypes(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)

    for table in TABLES.values():
        frame = data.table(table.name)
        assert list(frame.columns) == list(table.column_names)
        for column in table.columns:
            expected = EXPECTED_DTYPES[column.kind]
            assert frame[column.name].dtype == expected, (table.name, column.name)


def test_load_values(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)

    assert data.source == dataset_dir
    assert data.clients["client_id"].tolist() == ["0001", "0002"]
    assert data.clients["client_name"].tolist() == ["Acme & Co", "Blue Owl"]
    assert data.clients["licensed_seats"].tolist() == [50, 10]
    assert data.usage["month"].tolist() == list(
        pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"] * 2)
    )
    notes = data.qbr_meetings["internal_notes"]
    assert notes.iloc[0] == "Wants marketplace coverage in Japan, too"
    assert pd.isna(notes.iloc[1])
    days = data.operations["median_days_to_removal"]
    assert int(days.isna().sum()) == 2


def test_ids_stay_text(tmp_path: Path) -> None:
    tables = {name: BASE_TABLES[name].replace("0002", "007") for name in BASE_TABLES}
    data = load_dataset(make_dataset(tmp_path, **tables))

    assert data.clients["client_id"].tolist() == ["0001", "007"]
    assert "007" in set(data.operations["client_id"])
    assert data.for_client("007").usage["active_users"].tolist() == [6, 5, 4]


def test_tables_sorted_by_key(tmp_path: Path) -> None:
    header, *rows = BASE_TABLES["usage"].strip().split("\n")
    shuffled = "\n".join([header, *reversed(rows)]) + "\n"
    data = load_dataset(make_dataset(tmp_path, usage=shuffled))

    usage = data.usage
    assert usage.index.equals(pd.RangeIndex(len(usage)))
    assert usage[["client_id", "month"]].equals(
        usage[["client_id", "month"]].sort_values(["client_id", "month"])
    )


def test_dates_drop_time_of_day(tmp_path: Path) -> None:
    nps = BASE_TABLES["nps"].replace("2026-02-20", "2026-02-20T16:45:00")
    data = load_dataset(make_dataset(tmp_path, nps=nps))

    assert data.nps["response_date"].iloc[1] == pd.Timestamp("2026-02-20")


def test_load_parquet_equals_csv(tmp_path: Path) -> None:
    from_csv = load_dataset(make_dataset(tmp_path / "csv"))
    folder = tmp_path / "parquet"
    folder.mkdir()
    for name in TABLES:
        from_csv.table(name).to_parquet(folder / f"{name}.parquet")

    from_parquet = load_dataset(folder)

    for name in TABLES:
        pd.testing.assert_frame_equal(from_parquet.table(name), from_csv.table(name))


def test_load_parquet_storage_variants(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = make_dataset(tmp_path)
    data = load_dataset(folder)
    operations = data.operations.assign(
        channel=data.operations["channel"].astype("category"),
        month=data.operations["month"].dt.tz_localize("UTC"),
    )
    operations.set_index("client_id").to_parquet(folder / "operations.parquet")
    nps = data.nps.assign(response_date=data.nps["response_date"].dt.date)
    pq.write_table(
        pa.Table.from_pandas(nps, preserve_index=False), folder / "nps.parquet"
    )
    (folder / "operations.csv").unlink()
    (folder / "nps.csv").unlink()

    reloaded = load_dataset(folder)

    pd.testing.assert_frame_equal(reloaded.operations, data.operations)
    pd.testing.assert_frame_equal(reloaded.nps, data.nps)


def test_load_mapped_file_in_subfolder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from healthlab.mapping import ColumnMapping, TableMapping

    folder = make_dataset(tmp_path)
    (folder / "exports").mkdir()
    (folder / "usage.csv").rename(folder / "exports" / "usage-2026.csv")
    mapping = ColumnMapping(
        tables={"usage": TableMapping(file="exports/usage-2026.csv")}
    )

    with caplog.at_level(logging.INFO, logger="healthlab"):
        data = load_dataset(folder, mapping=mapping)

    assert len(data.usage) == 6
    assert "exports" not in caplog.text


def test_load_invalid_raises(tmp_path: Path) -> None:
    folder = make_dataset(tmp_path, usage=None)

    with pytest.raises(DataValidationError, match=r"usage\.csv or usage\.parquet"):
        load_dataset(folder)


def test_for_client_rows(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)

    client = data.for_client("0002")

    assert client.source == data.source
    for name in TABLES:
        frame = client.table(name)
        assert set(frame["client_id"]) <= {"0002"}
        expected = data.table(name)[data.table(name)["client_id"] == "0002"]
        assert len(frame) == len(expected), name
        assert frame.index.equals(pd.RangeIndex(len(frame)))
    assert client.clients["client_name"].tolist() == ["Blue Owl"]
    assert len(client.operations) == 6


def test_for_client_without_rows_keeps_dtypes(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)

    renewals = data.for_client("0002").renewals

    assert renewals.empty
    assert renewals.dtypes.equals(data.renewals.dtypes)


def test_for_client_unknown(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)

    with pytest.raises(ParameterError, match=r"Client '0003' is not in the clients"):
        data.for_client("0003")


def test_for_client_leaves_dataset_unchanged(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)
    before = data.operations.copy()

    client = data.for_client("0001")
    client.operations.loc[0, "detections"] = -1

    pd.testing.assert_frame_equal(data.operations, before)


def test_last_month(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)

    assert data.last_month == pd.Timestamp("2026-03-01")


def test_last_month_of_client_that_left(tmp_path: Path) -> None:
    usage = BASE_TABLES["usage"].replace("0002,2026-03-01,4,52\n", "")
    operations = "".join(
        line + "\n"
        for line in BASE_TABLES["operations"].splitlines()
        if not line.startswith("0002,2026-03-01")
    )
    data = load_dataset(make_dataset(tmp_path, usage=usage, operations=operations))

    assert data.last_month == pd.Timestamp("2026-03-01")
    assert data.for_client("0002").last_month == pd.Timestamp("2026-02-01")


def test_last_month_uses_operations(tmp_path: Path) -> None:
    operations = BASE_TABLES["operations"] + (
        "0001,2026-04-01,marketplace,counterfeit,1,1,1,2\n"
    )
    data = load_dataset(make_dataset(tmp_path, operations=operations))

    assert data.last_month == pd.Timestamp("2026-04-01")


def test_last_month_without_data(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)
    empty = dataclasses.replace(
        data, usage=data.usage.iloc[0:0], operations=data.operations.iloc[0:0]
    )

    with pytest.raises(HealthlabError, match="has no usage or operations rows"):
        _ = empty.last_month


def test_for_client_many_clients(dataset_dir: Path) -> None:
    data = load_dataset(dataset_dir)
    ids = [f"{number:04d}" for number in range(300)]
    months = pd.date_range("2024-01-01", periods=36, freq="MS")
    grid = pd.MultiIndex.from_product([ids, months], names=["client_id", "month"])
    usage = grid.to_frame(index=False).assign(active_users=1, logins=1)
    operations = pd.concat([usage] * 25, ignore_index=True)
    big = dataclasses.replace(
        data,
        clients=pd.DataFrame({"client_id": ids}),
        usage=usage,
        operations=operations,
        nps=data.nps.iloc[0:0],
    )

    views = [big.for_client(client_id) for client_id in ids]

    assert [len(view.operations) for view in views] == [36 * 25] * 300
    for client_id, view in zip(ids, views, strict=True):
        assert view.usage["client_id"].eq(client_id).all()
