"""Report numbers computed from one hand-made client."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthlab.dataset import Dataset
from healthlab.errors import ReportError
from healthlab.model import COMPONENTS, ChurnRisk, load_model
from healthlab.reports import content, sections
from healthlab.reports.parameters import ReportInputs
from healthlab.reports.quarters import Quarter

Q3 = Quarter(2026, 3)
MONTHS = pd.date_range("2025-01-01", "2026-09-01", freq="MS")


def _operations() -> pd.DataFrame:
    rows = []
    for month in MONTHS:
        in_q3 = month >= pd.Timestamp("2026-07-01")
        # Marketplace counterfeits: a flat 10 per month.
        rows.append(("marketplace", "counterfeit", 10, 10, 9, 4.0))
        # Domains: 2 per month, then 30 per month in the report quarter.
        rows.append(("domain", "impersonation", 30 if in_q3 else 2, 0, 0, math.nan))
        frame_rows = [(month, *row) for row in rows[-2:]]
        rows[-2:] = frame_rows
    frame = pd.DataFrame(
        rows,
        columns=[
            "month",
            "channel",
            "infringement_type",
            "detections",
            "enforcement_requested",
            "removals_confirmed",
            "median_days_to_removal",
        ],
    )
    frame.insert(0, "client_id", "C1")
    return frame


def make_client() -> Dataset:
    clients = pd.DataFrame(
        {
            "client_id": ["C1"],
            "client_name": ['<b>Acme</b> "One"'],
            "segment": ["smb"],
            "tier": ["standard"],
            "arr_usd": [40_000.0],
            "contract_start": [pd.Timestamp("2024-01-01")],
            "renewal_date": [pd.Timestamp("2026-12-01")],
            "licensed_seats": [10],
            "csm": ["Dana Reyes"],
        }
    )
    usage = pd.DataFrame(
        {
            "client_id": "C1",
            "month": MONTHS,
            "active_users": [6] * (len(MONTHS) - 3) + [4, 5, 6],
            "logins": 100,
        }
    )
    nps = pd.DataFrame(
        {
            "client_id": "C1",
            "response_date": pd.to_datetime(
                ["2026-07-05", "2026-08-01", "2026-08-20", "2026-09-09", "2026-04-02"]
            ),
            "respondent_id": ["a", "b", "c", "d", "e"],
            "score": [10, 9, 7, 3, 10],
        }
    )
    impact = pd.DataFrame(
        {
            "client_id": "C1",
            "month": MONTHS,
            "avg_listing_price_usd": 50.0,
            "est_units_per_listing": 4.0,
        }
    )
    meetings = pd.DataFrame(
        {
            "client_id": ["C1"],
            "meeting_date": [pd.Timestamp("2026-08-10")],
            "sentiment": ["negative"],
            "objectives_met": [1],
            "objectives_total": [3],
            "internal_notes": ["Secret note about budget"],
        }
    )
    renewals = pd.DataFrame(
        {
            "client_id": pd.Series([], dtype="str"),
            "renewal_date": pd.Series([], dtype="datetime64[ns]"),
            "outcome": pd.Series([], dtype="str"),
            "arr_usd": pd.Series([], dtype="float64"),
        }
    )
    return Dataset(
        source=Path("."),
        clients=clients,
        usage=usage,
        nps=nps,
        operations=_operations(),
        economic_impact=impact,
        qbr_meetings=meetings,
        renewals=renewals,
    )


@pytest.fixture
def data() -> Dataset:
    return make_client()


def test_enforcement_uses_wilson_lower_bound(data: Dataset) -> None:
    result = content.enforcement(data, Q3, 0.95)
    assert result.requested == 30
    assert result.removed == 27
    assert result.success_rate == pytest.approx(0.9)
    # Wilson 95% interval of 27/30: lower end 0.7438 (statsmodels proportion_confint).
    assert result.success_lower == pytest.approx(0.7438, abs=1e-4)
    assert result.days_to_removal == pytest.approx(4.0)
    assert result.previous_requested == 30


def test_detections_by_channel_change_and_share(data: Dataset) -> None:
    table = content.detections_by(data, Q3, "channel").set_index("category")
    assert table.loc["domain", "detections"] == 90
    assert table.loc["domain", "previous"] == 6
    assert table.loc["domain", "change"] == pytest.approx(14.0)
    assert table.loc["marketplace", "share"] == pytest.approx(30 / 120)
    assert table.index[0] == "domain"


def test_monthly_trend_covers_twelve_months(data: Dataset) -> None:
    trend = content.monthly_by(data, Q3, "channel")
    assert trend["month"].nunique() == 12
    assert trend["month"].max() == pd.Timestamp("2026-09-01")
    assert set(trend["name"]) == {"Marketplaces", "Domains"}


def test_economic_impact_quarter_and_year_to_date(data: Dataset) -> None:
    model = load_model()
    result = content.economic_impact(data, Q3, model)
    per_month = 9 * 50.0 * 4.0 * model.parameters.displacement_rate
    assert result.quarter_usd == pytest.approx(3 * per_month)
    assert result.year_to_date_usd == pytest.approx(9 * per_month)
    assert result.year_to_date_months == 9
    assert result.quarter_multiple == pytest.approx(3 * per_month / 10_000)


def test_utilisation_means_over_quarter(data: Dataset) -> None:
    result = content.utilisation(data, Q3, target=0.8)
    assert result.utilisation == pytest.approx(0.5)
    assert result.previous_utilisation == pytest.approx(0.6)
    assert result.logins_per_user == pytest.approx(300 / 15)


def test_nps_by_quarter_counts(data: Dataset) -> None:
    table = content.nps_by_quarter(data, Q3).set_index("quarter")
    assert table.loc["Q3 2026", "responses"] == 4
    assert table.loc["Q3 2026", "promoters"] == 2
    assert table.loc["Q3 2026", "detractors"] == 1
    assert table.loc["Q3 2026", "nps"] == pytest.approx(25.0)
    assert table.loc["Q2 2026", "nps"] == pytest.approx(100.0)
    assert math.isnan(table.loc["Q1 2026", "nps"])


def test_emerging_threats_flags_growth_only(data: Dataset) -> None:
    threats = content.emerging_threats(data, Q3)
    assert set(threats["category"]) == {"domain", "impersonation"}
    domain = threats.set_index("category").loc["domain"]
    assert domain["baseline"] == pytest.approx(6.0)
    assert domain["growth"] == pytest.approx(15.0)
    assert domain["p_value"] < 1e-10
    assert "defensive domains" in domain["step"]


def test_emerging_threats_new_channel_has_infinite_growth(data: Dataset) -> None:
    operations = data.operations.copy()
    new = operations[operations["channel"] == "domain"].copy()
    new = new[new["month"] >= pd.Timestamp("2026-07-01")]
    new["channel"] = "app_store"
    operations = operations[operations["channel"] != "domain"]
    changed = Dataset(**{**data.__dict__, "operations": pd.concat([operations, new])})
    threats = content.emerging_threats(changed, Q3).set_index("category")
    assert math.isinf(threats.loc["app_store", "growth"])


def test_flat_series_raises_no_threat(data: Dataset) -> None:
    flat = data.operations[data.operations["channel"] == "marketplace"]
    changed = Dataset(**{**data.__dict__, "operations": flat})
    assert content.emerging_threats(changed, Q3).empty


def _scores() -> pd.DataFrame:
    months = pd.date_range("2026-01-01", "2026-09-01", freq="MS")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"client_id": "C1", "month": months})
    for name in COMPONENTS:
        frame[name] = rng.uniform(20, 90, len(months))
    frame["score"] = frame[list(COMPONENTS)].mean(axis=1)
    frame["band"] = "watch"
    frame["confidence"] = 1.0
    frame["low_confidence"] = False
    change = frame["score"].diff()
    frame["score_change"] = change
    for name in COMPONENTS:
        frame[f"contrib_{name}"] = frame[name].diff() / len(COMPONENTS)
    return frame


def test_health_contributions_sum_to_change() -> None:
    model = load_model()
    result = content.health(_scores(), Q3, model)
    assert result is not None
    assert result.month == pd.Timestamp("2026-09-01")
    assert result.contributions["points"].sum() == pytest.approx(result.change)
    assert math.isnan(result.churn_probability)  # default model is not calibrated


def test_churn_probability_formula() -> None:
    risk = ChurnRisk(intercept=2.0, slope=-0.05)
    assert content.churn_probability(40.0, risk) == pytest.approx(0.5)
    assert content.churn_probability(80.0, risk) == pytest.approx(1 / (1 + math.e**2))
    assert math.isnan(content.churn_probability(50.0, None))


def _inputs(data: Dataset, audience: str) -> ReportInputs:
    return ReportInputs(
        client_id="C1",
        quarter=Q3,
        audience=audience,
        data=data,
        model=load_model(),
        dataset_last_month=pd.Timestamp("2026-09-01"),
        scores=_scores() if audience == "internal" else None,
        alerts=None,
    )


def test_client_report_has_no_internal_parts(data: Dataset) -> None:
    report = content.build_report(_inputs(data, "client"), prepared=date(2026, 10, 2))
    assert report.health is None
    assert report.meeting is None
    assert report.talking_points is None
    assert report.recommendations
    for section in (
        sections.health,
        sections.alerts_and_meeting,
        sections.talking_points,
    ):
        with pytest.raises(ReportError, match="internal-only"):
            section(report)


def test_internal_report_has_talking_points(data: Dataset) -> None:
    report = content.build_report(_inputs(data, "internal"))
    assert report.health is not None
    assert report.meeting is not None
    assert report.meeting.internal_notes == "Secret note about budget"
    assert any(
        "Renewal on 01 Dec 2026" in point for point in report.talking_points or []
    )
    assert any("was negative" in point for point in report.talking_points or [])


def test_client_sections_escape_name_and_hide_notes(data: Dataset) -> None:
    report = content.build_report(_inputs(data, "client"))
    page = "".join(
        builder(report)
        for builder in (
            sections.cover,
            sections.executive_summary,
            sections.brand_protection,
            sections.economic_impact,
            sections.utilisation,
            sections.nps_trend,
            sections.emerging_threats,
            sections.recommendations,
            sections.methodology,
        )
    )
    assert "&lt;b&gt;Acme&lt;/b&gt; &quot;One&quot;" in page
    assert "<b>Acme" not in page
    assert "Secret note" not in page
    assert "Dana Reyes" not in page
    assert "Wilson" in page
