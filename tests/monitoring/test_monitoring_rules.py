"""Each early-warning rule on small hand-made series with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from healthlab.model import Band
from healthlab.monitoring import rules
from healthlab.monitoring.config import (
    RULE_NAMES,
    AlertSettings,
    BandDowngradeRule,
    DetractorRule,
    EmergingThreatRule,
    MissedQbrRule,
    NpsControlRule,
    ProjectedCrossingRule,
    ScoreDropRule,
    UtilisationControlRule,
    UtilisationDropRule,
)
from healthlab.monitoring.monitor import evaluate_client
from healthlab.monitoring.series import ClientSeries

BANDS = [
    Band(name="at_risk", min_score=0),
    Band(name="watch", min_score=45),
    Band(name="healthy", min_score=65),
]


def monthly(values: list[float], start: str = "2025-01-01") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="MS")
    return pd.Series(values, index=index, dtype=float)


def month(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# score_drop


def test_score_drop_values() -> None:
    score = monthly([70, 70, 70, 65, 60, 58])
    found = rules.score_drop(score, ScoreDropRule(points=10, months=3))
    assert [f.month for f in found] == [month("2025-05-01"), month("2025-06-01")]
    assert [f.details["drop"] for f in found] == [10.0, 12.0]
    assert found[1].value == 58.0
    assert found[1].baseline == 70.0
    assert found[1].window_start == month("2025-03-01")
    assert "fell 12.0 points in 3 months" in found[1].explanation


def test_score_drop_below_threshold_silent() -> None:
    score = monthly([70, 70, 70, 61, 62, 63])
    assert rules.score_drop(score, ScoreDropRule(points=10, months=3)) == []


def test_score_drop_gap_month_not_bridged() -> None:
    # 2025-03 is absent: its comparison month is missing, so no drop is measured.
    score = pd.Series(
        [80.0, 80.0, 60.0],
        index=pd.DatetimeIndex(["2025-01-01", "2025-02-01", "2025-04-01"]),
    )
    found = rules.score_drop(score, ScoreDropRule(points=10, months=1))
    assert found == []


# band_downgrade


def test_band_downgrade_each_step() -> None:
    score = monthly([70, 66, 64, 64, 40])
    found = rules.band_downgrade(score, BANDS, BandDowngradeRule())
    assert [f.month for f in found] == [month("2025-03-01"), month("2025-05-01")]
    assert found[0].details == {"from_band": "healthy", "to_band": "watch"}
    assert found[1].details == {"from_band": "watch", "to_band": "at_risk"}
    assert found[0].baseline == 66.0
    assert found[0].value == 64.0


def test_band_downgrade_confirmation() -> None:
    # A one-month dip back to healthy is not confirmed; two months in watch are.
    score = monthly([70, 64, 66, 64, 63])
    found = rules.band_downgrade(score, BANDS, BandDowngradeRule(confirm_months=2))
    assert [f.month for f in found] == [month("2025-05-01")]
    assert found[0].baseline == 66.0


def test_band_upgrade_silent() -> None:
    score = monthly([40, 50, 70])
    assert rules.band_downgrade(score, BANDS, BandDowngradeRule()) == []


# projected_band_crossing


def test_projected_crossing_month() -> None:
    score = monthly([80, 78, 76, 74, 72, 70])
    settings = ProjectedCrossingRule(fit_months=6, horizon_months=3, min_slope=1)
    found = rules.projected_band_crossing(score, BANDS, settings)
    assert len(found) == 1
    finding = found[0]
    assert finding.month == month("2025-06-01")
    assert finding.details["slope_per_month"] == pytest.approx(-2.0)
    # 70 - 2 * 3 = 64 < 65 three months ahead; 66 two months ahead is not.
    assert finding.details["crossing_month"] == "2025-09"
    assert finding.details["months_ahead"] == 3
    assert finding.value == pytest.approx(64.0)
    assert finding.baseline == 65.0


def test_projected_crossing_gentle_slope_silent() -> None:
    score = monthly([68, 67.5, 67, 66.5, 66, 65.5])
    settings = ProjectedCrossingRule(fit_months=6, horizon_months=3, min_slope=1)
    assert rules.projected_band_crossing(score, BANDS, settings) == []


def test_projected_crossing_worst_band_silent() -> None:
    score = monthly([44, 40, 36, 32, 28, 24])
    assert rules.projected_band_crossing(score, BANDS, ProjectedCrossingRule()) == []


# control_chart


def test_control_chart_ewma_value_and_limit() -> None:
    # Baseline 0.5/0.7 alternating: mean 0.6, sample sd sqrt(0.12 / 11).
    values = monthly([0.5, 0.7] * 6 + [0.2, 0.6])
    settings = UtilisationControlRule(
        smoothing=0.2, limit_sigmas=3, baseline_months=12, min_sigma=0.01
    )
    found = rules.control_chart(values, settings, "utilisation_control")
    sigma = math.sqrt(0.12 / 11)
    assert len(found) == 1
    finding = found[0]
    assert finding.month == month("2026-01-01")
    assert finding.value == pytest.approx(0.52)  # 0.2 * 0.2 + 0.8 * 0.6
    assert finding.baseline == pytest.approx(0.6)
    # t = 1: sqrt(0.2 / 1.8 * (1 - 0.8 ** 2)) = 0.2 exactly.
    assert finding.details["limit"] == pytest.approx(0.6 - 3 * sigma * 0.2)
    assert finding.details["sigma"] == pytest.approx(sigma)
    assert finding.details["t"] == 1
    # The next month's EWMA, 0.536, is back above its limit 0.5197.


def test_control_chart_sigma_floor() -> None:
    # A flat baseline would give a zero-width limit; the floor keeps it open.
    values = monthly([8.0] * 12 + [7.0])
    settings = NpsControlRule(smoothing=0.2, limit_sigmas=3, min_sigma=0.5)
    assert rules.control_chart(values, settings, "nps_control") == []
    values = monthly([8.0] * 12 + [1.0])
    found = rules.control_chart(values, settings, "nps_control")
    assert found[0].value == pytest.approx(6.6)
    assert found[0].details["limit"] == pytest.approx(8 - 3 * 0.5 * 0.2)


def test_control_chart_short_baseline_silent() -> None:
    values = monthly([np.nan] * 10 + [0.6, 0.6] + [0.0] * 6)
    settings = UtilisationControlRule(min_baseline_points=6)
    assert rules.control_chart(values, settings, "utilisation_control") == []


# utilisation_drop


def test_utilisation_drop_values() -> None:
    values = monthly([0.6, 0.6, 0.6, 0.45])
    found = rules.utilisation_drop(values, UtilisationDropRule(drop_fraction=0.2))
    assert len(found) == 1
    assert found[0].month == month("2025-04-01")
    assert found[0].baseline == pytest.approx(0.6)
    assert found[0].details["drop_fraction"] == pytest.approx(0.25)


def test_utilisation_small_drop_silent() -> None:
    values = monthly([0.6, 0.6, 0.6, 0.5])
    assert rules.utilisation_drop(values, UtilisationDropRule(drop_fraction=0.2)) == []


# missed_qbr


def test_missed_qbr_days_since_meeting() -> None:
    months = pd.date_range("2025-01-01", "2025-08-01", freq="MS")
    meetings = [pd.Timestamp("2025-04-10"), pd.Timestamp("2025-01-15")]
    settings = MissedQbrRule(expected_interval_days=92, grace_days=31)
    found = rules.missed_qbr(months, meetings, settings)
    # 2025-07-31 is 112 days after 2025-04-10; 2025-08-31 is 143 days after.
    assert [f.month for f in found] == [month("2025-08-01")]
    assert found[0].value == 143
    assert found[0].details["last_meeting"] == "2025-04-10"


def test_missed_qbr_without_meetings() -> None:
    months = pd.date_range("2025-01-01", "2025-06-01", freq="MS")
    found = rules.missed_qbr(months, [], MissedQbrRule())
    # From 2025-01-01: 119 days at 2025-04-30, 150 days at 2025-05-31.
    assert [f.value for f in found] == [150, 180]
    assert "data starts in 2025-01" in found[0].explanation


# detractor_response


def test_detractor_month_and_lowest() -> None:
    responses = pd.DataFrame(
        {
            "response_date": pd.to_datetime(["2025-03-05", "2025-03-20", "2025-05-01"]),
            "score": [9, 4, 7],
        }
    )
    months = pd.date_range("2025-01-01", "2025-06-01", freq="MS")
    found = rules.detractor_response(responses, months, DetractorRule(max_score=6))
    assert [f.month for f in found] == [month("2025-03-01")]
    assert found[0].value == 4
    assert found[0].details == {"detractors": 1, "responses": 2}
    assert math.isnan(found[0].baseline)


def test_detractor_baseline_from_previous_year() -> None:
    responses = pd.DataFrame(
        {
            "response_date": pd.to_datetime(["2025-01-05", "2025-02-05", "2025-06-01"]),
            "score": [9, 8, 6],
        }
    )
    months = pd.date_range("2025-01-01", "2025-06-01", freq="MS")
    found = rules.detractor_response(responses, months, DetractorRule())
    assert found[0].baseline == pytest.approx(8.5)


# emerging_threat


def test_emerging_threat_poisson_p_value() -> None:
    index = pd.date_range("2024-01-01", periods=15, freq="MS")
    detections = pd.DataFrame(
        {
            "channel: marketplace": [10] * 12 + [25] * 3,
            "channel: website": [10] * 15,
        },
        index=index,
    )
    found = rules.emerging_threat(detections, EmergingThreatRule(min_ratio=2))
    assert len(found) == 1
    finding = found[0]
    assert finding.subject == "channel: marketplace"
    assert finding.month == month("2025-03-01")
    assert finding.value == 75
    assert finding.baseline == pytest.approx(30.0)
    # P(X >= 75) for X ~ Poisson(30), summed by hand.
    below = sum(math.exp(-30) * 30**k / math.factorial(k) for k in range(75))
    assert finding.details["p_value"] == pytest.approx(1 - below, rel=1e-6)
    assert finding.details["ratio"] == pytest.approx(2.5)
    assert finding.window_start == month("2024-01-01")


def test_emerging_threat_minimum_count() -> None:
    index = pd.date_range("2024-01-01", periods=15, freq="MS")
    # From 0 to 5 a month: significant, but under the minimum count of 20.
    detections = pd.DataFrame({"channel: domain": [0] * 12 + [5] * 3}, index=index)
    assert rules.emerging_threat(detections, EmergingThreatRule(min_count=20)) == []
    found = rules.emerging_threat(detections, EmergingThreatRule(min_count=15))
    assert found[0].details["p_value"] == 0.0


def test_emerging_threat_minimum_ratio() -> None:
    index = pd.date_range("2024-01-01", periods=15, freq="MS")
    # 300 expected, 450 observed: p is tiny, but the ratio 1.5 is under 2.5.
    detections = pd.DataFrame({"channel: website": [100] * 12 + [150] * 3}, index=index)
    assert rules.emerging_threat(detections, EmergingThreatRule(min_ratio=2.5)) == []
    found = rules.emerging_threat(detections, EmergingThreatRule(min_ratio=1.5))
    assert found[0].details["ratio"] == pytest.approx(1.5)


def test_emerging_threat_needs_full_baseline() -> None:
    index = pd.date_range("2024-01-01", periods=14, freq="MS")
    detections = pd.DataFrame({"channel: domain": [10] * 11 + [90] * 3}, index=index)
    assert rules.emerging_threat(detections, EmergingThreatRule()) == []


# every rule together


def flat_client(months: int = 36) -> ClientSeries:
    index = pd.date_range("2023-10-01", periods=months, freq="MS")
    flat = pd.Series(1.0, index=index)
    responses = pd.DataFrame(
        {"response_date": index[::2] + pd.Timedelta(days=9), "score": 8}
    )
    subjects = ["channel: marketplace", "infringement type: counterfeit"]
    return ClientSeries(
        client_id="0001",
        months=index,
        score=flat * 70,
        utilisation=flat * 0.6,
        enforcement_success=flat * 0.8,
        nps_mean=pd.Series(8.0, index=index[::2]).reindex(index),
        responses=responses,
        meeting_dates=pd.Series(index[::3] + pd.Timedelta(days=14)),
        detections=pd.DataFrame(10.0, index=index, columns=subjects),
    )


def ungated() -> AlertSettings:
    """Return the default settings with the score gate off for every rule."""
    rules_without_gate = {name: {"below_score": None} for name in RULE_NAMES}
    return AlertSettings.model_validate({"rules": rules_without_gate})


def test_flat_series_no_rule_fires() -> None:
    settings = ungated()
    assert len(settings.enabled_rules()) == 10
    assert evaluate_client(flat_client(), settings, BANDS) == []


def test_score_gate_hides_healthy_clients() -> None:
    client = flat_client()
    dropping = ClientSeries(
        **{**client.__dict__, "score": monthly([90] * 30 + [75] * 6, "2023-10-01")}
    )
    fired = {f.rule for f in evaluate_client(dropping, ungated(), BANDS)}
    assert "score_drop" in fired
    # 75 is above the default gate, the best band's edge of 65: no alert.
    assert evaluate_client(dropping, AlertSettings(), BANDS) == []


def test_score_gate_follows_best_band() -> None:
    client = flat_client()
    dropping = ClientSeries(
        **{**client.__dict__, "score": monthly([90] * 30 + [75] * 6, "2023-10-01")}
    )
    higher_bands = [*BANDS[:2], Band(name="healthy", min_score=80)]
    fired = {f.rule for f in evaluate_client(dropping, AlertSettings(), higher_bands)}
    assert "score_drop" in fired


def test_score_gate_fixed_value() -> None:
    client = flat_client()
    dropping = ClientSeries(
        **{**client.__dict__, "score": monthly([90] * 30 + [75] * 6, "2023-10-01")}
    )
    settings = AlertSettings.model_validate(
        {"rules": {"score_drop": {"below_score": 80}}}
    )
    fired = {f.rule for f in evaluate_client(dropping, settings, BANDS)}
    assert fired == {"score_drop"}


def test_disabled_rule_does_not_run() -> None:
    client = flat_client()
    dropping = ClientSeries(
        **{**client.__dict__, "score": monthly([70] * 30 + [50] * 6, "2023-10-01")}
    )
    fired = {f.rule for f in evaluate_client(dropping, AlertSettings(), BANDS)}
    assert "score_drop" in fired
    settings = AlertSettings.model_validate(
        {"rules": {"score_drop": {"enabled": False}}}
    )
    fired = {f.rule for f in evaluate_client(dropping, settings, BANDS)}
    assert "score_drop" not in fired
    assert "band_downgrade" in fired
