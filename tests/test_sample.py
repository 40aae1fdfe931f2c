"""Tests for the sample portfolio generator."""

from __future__ import annotations

import importlib
import re
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata, spearmanr

from healthlab._sample.names import HARD_NAMES
from healthlab.errors import ConfigError
from healthlab.sample import GROUND_TRUTH_FOLDER, PortfolioSummary, generate_portfolio
from healthlab.tables import TABLE_NAMES, TABLES

SMALL = {"n_clients": 40, "n_months": 24}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIRST_OF_MONTH = re.compile(r"^\d{4}-\d{2}-01$")


def _read(folder: Path, name: str) -> pd.DataFrame:
    """Read a generated CSV with every cell as text, blanks as NaN."""
    return pd.read_csv(
        folder / f"{name}.csv", dtype=str, keep_default_na=False
    ).replace("", np.nan)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small") / "portfolio"
    generate_portfolio(folder, seed=3, **SMALL)
    return folder


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PortfolioSummary]:
    folder = tmp_path_factory.mktemp("full") / "portfolio"
    started = time.perf_counter()
    summary = generate_portfolio(folder, n_clients=300, n_months=36, seed=0)
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"300 x 36 took {elapsed:.1f} s"
    return folder, summary


@pytest.fixture(scope="module")
def full_tables(full: tuple[Path, PortfolioSummary]) -> dict[str, pd.DataFrame]:
    folder, _ = full
    read = {"dtype": {"client_id": str}}
    tables = {name: pd.read_csv(folder / f"{name}.csv", **read) for name in TABLE_NAMES}
    truth = folder / GROUND_TRUTH_FOLDER
    tables["latent"] = pd.read_csv(truth / "latent_health.csv", **read)
    tables["truth"] = pd.read_csv(truth / "clients.csv", **read)
    return tables


# Determinism


def test_same_seed_identical_files(tmp_path: Path) -> None:
    generate_portfolio(tmp_path / "a", seed=11, **SMALL)
    generate_portfolio(tmp_path / "b", seed=11, **SMALL)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(first) == sorted(second)
    for name in first:
        assert first[name] == second[name], name


def test_different_seeds_differ(tmp_path: Path) -> None:
    generate_portfolio(tmp_path / "a", seed=11, **SMALL)
    generate_portfolio(tmp_path / "b", seed=12, **SMALL)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    for name in ("clients.csv", "usage.csv", "operations.csv", "nps.csv"):
        assert first[name] != second[name], name


def test_writes_expected_files(small: Path) -> None:
    written = set(_files(small))
    expected = {f"{name}.csv" for name in TABLE_NAMES} | {
        f"{GROUND_TRUTH_FOLDER}/latent_health.csv",
        f"{GROUND_TRUTH_FOLDER}/clients.csv",
    }
    assert written == expected


# Conformance to the data model


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_table_columns_match_spec(small: Path, name: str) -> None:
    header = (small / f"{name}.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(TABLES[name].column_names)


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_table_keys_unique(small: Path, name: str) -> None:
    frame = _read(small, name)
    assert len(frame) > 0
    duplicated = frame.duplicated(list(TABLES[name].key))
    assert not duplicated.any(), frame[duplicated].head()


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_table_cells_match_kinds(small: Path, name: str) -> None:
    frame = _read(small, name)
    for column in TABLES[name].columns:
        values = frame[column.name]
        if not column.nullable:
            assert values.notna().all(), column.name
        values = values.dropna()
        if column.kind == "month":
            assert values.str.match(FIRST_OF_MONTH).all(), column.name
        elif column.kind == "date":
            assert values.str.match(ISO_DATE).all(), column.name
        elif column.kind == "int":
            assert values.str.fullmatch(r"\d+").all(), column.name
        elif column.kind == "float":
            assert pd.to_numeric(values).ge(0).all(), column.name
        elif column.kind == "category":
            assert set(values) <= set(column.categories), column.name
        if column.minimum is not None:
            assert pd.to_numeric(values).ge(column.minimum).all(), column.name
        if column.maximum is not None:
            assert pd.to_numeric(values).le(column.maximum).all(), column.name


def test_client_ids_zero_padded(small: Path) -> None:
    ids = _read(small, "clients")["client_id"]
    assert list(ids) == [f"{number:04d}" for number in range(1, 41)]


def test_client_id_width_grows(tmp_path: Path) -> None:
    generate_portfolio(tmp_path / "wide", n_clients=12_000, n_months=1, seed=0)
    ids = _read(tmp_path / "wide", "clients")["client_id"]
    assert ids.iloc[0] == "00001"
    assert ids.iloc[-1] == "12000"
    assert ids.is_unique


def test_client_names_unique_and_hard(small: Path) -> None:
    names = _read(small, "clients")["client_name"]
    assert names.is_unique
    assert set(HARD_NAMES) <= set(names)


def test_removals_never_exceed_requests(small: Path) -> None:
    operations = pd.read_csv(small / "operations.csv", dtype={"client_id": str})
    assert (
        operations["removals_confirmed"] <= operations["enforcement_requested"]
    ).all()
    assert (operations["enforcement_requested"] <= operations["detections"]).all()


def test_days_blank_without_removals(small: Path) -> None:
    operations = pd.read_csv(small / "operations.csv", dtype={"client_id": str})
    has_removals = operations["removals_confirmed"] > 0
    days = operations["median_days_to_removal"]
    assert days[~has_removals].isna().all()
    assert days[has_removals].notna().all()
    assert (days[has_removals] > 0).all()


def test_nps_scores_integers_0_to_10(small: Path) -> None:
    scores = _read(small, "nps")["score"]
    assert scores.str.fullmatch(r"\d{1,2}").all()
    assert scores.astype(int).between(0, 10).all()


def test_objectives_met_within_total(small: Path) -> None:
    meetings = pd.read_csv(small / "qbr_meetings.csv", dtype={"client_id": str})
    assert (meetings["objectives_met"] <= meetings["objectives_total"]).all()


def test_renewal_after_contract_start(small: Path) -> None:
    clients = _read(small, "clients")
    assert (clients["renewal_date"] > clients["contract_start"]).all()


# Time: churn, renewals and the history window


def _client_dates(folder: Path) -> pd.DataFrame:
    clients = pd.read_csv(
        folder / "clients.csv",
        dtype={"client_id": str},
        parse_dates=["contract_start", "renewal_date"],
    )
    renewals = pd.read_csv(
        folder / "renewals.csv", dtype={"client_id": str}, parse_dates=["renewal_date"]
    )
    churn = renewals[renewals["outcome"] == "churned"].set_index("client_id")
    clients["churn_date"] = clients["client_id"].map(churn["renewal_date"])
    return clients.set_index("client_id")


_DATED = {
    "usage": "month",
    "operations": "month",
    "economic_impact": "month",
    "nps": "response_date",
    "qbr_meetings": "meeting_date",
}


@pytest.mark.parametrize("name", sorted(_DATED))
def test_no_data_after_churn(small: Path, name: str) -> None:
    clients = _client_dates(small)
    column = _DATED[name]
    frame = pd.read_csv(
        small / f"{name}.csv", dtype={"client_id": str}, parse_dates=[column]
    )
    churn = frame["client_id"].map(clients["churn_date"])
    after = frame[churn.notna() & (frame[column] >= churn)]
    assert after.empty, after.head()


@pytest.mark.parametrize("name", sorted(_DATED))
def test_data_within_contract_and_history(small: Path, name: str) -> None:
    clients = _client_dates(small)
    column = _DATED[name]
    frame = pd.read_csv(
        small / f"{name}.csv", dtype={"client_id": str}, parse_dates=[column]
    )
    start = frame["client_id"].map(clients["contract_start"])
    if TABLES[name].column(column).kind == "month":
        start = start.dt.to_period("M").dt.to_timestamp()
    assert (frame[column] >= start).all()
    assert (frame[column] >= pd.Timestamp("2024-10-01")).all()
    assert (frame[column] <= pd.Timestamp("2026-09-30")).all()


def test_churned_clients_stop_at_churn(small: Path) -> None:
    clients = _client_dates(small)
    usage = pd.read_csv(small / "usage.csv", dtype={"client_id": str})
    last_month = usage.groupby("client_id")["month"].max()
    churned = clients[clients["churn_date"].notna()]
    assert len(churned) > 0
    for client_id, row in churned.iterrows():
        # The contract ends on the churn date, so the last month with data is
        # the one holding the day before it.
        expected = (row["churn_date"] - pd.Timedelta(days=1)).strftime("%Y-%m-01")
        assert last_month[client_id] == expected, client_id
        assert row["renewal_date"] == row["churn_date"], client_id


def test_active_clients_reach_last_month(small: Path) -> None:
    clients = _client_dates(small)
    usage = pd.read_csv(small / "usage.csv", dtype={"client_id": str})
    last_month = usage.groupby("client_id")["month"].max()
    active = clients.index[clients["churn_date"].isna()]
    assert (last_month[active] == "2026-09-01").all()
    assert (clients.loc[active, "renewal_date"] > pd.Timestamp("2026-09-30")).all()


def test_renewals_on_anniversaries(small: Path) -> None:
    clients = _client_dates(small)
    renewals = pd.read_csv(
        small / "renewals.csv", dtype={"client_id": str}, parse_dates=["renewal_date"]
    )
    start = renewals["client_id"].map(clients["contract_start"])
    renewal = renewals["renewal_date"]
    assert (renewal.dt.month == start.dt.month).all()
    assert (renewal.dt.day == start.dt.day).all()
    assert (renewal.dt.year > start.dt.year).all()
    assert (renewals["arr_usd"] > 0).all()


def test_every_anniversary_decided(small: Path) -> None:
    clients = _client_dates(small)
    renewals = pd.read_csv(
        small / "renewals.csv", dtype={"client_id": str}, parse_dates=["renewal_date"]
    )
    history_start, as_of = pd.Timestamp("2024-10-01"), pd.Timestamp("2026-09-30")
    for client_id, row in clients.iterrows():
        stop = row["churn_date"] if pd.notna(row["churn_date"]) else as_of
        start = row["contract_start"]
        expected = [
            start + pd.DateOffset(years=years)
            for years in range(1, 40)
            if history_start < start + pd.DateOffset(years=years) <= stop
        ]
        decided = renewals.loc[renewals["client_id"] == client_id, "renewal_date"]
        assert list(decided) == expected, client_id
        outcomes = renewals.loc[renewals["client_id"] == client_id, "outcome"]
        assert (outcomes.iloc[:-1] == "renewed").all(), client_id


def test_some_clients_start_in_history(small: Path) -> None:
    clients = _client_dates(small)
    assert (clients["contract_start"] >= pd.Timestamp("2024-10-01")).any()
    assert (clients["contract_start"] < pd.Timestamp("2024-10-01")).any()


def test_end_month_moves_history(tmp_path: Path) -> None:
    summary = generate_portfolio(tmp_path / "p", end_month="2025-03", seed=1, **SMALL)
    assert summary.first_month == date(2023, 4, 1)
    assert summary.last_month == date(2025, 3, 1)
    usage = _read(tmp_path / "p", "usage")
    assert usage["month"].max() == "2025-03-01"
    assert usage["month"].min() == "2023-04-01"


# Ground truth


def test_latent_health_matches_usage_rows(small: Path) -> None:
    latent = pd.read_csv(
        small / GROUND_TRUTH_FOLDER / "latent_health.csv", dtype={"client_id": str}
    )
    usage = pd.read_csv(small / "usage.csv", dtype={"client_id": str})
    assert list(latent.columns) == ["client_id", "month", "latent_health"]
    assert latent[["client_id", "month"]].equals(usage[["client_id", "month"]])
    assert latent["latent_health"].between(0, 100).all()


def test_truth_clients_match_churn(small: Path) -> None:
    truth = pd.read_csv(
        small / GROUND_TRUTH_FOLDER / "clients.csv",
        dtype=str,
        keep_default_na=False,
    )
    clients = _client_dates(small)
    assert list(truth["client_id"]) == list(clients.index)
    churn = clients["churn_date"].dt.strftime("%Y-%m-%d").fillna("")
    assert list(truth["churn_date"]) == list(churn)
    assert list(truth["churned"] == "True") == list(clients["churn_date"].notna())


# The output folder


def test_rejects_non_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    # --force would not help, so the message must not suggest it alone.
    with pytest.raises(ConfigError, match=r"notes\.txt\), so it is not replaced even"):
        generate_portfolio(folder, **SMALL)
    assert _files(folder) == {"notes.txt": b"keep me"}


def test_rejects_existing_dataset_without_force(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    generate_portfolio(folder, seed=1, **SMALL)
    before = _files(folder)
    with pytest.raises(ConfigError, match="already contains a dataset.*--force"):
        generate_portfolio(folder, seed=2, **SMALL)
    assert _files(folder) == before


def test_fills_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    generate_portfolio(folder, **SMALL)
    assert (folder / "usage.csv").is_file()


def test_overwrite_replaces_dataset(tmp_path: Path) -> None:
    generate_portfolio(tmp_path / "data", seed=1, **SMALL)
    generate_portfolio(tmp_path / "fresh", seed=2, **SMALL)
    generate_portfolio(tmp_path / "data", seed=2, overwrite=True, **SMALL)
    assert _files(tmp_path / "data") == _files(tmp_path / "fresh")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "fresh"]


def test_overwrite_keeps_foreign_files(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    generate_portfolio(folder, seed=1, **SMALL)
    (folder / "thesis.docx").write_text("three years of work")
    before = _files(folder)
    with pytest.raises(ConfigError, match=r"thesis\.docx.*not replaced"):
        generate_portfolio(folder, overwrite=True, **SMALL)
    assert _files(folder) == before


def test_overwrite_keeps_hidden_folders(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    generate_portfolio(folder, seed=1, **SMALL)
    (folder / ".git").mkdir()
    with pytest.raises(ConfigError, match=r"\.git.*not replaced"):
        generate_portfolio(folder, overwrite=True, **SMALL)
    assert (folder / ".git").is_dir()


def test_overwrite_drops_hidden_files(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    generate_portfolio(folder, seed=1, **SMALL)
    (folder / ".DS_Store").write_bytes(b"\0")
    generate_portfolio(folder, seed=2, overwrite=True, **SMALL)
    assert not (folder / ".DS_Store").exists()
    assert (folder / "usage.csv").is_file()


def test_overwrite_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_portfolio(tmp_path / "data", seed=1, **SMALL)
    generate_portfolio(tmp_path / "fresh", seed=2, **SMALL)
    monkeypatch.chdir(tmp_path / "data")
    generate_portfolio(".", seed=2, overwrite=True, **SMALL)
    assert _files(tmp_path / "data") == _files(tmp_path / "fresh")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "fresh"]


def test_rejects_file_as_folder(tmp_path: Path) -> None:
    target = tmp_path / "data.csv"
    target.write_text("x")
    with pytest.raises(ConfigError, match=r"data\.csv: it is a file"):
        generate_portfolio(target, **SMALL)


def test_rejects_folder_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep me")
    with pytest.raises(ConfigError, match=r"notes\.txt is a file, not a folder"):
        generate_portfolio(blocker / "data", **SMALL)
    assert blocker.read_text() == "keep me"


def test_failed_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data"
    generate_portfolio(folder, seed=1, **SMALL)
    before = _files(folder)
    original = pd.DataFrame.to_csv

    def fail_on_ground_truth(frame: pd.DataFrame, path: object, **kwargs: object):
        if Path(str(path)).parent.name == GROUND_TRUTH_FOLDER:
            raise OSError("disk full")
        return original(frame, path, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_on_ground_truth)
    with pytest.raises(OSError, match="disk full"):
        generate_portfolio(folder, seed=2, overwrite=True, **SMALL)
    with pytest.raises(OSError, match="disk full"):
        generate_portfolio(tmp_path / "new", seed=2, **SMALL)
    assert _files(folder) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_clients": 0}, "number of clients 0"),
        ({"n_months": 0}, "number of months 0"),
        ({"seed": -1}, "seed -1"),
        ({"end_month": "2026-13"}, "end_month.*2026-13.*YYYY-MM"),
        ({"end_month": "Sept 2026"}, "end_month.*Sept 2026"),
    ],
)
def test_rejects_invalid_arguments(
    tmp_path: Path, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        generate_portfolio(tmp_path / "data", **arguments)  # type: ignore[arg-type]
    assert not (tmp_path / "data").exists()


def test_summary_text(tmp_path: Path) -> None:
    summary = generate_portfolio(tmp_path / "data", seed=4, **SMALL)
    text = str(summary)
    assert 2 <= len(text.splitlines()) <= 3
    assert str(tmp_path / "data") in text
    assert "40 clients, 24 months (2024-10 to 2026-09), seed 4" in text
    assert f"annual churn {summary.annual_churn_rate:.1%}" in text
    assert summary.clients == 40
    assert summary.churned_clients <= summary.renewals


def test_tiny_portfolio(tmp_path: Path) -> None:
    summary = generate_portfolio(tmp_path / "data", n_clients=1, n_months=1)
    assert summary.clients == 1
    assert len(_read(tmp_path / "data", "clients")) == 1


def test_passes_validation(small: Path) -> None:
    try:
        validation = importlib.import_module("healthlab.validation")
    except ModuleNotFoundError:
        pytest.skip("healthlab.validation does not exist yet")
    try:
        problems = validation.validate_dataset(small)
    except NotImplementedError:
        pytest.skip("healthlab.validation.validate_dataset is still a stub")
    assert problems == []


# Behaviour of a full-size portfolio (300 clients x 36 months)


def test_annual_churn_rate_sane(full: tuple[Path, PortfolioSummary]) -> None:
    _, summary = full
    assert 0.06 <= summary.annual_churn_rate <= 0.20
    assert summary.renewals > 400


def test_csms_own_20_to_40_clients(full_tables: dict[str, pd.DataFrame]) -> None:
    owned = full_tables["clients"]["csm"].value_counts()
    assert owned.between(20, 40).all(), owned


def test_segments_scale_contracts(full_tables: dict[str, pd.DataFrame]) -> None:
    medians = (
        full_tables["clients"]
        .groupby("segment")[["arr_usd", "licensed_seats"]]
        .median()
    )
    assert medians.loc["enterprise", "arr_usd"] > medians.loc["mid_market", "arr_usd"]
    assert medians.loc["mid_market", "arr_usd"] > medians.loc["smb", "arr_usd"]
    assert (
        medians.loc["enterprise", "licensed_seats"]
        > medians.loc["smb", "licensed_seats"]
    )


def test_nps_response_rates_realistic(full_tables: dict[str, pd.DataFrame]) -> None:
    clients, nps = full_tables["clients"], full_tables["nps"]
    responses = (
        nps.groupby("client_id").size().reindex(clients["client_id"], fill_value=0)
    )
    by_segment = responses.groupby(clients.set_index("client_id")["segment"]).mean()
    assert (responses == 0).mean() >= 0.05
    assert by_segment["enterprise"] > 2 * by_segment["smb"]


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUC by the Mann-Whitney rank formula."""
    ranks = rankdata(scores)
    positives = labels.sum()
    negatives = len(labels) - positives
    return float(
        (ranks[labels].sum() - positives * (positives + 1) / 2)
        / (positives * negatives)
    )


def test_churn_follows_latent_health(full_tables: dict[str, pd.DataFrame]) -> None:
    latent, renewals = full_tables["latent"], full_tables["renewals"]
    latent = latent.assign(month=pd.to_datetime(latent["month"]))
    renewals = renewals.assign(renewal_date=pd.to_datetime(renewals["renewal_date"]))
    # Mean latent health of the three months before each renewal.
    before = []
    for row in renewals.itertuples():
        months = latent[
            (latent["client_id"] == row.client_id)
            & (latent["month"] < row.renewal_date)
            & (latent["month"] >= row.renewal_date - pd.DateOffset(months=3))
        ]
        before.append(months["latent_health"].mean())
    health = np.array(before)
    churned = (renewals["outcome"] == "churned").to_numpy()
    known = ~np.isnan(health)
    assert _auc(churned[known], -health[known]) > 0.8


def test_churned_clients_mostly_decline(full_tables: dict[str, pd.DataFrame]) -> None:
    truth = full_tables["truth"]
    churned = truth[truth["churned"]]
    assert (churned["episodes"] > 0).mean() > 0.6


def _monthly_signals(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    clients = tables["clients"].set_index("client_id")
    frame = tables["latent"].merge(tables["usage"]).merge(tables["economic_impact"])
    operations = (
        tables["operations"]
        .groupby(["client_id", "month"])[
            ["enforcement_requested", "removals_confirmed"]
        ]
        .sum()
    )
    frame = frame.merge(operations.reset_index())
    seats = frame["client_id"].map(clients["licensed_seats"])
    arr = frame["client_id"].map(clients["arr_usd"])
    frame["utilisation"] = frame["active_users"] / seats
    frame["success"] = frame["removals_confirmed"] / frame[
        "enforcement_requested"
    ].where(frame["enforcement_requested"] > 0)
    frame["impact"] = (
        frame["removals_confirmed"]
        * frame["avg_listing_price_usd"]
        * frame["est_units_per_listing"]
        / arr
    )
    return frame


@pytest.mark.parametrize(
    ("signal", "minimum"),
    [("utilisation", 0.4), ("success", 0.2), ("impact", 0.3), ("logins", 0.15)],
)
def test_monthly_signal_tracks_latent(
    full_tables: dict[str, pd.DataFrame], signal: str, minimum: float
) -> None:
    frame = _monthly_signals(full_tables).dropna(subset=[signal])
    correlation = spearmanr(frame["latent_health"], frame[signal]).statistic
    assert correlation > minimum


def _with_latent(
    tables: dict[str, pd.DataFrame], name: str, column: str
) -> pd.DataFrame:
    frame = tables[name].copy()
    frame["month"] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-01")
    return frame.merge(tables["latent"], on=["client_id", "month"])


def test_nps_tracks_latent(full_tables: dict[str, pd.DataFrame]) -> None:
    frame = _with_latent(full_tables, "nps", "response_date")
    assert spearmanr(frame["latent_health"], frame["score"]).statistic > 0.3


def test_qbr_tracks_latent(full_tables: dict[str, pd.DataFrame]) -> None:
    frame = _with_latent(full_tables, "qbr_meetings", "meeting_date")
    mood = frame["sentiment"].map({"negative": -1, "neutral": 0, "positive": 1})
    met = frame["objectives_met"] / frame["objectives_total"]
    assert spearmanr(frame["latent_health"], mood).statistic > 0.3
    assert spearmanr(frame["latent_health"], met).statistic > 0.2
    competitor = frame["internal_notes"].str.contains("competitor", na=False)
    assert competitor.any()
    assert (
        frame.loc[competitor, "latent_health"].mean()
        < frame["latent_health"].mean() - 10
    )


def test_qbrs_missed_when_unhealthy(full_tables: dict[str, pd.DataFrame]) -> None:
    meetings = _with_latent(full_tables, "qbr_meetings", "meeting_date")
    held = meetings.groupby("client_id").size()
    latent = full_tables["latent"].groupby("client_id")["latent_health"]
    months = latent.size()
    per_year = (held.reindex(months.index, fill_value=0) / months * 12)[months >= 12]
    low = latent.mean()[per_year.index] < 50
    assert per_year[~low].mean() > 3.0
    assert per_year[low].mean() < per_year[~low].mean() - 0.5


def test_emerging_channels_ramp_up(full_tables: dict[str, pd.DataFrame]) -> None:
    truth = full_tables["truth"].dropna(subset=["emerging_channel"])
    operations = full_tables["operations"]
    assert len(truth) >= 10
    ratios = []
    for row in truth.itertuples():
        channel = operations[
            (operations["client_id"] == row.client_id)
            & (operations["channel"] == row.emerging_channel)
        ]
        monthly = channel.groupby("month")["detections"].sum()
        before = monthly[monthly.index < row.emerging_from]
        ratios.append((monthly.iloc[-3:].mean() + 1) / (before.mean() + 1))
    assert np.median(ratios) > 4
