"""Early-warning rules, each a function over one client's monthly series.

Every rule takes monthly series indexed by first-of-month timestamps and returns
one :class:`Finding` for each month in which it fires. A finding for month ``m``
uses only values dated in or before ``m``, so evaluating the whole history at once
gives the same findings as evaluating each month as it happens. The monitor and
the backtest both rely on that. Missing months are treated as missing values,
never as zeros.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from healthlab.model import Band
from healthlab.monitoring.config import (
    BandDowngradeRule,
    ControlChartRule,
    DetractorRule,
    EmergingThreatRule,
    MissedQbrRule,
    ProjectedCrossingRule,
    ScoreDropRule,
    UtilisationDropRule,
)

Detail = float | int | str


@dataclass(frozen=True)
class Finding:
    """One month in which a rule fired for one client.

    ``value`` is the observed quantity the rule tested and ``baseline`` what it was
    compared with, both in the unit the explanation states. ``window_start`` and
    ``window_end`` bound the data the rule looked at. ``subject`` names the
    channel or infringement type for rules about one of them, else it is empty.
    """

    rule: str
    month: pd.Timestamp
    severity: str
    value: float
    baseline: float
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    explanation: str
    subject: str = ""
    details: dict[str, Detail] = field(default_factory=dict)


def score_drop(score: pd.Series, settings: ScoreDropRule) -> list[Finding]:
    """Fire when the score is ``points`` or more below its value ``months`` ago.

    Parameters
    ----------
    score
        Monthly health score (0-100) indexed by month.
    settings
        Drop size and look-back.

    Returns
    -------
    list of Finding
        ``value`` is the current score, ``baseline`` the score ``months`` earlier
        and ``details["drop"]`` the difference in points.
    """
    series = _complete_months(score)
    earlier = series.shift(settings.months)
    drop = earlier - series
    now, before, fall = series.to_dict(), earlier.to_dict(), drop.to_dict()
    findings = []
    for month in drop.index[drop >= settings.points - 1e-9]:
        start = _add_months(month, -settings.months)
        explanation = (
            f"The health score fell {fall[month]:.1f} points in "
            f"{settings.months} months, from {before[month]:.1f} in "
            f"{_label(start)} to {now[month]:.1f} in {_label(month)}."
        )
        findings.append(
            Finding(
                rule="score_drop",
                month=month,
                severity=settings.severity,
                value=float(now[month]),
                baseline=float(before[month]),
                window_start=start,
                window_end=month,
                explanation=explanation,
                details={"drop": round(float(fall[month]), 6)},
            )
        )
    return findings


def band_downgrade(
    score: pd.Series, bands: Sequence[Band], settings: BandDowngradeRule
) -> list[Finding]:
    """Fire when the score has been in a worse band for ``confirm_months`` months.

    The band of month ``m`` is compared with the band of month
    ``m - confirm_months``; the rule fires when every month since is in a worse
    band. ``bands`` are the model's bands, ordered from worst to best.

    Returns
    -------
    list of Finding
        ``value`` is the current score, ``baseline`` the score before the
        downgrade; ``details`` names both bands.
    """
    series = _complete_months(score)
    ranks = _band_ranks(series, bands)
    before = ranks.shift(settings.confirm_months)
    worst_since = ranks.rolling(settings.confirm_months).max()
    fired = (worst_since < before) & ranks.notna() & before.notna()

    findings = []
    for month in series.index[fired.to_numpy()]:
        start = _add_months(month, -settings.confirm_months)
        old_band = bands[int(before[month])].name
        new_band = bands[int(ranks[month])].name
        explanation = (
            f"The client moved from the {old_band} band ({series[start]:.1f} in "
            f"{_label(start)}) to the {new_band} band ({series[month]:.1f} in "
            f"{_label(month)})."
        )
        findings.append(
            Finding(
                rule="band_downgrade",
                month=month,
                severity=settings.severity,
                value=float(series[month]),
                baseline=float(series[start]),
                window_start=start,
                window_end=month,
                explanation=explanation,
                details={"from_band": old_band, "to_band": new_band},
            )
        )
    return findings


def projected_band_crossing(
    score: pd.Series, bands: Sequence[Band], settings: ProjectedCrossingRule
) -> list[Finding]:
    """Fire when the recent linear trend crosses into a worse band within the horizon.

    A least-squares line is fitted to the scores of the last ``fit_months`` months
    (every month must have a score) and extended ``horizon_months`` ahead. The rule
    fires when the slope is at most ``-min_slope`` points a month and the line falls
    below the lower edge of the client's current band within the horizon. A client
    in the worst band cannot cross into a worse one and never fires.

    Returns
    -------
    list of Finding
        ``value`` is the projected score at the crossing month and ``baseline``
        the band edge. ``details`` contains the slope, the crossing month and
        how many months ahead it is.
    """
    series = _complete_months(score)
    width = settings.fit_months
    if len(series) < width:
        return []

    windows = np.lib.stride_tricks.sliding_window_view(series.to_numpy(float), width)
    offsets = np.arange(width, dtype=float) - (width - 1) / 2
    slopes = (
        (windows - windows.mean(axis=1, keepdims=True)) @ offsets / (offsets @ offsets)
    )
    # Fitted value at the window's last month: mean plus slope times its offset.
    fitted_now = windows.mean(axis=1) + slopes * offsets[-1]

    findings = []
    for position, month in enumerate(series.index[width - 1 :]):
        slope = slopes[position]
        current = series[month]
        if not np.isfinite(slope) or slope > -settings.min_slope:
            continue
        rank = int(_band_rank(current, bands))
        if rank == 0:
            continue
        edge = bands[rank].min_score
        ahead = np.arange(1, settings.horizon_months + 1)
        projected = fitted_now[position] + slope * ahead
        below = np.flatnonzero(projected < edge)
        if below.size == 0:
            continue

        months_ahead = int(ahead[below[0]])
        crossing = _add_months(month, months_ahead)
        start = _add_months(month, -(width - 1))
        explanation = (
            f"At the trend of {slope:.1f} points a month since {_label(start)}, "
            f"the score ({current:.1f} in {_label(month)}) is projected to fall "
            f"below {edge:g}, the lower edge of the {bands[rank].name} band, "
            f"in {_label(crossing)}."
        )
        findings.append(
            Finding(
                rule="projected_band_crossing",
                month=month,
                severity=settings.severity,
                value=round(float(projected[below[0]]), 6),
                baseline=float(edge),
                window_start=start,
                window_end=month,
                explanation=explanation,
                details={
                    "slope_per_month": round(float(slope), 6),
                    "crossing_month": _label(crossing),
                    "months_ahead": months_ahead,
                    "band": bands[rank].name,
                },
            )
        )
    return findings


_CONTROL_METRICS: dict[str, tuple[str, str]] = {
    "utilisation_control": ("Utilisation (active users per seat)", "{:.0%}"),
    "enforcement_control": ("Enforcement success (removals per request)", "{:.0%}"),
    "nps_control": ("The mean NPS response", "{:.1f}"),
}


def control_chart(
    values: pd.Series, settings: ControlChartRule, rule: str
) -> list[Finding]:
    """Fire when a lower-sided EWMA chart falls below its control limit.

    The chart is described on :class:`~healthlab.monitoring.config.ControlChartRule`.
    The baseline covers the ``baseline_months`` calendar months from the first
    observation. The chart starts after it, so a client needs more history than
    the baseline before this rule can fire.

    Parameters
    ----------
    values
        Monthly observations indexed by month; NaN or absent months are skipped.
    settings
        Smoothing, limit width and baseline.
    rule
        ``utilisation_control``, ``enforcement_control`` or ``nps_control``; it
        names the metric in the explanation.

    Returns
    -------
    list of Finding
        ``value`` is the EWMA statistic, ``baseline`` the baseline mean;
        ``details`` contains the limit, the baseline standard deviation, the month's
        observation and ``t``.
    """
    label, number = _CONTROL_METRICS[rule]
    observed = values.dropna().sort_index().astype(float)
    if observed.empty:
        return []

    start = pd.Timestamp(observed.index[0])
    baseline_end = _add_months(start, settings.baseline_months)
    baseline = observed[observed.index < baseline_end]
    if len(baseline) < settings.min_baseline_points:
        return []
    mean = float(baseline.mean())
    sigma = max(float(baseline.std(ddof=1)), settings.min_sigma)

    weight = settings.smoothing
    statistic = mean
    findings = []
    monitored = observed[observed.index >= baseline_end]
    for step, (month, value) in enumerate(
        zip(pd.DatetimeIndex(monitored.index), monitored.tolist(), strict=True),
        start=1,
    ):
        statistic = weight * value + (1 - weight) * statistic
        spread = math.sqrt(weight / (2 - weight) * (1 - (1 - weight) ** (2 * step)))
        limit = mean - settings.limit_sigmas * sigma * spread
        if statistic >= limit:
            continue
        last_baseline_month = baseline.index[-1]
        explanation = (
            f"{label} has drifted below the client's own baseline: its EWMA "
            f"{number.format(statistic)} in {_label(month)} is under the control "
            f"limit {number.format(limit)}, against a mean of "
            f"{number.format(mean)} from {_label(start)} to "
            f"{_label(last_baseline_month)}."
        )
        findings.append(
            Finding(
                rule=rule,
                month=month,
                severity=settings.severity,
                value=round(statistic, 9),
                baseline=round(mean, 9),
                window_start=start,
                window_end=month,
                explanation=explanation,
                details={
                    "limit": round(limit, 9),
                    "sigma": round(sigma, 9),
                    "observation": round(float(value), 9),
                    "t": step,
                },
            )
        )
    return findings


def utilisation_drop(
    utilisation: pd.Series, settings: UtilisationDropRule
) -> list[Finding]:
    """Fire when utilisation is ``drop_fraction`` or more below its trailing mean.

    The trailing mean covers the ``trailing_months`` months before the month
    tested, all of which must have data.

    Returns
    -------
    list of Finding
        ``value`` is the month's utilisation, ``baseline`` the trailing mean and
        ``details["drop_fraction"]`` the relative fall.
    """
    series = _complete_months(utilisation)
    trailing = series.shift(1).rolling(settings.trailing_months).mean()
    relative = 1 - series / trailing
    fired = (trailing > 0) & (relative >= settings.drop_fraction - 1e-12)

    now, mean, fall = series.to_dict(), trailing.to_dict(), relative.to_dict()
    findings = []
    for month in series.index[fired.to_numpy()]:
        start = _add_months(month, -settings.trailing_months)
        explanation = (
            f"Utilisation fell to {now[month]:.0%} of seats in {_label(month)}, "
            f"{fall[month]:.0%} below its mean of {mean[month]:.0%} over "
            f"the previous {settings.trailing_months} months."
        )
        findings.append(
            Finding(
                rule="utilisation_drop",
                month=month,
                severity=settings.severity,
                value=float(now[month]),
                baseline=round(float(mean[month]), 12),
                window_start=start,
                window_end=month,
                explanation=explanation,
                details={"drop_fraction": round(float(fall[month]), 6)},
            )
        )
    return findings


def missed_qbr(
    months: pd.DatetimeIndex,
    meeting_dates: Sequence[pd.Timestamp] | pd.Series,
    settings: MissedQbrRule,
) -> list[Finding]:
    """Fire in every month that ends more than the expected interval after a QBR.

    A month is tested at its last day. The gap runs from the latest meeting on or
    before that day or, when there was none, from the first month of ``months``
    (the start of the client's data), so a new client is not overdue at once.

    Parameters
    ----------
    months
        The client's months (first-of-month timestamps).
    meeting_dates
        Dates of the client's QBR meetings, in any order.
    settings
        Expected interval and grace period in days.

    Returns
    -------
    list of Finding
        ``value`` is the days since the last meeting, ``baseline`` the expected
        interval in days.
    """
    if len(months) == 0:
        return []
    meetings = np.sort(
        pd.to_datetime(pd.Series(meeting_dates)).to_numpy("datetime64[ns]")
    )
    ordered = pd.DatetimeIndex(months).sort_values()
    month_ends = ordered + pd.offsets.MonthEnd(0)
    data_start = ordered[0]
    allowed = settings.expected_interval_days + settings.grace_days

    # Index of the latest meeting on or before each month end; -1 when none.
    latest = (
        np.searchsorted(meetings, month_ends.to_numpy("datetime64[ns]"), "right") - 1
    )
    findings = []
    for month, month_end, position in zip(ordered, month_ends, latest, strict=True):
        since = pd.Timestamp(meetings[position]) if position >= 0 else data_start
        gap = (month_end - since).days
        if gap <= allowed:
            continue
        if position >= 0:
            reason = f"since the last one on {since:%Y-%m-%d}"
        else:
            reason = f"since the client's data starts in {_label(since)}"
        explanation = (
            f"No QBR has been held for {gap} days {reason}, against an expected "
            f"interval of {settings.expected_interval_days} days."
        )
        findings.append(
            Finding(
                rule="missed_qbr",
                month=month,
                severity=settings.severity,
                value=float(gap),
                baseline=float(settings.expected_interval_days),
                window_start=since,
                window_end=month_end,
                explanation=explanation,
                details={"last_meeting": f"{since:%Y-%m-%d}" if position >= 0 else ""},
            )
        )
    return findings


def detractor_response(
    responses: pd.DataFrame, months: pd.DatetimeIndex, settings: DetractorRule
) -> list[Finding]:
    """Fire in every month with at least one NPS response at or below ``max_score``.

    Parameters
    ----------
    responses
        The client's NPS responses with ``response_date`` and ``score`` (0-10).
    months
        The months to test; responses outside them are ignored.
    settings
        The highest score that counts as a detractor.

    Returns
    -------
    list of Finding
        ``value`` is the lowest score of the month, ``baseline`` the mean
        response over the 12 months before (NaN when there was none).
    """
    if responses.empty or len(months) == 0:
        return []
    response_months = (
        pd.to_datetime(responses["response_date"]).dt.to_period("M").dt.start_time
    )
    month_numbers = (response_months.dt.year * 12 + response_months.dt.month).to_numpy()
    response_scores = responses["score"].to_numpy(float)
    is_detractor = response_scores <= settings.max_score
    tested = set(pd.DatetimeIndex(months))

    findings = []
    for month in sorted(set(response_months[is_detractor]) & tested):
        number = month.year * 12 + month.month
        in_month = month_numbers == number
        detractors = response_scores[in_month & is_detractor]
        earlier = response_scores[
            (month_numbers >= number - 12) & (month_numbers < number)
        ]
        start = _add_months(month, -12)
        baseline = float(earlier.mean()) if len(earlier) else math.nan
        lowest = int(detractors.min())
        if len(earlier):
            context = f"; the mean over the previous 12 months was {baseline:.1f}"
        else:
            context = "; there were no responses in the previous 12 months"
        explanation = (
            f"{len(detractors)} of {int(in_month.sum())} NPS responses in "
            f"{_label(month)} "
            f"scored {settings.max_score} or less (lowest {lowest}){context}."
        )
        findings.append(
            Finding(
                rule="detractor_response",
                month=month,
                severity=settings.severity,
                value=float(lowest),
                baseline=baseline,
                window_start=start,
                window_end=month + pd.offsets.MonthEnd(0),
                explanation=explanation,
                details={
                    "detractors": len(detractors),
                    "responses": int(in_month.sum()),
                },
            )
        )
    return findings


def emerging_threat(
    detections: pd.DataFrame, settings: EmergingThreatRule
) -> list[Finding]:
    """Fire when a channel's or infringement type's detections rise significantly.

    For each column the detections of the last ``recent_months`` are tested
    against the mean monthly count of the ``baseline_months`` before them with the
    one-sided Poisson test described on
    :class:`~healthlab.monitoring.config.EmergingThreatRule`. A month gives at most
    one finding, for the column with the smallest p-value (then the largest
    ratio, then the name). The other columns that passed are listed in
    ``details``.

    Parameters
    ----------
    detections
        Monthly detection counts indexed by month, one column per subject named
        like ``"channel: marketplace"`` or ``"infringement type: counterfeit"``.
    settings
        Windows, significance level and minimum count and ratio.

    Returns
    -------
    list of Finding
        ``value`` is the recent count, ``baseline`` the count expected from the
        baseline rate; ``details`` contains the p-value and the ratio.
    """
    from scipy.special import pdtrc

    if detections.empty:
        return []
    frame = detections.sort_index()
    months = _month_range(frame.index)
    counts = frame.reindex(months).to_numpy(float)
    columns = [str(column) for column in frame.columns]
    recent_length, base_length = settings.recent_months, settings.baseline_months
    if len(months) < recent_length + base_length:
        return []

    # Row i of the window sums covers months i - length + 1 .. i.
    totals = np.vstack([np.zeros((1, counts.shape[1])), np.cumsum(counts, axis=0)])
    recent = totals[recent_length:] - totals[:-recent_length]
    history = totals[base_length:] - totals[:-base_length]
    # Align both on the month that ends the recent window.
    recent = recent[base_length:]
    history = history[: len(recent)]
    expected = history / base_length * recent_length
    # P(X >= observed) is the Poisson survival function at observed - 1, which
    # scipy.special.pdtrc computes (as scipy.stats.poisson.sf does, with less
    # overhead). An expected count of zero gives p = 0; observed 0 gives p = 1.
    p_values = np.where(recent > 0, pdtrc(np.maximum(recent - 1, 0), expected), 1.0)
    passed = (
        (p_values < settings.alpha)
        & (recent >= settings.min_count)
        & (recent >= settings.min_ratio * expected)
    )
    tested_months = months[recent_length + base_length - 1 :]

    findings = []
    for row in np.flatnonzero(passed.any(axis=1)).tolist():
        month = tested_months[row]
        subjects = sorted(
            (
                float(p_values[row, column]),
                -_ratio(recent[row, column], expected[row, column]),
                columns[column],
                column,
            )
            for column in np.flatnonzero(passed[row])
        )
        p_value, negative_ratio, subject, column = subjects[0]
        observed = float(recent[row, column])
        baseline = float(expected[row, column])
        recent_start = _add_months(month, -(settings.recent_months - 1))
        start = _add_months(recent_start, -settings.baseline_months)
        explanation = (
            f"Detections for {subject} rose to {observed:.0f} in the "
            f"{settings.recent_months} months to {_label(month)}, against "
            f"{baseline:.1f} expected from the {settings.baseline_months} months "
            f"before (one-sided Poisson test, p = {p_value:.1e})."
        )
        findings.append(
            Finding(
                rule="emerging_threat",
                month=month,
                severity=settings.severity,
                value=observed,
                baseline=round(baseline, 9),
                window_start=start,
                window_end=month,
                explanation=explanation,
                subject=subject,
                details={
                    "p_value": p_value,
                    "ratio": round(-negative_ratio, 6),
                    "also_rising": ", ".join(item[2] for item in subjects[1:]),
                },
            )
        )
    return findings


def _ratio(observed: float, expected: float) -> float:
    return math.inf if expected == 0 else observed / expected


def _band_ranks(series: pd.Series, bands: Sequence[Band]) -> pd.Series:
    """Return the band index of every score (0 is the worst), NaN where none."""
    edges = np.array([band.min_score for band in bands[1:]], dtype=float)
    values = series.to_numpy(float)
    ranks = np.searchsorted(edges, values, side="right").astype(float)
    ranks[~np.isfinite(values)] = np.nan
    return pd.Series(ranks, index=series.index)


def _band_rank(score: float, bands: Sequence[Band]) -> float:
    """Return the index of the band ``score`` is in (0 is the worst), NaN if none."""
    if score is None or not np.isfinite(score):
        return math.nan
    rank = 0
    for index, band in enumerate(bands):
        if score >= band.min_score:
            rank = index
    return float(rank)


def _month_range(index: pd.Index) -> pd.DatetimeIndex:
    if len(index) == 0:
        return pd.DatetimeIndex([])
    return pd.date_range(index.min(), index.max(), freq="MS")


def _complete_months(series: pd.Series) -> pd.Series:
    """Return ``series`` as floats on every month from its first to its last."""
    ordered = series.sort_index().astype(float)
    if len(ordered) == 0:
        return ordered
    first, last = ordered.index[0], ordered.index[-1]
    span = (last.year - first.year) * 12 + last.month - first.month + 1
    if span == len(ordered) and ordered.index.is_unique:
        return ordered
    return ordered.reindex(_month_range(ordered.index))


def _add_months(month: pd.Timestamp, count: int) -> pd.Timestamp:
    """Return the first day of the month ``count`` months after ``month``."""
    index = month.year * 12 + month.month - 1 + count
    return pd.Timestamp(year=index // 12, month=index % 12 + 1, day=1)


def _label(month: pd.Timestamp) -> str:
    return f"{month:%Y-%m}"
