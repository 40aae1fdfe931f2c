"""Tests for the five component scores and their month grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from healthlab.components import (
    EVIDENCE_COLUMNS,
    compute_components,
    impact_score,
    impact_usd,
    monthly_impact,
)
from healthlab.dataset import Dataset
from healthlab.model import COMPONENTS, ScoreModel, load_model
from healthlab.tables import CHANNELS, INFRINGEMENT_TYPES, SENTIMENTS, TABLES

DATE_COLUMNS = {
    "usage": "month",
    "operations": "month",
    "economic_impact": "month",
    "nps": "response_date",
    "qbr_meetings": "meeting_date",
    "renewals": "renewal_date",
}


def build_dataset(**rows: list[dict[str, Any]]) -> Dataset:
    """Build a Dataset from row dicts per table, with the loader's dtypes."""
    frames: dict[str, pd.DataFrame] = {}
    for name, table in TABLES.items():
        frame = pd.DataFrame(rows.get(name, []), columns=list(table.column_names))
        for column in table.columns:
            values = frame[column.name]
            if column.kind in ("date", "month"):
                frame[column.name] = pd.to_datetime(values).astype("datetime64[ns]")
            elif column.kind == "int":
                frame[column.name] = values.astype(np.int64)
            elif column.kind == "float":
                frame[column.name] = values.astype(np.float64)
            else:
                frame[column.name] = values.astype("str")
        frames[name] = frame
    return Dataset(source=Path("in-memory"), **frames)


def client(client_id: str, **fields: Any) -> dict[str, Any]:
    """Return a clients row with plausible defaults."""
    row = {
        "client_id": client_id,
        "client_name": f"Brand {client_id}",
        "segment": "enterprise",
        "tier": "standard",
        "arr_usd": 120_000.0,
        "contract_start": "2024-01-15",
        "renewal_date": "2025-01-15",
        "licensed_seats": 10,
        "csm": "csm-a",
    }
    row.update(fields)
    return row


def operation(client_id: str, month: str, requested: int, removed: int, **fields: Any):
    row = {
        "client_id": client_id,
        "month": month,
        "channel": "marketplace",
        "infringement_type": "counterfeit",
        "detections": requested * 2,
        "enforcement_requested": requested,
        "removals_confirmed": removed,
        "median_days_to_removal": 3.0,
    }
    row.update(fields)
    return row


def usage(client_id: str, month: str, active_users: int) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "month": month,
        "active_users": active_users,
        "logins": active_users * 5,
    }


def response(client_id: str, date: str, score: int, respondent: str = "r1"):
    return {
        "client_id": client_id,
        "response_date": date,
        "respondent_id": respondent,
        "score": score,
    }


def meeting(client_id: str, date: str, sentiment: str, met: int, total: int):
    return {
        "client_id": client_id,
        "meeting_date": date,
        "sentiment": sentiment,
        "objectives_met": met,
        "objectives_total": total,
        "internal_notes": "",
    }


def impact_inputs(client_id: str, month: str, price: float, units: float):
    return {
        "client_id": client_id,
        "month": month,
        "avg_listing_price_usd": price,
        "est_units_per_listing": units,
    }


def random_dataset(seed: int, n_clients: int = 6, n_months: int = 14) -> Dataset:
    """Build a random but valid dataset starting January 2023."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2023-01-01", periods=n_months, freq="MS")
    tables: dict[str, list[dict[str, Any]]] = {
        name: [] for name in TABLES if name != "clients"
    }
    clients = []
    for number in range(n_clients):
        cid = f"{number:04d}"
        begin = int(rng.integers(0, n_months // 2))
        start = months[begin] + pd.Timedelta(days=int(rng.integers(0, 27)))
        seats = int(rng.integers(1, 40))
        clients.append(
            client(
                cid,
                contract_start=start,
                renewal_date=start + pd.DateOffset(years=1),
                licensed_seats=seats,
                segment=str(rng.choice(["enterprise", "smb"])),
                arr_usd=float(rng.integers(0, 4)) * 50_000.0,
            )
        )
        for month in months[max(begin - 1, 0) :]:
            if rng.random() < 0.85:
                tables["usage"].append(
                    usage(cid, month, int(rng.integers(0, seats + 3)))
                )
            for channel in rng.choice(CHANNELS, size=int(rng.integers(0, 3))):
                requested = int(rng.integers(0, 30))
                tables["operations"].append(
                    operation(
                        cid,
                        month,
                        requested,
                        int(rng.integers(0, requested + 1)),
                        channel=str(channel),
                        infringement_type=str(rng.choice(INFRINGEMENT_TYPES)),
                    )
                )
            if rng.random() < 0.7:
                tables["economic_impact"].append(
                    impact_inputs(
                        cid, month, float(rng.uniform(5, 200)), float(rng.uniform(1, 9))
                    )
                )
            for index in range(int(rng.poisson(0.8))):
                day = month + pd.Timedelta(days=int(rng.integers(0, 27)))
                tables["nps"].append(
                    response(cid, day, int(rng.integers(0, 11)), f"r{index}")
                )
            if rng.random() < 0.3:
                total = int(rng.integers(0, 5))
                tables["qbr_meetings"].append(
                    meeting(
                        cid,
                        month + pd.Timedelta(days=int(rng.integers(0, 27))),
                        str(rng.choice(SENTIMENTS)),
                        int(rng.integers(0, total + 1)),
                        total,
                    )
                )
        if rng.random() < 0.3:
            churn = months[int(rng.integers(begin, n_months))] + pd.Timedelta(days=20)
            tables["renewals"].append(
                {
                    "client_id": cid,
                    "renewal_date": churn,
                    "outcome": "churned",
                    "arr_usd": 1.0,
                }
            )
    return build_dataset(clients=clients, **tables)


def truncate(data: Dataset, last_month: str) -> Dataset:
    """Keep only the rows of dated tables on or before the end of ``last_month``."""
    cutoff = pd.Timestamp(last_month) + pd.offsets.MonthEnd(0)
    kept = {
        name: data.table(name)[data.table(name)[column] <= cutoff]
        for name, column in DATE_COLUMNS.items()
    }
    return Dataset(source=data.source, clients=data.clients, **kept)


@pytest.fixture
def model() -> ScoreModel:
    return load_model()


def row(frame: pd.DataFrame, client_id: str, month: str) -> pd.Series:
    selected = frame[(frame["client_id"] == client_id) & (frame["month"] == month)]
    assert len(selected) == 1, f"expected one row for {client_id} {month}"
    return selected.iloc[0]


def wilson_lower(successes: int, trials: int, confidence: float = 0.95) -> float:
    lower, _ = proportion_confint(
        successes, trials, alpha=1 - confidence, method="wilson"
    )
    return float(lower)


# A small portfolio whose component values are worked out by hand below.
HAND = build_dataset(
    clients=[
        client("001"),
        client(
            "002",
            segment="smb",
            arr_usd=60_000.0,
            contract_start="2023-06-01",
            renewal_date="2024-03-31",
            licensed_seats=4,
        ),
    ],
    usage=[
        usage("001", "2024-01-01", 8),
        usage("001", "2024-02-01", 6),
        usage("001", "2024-03-01", 4),
        usage("001", "2024-04-01", 10),
        usage("002", "2024-01-01", 4),
        usage("002", "2024-02-01", 2),
        usage("002", "2024-03-01", 1),
        usage("002", "2024-04-01", 1),
    ],
    operations=[
        operation("001", "2024-01-01", 10, 9),
        operation("001", "2024-02-01", 6, 5, channel="social_media"),
        operation("001", "2024-02-01", 4, 3, infringement_type="impersonation"),
        operation("001", "2024-04-01", 20, 20, channel="website"),
        operation("002", "2024-01-01", 5, 1),
    ],
    economic_impact=[
        impact_inputs("001", "2024-01-01", 50.0, 10.0),
        impact_inputs("001", "2024-02-01", 40.0, 5.0),
        impact_inputs("001", "2024-04-01", 100.0, 2.0),
    ],
    nps=[
        response("001", "2024-01-20", 10),
        response("001", "2024-02-03", 5),
        response("001", "2024-03-31", 8),
        response("002", "2024-01-05", 9, "r1"),
        response("002", "2024-01-06", 9, "r2"),
        response("002", "2024-02-28", 0),
    ],
    qbr_meetings=[
        meeting("001", "2024-02-20", "positive", 3, 4),
        meeting("002", "2024-01-10", "negative", 0, 0),
    ],
    renewals=[
        {
            "client_id": "002",
            "renewal_date": "2024-03-31",
            "outcome": "churned",
            "arr_usd": 60_000.0,
        }
    ],
)


@pytest.fixture(scope="module")
def hand() -> pd.DataFrame:
    return compute_components(HAND, load_model())


def test_grid_rows_and_columns(hand: pd.DataFrame) -> None:
    assert list(hand.columns) == ["client_id", "month", *COMPONENTS, *EVIDENCE_COLUMNS]
    months = hand.groupby("client_id")["month"].agg(list).to_dict()
    assert months["001"] == list(pd.date_range("2024-01-01", "2024-04-01", freq="MS"))
    # 002 churned at its 2024-03-31 renewal, so its April usage row is dropped.
    assert months["002"] == list(pd.date_range("2024-01-01", "2024-03-01", freq="MS"))
    assert hand["month"].dtype == "datetime64[ns]"
    assert hand["client_id"].tolist()[0] == "001"


def test_grid_churn_on_first_of_month() -> None:
    churn = {
        "client_id": "1",
        "renewal_date": "2024-03-01",
        "outcome": "churned",
        "arr_usd": 1.0,
    }
    data = build_dataset(
        clients=[client("1", renewal_date="2024-03-01"), client("2")],
        usage=[usage(cid, "2024-03-01", 1) for cid in ("1", "2")]
        + [usage("1", "2024-01-01", 1)],
        renewals=[churn],
    )
    frame = compute_components(data, load_model())
    # The contract ended on 1 March, so February is the client's last month.
    months = frame[frame["client_id"] == "1"]["month"].dt.strftime("%Y-%m")
    assert months.tolist() == ["2024-01", "2024-02"]


def test_grid_starts_at_contract_start() -> None:
    data = build_dataset(
        clients=[client("7", contract_start="2024-03-02")],
        usage=[usage("7", "2024-01-01", 99), usage("7", "2024-03-01", 5)],
    )
    frame = compute_components(data, load_model())
    assert frame["month"].tolist() == [pd.Timestamp("2024-03-01")]
    # The pilot month before the contract is ignored: 5 users of 10 seats.
    assert frame["utilisation_ratio"].iloc[0] == pytest.approx(0.5)


def test_grid_runs_to_last_dataset_month() -> None:
    data = build_dataset(
        clients=[client("1"), client("2")],
        usage=[usage("1", "2024-01-01", 3), usage("2", "2024-05-01", 3)],
    )
    frame = compute_components(data, load_model())
    counts = frame.groupby("client_id").size().to_dict()
    assert counts == {"1": 5, "2": 1}
    quiet = row(frame, "1", "2024-05-01")
    assert np.isnan(quiet["utilisation"])


def test_grid_skips_client_without_data() -> None:
    data = build_dataset(
        clients=[client("1"), client("2")], usage=[usage("1", "2024-01-01", 3)]
    )
    frame = compute_components(data, load_model())
    assert frame["client_id"].unique().tolist() == ["1"]


def test_utilisation_hand_values(hand: pd.DataFrame) -> None:
    # Active users per seat for 001: 0.8, 0.6, 0.4, 1.0; window 3, default
    # target 1.0, so the score is the percentage of seats in use.
    expected = {
        "2024-01-01": (0.8, 80.0),
        "2024-02-01": (0.7, 70.0),
        "2024-03-01": (0.6, 60.0),
        "2024-04-01": ((0.6 + 0.4 + 1.0) / 3, 200 / 3),
    }
    for month, (ratio, score) in expected.items():
        values = row(hand, "001", month)
        assert values["utilisation_ratio"] == pytest.approx(ratio)
        assert values["utilisation"] == pytest.approx(score)
    assert row(hand, "001", "2024-04-01")["active_users"] == pytest.approx(20 / 3)
    assert row(hand, "002", "2024-01-01")["utilisation"] == pytest.approx(100.0)


def test_utilisation_target_caps_score(model: ScoreModel) -> None:
    parameters = model.parameters.model_copy(update={"utilisation_target": 0.8})
    frame = compute_components(
        HAND, model.model_copy(update={"parameters": parameters})
    )
    # 001 in January: 0.8 active users per seat reaches the target.
    assert row(frame, "001", "2024-01-01")["utilisation"] == pytest.approx(100.0)
    assert row(frame, "001", "2024-02-01")["utilisation"] == pytest.approx(87.5)


def test_utilisation_nan_without_usage() -> None:
    data = build_dataset(
        clients=[client("1")], operations=[operation("1", "2024-01-01", 3, 1)]
    )
    frame = compute_components(data, load_model())
    assert np.isnan(frame["utilisation"].iloc[0])
    assert frame["usage_months"].iloc[0] == 0


def test_enforcement_hand_values(hand: pd.DataFrame) -> None:
    # 001 removals / requests by month: 9/10, 8/10 (two rows), none, 20/20.
    expected = {
        "2024-01-01": (9, 10),
        "2024-02-01": (17, 20),
        "2024-03-01": (17, 20),
        "2024-04-01": (28, 30),
    }
    for month, (removed, requested) in expected.items():
        values = row(hand, "001", month)
        assert values["enforcement_requested"] == requested
        assert values["removals_confirmed"] == removed
        assert values["success_rate"] == pytest.approx(removed / requested)
        assert values["enforcement"] == pytest.approx(
            100 * wilson_lower(removed, requested), abs=1e-10
        )
    assert row(hand, "001", "2024-01-01")["detections"] == 20


def test_enforcement_nan_without_requests(hand: pd.DataFrame) -> None:
    # 002 requested 5 in January only, which stays in its 3-month window
    # until March.
    assert row(hand, "002", "2024-03-01")["enforcement_requested"] == 5
    data = build_dataset(
        clients=[client("1")],
        usage=[usage("1", f"2024-0{month}-01", 1) for month in range(1, 6)],
        operations=[operation("1", "2024-01-01", 4, 2)],
    )
    frame = compute_components(data, load_model())
    assert frame["enforcement"].notna().tolist() == [True, True, True, False, False]


def test_nps_hand_values(hand: pd.DataFrame) -> None:
    k = 10  # nps_prior_responses in the default model
    # January: the portfolio has 10, 9, 9 (NPS 100); 001 has one promoter.
    january = row(hand, "001", "2024-01-01")
    assert january["nps_portfolio"] == pytest.approx(100.0)
    assert january["nps_raw"] == pytest.approx(100.0)
    assert january["nps"] == pytest.approx(100.0)
    # February: portfolio 10, 9, 9, 5, 0 is 3 promoters, 2 detractors: NPS 20.
    # 001 has 10 and 5: NPS 0 from 2 responses, shrunk to (2*0 + 10*20) / 12.
    february = row(hand, "001", "2024-02-01")
    assert february["nps_portfolio"] == pytest.approx(20.0)
    assert february["nps_raw"] == pytest.approx(0.0)
    assert february["nps_shrunk"] == pytest.approx(k * 20 / (2 + k))
    assert february["nps"] == pytest.approx((k * 20 / (2 + k) + 100) / 2)
    # March: a passive 8 is added: portfolio 3-2 of 6 (NPS 100/6), 001 is 1-1 of 3.
    march = row(hand, "001", "2024-03-01")
    assert march["nps_responses"] == 3
    assert march["nps_promoters"] == 1
    assert march["nps_detractors"] == 1
    assert march["nps_portfolio"] == pytest.approx(100 / 6)
    assert march["nps_shrunk"] == pytest.approx(k * (100 / 6) / (3 + k))
    # 002 in February: 9, 9, 0 is NPS 100/3 from 3 responses.
    other = row(hand, "002", "2024-02-01")
    assert other["nps_raw"] == pytest.approx(100 / 3)
    assert other["nps_shrunk"] == pytest.approx((3 * 100 / 3 + k * 20) / (3 + k))


def test_nps_nan_without_responses() -> None:
    data = build_dataset(
        clients=[client("1"), client("2")],
        usage=[usage("1", "2024-01-01", 1), usage("2", "2024-01-01", 1)],
        nps=[response("2", "2024-01-09", 10)],
    )
    frame = compute_components(data, load_model())
    silent = row(frame, "1", "2024-01-01")
    assert np.isnan(silent["nps"])
    assert silent["nps_responses"] == 0
    assert silent["nps_portfolio"] == pytest.approx(100.0)


@settings(max_examples=40, deadline=None)
@given(
    promoters=st.integers(0, 30),
    detractors=st.integers(0, 30),
    passives=st.integers(0, 30),
)
def test_nps_shrinks_toward_portfolio(
    promoters: int, detractors: int, passives: int
) -> None:
    # Client "1" has the drawn responses and client "2" a fixed large panel.
    scores = [10] * promoters + [0] * detractors + [7] * passives
    if not scores:
        scores = [7]
    panel = [9] * 60 + [3] * 20 + [8] * 20
    responses = [
        response("1", "2024-01-02", score, f"a{index}")
        for index, score in enumerate(scores)
    ] + [
        response("2", "2024-01-02", score, f"b{index}")
        for index, score in enumerate(panel)
    ]
    data = build_dataset(
        clients=[client("1"), client("2")],
        usage=[usage("1", "2024-01-01", 1), usage("2", "2024-01-01", 1)],
        nps=responses,
    )
    values = row(compute_components(data, load_model()), "1", "2024-01-01")
    raw, shrunk, portfolio = (
        values["nps_raw"],
        values["nps_shrunk"],
        values["nps_portfolio"],
    )
    own_share = len(scores) / (len(scores) + 10)
    assert shrunk == pytest.approx(own_share * raw + (1 - own_share) * portfolio)
    assert abs(shrunk - portfolio) <= abs(raw - portfolio) + 1e-9
    assert min(raw, portfolio) - 1e-9 <= shrunk <= max(raw, portfolio) + 1e-9
    assert 0 <= values["nps"] <= 100


def test_impact_hand_values(hand: pd.DataFrame) -> None:
    # Monthly impact of 001: removals * price * units * 0.2 displacement.
    january = 9 * 50.0 * 10.0 * 0.2  # 900
    february = 8 * 40.0 * 5.0 * 0.2  # 320
    april = 20 * 100.0 * 2.0 * 0.2  # 800
    expected = {
        "2024-01-01": (1, 12 * january),
        "2024-02-01": (2, 12 * (january + february) / 2),
        "2024-03-01": (2, 12 * (january + february) / 2),
        "2024-04-01": (3, 12 * (january + february + april) / 3),
    }
    for month, (months, annual) in expected.items():
        values = row(hand, "001", month)
        assert values["impact_months"] == months
        assert values["impact_usd"] == pytest.approx(annual)
        assert values["impact_multiple"] == pytest.approx(annual / 120_000)
        # Log scale up to the default target multiple of 10.
        expected_score = np.log1p(annual / 120_000) / np.log1p(10.0) * 100
        assert values["impact"] == pytest.approx(expected_score)
    # 002 has no impact inputs at all.
    assert np.isnan(row(hand, "002", "2024-01-01")["impact"])


@pytest.mark.parametrize(
    ("multiple", "score"),
    [(0.0, 0.0), (1.0, 28.906), (3.0, 57.813), (10.0, 100.0), (40.0, 100.0)],
)
def test_impact_score_log_scale(multiple: float, score: float) -> None:
    assert float(impact_score(multiple, 10.0)) == pytest.approx(score, abs=1e-3)


def test_impact_score_nan_stays_nan() -> None:
    assert np.isnan(impact_score(np.nan, 10.0))


def test_impact_capped_and_zero_arr() -> None:
    data = build_dataset(
        # 240 USD of annual impact on 20 USD of ARR is 12 times, above the target.
        clients=[client("1", arr_usd=20.0), client("2", arr_usd=0.0)],
        operations=[
            operation("1", "2024-01-01", 10, 10),
            operation("2", "2024-01-01", 10, 10),
        ],
        economic_impact=[
            impact_inputs("1", "2024-01-01", 10.0, 1.0),
            impact_inputs("2", "2024-01-01", 10.0, 1.0),
        ],
    )
    frame = compute_components(data, load_model())
    assert row(frame, "1", "2024-01-01")["impact"] == pytest.approx(100.0)
    assert np.isnan(row(frame, "2", "2024-01-01")["impact"])
    assert row(frame, "2", "2024-01-01")["impact_usd"] == pytest.approx(240.0)


def test_monthly_impact_table(model: ScoreModel) -> None:
    table = monthly_impact(HAND, model.parameters)
    assert table.columns.tolist() == [
        "client_id",
        "month",
        "removals_confirmed",
        "avg_listing_price_usd",
        "est_units_per_listing",
        "displacement_rate",
        "impact_usd",
    ]
    assert table["removals_confirmed"].tolist() == [9, 8, 20]
    assert table["impact_usd"].tolist() == pytest.approx([900.0, 320.0, 800.0])
    assert impact_usd(3, 10.0, 2.0, 0.5) == pytest.approx(30.0)


def test_engagement_hand_values(hand: pd.DataFrame) -> None:
    # 001 met 3 of 4 objectives in a positive meeting in February.
    expected = 100 * (0.6 * wilson_lower(3, 4) + 0.4 * 1.0)
    for month in ("2024-02-01", "2024-03-01", "2024-04-01"):
        values = row(hand, "001", month)
        assert values["engagement"] == pytest.approx(expected)
        assert values["meetings"] == 1
        assert values["objectives_lower"] == pytest.approx(wilson_lower(3, 4))
    # January: no meeting, but the contract began in January, so no penalty.
    assert np.isnan(row(hand, "001", "2024-01-01")["engagement"])
    # 002's negative meeting had no objectives agreed: sentiment alone, 0.
    assert row(hand, "002", "2024-01-01")["engagement"] == pytest.approx(0.0)
    assert np.isnan(row(hand, "002", "2024-01-01")["objectives_lower"])


def test_engagement_missed_meeting_scores_zero() -> None:
    months = pd.date_range("2023-01-01", "2023-12-01", freq="MS")
    data = build_dataset(
        clients=[client("1", contract_start="2022-05-01")],
        usage=[usage("1", month, 1) for month in months],
        qbr_meetings=[meeting("1", "2023-01-15", "neutral", 1, 2)],
    )
    frame = compute_components(data, load_model())
    engagement = frame.set_index("month")["engagement"]
    # The neutral meeting counts in the 6-month windows ending January-June.
    neutral = 100 * (0.6 * wilson_lower(1, 2) + 0.4 * 0.5)
    assert engagement["2023-06-01"] == pytest.approx(neutral)
    # From July the window is meeting-free and lies inside the contract and
    # inside the meeting records, which begin in January 2023.
    assert engagement["2023-07-01":].tolist() == [0.0] * 6


def test_engagement_nan_before_records_begin() -> None:
    data = build_dataset(
        clients=[client("1", contract_start="2020-01-01"), client("2")],
        usage=[usage("1", "2024-01-01", 1), usage("1", "2024-02-01", 1)],
        qbr_meetings=[meeting("2", "2024-02-10", "positive", 1, 1)],
    )
    frame = compute_components(data, load_model())
    assert frame[frame["client_id"] == "1"]["engagement"].isna().all()


def test_components_within_bounds() -> None:
    frame = compute_components(random_dataset(3, n_clients=30), load_model())
    values = frame[list(COMPONENTS)]
    assert ((values >= 0) & (values <= 100) | values.isna()).all().all()
    assert values.notna().any().all()


@pytest.mark.parametrize("cut", ["2023-03-01", "2023-07-01", "2023-11-01"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_look_ahead(seed: int, cut: str) -> None:
    full = random_dataset(seed)
    model = load_model()
    before = compute_components(truncate(full, cut), model)
    after = compute_components(full, model)
    after = after[after["month"] <= cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize("seed", [4, 5])
def test_no_look_ahead_after_edits(seed: int) -> None:
    cut = pd.Timestamp("2023-06-30")
    full = random_dataset(seed)
    edited = {}
    for name, column in DATE_COLUMNS.items():
        frame = full.table(name).copy()
        later = frame[column] > cut
        for count in ("active_users", "removals_confirmed", "objectives_met"):
            if count in frame:
                frame.loc[later, count] = 0
        if "score" in frame:
            frame.loc[later, "score"] = 10 - frame.loc[later, "score"]
        if "sentiment" in frame:
            frame.loc[later, "sentiment"] = "negative"
        edited[name] = frame
    edited["renewals"] = pd.concat(
        [
            edited["renewals"],
            build_dataset(
                renewals=[
                    {
                        "client_id": "0000",
                        "renewal_date": "2023-08-31",
                        "outcome": "churned",
                        "arr_usd": 1.0,
                    }
                ]
            ).renewals,
        ],
        ignore_index=True,
    )
    changed = Dataset(source=full.source, clients=full.clients, **edited)
    model = load_model()
    original = compute_components(full, model)
    revised = compute_components(changed, model)
    keep_original = original[original["month"] <= cut].reset_index(drop=True)
    keep_revised = revised[revised["month"] <= cut].reset_index(drop=True)
    pd.testing.assert_frame_equal(keep_original, keep_revised)
    assert not original.equals(revised)


def test_unknown_client_rows_ignored() -> None:
    data = build_dataset(
        clients=[client("1")],
        usage=[usage("1", "2024-01-01", 5), usage("9", "2024-01-01", 5)],
    )
    frame = compute_components(data, load_model())
    assert frame["client_id"].tolist() == ["1"]
    assert frame["utilisation_ratio"].tolist() == [0.5]


def test_empty_dataset_gives_empty_table() -> None:
    frame = compute_components(build_dataset(clients=[client("1")]), load_model())
    assert frame.empty
    assert list(frame.columns) == ["client_id", "month", *COMPONENTS, *EVIDENCE_COLUMNS]
