"""Replay the monitor over history and measure its alerts against real churn.

Definitions, all in calendar terms:

- An alert for month ``m`` uses data up to the end of ``m``, so it counts as
  issued on the first day of the next month (its *alert date*).
- A churn is a ``churned`` row of the renewals table; its date is the renewal
  date.
- Only rules with ``churn_signal`` set are scored against churn (precision,
  recall, lead time); alert volumes count every rule.
- An alert is *correct* when the same client churns after the alert date and
  no later than ``horizon_months`` after it. Alerts whose horizon ends after the
  last month of data are *censored* (the outcome is not known yet) and left out
  of precision.
- The base rate is the same quantity for every scored client month instead of
  every alert: the share of client months, with the horizon inside the data,
  followed by a churn within the horizon. Lift is precision over base rate.
- A churn is *caught* when the client had an alert dated in the horizon before
  the churn, and recall is the share of churns caught. Its lead time is the
  number of days from the earliest such alert to the churn. The lead time from
  the latest alert is reported too, as the shortest warning the client had.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from healthlab.dataset import Dataset
from healthlab.model import ScoreModel
from healthlab.monitoring.config import RULE_NAMES
from healthlab.monitoring.monitor import find_alerts, issue_alerts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestResult:
    """Alerts replayed over history and their scores against churn.

    Attributes
    ----------
    alerts
        Every issued alert, one row per client, rule and month, with
        ``alert_date``, ``csm``, ``churn_signal``, ``churn_date`` (the
        client's next churn after the alert, NaT when none), ``censored`` and
        ``correct`` (NaN when censored).
    churns
        One row per churn: ``client_id``, ``churn_date``, ``caught``,
        ``first_alert_date``, ``lead_time_days``, ``last_alert_lead_days``,
        ``rules`` (the churn-signal rules that fired in the horizon before).
    by_rule
        Alerts, correct alerts, precision and lift per rule.
    csm_months
        Alerts per CSM and month, including months without alerts.
    client_quarters
        Alerts per client and calendar quarter with a score, zeros included.
    summary
        The headline figures; see :func:`run_backtest`.
    """

    alerts: pd.DataFrame
    churns: pd.DataFrame
    by_rule: pd.DataFrame
    csm_months: pd.DataFrame
    client_quarters: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def run_backtest(
    data: Dataset,
    model: ScoreModel,
    scores: pd.DataFrame | None = None,
    horizon_months: int | None = None,
) -> BacktestResult:
    """Replay the monitor month by month over the whole history.

    Because every rule uses only data dated in or before the month it evaluates,
    running the rules once over the full history and applying the cooldown in
    month order issues the same alerts as calling
    :func:`~healthlab.monitoring.monitor.run_monitor` for each month in turn.

    Parameters
    ----------
    data
        A loaded dataset with its renewals table.
    model
        Score model whose ``alerts`` settings configure the rules.
    scores
        Scores of ``data`` (:func:`healthlab.scoring.score_dataset`); computed
        when omitted.
    horizon_months
        Months after an alert in which a churn makes it correct; the model's
        ``alerts.horizon_months`` (12 by default) when omitted.

    Returns
    -------
    BacktestResult
        ``summary`` contains ``clients``, ``months``, ``alerts``,
        ``evaluable_alerts``, ``precision``, ``base_rate``, ``lift``,
        ``precision_all_rules``,
        ``churns``, ``caught``, ``recall``, ``median_lead_time_days``,
        ``median_last_alert_lead_days``, ``annual_churn_rate``,
        ``alerts_per_client_quarter``, ``alerts_per_csm_month`` and
        ``max_alerts_per_csm_month``.
    """
    from healthlab.scoring import score_dataset

    started = time.perf_counter()
    horizon = horizon_months or model.alerts.horizon_months
    if scores is None:
        scores = score_dataset(data, model)
    scored = scores.dropna(subset=["score"])[["client_id", "month"]].copy()
    scored["client_id"] = scored["client_id"].astype(str)
    data_end = pd.Timestamp(scored["month"].max()) + pd.offsets.MonthBegin(1)

    churns = _churn_dates(data)
    alerts = issue_alerts(find_alerts(data, model, scores), model.alerts)
    alerts = _label_alerts(alerts, churns, data, horizon, data_end)
    signals = {name for name in RULE_NAMES if model.alerts.rules.get(name).churn_signal}
    alerts["churn_signal"] = alerts["rule"].isin(signals)
    client_months = _label_client_months(scored, churns, horizon, data_end)
    churn_table = _churn_table(churns, alerts[alerts["churn_signal"]], scored, horizon)
    by_rule = _by_rule(alerts, client_months)
    csm_months = _csm_months(alerts, scored, data)
    client_quarters = _client_quarters(alerts, scored)

    summary = _summary(
        alerts, client_months, churn_table, csm_months, client_quarters, data
    )
    summary["horizon_months"] = horizon
    logger.info(
        "Backtest of %d alerts over %d client months in %.2f s",
        len(alerts),
        len(scored),
        time.perf_counter() - started,
    )
    return BacktestResult(
        alerts=alerts,
        churns=churn_table,
        by_rule=by_rule,
        csm_months=csm_months,
        client_quarters=client_quarters,
        summary=summary,
    )


def _churn_dates(data: Dataset) -> pd.DataFrame:
    renewals = data.renewals
    churned = renewals[renewals["outcome"] == "churned"]
    return (
        pd.DataFrame(
            {
                "client_id": churned["client_id"].astype(str),
                "churn_date": pd.to_datetime(churned["renewal_date"]),
            }
        )
        .sort_values(["client_id", "churn_date"])
        .reset_index(drop=True)
    )


def _next_churn(
    frame: pd.DataFrame, churns: pd.DataFrame, date_column: str
) -> pd.Series:
    """Return each row's first churn of the same client strictly after its date."""
    if frame.empty:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    left = frame[["client_id", date_column]].reset_index()
    left[date_column] = left[date_column].astype("datetime64[ns]")
    left = left.sort_values(date_column)
    right = churns.astype({"churn_date": "datetime64[ns]"}).sort_values("churn_date")
    merged = pd.merge_asof(
        left,
        right,
        left_on=date_column,
        right_on="churn_date",
        by="client_id",
        direction="forward",
        allow_exact_matches=False,
    )
    return merged.set_index("index")["churn_date"].reindex(frame.index)


def _label_alerts(
    alerts: pd.DataFrame,
    churns: pd.DataFrame,
    data: Dataset,
    horizon: int,
    data_end: pd.Timestamp,
) -> pd.DataFrame:
    csm = data.clients.assign(client_id=data.clients["client_id"].astype(str))
    frame = alerts.assign(
        alert_date=alerts["month"] + pd.offsets.MonthBegin(1),
        csm=alerts["client_id"].map(csm.set_index("client_id")["csm"]),
    )
    frame["churn_date"] = _next_churn(frame, churns, "alert_date")
    horizon_end = frame["alert_date"] + pd.DateOffset(months=horizon)
    frame["censored"] = horizon_end > data_end
    correct = frame["churn_date"].notna() & (frame["churn_date"] <= horizon_end)
    frame["correct"] = correct.astype(float).where(~frame["censored"])
    return frame


def _label_client_months(
    scored: pd.DataFrame, churns: pd.DataFrame, horizon: int, data_end: pd.Timestamp
) -> pd.DataFrame:
    frame = scored.assign(alert_date=scored["month"] + pd.offsets.MonthBegin(1))
    frame["churn_date"] = _next_churn(frame, churns, "alert_date")
    horizon_end = frame["alert_date"] + pd.DateOffset(months=horizon)
    frame["censored"] = horizon_end > data_end
    churned = frame["churn_date"].notna() & (frame["churn_date"] <= horizon_end)
    frame["churn_within_horizon"] = churned.astype(float).where(~frame["censored"])
    return frame


def _churn_table(
    churns: pd.DataFrame, alerts: pd.DataFrame, scored: pd.DataFrame, horizon: int
) -> pd.DataFrame:
    monitored = set(scored["client_id"])
    by_client = dict(tuple(alerts.groupby("client_id")))
    rows = []
    for client_id, churn_date in zip(
        churns["client_id"], churns["churn_date"], strict=True
    ):
        if client_id not in monitored:
            continue
        window_start = churn_date - pd.DateOffset(months=horizon)
        client_alerts = by_client.get(client_id)
        if client_alerts is None:
            before = alerts.iloc[0:0]
        else:
            dates = client_alerts["alert_date"]
            before = client_alerts[(dates >= window_start) & (dates < churn_date)]
        caught = not before.empty
        first = before["alert_date"].min() if caught else pd.NaT
        last = before["alert_date"].max() if caught else pd.NaT
        rows.append(
            (
                client_id,
                churn_date,
                caught,
                first,
                (churn_date - first).days if caught else np.nan,
                (churn_date - last).days if caught else np.nan,
                ", ".join(sorted(set(before["rule"]))),
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            "client_id",
            "churn_date",
            "caught",
            "first_alert_date",
            "lead_time_days",
            "last_alert_lead_days",
            "rules",
        ],
    )


def _by_rule(alerts: pd.DataFrame, client_months: pd.DataFrame) -> pd.DataFrame:
    base_rate = float(client_months["churn_within_horizon"].mean())
    grouped = alerts.groupby("rule")
    table = pd.DataFrame(
        {
            "alerts": grouped.size(),
            "evaluable": grouped["correct"].count(),
            "correct": grouped["correct"].sum(),
        }
    )
    table["churn_signal"] = grouped["churn_signal"].first()
    table["precision"] = table["correct"] / table["evaluable"].replace(0, np.nan)
    table["lift"] = table["precision"] / base_rate
    return table.reset_index().sort_values("rule", ignore_index=True)


def _csm_months(
    alerts: pd.DataFrame, scored: pd.DataFrame, data: Dataset
) -> pd.DataFrame:
    csm = data.clients.assign(client_id=data.clients["client_id"].astype(str))
    owners = scored.assign(
        csm=scored["client_id"].map(csm.set_index("client_id")["csm"])
    )
    active = owners.groupby(["csm", "month"]).size().rename("clients")
    counts = alerts.groupby(["csm", "month"]).size().rename("alerts")
    table = pd.concat([active, counts], axis=1).fillna(0)
    table = table[table["clients"] > 0].astype(int)
    return table.reset_index()


def _client_quarters(alerts: pd.DataFrame, scored: pd.DataFrame) -> pd.DataFrame:
    quarters = scored.assign(quarter=scored["month"].dt.to_period("Q").astype(str))
    present = quarters.groupby(["client_id", "quarter"]).size().rename("months")
    counts = (
        alerts.assign(quarter=alerts["month"].dt.to_period("Q").astype(str))
        .groupby(["client_id", "quarter"])
        .size()
        .rename("alerts")
    )
    table = pd.concat([present, counts], axis=1)
    table = table[table["months"].notna()].fillna(0).astype(int)
    return table.reset_index()


def _summary(
    alerts: pd.DataFrame,
    client_months: pd.DataFrame,
    churns: pd.DataFrame,
    csm_months: pd.DataFrame,
    client_quarters: pd.DataFrame,
    data: Dataset,
) -> dict[str, Any]:
    evaluable = alerts.loc[alerts["churn_signal"], "correct"].dropna()
    precision = float(evaluable.mean()) if len(evaluable) else float("nan")
    every_rule = alerts["correct"].dropna()
    base_rate = float(client_months["churn_within_horizon"].mean())
    decided = data.renewals
    caught = churns[churns["caught"]]
    return {
        "clients": int(client_months["client_id"].nunique()),
        "months": int(client_months["month"].nunique()),
        "alerts": len(alerts),
        "churn_signal_alerts": int(alerts["churn_signal"].sum()),
        "evaluable_alerts": len(evaluable),
        "precision": precision,
        "base_rate": base_rate,
        "lift": precision / base_rate if base_rate > 0 else float("nan"),
        "precision_all_rules": float(every_rule.mean())
        if len(every_rule)
        else float("nan"),
        "churns": len(churns),
        "caught": len(caught),
        "recall": len(caught) / len(churns) if len(churns) else float("nan"),
        "median_lead_time_days": float(caught["lead_time_days"].median())
        if len(caught)
        else float("nan"),
        "median_last_alert_lead_days": float(caught["last_alert_lead_days"].median())
        if len(caught)
        else float("nan"),
        "annual_churn_rate": float((decided["outcome"] == "churned").mean())
        if len(decided)
        else float("nan"),
        "alerts_per_client_quarter": float(client_quarters["alerts"].mean())
        if len(client_quarters)
        else 0.0,
        "alerts_per_csm_month": float(csm_months["alerts"].mean())
        if len(csm_months)
        else 0.0,
        "max_alerts_per_csm_month": int(csm_months["alerts"].max())
        if len(csm_months)
        else 0,
    }
