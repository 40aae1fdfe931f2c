"""The numbers of one QBR report, computed from one client's data.

Every function here is pure: it takes one client's tables (a
:class:`~healthlab.dataset.Dataset` holding only that client's rows) and a
:class:`~healthlab.reports.quarters.Quarter`, and returns frames or small
dataclasses. Nothing is formatted or drawn here; :mod:`.sections` turns the
results into HTML. :func:`build_report` computes everything a report shows and
leaves the internal-only parts empty for the client edition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from healthlab.dataset import Dataset
from healthlab.model import COMPONENTS, ChurnRisk, ScoreModel
from healthlab.reports.parameters import ReportInputs
from healthlab.reports.quarters import Quarter
from healthlab.stats import net_promoter_score, wilson_lower_bound
from healthlab.tables import CHANNELS, INFRINGEMENT_TYPES

TREND_MONTHS = 12
NPS_QUARTERS = 6
BASELINE_QUARTERS = 4
THREAT_MIN_DETECTIONS = 20
THREAT_MIN_GROWTH = 1.5
THREAT_SIGNIFICANCE = 0.01
LOW_SUCCESS_RATE = 0.7
LOW_UTILISATION_SHARE = 0.6
FEW_NPS_RESPONSES = 5

COMPONENT_LABELS = {
    "utilisation": "Utilisation",
    "enforcement": "Enforcement",
    "nps": "NPS",
    "impact": "Impact",
    "engagement": "Engagement",
}

DIMENSION_LABELS = {"channel": "Channel", "infringement_type": "Type"}

CATEGORY_LABELS: dict[str, str] = {
    "marketplace": "Marketplaces",
    "social_media": "Social media",
    "website": "Websites",
    "app_store": "App stores",
    "domain": "Domains",
    "counterfeit": "Counterfeit",
    "trademark_misuse": "Trademark misuse",
    "copyright": "Copyright",
    "impersonation": "Impersonation",
    "grey_market": "Grey market",
}

PROTECTIVE_STEPS: dict[str, str] = {
    "marketplace": (
        "Register further trademarks and product designs with the marketplaces' "
        "brand-registry programmes, so listings can be removed on sight."
    ),
    "social_media": (
        "Verify the official brand accounts and register the marks with each "
        "platform's rights-management programme."
    ),
    "website": (
        "Register the marks in the countries the sites target and add the "
        "hosting providers to the enforcement list."
    ),
    "app_store": (
        "Register app names and icons as trademarks and enrol them in the app "
        "stores' IP-complaint programmes."
    ),
    "domain": (
        "Register defensive domains in the affected top-level domains and extend "
        "domain monitoring to look-alike spellings."
    ),
    "counterfeit": (
        "Record the registered marks with customs and register further product "
        "designs in the affected markets."
    ),
    "trademark_misuse": (
        "Register the marks in further classes and jurisdictions where the "
        "misuse appears."
    ),
    "copyright": (
        "Register copyright in product images and marketing content, so "
        "takedowns need less proof of ownership."
    ),
    "impersonation": (
        "Verify official accounts and publish a list of authorised channels for "
        "customers."
    ),
    "grey_market": (
        "Review distributor agreements in the affected regions and register the "
        "marks locally to act on parallel imports."
    ),
}


def label(category: str) -> str:
    """Return the display name of a channel or infringement type."""
    return CATEGORY_LABELS.get(category, category.replace("_", " ").capitalize())


# --------------------------------------------------------------------------
# Client facts and period coverage


@dataclass(frozen=True)
class ClientFacts:
    """The client's contract facts from the clients table."""

    client_id: str
    name: str
    segment: str
    tier: str
    arr_usd: float
    licensed_seats: int
    contract_start: pd.Timestamp
    renewal_date: pd.Timestamp
    csm: str


def client_facts(data: Dataset) -> ClientFacts:
    """Return the facts of the one client in ``data``."""
    row = data.clients.iloc[0]
    return ClientFacts(
        client_id=str(row["client_id"]),
        name=str(row["client_name"]),
        segment=str(row["segment"]),
        tier=str(row["tier"]),
        arr_usd=float(row["arr_usd"]),
        licensed_seats=int(row["licensed_seats"]),
        contract_start=pd.Timestamp(row["contract_start"]),
        renewal_date=pd.Timestamp(row["renewal_date"]),
        csm=str(row["csm"]),
    )


@dataclass(frozen=True)
class Coverage:
    """The months of the quarter that have data."""

    months: list[pd.Timestamp]
    complete: bool


def coverage(data: Dataset, quarter: Quarter) -> Coverage:
    """Return the quarter's months that have usage or operations data."""
    months = pd.concat([data.usage["month"], data.operations["month"]])
    inside = sorted(set(months[quarter.contains(months)]))
    return Coverage(months=list(inside), complete=len(inside) == 3)


def _trailing_months(quarter: Quarter, count: int) -> list[pd.Timestamp]:
    last = quarter.months[-1]
    return [last - pd.DateOffset(months=offset) for offset in range(count - 1, -1, -1)]


def _quarter_number(quarter: Quarter) -> int:
    return quarter.year * 4 + quarter.number - 1


def _quarterly_detections(operations: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Return detections per category (rows) and quarter number (columns)."""
    months = operations["month"]
    numbers = months.dt.year * 4 + months.dt.quarter - 1
    totals = operations.groupby([operations[dimension], numbers.rename("quarter")])[
        "detections"
    ].sum()
    return totals.unstack(fill_value=0).astype(float)


def _detections_in(table: pd.DataFrame, category: str, quarter: Quarter) -> float:
    number = _quarter_number(quarter)
    if category not in table.index or number not in table.columns:
        return 0.0
    return float(table.loc[category, number])  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Brand-protection results


def detections_by(data: Dataset, quarter: Quarter, dimension: str) -> pd.DataFrame:
    """Summarise detections by channel or infringement type for the quarter.

    Returns
    -------
    pandas.DataFrame
        One row per category with detections in the quarter or the four before
        it, sorted by the quarter's detections: ``category``, ``name``,
        ``detections``, ``previous`` (previous quarter), ``change`` (relative
        to the previous quarter, NaN when that was 0), ``year_ago`` (same
        quarter a year before) and ``share`` of the quarter's detections.
    """
    table = _quarterly_detections(data.operations, dimension)
    rows = []
    categories = CHANNELS if dimension == "channel" else INFRINGEMENT_TYPES
    for category in categories:
        now = _detections_in(table, category, quarter)
        previous = _detections_in(table, category, quarter.previous())
        year_ago = _detections_in(table, category, quarter.shift(-4))
        recent = sum(
            _detections_in(table, category, quarter.shift(-offset))
            for offset in range(BASELINE_QUARTERS + 1)
        )
        if recent == 0:
            continue
        rows.append(
            {
                "category": category,
                "name": label(category),
                "detections": now,
                "previous": previous,
                "change": (now - previous) / previous if previous else math.nan,
                "year_ago": year_ago,
            }
        )
    summary = pd.DataFrame(
        rows,
        columns=["category", "name", "detections", "previous", "change", "year_ago"],
    )
    total = summary["detections"].sum()
    summary["share"] = summary["detections"] / total if total else math.nan
    return summary.sort_values("detections", ascending=False, ignore_index=True)


def monthly_by(
    data: Dataset, quarter: Quarter, dimension: str, months: int = TREND_MONTHS
) -> pd.DataFrame:
    """Return detections per month and category over the trailing months.

    Columns ``month``, ``name`` (display name of the category) and
    ``detections``, for the ``months`` months that end with the quarter. A
    category seen in the period counts 0 in months without a row.
    """
    window = _trailing_months(quarter, months)
    frame = data.operations[data.operations["month"].isin(window)]
    totals = frame.groupby(["month", dimension], observed=True)["detections"].sum()
    categories = sorted(set(frame[dimension]))
    index = pd.MultiIndex.from_product([window, categories], names=["month", dimension])
    full = totals.reindex(index, fill_value=0).reset_index()
    full["name"] = full[dimension].map(label)
    return full[["month", "name", "detections"]]


@dataclass(frozen=True)
class Enforcement:
    """Enforcement totals of a quarter and the quarter before."""

    detections: float
    requested: float
    removed: float
    success_rate: float
    success_lower: float
    days_to_removal: float
    previous_requested: float
    previous_removed: float
    previous_success_rate: float
    previous_days_to_removal: float
    confidence: float
    by_channel: pd.DataFrame = field(repr=False)


def _days_to_removal(frame: pd.DataFrame) -> float:
    # Monthly medians cannot be pooled into an exact median; weighting each by
    # its removals gives the typical days per removal.
    rows = frame.dropna(subset=["median_days_to_removal"])
    rows = rows[rows["removals_confirmed"] > 0]
    weights = rows["removals_confirmed"].sum()
    if not weights:
        return math.nan
    return float(
        (rows["median_days_to_removal"] * rows["removals_confirmed"]).sum() / weights
    )


def _rate(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def enforcement(data: Dataset, quarter: Quarter, confidence: float) -> Enforcement:
    """Summarise enforcement actions, removals and success for the quarter.

    The success rate is removals confirmed over actions requested; its lower
    bound is the lower end of the two-sided Wilson interval at ``confidence``.
    """
    operations = data.operations
    now = operations[quarter.contains(operations["month"])]
    before = operations[quarter.previous().contains(operations["month"])]
    requested = float(now["enforcement_requested"].sum())
    removed = float(now["removals_confirmed"].sum())

    channel_rows = []
    for channel, frame in now.groupby("channel", observed=True):
        asked = float(frame["enforcement_requested"].sum())
        done = float(frame["removals_confirmed"].sum())
        if not asked and not frame["detections"].sum():
            continue
        channel_rows.append(
            {
                "category": channel,
                "name": label(str(channel)),
                "detections": float(frame["detections"].sum()),
                "requested": asked,
                "removed": done,
                "success_rate": _rate(done, asked),
                "success_lower": (
                    float(wilson_lower_bound(done, asked, confidence))
                    if asked
                    else math.nan
                ),
                "days_to_removal": _days_to_removal(frame),
            }
        )
    by_channel = pd.DataFrame(
        channel_rows,
        columns=[
            "category",
            "name",
            "detections",
            "requested",
            "removed",
            "success_rate",
            "success_lower",
            "days_to_removal",
        ],
    ).sort_values("requested", ascending=False, ignore_index=True)

    before_requested = float(before["enforcement_requested"].sum())
    before_removed = float(before["removals_confirmed"].sum())
    return Enforcement(
        detections=float(now["detections"].sum()),
        requested=requested,
        removed=removed,
        success_rate=_rate(removed, requested),
        success_lower=(
            float(wilson_lower_bound(removed, requested, confidence))
            if requested
            else math.nan
        ),
        days_to_removal=_days_to_removal(now),
        previous_requested=before_requested,
        previous_removed=before_removed,
        previous_success_rate=_rate(before_removed, before_requested),
        previous_days_to_removal=_days_to_removal(before),
        confidence=confidence,
        by_channel=by_channel,
    )


def monthly_enforcement(
    data: Dataset, quarter: Quarter, months: int = TREND_MONTHS
) -> pd.DataFrame:
    """Return actions requested and removals confirmed per month (trailing)."""
    window = _trailing_months(quarter, months)
    frame = data.operations[data.operations["month"].isin(window)]
    totals = frame.groupby("month")[
        ["enforcement_requested", "removals_confirmed"]
    ].sum()
    return totals.reindex(window, fill_value=0).rename_axis("month").reset_index()


# --------------------------------------------------------------------------
# Economic impact


@dataclass(frozen=True)
class Impact:
    """Estimated revenue protected, for the quarter and the year to date."""

    quarter_usd: float
    previous_quarter_usd: float
    year_to_date_usd: float
    year_to_date_months: int
    removals_quarter: float
    displacement_rate: float
    arr_usd: float
    quarter_multiple: float
    months: pd.DataFrame = field(repr=False)


def economic_impact(data: Dataset, quarter: Quarter, model: ScoreModel) -> Impact:
    """Estimate the revenue protected by confirmed removals.

    Each month's impact is ``removals confirmed * average listing price *
    estimated units per listing * displacement rate`` (see
    :func:`healthlab.components.impact_usd`). Year to date runs from January of
    the quarter's year to the quarter's end. ``quarter_multiple`` compares the
    quarter's impact with a quarter of the contract value (ARR / 4).
    """
    from healthlab.components import monthly_impact

    monthly = monthly_impact(data, model.parameters)
    in_quarter = monthly[quarter.contains(monthly["month"])]
    previous = monthly[quarter.previous().contains(monthly["month"])]
    year = monthly[
        (monthly["month"] >= quarter.year_start) & (monthly["month"] <= quarter.end)
    ]
    arr = float(data.clients["arr_usd"].iloc[0])
    quarter_usd = float(in_quarter["impact_usd"].sum())
    return Impact(
        quarter_usd=quarter_usd,
        previous_quarter_usd=float(previous["impact_usd"].sum()),
        year_to_date_usd=float(year["impact_usd"].sum()),
        year_to_date_months=int(year["month"].nunique()),
        removals_quarter=float(in_quarter["removals_confirmed"].sum()),
        displacement_rate=model.parameters.displacement_rate,
        arr_usd=arr,
        quarter_multiple=quarter_usd / (arr / 4) if arr > 0 else math.nan,
        months=in_quarter.drop(columns=["client_id"]).reset_index(drop=True),
    )


# --------------------------------------------------------------------------
# Utilisation


@dataclass(frozen=True)
class Utilisation:
    """Seat utilisation in the quarter and the quarter before."""

    seats: int
    active_users: float
    utilisation: float
    previous_utilisation: float
    logins_per_user: float
    target: float
    monthly: pd.DataFrame = field(repr=False)


def utilisation(data: Dataset, quarter: Quarter, target: float) -> Utilisation:
    """Summarise active users per licensed seat.

    Utilisation is the mean over the quarter's months with a usage row of
    ``active_users / licensed_seats``; ``target`` is the model's utilisation
    target, shown for reference.
    """
    seats = int(data.clients["licensed_seats"].iloc[0])
    usage = data.usage.assign(utilisation=data.usage["active_users"] / seats)
    now = usage[quarter.contains(usage["month"])]
    before = usage[quarter.previous().contains(usage["month"])]
    window = _trailing_months(quarter, TREND_MONTHS)
    monthly = usage[usage["month"].isin(window)][
        ["month", "active_users", "logins", "utilisation"]
    ].sort_values("month", ignore_index=True)
    users = float(now["active_users"].sum())
    return Utilisation(
        seats=seats,
        active_users=float(now["active_users"].mean()) if len(now) else math.nan,
        utilisation=float(now["utilisation"].mean()) if len(now) else math.nan,
        previous_utilisation=(
            float(before["utilisation"].mean()) if len(before) else math.nan
        ),
        logins_per_user=float(now["logins"].sum()) / users if users else math.nan,
        target=target,
        monthly=monthly,
    )


# --------------------------------------------------------------------------
# NPS


def nps_by_quarter(
    data: Dataset, quarter: Quarter, quarters: int = NPS_QUARTERS
) -> pd.DataFrame:
    """Return the NPS of each of the last ``quarters`` quarters.

    Columns ``quarter`` (``Q3 2026``), ``responses``, ``promoters`` (scores
    9-10), ``passives`` (7-8), ``detractors`` (0-6) and ``nps``. NPS is the
    percentage of promoters minus the percentage of detractors, NaN without
    responses.
    """
    nps = data.nps
    rows = []
    for offset in range(quarters - 1, -1, -1):
        period = quarter.shift(-offset)
        scores = nps.loc[period.contains(nps["response_date"]), "score"]
        promoters = int((scores >= 9).sum())
        detractors = int((scores <= 6).sum())
        rows.append(
            {
                "quarter": period.label,
                "responses": len(scores),
                "promoters": promoters,
                "passives": len(scores) - promoters - detractors,
                "detractors": detractors,
                "nps": float(net_promoter_score(promoters, detractors, len(scores))),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------
# Emerging threats


def poisson_tail(observed: float, mean: float) -> float:
    """Return P(X >= observed) for X ~ Poisson(mean)."""
    from scipy.stats import poisson

    return float(poisson.sf(observed - 1, mean))


def emerging_threats(data: Dataset, quarter: Quarter) -> pd.DataFrame:
    """Find channels and infringement types growing fast against their own baseline.

    The baseline of a category is its mean detections per quarter over the
    four quarters before this one. A category is flagged when the quarter has
    at least :data:`THREAT_MIN_DETECTIONS` detections, at least
    :data:`THREAT_MIN_GROWTH` times the baseline, and a one-sided Poisson test
    of the quarter's count against the baseline mean gives p below
    :data:`THREAT_SIGNIFICANCE`. A category without baseline detections is
    tested against a mean of 1.

    Returns
    -------
    pandas.DataFrame
        Flagged categories, fastest growing first: ``dimension``,
        ``category``, ``name``, ``detections``, ``baseline``, ``growth``
        (quarter over baseline), ``p_value`` and ``step`` (a suggested
        protective step).
    """
    rows = []
    for dimension, categories in (
        ("channel", CHANNELS),
        ("infringement_type", INFRINGEMENT_TYPES),
    ):
        table = _quarterly_detections(data.operations, dimension)
        for category in categories:
            now = _detections_in(table, category, quarter)
            baseline = (
                sum(
                    _detections_in(table, category, quarter.shift(-offset))
                    for offset in range(1, BASELINE_QUARTERS + 1)
                )
                / BASELINE_QUARTERS
            )
            tested_mean = max(baseline, 1.0)
            growth = now / tested_mean
            if now < THREAT_MIN_DETECTIONS or growth < THREAT_MIN_GROWTH:
                continue
            p_value = poisson_tail(now, tested_mean)
            if p_value >= THREAT_SIGNIFICANCE:
                continue
            rows.append(
                {
                    "dimension": DIMENSION_LABELS[dimension],
                    "category": category,
                    "name": label(category),
                    "detections": now,
                    "baseline": baseline,
                    "growth": now / baseline if baseline else math.inf,
                    "p_value": p_value,
                    "step": PROTECTIVE_STEPS.get(category, ""),
                }
            )
    columns = [
        "dimension",
        "category",
        "name",
        "detections",
        "baseline",
        "growth",
        "p_value",
        "step",
    ]
    threats = pd.DataFrame(rows, columns=columns)
    return threats.sort_values(
        ["growth", "detections"], ascending=False, ignore_index=True
    )


# --------------------------------------------------------------------------
# Internal edition: health score, churn risk, alerts, meetings


@dataclass(frozen=True)
class Health:
    """Health score at the end of the quarter and what moved it."""

    month: pd.Timestamp
    score: float
    band: str
    confidence: float
    low_confidence: bool
    previous_score: float
    change: float
    contributions: pd.DataFrame = field(repr=False)
    components: pd.DataFrame = field(repr=False)
    history: pd.DataFrame = field(repr=False)
    churn_probability: float
    churn_horizon_months: int | None


def churn_probability(score: float, churn_risk: ChurnRisk | None) -> float:
    """Return the model's churn probability for a score; NaN if uncalibrated.

    ``logit(p) = intercept + slope * score`` with the model file's
    ``churn_risk`` coefficients.
    """
    if churn_risk is None or math.isnan(score):
        return math.nan
    logit = churn_risk.intercept + churn_risk.slope * score
    return 1.0 / (1.0 + math.exp(-logit))


def health(scores: pd.DataFrame, quarter: Quarter, model: ScoreModel) -> Health | None:
    """Summarise the client's health score for the quarter.

    The score is the last scored month of the quarter; the change runs from
    the last scored month of the previous quarter. Contributions are the
    monthly ``contrib_<component>`` values summed over the months in between,
    so they add up to the change exactly. Returns None when the quarter has no
    score.
    """
    scored = scores.dropna(subset=["score"]).sort_values("month")
    now = scored[scored["month"] <= quarter.months[-1]]
    now = now[now["month"] >= quarter.start]
    if now.empty:
        return None
    last = now.iloc[-1]
    before = scored[scored["month"] < quarter.start]
    previous_score = float(before["score"].iloc[-1]) if len(before) else math.nan
    if len(before):
        between = scores[
            (scores["month"] > before["month"].iloc[-1])
            & (scores["month"] <= last["month"])
        ]
        points = [float(between[f"contrib_{name}"].sum()) for name in COMPONENTS]
        change = float(last["score"]) - previous_score
    else:
        points = [math.nan] * len(COMPONENTS)
        change = math.nan
    labels = [COMPONENT_LABELS[name] for name in COMPONENTS]
    contributions = pd.DataFrame({"component": labels, "points": points})
    components = pd.DataFrame(
        {
            "component": labels,
            "value": [float(last[name]) for name in COMPONENTS],
        }
    )
    window = _trailing_months(quarter, TREND_MONTHS)
    history = scored[scored["month"].isin(window)][["month", "score", "band"]]
    risk = model.churn_risk
    return Health(
        month=pd.Timestamp(last["month"]),
        score=float(last["score"]),
        band=str(last["band"]),
        confidence=float(last["confidence"]),
        low_confidence=bool(last["low_confidence"]),
        previous_score=previous_score,
        change=change,
        contributions=contributions,
        components=components,
        history=history.reset_index(drop=True),
        churn_probability=churn_probability(float(last["score"]), risk),
        churn_horizon_months=None if risk is None else risk.horizon_months,
    )


@dataclass(frozen=True)
class Meeting:
    """The last QBR meeting on or before the quarter's end."""

    meeting_date: pd.Timestamp
    sentiment: str
    objectives_met: int
    objectives_total: int
    internal_notes: str


def last_meeting(data: Dataset, quarter: Quarter) -> Meeting | None:
    """Return the latest QBR meeting up to the quarter's end, if any."""
    meetings = data.qbr_meetings[data.qbr_meetings["meeting_date"] <= quarter.end]
    if meetings.empty:
        return None
    row = meetings.sort_values("meeting_date").iloc[-1]
    notes = row["internal_notes"]
    return Meeting(
        meeting_date=pd.Timestamp(row["meeting_date"]),
        sentiment=str(row["sentiment"]),
        objectives_met=int(row["objectives_met"]),
        objectives_total=int(row["objectives_total"]),
        internal_notes="" if pd.isna(notes) else str(notes),
    )


# --------------------------------------------------------------------------
# Recommendations and talking points


def _fell(now: float, before: float, by: float) -> bool:
    return not (math.isnan(now) or math.isnan(before)) and now < before - by


def recommendations(
    protection: Enforcement,
    threats: pd.DataFrame,
    usage: Utilisation,
    nps: pd.DataFrame,
) -> list[str]:
    """Return client-facing recommendations derived from the quarter's results."""
    advice = []
    for row in threats.head(3).itertuples():
        advice.append(f"{row.name}: {row.step}")
    if not math.isnan(protection.success_rate) and (
        protection.success_rate < LOW_SUCCESS_RATE
    ):
        weakest = protection.by_channel.dropna(subset=["success_rate"])
        weakest = weakest[weakest["requested"] >= 10].sort_values("success_rate")
        where = f" on {weakest['name'].iloc[0].lower()}" if len(weakest) else ""
        advice.append(
            "Raise the removal rate"
            f"{where}: share further proof of rights (registrations, "
            "authorised-seller lists) so that platforms accept more requests."
        )
    if not math.isnan(usage.utilisation) and (
        usage.utilisation < LOW_UTILISATION_SHARE * usage.target
    ):
        advice.append(
            "Bring more of the licensed team onto the platform: a short training "
            "session for new users and saved searches for each channel."
        )
    recent = nps.dropna(subset=["nps"])
    if len(recent) >= 2 and _fell(recent["nps"].iloc[-1], recent["nps"].iloc[-2], 10):
        advice.append(
            "Review the survey comments together, to agree what would make the "
            "service more valuable to the team."
        )
    if not advice:
        advice.append(
            "Keep the current enforcement programme; review the channel mix again "
            "next quarter."
        )
    return advice


def talking_points(
    facts: ClientFacts,
    quarter: Quarter,
    protection: Enforcement,
    impact: Impact,
    threats: pd.DataFrame,
    score: Health | None,
    meeting: Meeting | None,
    alerts: pd.DataFrame | None,
) -> list[str]:
    """Return internal talking points for the customer-success manager."""
    points = []
    days_left = (facts.renewal_date - quarter.end).days
    if 0 <= days_left <= 180:
        points.append(
            f"Renewal on {facts.renewal_date:%d %b %Y}, {days_left} days after the "
            "quarter's end: confirm the decision timeline."
        )
    if impact.quarter_usd > 0:
        points.append(
            f"Lead with value: about ${impact.quarter_usd:,.0f} protected this "
            f"quarter, {impact.quarter_multiple:.1f}x a quarter of the contract."
        )
    if len(threats):
        names = ", ".join(threats["name"].head(3).str.lower())
        points.append(f"Offer the protective steps for the rising threats: {names}.")
    if score is not None and not math.isnan(score.change) and score.change <= -5:
        worst = score.contributions.sort_values("points").iloc[0]
        points.append(
            f"Health fell {abs(score.change):.1f} points, mostly from "
            f"{worst['component'].lower()}: ask about it before it comes up."
        )
    if meeting is not None and meeting.sentiment == "negative":
        points.append(
            f"The last QBR ({meeting.meeting_date:%d %b %Y}) was negative: open with "
            "the follow-ups agreed then."
        )
    if alerts is not None and len(alerts):
        points.append(f"{len(alerts)} open alert(s): address them in the agenda.")
    if not math.isnan(protection.success_rate) and protection.success_rate < 0.7:
        points.append("Removal rate is below 70%: bring the proof-of-rights plan.")
    if not points:
        points.append("No risks stand out this quarter: use the meeting to expand.")
    return points


# --------------------------------------------------------------------------
# The whole report


@dataclass(frozen=True)
class QuarterReport:
    """Every number one report shows; internal parts are None for clients."""

    audience: str
    quarter: Quarter
    prepared: date
    facts: ClientFacts
    coverage: Coverage
    dataset_last_month: pd.Timestamp | None
    channels: pd.DataFrame
    types: pd.DataFrame
    channel_trend: pd.DataFrame
    type_trend: pd.DataFrame
    protection: Enforcement
    enforcement_trend: pd.DataFrame
    impact: Impact
    usage: Utilisation
    nps: pd.DataFrame
    threats: pd.DataFrame
    recommendations: list[str]
    confidence_level: float
    health: Health | None = None
    bands: list[tuple[str, float]] | None = None
    meeting: Meeting | None = None
    alerts: pd.DataFrame | None = None
    talking_points: list[str] | None = None


def build_report(inputs: ReportInputs, prepared: date | None = None) -> QuarterReport:
    """Compute every section of one client's report.

    The internal-only parts (health score, churn risk, last meeting with its
    notes, alerts and talking points) are computed only for the internal
    edition, so the client edition never contains them.
    """
    data, quarter, model = inputs.data, inputs.quarter, inputs.model
    parameters = model.parameters
    facts = client_facts(data)
    protection = enforcement(data, quarter, parameters.confidence_level)
    impact = economic_impact(data, quarter, model)
    usage = utilisation(data, quarter, parameters.utilisation_target)
    nps = nps_by_quarter(data, quarter)
    threats = emerging_threats(data, quarter)
    report = QuarterReport(
        audience=inputs.audience,
        quarter=quarter,
        prepared=prepared or date.today(),
        facts=facts,
        coverage=coverage(data, quarter),
        dataset_last_month=inputs.dataset_last_month,
        channels=detections_by(data, quarter, "channel"),
        types=detections_by(data, quarter, "infringement_type"),
        channel_trend=monthly_by(data, quarter, "channel"),
        type_trend=monthly_by(data, quarter, "infringement_type"),
        protection=protection,
        enforcement_trend=monthly_enforcement(data, quarter),
        impact=impact,
        usage=usage,
        nps=nps,
        threats=threats,
        recommendations=recommendations(protection, threats, usage, nps),
        confidence_level=parameters.confidence_level,
    )
    if not inputs.internal:
        return report

    score = None if inputs.scores is None else health(inputs.scores, quarter, model)
    meeting = last_meeting(data, quarter)
    alerts = inputs.alerts
    return _with_internal(
        report,
        health=score,
        bands=[(band.name, band.min_score) for band in model.bands],
        meeting=meeting,
        alerts=alerts,
        talking_points=talking_points(
            facts, quarter, protection, impact, threats, score, meeting, alerts
        ),
    )


def _with_internal(report: QuarterReport, **parts: object) -> QuarterReport:
    from dataclasses import replace

    return replace(report, **parts)  # type: ignore[arg-type]


__all__ = [
    "ClientFacts",
    "Coverage",
    "Enforcement",
    "Health",
    "Impact",
    "Meeting",
    "QuarterReport",
    "Utilisation",
    "build_report",
    "churn_probability",
    "client_facts",
    "coverage",
    "detections_by",
    "economic_impact",
    "emerging_threats",
    "enforcement",
    "health",
    "last_meeting",
    "monthly_by",
    "monthly_enforcement",
    "nps_by_quarter",
    "poisson_tail",
    "recommendations",
    "talking_points",
    "utilisation",
]
