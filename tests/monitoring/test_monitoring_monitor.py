"""The monitor: cooldown, first-seen dates, output order, files and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from healthlab.dataset import Dataset
from healthlab.errors import ConfigError
from healthlab.model import ScoreModel
from healthlab.monitoring.backtest import run_backtest
from healthlab.monitoring.config import SEVERITIES, AlertSettings
from healthlab.monitoring.monitor import (
    ALERT_COLUMNS,
    FINDING_COLUMNS,
    issue_alerts,
    parse_month,
    run_monitor,
    summarise_alerts,
    write_alerts,
)


def findings(rule: str, months: list[str], client_id: str = "0001") -> pd.DataFrame:
    stamps = pd.to_datetime(months)
    return pd.DataFrame(
        {
            "client_id": client_id,
            "month": stamps,
            "rule": rule,
            "severity": "high",
            "subject": "",
            "value": 1.0,
            "baseline": 2.0,
            "window_start": stamps,
            "window_end": stamps,
            "details": [{} for _ in months],
            "explanation": "",
        },
        columns=list(FINDING_COLUMNS),
    )


def month_list(start: str, count: int) -> list[str]:
    return [f"{m:%Y-%m-%d}" for m in pd.date_range(start, periods=count, freq="MS")]


# cooldown and first_seen


def test_cooldown_persistent_condition() -> None:
    fired = findings("score_drop", month_list("2025-01-01", 10))
    issued = issue_alerts(fired, AlertSettings(cooldown_months=3))
    assert list(issued["month"]) == list(
        pd.to_datetime(["2025-01-01", "2025-05-01", "2025-09-01"])
    )
    assert set(issued["first_seen"]) == {pd.Timestamp("2025-01-01")}


def test_cooldown_zero_every_month() -> None:
    fired = findings("score_drop", month_list("2025-01-01", 4))
    issued = issue_alerts(fired, AlertSettings(cooldown_months=0))
    assert len(issued) == 4


def test_cooldown_rule_override() -> None:
    fired = pd.concat(
        [
            findings("score_drop", month_list("2025-01-01", 4)),
            findings("missed_qbr", month_list("2025-01-01", 4)),
        ]
    )
    settings = AlertSettings.model_validate(
        {"cooldown_months": 3, "rules": {"missed_qbr": {"cooldown_months": 1}}}
    )
    issued = issue_alerts(fired, settings)
    by_rule = issued.groupby("rule")["month"].apply(list).to_dict()
    assert by_rule["score_drop"] == [pd.Timestamp("2025-01-01")]
    assert by_rule["missed_qbr"] == list(pd.to_datetime(["2025-01-01", "2025-03-01"]))


def test_cooldown_per_client() -> None:
    fired = pd.concat(
        [
            findings("score_drop", ["2025-01-01", "2025-02-01"], "0001"),
            findings("score_drop", ["2025-02-01"], "0002"),
        ]
    )
    issued = issue_alerts(fired, AlertSettings(cooldown_months=3))
    assert list(issued["client_id"]) == ["0001", "0002"]


def test_first_seen_resets_after_gap() -> None:
    months = ["2025-01-01", "2025-02-01", "2025-07-01", "2025-08-01"]
    issued = issue_alerts(findings("utilisation_drop", months), AlertSettings())
    assert list(issued["month"]) == list(pd.to_datetime(["2025-01-01", "2025-07-01"]))
    assert list(issued["first_seen"]) == list(
        pd.to_datetime(["2025-01-01", "2025-07-01"])
    )


def test_issue_alerts_empty() -> None:
    issued = issue_alerts(findings("score_drop", []), AlertSettings())
    assert issued.empty
    assert "first_seen" in issued.columns


# parse_month


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06", "2026-06-01"),
        ("2026-06-30", "2026-06-01"),
        ("2026-6-5", "2026-06-01"),
    ],
)
def test_parse_month_forms(text: str, expected: str) -> None:
    assert parse_month(text) == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["2026-13", "June", "", "2026-02-30"])
def test_parse_month_invalid(text: str) -> None:
    with pytest.raises(ConfigError, match="Invalid --as-of .*expected a month"):
        parse_month(text, "--as-of")


# run_monitor on a generated portfolio


def test_monitor_columns_and_order(
    small_data: Dataset, default_model: ScoreModel, small_scores: pd.DataFrame
) -> None:
    alerts = run_monitor(small_data, default_model, scores=small_scores)
    assert tuple(alerts.columns) == ALERT_COLUMNS
    assert len(alerts) > 0
    assert alerts["month"].nunique() == 1
    assert alerts.attrs["as_of"] == small_scores["month"].max()

    rank = alerts["severity"].map(SEVERITIES.index)
    keys = list(zip(rank, alerts["client_id"], alerts["rule"], strict=True))
    assert keys == sorted(keys)
    assert alerts["playbook"].str.len().min() > 0
    assert (alerts["first_seen"] <= alerts["month"]).all()
    assert alerts["client_name"].notna().all()


def test_monitor_deterministic(
    small_data: Dataset, default_model: ScoreModel, small_scores: pd.DataFrame
) -> None:
    first = run_monitor(small_data, default_model, as_of="2026-03", scores=small_scores)
    second = run_monitor(
        small_data, default_model, as_of="2026-03", scores=small_scores
    )
    pd.testing.assert_frame_equal(first, second)


def test_monitor_matches_backtest_replay(
    small_data: Dataset, default_model: ScoreModel, small_scores: pd.DataFrame
) -> None:
    # run_monitor scores the data cut at as_of; the backtest scores everything
    # once. Equal alerts show that no rule and no score looks ahead.
    replay = run_backtest(small_data, default_model, scores=small_scores).alerts
    compared = ["client_id", "rule", "value", "first_seen"]
    for as_of in ["2025-10-01", "2026-04-01", "2026-09-01"]:
        alerts = run_monitor(small_data, default_model, as_of=as_of)
        expected = replay[replay["month"] == as_of]
        left = alerts[compared].sort_values(["client_id", "rule"], ignore_index=True)
        right = expected[compared].sort_values(["client_id", "rule"], ignore_index=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=False)


def test_monitor_history_suppresses(
    small_data: Dataset, default_model: ScoreModel, small_scores: pd.DataFrame
) -> None:
    settings = default_model.alerts.model_copy(update={"cooldown_months": 0})
    model = default_model.model_copy(update={"alerts": settings})
    fresh = run_monitor(
        small_data,
        model,
        history=pd.DataFrame(columns=["client_id", "rule", "month"]),
        scores=small_scores,
    )
    assert len(fresh) > 0

    # The same alerts issued last month silence them under a 3-month cooldown.
    last_month = fresh.attrs["as_of"] - pd.DateOffset(months=1)
    history = fresh[["client_id", "rule"]].assign(month=last_month)
    silenced = run_monitor(
        small_data, default_model, history=history, scores=small_scores
    )
    assert silenced.empty
    # Issued four months ago, they are outside the cooldown again.
    history = history.assign(month=fresh.attrs["as_of"] - pd.DateOffset(months=4))
    again = run_monitor(small_data, default_model, history=history, scores=small_scores)
    assert len(again) == len(fresh)


def test_monitor_history_missing_columns(
    small_data: Dataset, default_model: ScoreModel, small_scores: pd.DataFrame
) -> None:
    history = pd.DataFrame({"client_id": ["0001"]})
    with pytest.raises(ConfigError, match="history lacks the column"):
        run_monitor(small_data, default_model, history=history, scores=small_scores)


def test_monitor_as_of_out_of_range(
    small_data: Dataset, default_model: ScoreModel, small_scores: pd.DataFrame
) -> None:
    with pytest.raises(ConfigError, match="2031-01 is outside the scored months"):
        run_monitor(small_data, default_model, as_of="2031-01", scores=small_scores)


def test_monitor_disabled_rules_silent(
    small_data: Dataset, default_model: ScoreModel, small_scores: pd.DataFrame
) -> None:
    off = {name: {"enabled": False} for name in default_model.alerts.enabled_rules()}
    model = default_model.model_copy(
        update={"alerts": AlertSettings.model_validate({"rules": off})}
    )
    assert run_monitor(small_data, model, scores=small_scores).empty


# output files


def test_write_alerts_json_nested(
    tmp_path: Path,
    small_data: Dataset,
    default_model: ScoreModel,
    small_scores: pd.DataFrame,
) -> None:
    alerts = run_monitor(small_data, default_model, scores=small_scores)
    target = write_alerts(alerts, tmp_path / "alerts.json")
    records = json.loads(target.read_text(encoding="utf-8"))
    assert len(records) == len(alerts)
    first = records[0]
    assert first["client_id"] == alerts["client_id"].iloc[0]
    assert set(first["evidence"]) >= {"value", "baseline", "start", "end"}
    assert first["evidence"]["value"] == pytest.approx(alerts["value"].iloc[0])
    assert "value" not in first
    assert first["first_seen"] == f"{alerts['first_seen'].iloc[0]:%Y-%m-%d}"


def test_write_alerts_csv_flat(
    tmp_path: Path,
    small_data: Dataset,
    default_model: ScoreModel,
    small_scores: pd.DataFrame,
) -> None:
    alerts = run_monitor(small_data, default_model, scores=small_scores)
    target = write_alerts(alerts, tmp_path / "alerts.csv")
    table = pd.read_csv(target, dtype={"client_id": str})
    assert list(table["client_id"]) == list(alerts["client_id"])
    assert "evidence_details" in table.columns
    details = json.loads(table["evidence_details"].iloc[0])
    assert details == {
        key: pytest.approx(value) if isinstance(value, float) else value
        for key, value in alerts["details"].iloc[0].items()
    }


def test_write_alerts_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"must end in \.csv or \.json"):
        write_alerts(pd.DataFrame(), tmp_path / "alerts.xlsx")
    assert not (tmp_path / "alerts.xlsx").exists()


def test_summarise_alerts_every_severity() -> None:
    alerts = pd.DataFrame({"severity": ["low", "high", "low"]})
    assert summarise_alerts(alerts) == {"high": 1, "medium": 0, "low": 2}
    assert summarise_alerts(alerts.iloc[0:0]) == {"high": 0, "medium": 0, "low": 0}
