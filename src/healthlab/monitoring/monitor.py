"""Run the early-warning rules for one month and return the alerts to act on.

A rule *fires* in every month its condition holds; an *alert* is issued when it
fires and the cooldown allows it. After an alert, the same rule stays silent for
the same client during the next ``cooldown_months`` months, so a condition that
persists is reported again at most every ``cooldown_months + 1`` months.

The cooldown needs to know which alerts were issued before. By default
:func:`run_monitor` replays the rules over the client's whole history up to the
evaluation month, which is deterministic and needs no state file: the same data
and model always give the same alerts. A caller that keeps the alerts it issued
(for example the concatenated outputs of earlier runs) can pass them as
``history`` instead.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthlab._io import check_not_input, write_table, write_text_atomic
from healthlab.dataset import Dataset
from healthlab.errors import ConfigError
from healthlab.model import Band, ScoreModel
from healthlab.monitoring import rules
from healthlab.monitoring.config import SEVERITIES, AlertSettings
from healthlab.monitoring.series import ClientSeries, iter_client_series

logger = logging.getLogger(__name__)

FINDING_COLUMNS: tuple[str, ...] = (
    "client_id",
    "month",
    "rule",
    "severity",
    "subject",
    "value",
    "baseline",
    "window_start",
    "window_end",
    "details",
    "explanation",
)
"""Columns of :func:`find_alerts`: one row per client, rule and month it fired."""

ALERT_COLUMNS: tuple[str, ...] = (
    "month",
    "client_id",
    "client_name",
    "csm",
    "segment",
    "arr_usd",
    "rule",
    "severity",
    "subject",
    "value",
    "baseline",
    "window_start",
    "window_end",
    "details",
    "explanation",
    "playbook",
    "first_seen",
)
"""Columns of :func:`run_monitor`, in this order."""


_MONTH_PATTERN = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?")


def parse_month(
    value: str | date | pd.Timestamp, option: str = "as_of"
) -> pd.Timestamp:
    """Return the first day of the month of ``value`` (``2026-06`` or a date).

    Raises
    ------
    ConfigError
        If ``value`` is not a date or a ``YYYY-MM`` month; the message names
        ``option``.
    """
    message = (
        f"Invalid {option} {str(value)!r}: expected a month such as 2026-06 "
        "or a date such as 2026-06-30."
    )
    if isinstance(value, str):
        match = _MONTH_PATTERN.fullmatch(value.strip())
        if match is None:
            raise ConfigError(message)
        year, month, day = match.groups()
        try:
            stamp = pd.Timestamp(year=int(year), month=int(month), day=int(day or 1))
        except ValueError:
            raise ConfigError(message) from None
    else:
        stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        raise ConfigError(message)
    return pd.Timestamp(year=stamp.year, month=stamp.month, day=1)


def cut_dataset(data: Dataset, as_of: pd.Timestamp) -> Dataset:
    """Return the dataset as it was known at the end of month ``as_of``.

    Rows dated after that month are dropped from every table, and clients whose
    contract starts after it are dropped. The ``renewal_date`` column of the
    clients table is kept as is.

    NOTE: for a client that renewed after ``as_of``, ``renewal_date`` is a later
    date than the one known then. Scoring reads only the renewals table for
    churn, and no rule reads ``renewal_date``.
    """
    month_end = as_of + pd.offsets.MonthEnd(0)
    clients = data.clients[pd.to_datetime(data.clients["contract_start"]) <= month_end]
    known = set(clients["client_id"])

    def keep(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        dated = pd.to_datetime(frame[column]) <= month_end
        return frame[dated & frame["client_id"].isin(known)]

    return replace(
        data,
        clients=clients,
        usage=keep(data.usage, "month"),
        nps=keep(data.nps, "response_date"),
        operations=keep(data.operations, "month"),
        economic_impact=keep(data.economic_impact, "month"),
        qbr_meetings=keep(data.qbr_meetings, "meeting_date"),
        renewals=keep(data.renewals, "renewal_date"),
    )


def evaluate_client(
    client: ClientSeries, settings: AlertSettings, bands: Sequence[Band]
) -> list[rules.Finding]:
    """Run every enabled rule over one client's series and return what fired."""
    enabled = set(settings.enabled_rules())
    ruleset = settings.rules
    findings: list[rules.Finding] = []
    if "score_drop" in enabled:
        findings += rules.score_drop(client.score, ruleset.score_drop)
    if "band_downgrade" in enabled:
        findings += rules.band_downgrade(client.score, bands, ruleset.band_downgrade)
    if "projected_band_crossing" in enabled:
        findings += rules.projected_band_crossing(
            client.score, bands, ruleset.projected_band_crossing
        )
    charts = (
        ("utilisation_control", client.utilisation),
        ("enforcement_control", client.enforcement_success),
        ("nps_control", client.nps_mean),
    )
    for name, values in charts:
        if name in enabled:
            findings += rules.control_chart(values, ruleset.get(name), name)  # type: ignore[arg-type]
    if "utilisation_drop" in enabled:
        findings += rules.utilisation_drop(client.utilisation, ruleset.utilisation_drop)
    if "missed_qbr" in enabled:
        findings += rules.missed_qbr(
            client.months, client.meeting_dates, ruleset.missed_qbr
        )
    if "detractor_response" in enabled:
        findings += rules.detractor_response(
            client.responses, client.months, ruleset.detractor_response
        )
    if "emerging_threat" in enabled:
        findings += rules.emerging_threat(client.detections, ruleset.emerging_threat)

    # Only months in which the client has a score can raise an alert, and a rule
    # with `below_score` only while the score is below it.
    scores = client.score.to_dict()
    gated = []
    for finding in findings:
        score = scores.get(finding.month)
        if score is None or not np.isfinite(score):
            continue
        ceiling = ruleset.get(finding.rule).below_score
        if ceiling == "top_band":
            ceiling = bands[-1].min_score
        if ceiling is None or score < ceiling:
            gated.append(finding)
    return gated


def find_alerts(data: Dataset, model: ScoreModel, scores: pd.DataFrame) -> pd.DataFrame:
    """Run every enabled rule for every client over every scored month.

    Parameters
    ----------
    data
        The dataset the scores were computed from.
    model
        The model whose ``alerts`` settings and bands the rules use.
    scores
        Output of :func:`healthlab.scoring.score_dataset`.

    Returns
    -------
    pandas.DataFrame
        One row per client, rule and month in which the rule fired, with the
        columns in :data:`FINDING_COLUMNS`, before any cooldown.
    """
    started = time.perf_counter()
    rows = []
    for client in iter_client_series(data, scores):
        for finding in evaluate_client(client, model.alerts, model.bands):
            rows.append(
                (
                    client.client_id,
                    finding.month,
                    finding.rule,
                    finding.severity,
                    finding.subject,
                    finding.value,
                    finding.baseline,
                    finding.window_start,
                    finding.window_end,
                    finding.details,
                    finding.explanation,
                )
            )
    frame = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    frame["client_id"] = frame["client_id"].astype(str)
    for column in ("month", "window_start", "window_end"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    frame[["value", "baseline"]] = frame[["value", "baseline"]].astype(float)
    logger.info(
        "Rules fired %d times for %d clients in %.2f s",
        len(frame),
        frame["client_id"].nunique(),
        time.perf_counter() - started,
    )
    return frame.sort_values(["client_id", "rule", "month"], ignore_index=True)


def issue_alerts(findings: pd.DataFrame, settings: AlertSettings) -> pd.DataFrame:
    """Apply the cooldown to the findings of every month and add ``first_seen``.

    Findings are replayed in month order for each client and rule. One is issued
    when the same client and rule had no issued alert in the ``cooldown_months``
    months before it (the rule's own cooldown when it sets one).

    Returns
    -------
    pandas.DataFrame
        The issued findings with a ``first_seen`` column: the first month of the
        unbroken run of months in which the rule has fired for the client.
    """
    ordered = _with_first_seen(findings)
    index = _month_number(ordered["month"])
    group = ordered["client_id"] + "\x1f" + ordered["rule"]

    issued = np.zeros(len(ordered), dtype=bool)
    last_issued: dict[str, int] = {}
    for position, (key, rule, number) in enumerate(
        zip(group, ordered["rule"], index, strict=True)
    ):
        previous = last_issued.get(key)
        if previous is None or number - previous > settings.cooldown_for(rule):
            issued[position] = True
            last_issued[key] = number
    return ordered[issued].reset_index(drop=True)


def _with_first_seen(findings: pd.DataFrame) -> pd.DataFrame:
    """Sort findings by client, rule and month and add ``first_seen``."""
    if findings.empty:
        return findings.assign(first_seen=pd.Series(dtype="datetime64[ns]"))
    ordered = findings.sort_values(["client_id", "rule", "month"], ignore_index=True)
    index = _month_number(ordered["month"])
    group = ordered["client_id"] + "\x1f" + ordered["rule"]

    # A run breaks when the previous firing of the same client and rule is not
    # the month before.
    starts_run = (group != group.shift()) | (index - index.shift() != 1)
    run = starts_run.cumsum()
    return ordered.assign(first_seen=ordered.groupby(run)["month"].transform("min"))


def run_monitor(
    data: Dataset,
    model: ScoreModel,
    as_of: str | date | pd.Timestamp | None = None,
    history: pd.DataFrame | None = None,
    scores: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the alerts issued for month ``as_of``.

    Parameters
    ----------
    data
        A loaded dataset (:func:`healthlab.dataset.load_dataset`).
    model
        Score model; its ``alerts`` section configures the rules.
    as_of
        The month to evaluate (``2026-06`` or any date in it); the last month
        with a score when omitted. Data dated after it is ignored.
    history
        Alerts issued by earlier runs, with at least ``client_id``, ``rule`` and
        ``month``. When given, the cooldown is checked against these alone;
        when omitted, earlier alerts are rebuilt by replaying the rules over
        every month up to ``as_of``.
    scores
        Scores of ``data`` from :func:`healthlab.scoring.score_dataset`, to
        avoid scoring twice; computed from the data cut at ``as_of`` when
        omitted.

    Returns
    -------
    pandas.DataFrame
        One row per alert with the columns in :data:`ALERT_COLUMNS`, sorted by
        severity (high first), client id, rule and subject. ``value``,
        ``baseline``, ``window_start``, ``window_end`` and ``details`` are the
        evidence; ``details`` is a dict of rule-specific figures. The month
        evaluated is in ``attrs["as_of"]``.

    Raises
    ------
    ConfigError
        If ``as_of`` is not a month or falls outside the scored months.
    """
    if scores is None:
        from healthlab.scoring import score_dataset

        cut = data if as_of is None else cut_dataset(data, parse_month(as_of))
        scores = score_dataset(cut, model)
    month = _resolve_as_of(scores, as_of, data)
    scores = scores[scores["month"] <= month]
    # Only clients scored in the month can be alerted, and the cooldown of one
    # client depends on its own history alone.
    current_clients = scores.loc[
        (scores["month"] == month) & scores["score"].notna(), "client_id"
    ]
    scores = scores[scores["client_id"].isin(set(current_clients))]
    cut = cut_dataset(data, month)

    findings = find_alerts(cut, model, scores)
    if history is None:
        issued = issue_alerts(findings, model.alerts)
        current = issued[issued["month"] == month]
    else:
        current = _apply_history(findings, month, history, model.alerts)
    alerts = _decorate(current, data, model.alerts)
    alerts.attrs["as_of"] = month
    return alerts


def monitor_dataset(
    dataset: str | Path,
    out: str | Path,
    as_of: str | date | pd.Timestamp | None = None,
    model: str | Path | None = None,
    mapping: str | Path | None = None,
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Load and validate a dataset, run the monitor and write the alerts to ``out``.

    Arguments are checked before the data is read, and nothing is written unless
    every step succeeds.

    Returns
    -------
    tuple of (pandas.DataFrame, pandas.Timestamp)
        The alerts as :func:`run_monitor` returns them, and the month evaluated.

    Raises
    ------
    ConfigError
        If ``out`` does not end in ``.csv`` or ``.json``, ``as_of`` is invalid or
        outside the data, or the model file is invalid.
    DataValidationError
        If the dataset breaks the data model.
    """
    from healthlab.dataset import load_dataset
    from healthlab.model import load_model

    _check_alert_suffix(Path(out))
    check_not_input(out, dataset)
    if as_of is not None:
        as_of = parse_month(as_of, "--as-of")
    score_model = load_model(model)
    data = load_dataset(dataset, mapping=mapping)
    alerts = run_monitor(data, score_model, as_of=as_of)
    write_alerts(alerts, out)
    return alerts, alerts.attrs["as_of"]


def write_alerts(alerts: pd.DataFrame, target: str | Path) -> Path:
    """Write alerts to CSV or JSON atomically, chosen by the file suffix.

    JSON contains a list of alerts with the evidence nested as
    ``{"value", "baseline", "start", "end", **details}``. CSV flattens it into
    ``evidence_*`` columns, with the details as a JSON object in
    ``evidence_details``.

    Raises
    ------
    ConfigError
        If the suffix is neither ``.csv`` nor ``.json``.
    """
    target = Path(target)
    suffix = _check_alert_suffix(target)
    if suffix == ".json":
        records = [
            _json_record({str(key): item for key, item in row.items()})
            for row in alerts.to_dict("records")
        ]
        write_text_atomic(
            target, json.dumps(records, indent=1, ensure_ascii=False) + "\n"
        )
        return target
    return write_table(_flat_frame(alerts), target)


def _check_alert_suffix(target: Path) -> str:
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigError(
            f"Cannot write alerts to {target}: the file name must end in .csv or .json."
        )
    return suffix


def summarise_alerts(alerts: pd.DataFrame) -> dict[str, int]:
    """Return the number of alerts per severity, every severity included."""
    counts = alerts["severity"].value_counts() if len(alerts) else pd.Series()
    return {severity: int(counts.get(severity, 0)) for severity in SEVERITIES}


def _resolve_as_of(
    scores: pd.DataFrame, as_of: str | date | pd.Timestamp | None, data: Dataset
) -> pd.Timestamp:
    months = scores.dropna(subset=["score"])["month"]
    first_data = pd.concat([data.usage["month"], data.operations["month"]]).min()
    if months.empty and as_of is not None and pd.notna(first_data):
        # The data was cut at as_of, so nothing was scored up to that month.
        raise ConfigError(
            f"The month {parse_month(as_of):%Y-%m} is before the first scored month "
            f"of {data.source}; its data starts in {first_data:%Y-%m}. Choose a "
            "later month."
        )
    if months.empty:
        raise ConfigError(f"Dataset {data.source} has no scored month to monitor.")
    first, last = pd.Timestamp(months.min()), pd.Timestamp(months.max())
    if as_of is None:
        return last
    month = parse_month(as_of)
    if not first <= month <= last:
        raise ConfigError(
            f"The month {month:%Y-%m} is outside the scored months of {data.source} "
            f"({first:%Y-%m} to {last:%Y-%m}); choose a month in that range."
        )
    return month


def _apply_history(
    findings: pd.DataFrame,
    month: pd.Timestamp,
    history: pd.DataFrame,
    settings: AlertSettings,
) -> pd.DataFrame:
    missing = {"client_id", "rule", "month"} - set(history.columns)
    if missing:
        raise ConfigError(
            f"Alert history lacks the column(s) {', '.join(sorted(missing))}; "
            "pass the output of earlier monitor runs."
        )
    current = _with_first_seen(findings)
    current = current[current["month"] == month]
    now = int(_month_number(pd.Series([month])).iloc[0])
    earlier = history.assign(
        client_id=history["client_id"].astype(str),
        number=_month_number(history["month"]),
    )
    latest = earlier[earlier["number"] < now].groupby(["client_id", "rule"])["number"]
    last_by_key = latest.max().to_dict()
    keep = []
    for client_id, rule in zip(current["client_id"], current["rule"], strict=True):
        previous = last_by_key.get((client_id, rule))
        keep.append(previous is None or now - previous > settings.cooldown_for(rule))
    return current[np.array(keep, dtype=bool)]


def _decorate(
    current: pd.DataFrame, data: Dataset, settings: AlertSettings
) -> pd.DataFrame:
    clients = data.clients.assign(client_id=data.clients["client_id"].astype(str))
    info = clients.set_index("client_id")[["client_name", "csm", "segment", "arr_usd"]]
    frame = current.join(info, on="client_id")
    frame["playbook"] = frame["rule"].map(settings.playbooks).fillna("")
    frame["severity_rank"] = frame["severity"].map(
        {name: rank for rank, name in enumerate(SEVERITIES)}
    )
    frame = frame.sort_values(
        ["severity_rank", "client_id", "rule", "subject"], ignore_index=True
    )
    return frame[list(ALERT_COLUMNS)]


def _month_number(months: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(months)
    return stamps.dt.year * 12 + stamps.dt.month - 1


def _json_value(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.strftime("%Y-%m-%d")
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _json_record(row: dict[str, Any]) -> dict[str, Any]:
    evidence = {
        "value": _json_value(row["value"]),
        "baseline": _json_value(row["baseline"]),
        "start": _json_value(row["window_start"]),
        "end": _json_value(row["window_end"]),
    }
    evidence.update({key: _json_value(item) for key, item in row["details"].items()})
    nested_out = {"value", "baseline", "window_start", "window_end", "details"}
    record = {
        key: _json_value(item) for key, item in row.items() if key not in nested_out
    }
    record["evidence"] = evidence
    return record


def _flat_frame(alerts: pd.DataFrame) -> pd.DataFrame:
    flat = alerts.rename(
        columns={
            "value": "evidence_value",
            "baseline": "evidence_baseline",
            "window_start": "evidence_start",
            "window_end": "evidence_end",
            "details": "evidence_details",
        }
    )
    flat["evidence_details"] = [
        json.dumps({key: _json_value(item) for key, item in details.items()})
        for details in flat["evidence_details"]
    ]
    return flat
