"""Backtest: lead time, correctness and censoring by hand, then a small portfolio."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from healthlab.dataset import Dataset
from healthlab.model import ScoreModel
from healthlab.monitoring import backtest
from healthlab.monitoring.backtest import BacktestResult, run_backtest


@pytest.fixture(scope="module")
def result(
    small_data: Dataset, default_model: ScoreModel, small_scores: pd.DataFrame
) -> BacktestResult:
    return run_backtest(small_data, default_model, scores=small_scores)


def hand_made() -> tuple[pd.DataFrame, pd.DataFrame, Dataset]:
    alerts = pd.DataFrame(
        {
            "client_id": ["0001", "0001", "0002", "0002"],
            "month": pd.to_datetime(
                ["2024-01-01", "2025-01-01", "2025-07-01", "2026-06-01"]
            ),
            "rule": ["score_drop", "missed_qbr", "score_drop", "score_drop"],
        }
    )
    churns = pd.DataFrame(
        {"client_id": ["0001"], "churn_date": pd.to_datetime(["2025-06-15"])}
    )
    clients = pd.DataFrame({"client_id": ["0001", "0002"], "csm": ["Ana", "Bo"]})
    empty = pd.DataFrame()
    data = Dataset(
        source=None,  # type: ignore[arg-type]
        clients=clients,
        usage=empty,
        nps=empty,
        operations=empty,
        economic_impact=empty,
        qbr_meetings=empty,
        renewals=empty,
    )
    return alerts, churns, data


def test_label_alerts_by_hand() -> None:
    alerts, churns, data = hand_made()
    labelled = backtest._label_alerts(
        alerts, churns, data, horizon=12, data_end=pd.Timestamp("2026-10-01")
    )
    assert list(labelled["alert_date"]) == list(
        pd.to_datetime(["2024-02-01", "2025-02-01", "2025-08-01", "2026-07-01"])
    )
    assert list(labelled["csm"]) == ["Ana", "Ana", "Bo", "Bo"]
    # 2024-02-01 + 12 months is 2025-02-01, before the churn on 2025-06-15.
    assert labelled["correct"].iloc[0] == 0.0
    assert labelled["correct"].iloc[1] == 1.0
    assert labelled["correct"].iloc[2] == 0.0
    # 2026-07-01 + 12 months runs past the data: censored, no verdict.
    assert bool(labelled["censored"].iloc[3])
    assert np.isnan(labelled["correct"].iloc[3])


def test_churn_table_lead_time_by_hand() -> None:
    alerts, churns, data = hand_made()
    labelled = backtest._label_alerts(
        alerts, churns, data, horizon=12, data_end=pd.Timestamp("2026-10-01")
    )
    scored = pd.DataFrame({"client_id": ["0001", "0002"]})
    table = backtest._churn_table(churns, labelled, scored, horizon=12)
    row = table.iloc[0]
    assert bool(row["caught"])
    # Only the 2025-02-01 alert is inside the 12 months before 2025-06-15.
    assert row["first_alert_date"] == pd.Timestamp("2025-02-01")
    assert row["lead_time_days"] == 134
    assert row["last_alert_lead_days"] == 134
    assert row["rules"] == "missed_qbr"


def test_churn_without_alert_not_caught() -> None:
    alerts, churns, data = hand_made()
    labelled = backtest._label_alerts(
        alerts.iloc[[0, 2]],
        churns,
        data,
        horizon=12,
        data_end=pd.Timestamp("2026-10-01"),
    )
    table = backtest._churn_table(
        churns, labelled, pd.DataFrame({"client_id": ["0001"]}), horizon=12
    )
    assert not bool(table["caught"].iloc[0])
    assert np.isnan(table["lead_time_days"].iloc[0])


# the small generated portfolio


def test_backtest_summary_ranges(result: BacktestResult) -> None:
    summary = result.summary
    assert summary["clients"] == 40
    assert summary["months"] == 24
    assert summary["alerts"] == len(result.alerts) > 0
    assert 0 <= summary["precision"] <= 1
    assert 0 < summary["base_rate"] < 1
    assert summary["lift"] == pytest.approx(summary["precision"] / summary["base_rate"])
    assert 0 <= summary["recall"] <= 1
    assert summary["caught"] <= summary["churns"]
    assert summary["horizon_months"] == 12


def test_backtest_lead_times_recomputed(
    result: BacktestResult, small_data: Dataset
) -> None:
    churned = small_data.renewals[small_data.renewals["outcome"] == "churned"]
    assert len(result.churns) == len(churned)
    signals = result.alerts[result.alerts["churn_signal"]]
    for row in result.churns.to_dict("records"):
        window_start = row["churn_date"] - pd.DateOffset(months=12)
        own = signals[signals["client_id"] == row["client_id"]]
        before = own[
            (own["alert_date"] >= window_start)
            & (own["alert_date"] < row["churn_date"])
        ]
        assert row["caught"] == (not before.empty)
        if row["caught"]:
            expected = (row["churn_date"] - before["alert_date"].min()).days
            assert row["lead_time_days"] == expected
            assert 0 < row["lead_time_days"] <= 366


def test_backtest_no_alert_after_churn(
    result: BacktestResult, small_scores: pd.DataFrame
) -> None:
    last_scored = small_scores.dropna(subset=["score"]).groupby("client_id")["month"]
    latest = result.alerts.groupby("client_id")["month"].max()
    assert (latest <= last_scored.max().reindex(latest.index)).all()


def test_backtest_volumes(result: BacktestResult) -> None:
    quarters = result.client_quarters
    assert quarters["alerts"].sum() == len(result.alerts)
    assert result.summary["alerts_per_client_quarter"] == pytest.approx(
        len(result.alerts) / len(quarters)
    )
    months = result.csm_months
    assert months["alerts"].sum() == len(result.alerts)
    assert result.summary["max_alerts_per_csm_month"] == months["alerts"].max()


def test_backtest_precision_by_rule(result: BacktestResult) -> None:
    table = result.by_rule.set_index("rule")
    assert table["alerts"].sum() == len(result.alerts)
    signal = table[table["churn_signal"]]
    precision = signal["correct"].sum() / signal["evaluable"].sum()
    assert result.summary["precision"] == pytest.approx(precision)


def test_backtest_shorter_horizon(
    result: BacktestResult,
    small_data: Dataset,
    default_model: ScoreModel,
    small_scores: pd.DataFrame,
) -> None:
    short = run_backtest(small_data, default_model, small_scores, horizon_months=3)
    assert short.summary["horizon_months"] == 3
    # A shorter horizon runs past the data for fewer alerts.
    assert short.summary["evaluable_alerts"] >= result.summary["evaluable_alerts"]
    caught = short.churns[short.churns["caught"]]
    assert (caught["lead_time_days"] <= 92).all()


def test_backtest_without_churn(
    small_data: Dataset, default_model: ScoreModel, small_scores: pd.DataFrame
) -> None:
    renewed = small_data.renewals.assign(outcome="renewed")
    quiet = run_backtest(
        replace(small_data, renewals=renewed), default_model, small_scores
    )
    assert quiet.summary["churns"] == 0
    assert quiet.summary["precision"] == 0.0
    assert np.isnan(quiet.summary["recall"])
