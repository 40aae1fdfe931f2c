"""HTML for each section of a QBR report, from a :class:`QuarterReport`.

Each function returns one escaped HTML fragment (tables, headline figures and
seaborn figures as inline PNG) for one notebook cell. The internal-only sections
raise :class:`~healthlab.errors.ReportError` when called for the client
edition, so a mistake in the notebook cannot put them in a client's report.
"""

from __future__ import annotations

import math

from healthlab.errors import ReportError
from healthlab.reports import figures
from healthlab.reports import markup as m
from healthlab.reports.content import QuarterReport

ALERT_COLUMNS = (
    "severity",
    "rule",
    "subject",
    "message",
    "explanation",
    "playbook",
    "first_seen",
)
"""Alert columns shown, in this order, when the alerts file has them."""

EDITION_NAMES = {
    "client": "Confidential: prepared for the client",
    "internal": "INTERNAL: do not share with the client",
}


def _month(value: object) -> str:
    return f"{value:%B %Y}"


def cover(report: QuarterReport) -> str:
    """Return the cover: client name, quarter and preparation date."""
    fragment = m.cover(
        report.facts.name,
        report.quarter.label,
        f"{report.prepared:%d %B %Y}",
        EDITION_NAMES[report.audience],
    )
    if report.audience == "internal":
        facts = report.facts
        fragment += m.notice(
            "Internal edition: health score, churn risk and notes for the "
            "customer-success team. Do not send this file to the client."
        )
        fragment += m.paragraph(
            f"Client id {facts.client_id} · {facts.segment} · {facts.tier} · "
            f"ARR {m.money(facts.arr_usd)} · renewal {facts.renewal_date:%d %b %Y} "
            f"· CSM {facts.csm}",
            "muted",
        )
    if not report.coverage.complete:
        months = ", ".join(_month(month) for month in report.coverage.months)
        fragment += m.paragraph(
            f"This quarter is not complete yet: the figures cover {months}.",
            "muted",
        )
    return fragment


def executive_summary(report: QuarterReport) -> str:
    """Return the headline figures and the quarter in three sentences."""
    protection, impact, usage = report.protection, report.impact, report.usage
    figures_row = m.key_figures(
        [
            ("Detections", m.count(protection.detections), "infringements found"),
            (
                "Removals",
                m.count(protection.removed),
                f"of {m.count(protection.requested)} actions requested",
            ),
            (
                "Success rate",
                m.percent(protection.success_rate),
                f"at least {m.percent(protection.success_lower)} "
                f"({m.percent(protection.confidence)} confidence)",
            ),
            (
                "Revenue protected",
                m.money(impact.quarter_usd),
                f"{m.money(impact.year_to_date_usd)} year to date",
            ),
        ]
    )
    sentences = [
        f"In {report.quarter.label} we detected {m.count(protection.detections)} "
        f"infringements and confirmed {m.count(protection.removed)} removals.",
    ]
    if len(report.channels):
        top = report.channels.iloc[0]
        sentences.append(
            f"{top['name']} carried the most detections "
            f"({m.percent(top['share'])} of the total)."
        )
    if len(report.threats):
        names = ", ".join(report.threats["name"].head(2).str.lower())
        sentences.append(f"Fast-growing threats to act on: {names}.")
    if not math.isnan(usage.utilisation):
        sentences.append(
            f"On average {m.percent(usage.utilisation)} of the licensed seats were "
            "in active use."
        )
    return figures_row + m.paragraph(" ".join(sentences))


def brand_protection(report: QuarterReport) -> str:
    """Return detections by channel and type, enforcement and removals."""
    protection = report.protection
    detection_columns = {
        "name": "",
        "detections": "This quarter",
        "previous": "Previous quarter",
        "change": "Change",
        "year_ago": "A year ago",
        "share": "Share",
    }
    detection_formats = {
        "detections": m.count,
        "previous": m.count,
        "change": m.change,
        "year_ago": m.count,
        "share": m.percent,
    }
    parts = [
        m.heading("Detections by channel", 3),
        m.table(
            report.channels,
            {**detection_columns, "name": "Channel"},
            detection_formats,
        ),
    ]
    if len(report.channel_trend):
        parts.append(
            m.image(
                figures.monthly_lines(
                    report.channel_trend, "detections", "name", "Detections"
                ),
                "Monthly detections by channel over the last twelve months",
                "Detections per month and channel, last twelve months.",
            )
        )
    parts += [
        m.heading("Detections by infringement type", 3),
        m.table(
            report.types,
            {**detection_columns, "name": "Infringement type"},
            detection_formats,
        ),
    ]
    if len(report.type_trend):
        parts.append(
            m.image(
                figures.monthly_lines(
                    report.type_trend, "detections", "name", "Detections"
                ),
                "Monthly detections by infringement type over the last twelve months",
                "Detections per month and infringement type, last twelve months.",
            )
        )
    parts += [
        m.heading("Enforcement and removals", 3),
        m.key_figures(
            [
                (
                    "Actions requested",
                    m.count(protection.requested),
                    f"previous quarter {m.count(protection.previous_requested)}",
                ),
                (
                    "Removals confirmed",
                    m.count(protection.removed),
                    f"previous quarter {m.count(protection.previous_removed)}",
                ),
                (
                    "Success rate",
                    m.percent(protection.success_rate),
                    f"lower bound {m.percent(protection.success_lower)}; previous "
                    f"quarter {m.percent(protection.previous_success_rate)}",
                ),
                (
                    "Days to removal",
                    m.number(protection.days_to_removal),
                    f"previous quarter {m.number(protection.previous_days_to_removal)}",
                ),
            ]
        ),
        m.table(
            protection.by_channel,
            {
                "name": "Channel",
                "requested": "Requested",
                "removed": "Removed",
                "success_rate": "Success rate",
                "success_lower": "Lower bound",
                "days_to_removal": "Days to removal",
            },
            {
                "requested": m.count,
                "removed": m.count,
                "success_rate": m.percent,
                "success_lower": m.percent,
                "days_to_removal": m.number,
            },
        ),
        m.image(
            figures.enforcement_bars(report.enforcement_trend),
            "Enforcement actions requested and removals confirmed per month",
            "Actions requested and removals confirmed per month.",
        ),
    ]
    return "".join(parts)


def economic_impact(report: QuarterReport) -> str:
    """Return the revenue protected in the quarter and the year to date."""
    impact = report.impact
    months = impact.months.assign(label=impact.months["month"].dt.strftime("%B %Y"))
    return "".join(
        [
            m.key_figures(
                [
                    (
                        "This quarter",
                        m.money(impact.quarter_usd),
                        f"previous quarter {m.money(impact.previous_quarter_usd)}",
                    ),
                    (
                        "Year to date",
                        m.money(impact.year_to_date_usd),
                        f"{impact.year_to_date_months} months of {report.quarter.year}",
                    ),
                    (
                        "Return on contract",
                        f"{m.number(impact.quarter_multiple)}x",
                        "quarter's impact over a quarter of the contract value",
                    ),
                ]
            ),
            m.table(
                months,
                {
                    "label": "Month",
                    "removals_confirmed": "Removals",
                    "avg_listing_price_usd": "Average listing price",
                    "est_units_per_listing": "Units per listing",
                    "impact_usd": "Revenue protected",
                },
                {
                    "removals_confirmed": m.count,
                    "avg_listing_price_usd": lambda value: m.money(value),
                    "est_units_per_listing": m.number,
                    "impact_usd": m.money,
                },
            ),
            m.paragraph(
                "Revenue protected = removals x average listing price x units per "
                f"listing x displacement rate ({m.percent(impact.displacement_rate)})."
                " See the methodology appendix.",
                "muted",
            ),
        ]
    )


def utilisation(report: QuarterReport) -> str:
    """Return seat utilisation and its monthly trend."""
    usage = report.usage
    parts = [
        m.key_figures(
            [
                (
                    "Seat utilisation",
                    m.percent(usage.utilisation),
                    f"previous quarter {m.percent(usage.previous_utilisation)}",
                ),
                (
                    "Active users",
                    m.number(usage.active_users),
                    f"per month, of {m.count(usage.seats)} licensed seats",
                ),
                (
                    "Sign-ins per active user",
                    m.number(usage.logins_per_user),
                    "over the quarter",
                ),
            ]
        )
    ]
    if len(usage.monthly):
        parts.append(
            m.image(
                figures.utilisation_line(usage.monthly, usage.target),
                "Active users per licensed seat per month",
                "Active users per licensed seat, last twelve months.",
            )
        )
    return "".join(parts)


def nps_trend(report: QuarterReport) -> str:
    """Return the NPS of recent quarters as a table and a bar chart."""
    table = m.table(
        report.nps,
        {
            "quarter": "Quarter",
            "responses": "Responses",
            "promoters": "Promoters",
            "passives": "Passives",
            "detractors": "Detractors",
            "nps": "NPS",
        },
        {
            "responses": m.count,
            "promoters": m.count,
            "passives": m.count,
            "detractors": m.count,
            "nps": lambda value: m.number(value, 0),
        },
    )
    if report.nps["responses"].sum() == 0:
        return table + m.paragraph("No survey responses in these quarters.")
    return table + m.image(
        figures.nps_bars(report.nps),
        "Net Promoter Score per quarter",
        "NPS per quarter; n is the number of responses.",
    )


def emerging_threats(report: QuarterReport) -> str:
    """Return the fastest-growing channels and types with a protective step."""
    threats = report.threats
    if threats.empty:
        return m.paragraph(
            "No channel or infringement type grew significantly above its level "
            "of the previous four quarters."
        )
    shown = threats.assign(
        growth_text=[
            "new" if math.isinf(value) else f"{value:.1f}x"
            for value in threats["growth"]
        ]
    )
    return m.table(
        shown,
        {
            "dimension": "Kind",
            "name": "Channel or type",
            "detections": "This quarter",
            "baseline": "Quarterly baseline",
            "growth_text": "Growth",
            "step": "Suggested protective step",
        },
        {
            "detections": m.count,
            "baseline": lambda value: m.number(value, 0),
            "growth_text": str,
        },
    )


def recommendations(report: QuarterReport) -> str:
    """Return the recommendations as a list."""
    return m.bullets(report.recommendations)


def methodology(report: QuarterReport) -> str:
    """Return the appendix explaining every number in the report."""
    confidence = m.percent(report.confidence_level)
    items = [
        (
            "Detections, actions and removals",
            "Counts of infringing items found, enforcement actions sent to the "
            "platforms and removals the platforms confirmed, summed over the "
            "quarter's months. Change compares with the previous quarter.",
        ),
        (
            "Success rate and its lower bound",
            "Removals confirmed divided by actions requested. The lower bound is "
            f"the lower end of the {confidence} Wilson score interval for that "
            "proportion: the rate we can claim with that confidence, which is "
            "lower when few actions were sent.",
        ),
        (
            "Days to removal",
            "The platforms report a median number of days from request to "
            "removal for each month, channel and infringement type; the figure "
            "shown is the mean of those medians weighted by their removals.",
        ),
        (
            "Revenue protected",
            "For each month: removals confirmed x average price of the removed "
            "listings x estimated units one listing sells before removal x the "
            f"displacement rate of {m.percent(report.impact.displacement_rate)}, "
            "the share of infringing sales assumed to replace a genuine sale. "
            "Year to date adds the months from January to the end of the "
            "quarter. Return on contract divides the quarter's figure by a "
            "quarter of the annual contract value.",
        ),
        (
            "Seat utilisation",
            "Distinct active users in a month divided by licensed seats, averaged "
            "over the quarter's months.",
        ),
        (
            "Net Promoter Score",
            "Respondents answer 0-10. NPS is the percentage of promoters (9-10) "
            "minus the percentage of detractors (0-6), from -100 to 100, per "
            "calendar quarter. With few responses a single answer moves it a lot, "
            "so quarters with fewer than 5 responses are best read together.",
        ),
        (
            "Emerging threats",
            "A channel or infringement type is listed when its detections this "
            "quarter are at least 1.5 times its mean over the previous four "
            "quarters, number at least 20, and a one-sided Poisson test of the "
            "quarter's count against that mean gives p < 0.01.",
        ),
    ]
    if report.audience == "internal":
        items += [
            (
                "Health score (internal)",
                "Weighted mean of the utilisation, enforcement, NPS, impact and "
                "engagement components (0-100) from the model file; weights are "
                "renormalised over the components with data, and confidence is "
                "the share of weight that had data. Contributions split the "
                "change since the previous quarter exactly between components.",
            ),
            (
                "Churn risk (internal)",
                "logit(p) = intercept + slope x score, with the coefficients "
                "calibrated on past renewals and stored in the model file.",
            ),
        ]
    body = "".join(
        f"<h3>{m.escape(title)}</h3><p>{m.escape(text)}</p>" for title, text in items
    )
    heading = m.heading("Methodology")
    return f'<section class="appendix">{heading}{body}</section>'


def _require_internal(report: QuarterReport, section: str) -> None:
    if report.audience != "internal":
        raise ReportError(
            f"The {section} section is internal-only and cannot be shown in the "
            "client edition."
        )


def health(report: QuarterReport) -> str:
    """Return the health score, band, change and its explanation (internal)."""
    _require_internal(report, "health score")
    score = report.health
    if score is None:
        return m.paragraph("No health score for this quarter: too little data.")
    parts = [
        m.key_figures(
            [
                (
                    "Health score",
                    m.number(score.score),
                    f"{_month(score.month)}; confidence {m.percent(score.confidence)}"
                    + (" (low)" if score.low_confidence else ""),
                ),
                ("Band", score.band.replace("_", " "), ""),
                (
                    "Change",
                    m.signed(score.change),
                    f"from {m.number(score.previous_score)} a quarter before",
                ),
                (
                    "Churn risk",
                    m.percent(score.churn_probability),
                    (
                        f"within {score.churn_horizon_months} months"
                        if score.churn_horizon_months
                        else "model not calibrated"
                    ),
                ),
            ]
        )
    ]
    if len(score.history):
        parts.append(
            m.image(
                figures.score_line(score.history, report.bands or []),
                "Monthly health score over the last twelve months",
                "Health score per month with the band thresholds.",
            )
        )
    parts.append(m.heading("What changed and why", 3))
    if score.contributions["points"].isna().all():
        parts.append(m.paragraph("No earlier score to compare with."))
    else:
        parts.append(
            m.image(
                figures.contribution_bars(score.contributions),
                "Contribution of each component to the score change",
                "Points each component added to or removed from the score.",
            )
        )
    parts.append(
        m.table(
            score.components.merge(score.contributions, on="component"),
            {"component": "Component", "value": "Value (0-100)", "points": "Points"},
            {"value": m.number, "points": m.signed},
        )
    )
    return "".join(parts)


def alerts_and_meeting(report: QuarterReport) -> str:
    """Return open alerts and the last QBR meeting with its notes (internal)."""
    _require_internal(report, "alerts")
    parts = [m.heading("Open alerts", 3)]
    alerts = report.alerts
    if alerts is None:
        parts.append(m.paragraph("No alerts file was given for this report."))
    elif alerts.empty:
        parts.append(m.paragraph("No open alerts."))
    else:
        preferred = [column for column in ALERT_COLUMNS if column in alerts.columns]
        shown = preferred or [
            column for column in alerts.columns if column != "client_id"
        ]
        parts.append(
            m.table(
                alerts.astype(str),
                {column: column.replace("_", " ").capitalize() for column in shown},
            )
        )
    parts.append(m.heading("Last QBR meeting", 3))
    meeting = report.meeting
    if meeting is None:
        parts.append(m.paragraph("No QBR meeting recorded."))
    else:
        parts.append(
            m.paragraph(
                f"{meeting.meeting_date:%d %B %Y}: sentiment {meeting.sentiment}, "
                f"{meeting.objectives_met} of {meeting.objectives_total} objectives "
                "met."
            )
        )
        if meeting.internal_notes:
            parts.append(m.paragraph(f"Notes: {meeting.internal_notes}"))
    return "".join(parts)


def talking_points(report: QuarterReport) -> str:
    """Return the talking points for the customer-success manager (internal)."""
    _require_internal(report, "talking points")
    return m.bullets(report.talking_points or [])


def footer(report: QuarterReport) -> str:
    """Return the footer text of the page."""
    edition = EDITION_NAMES[report.audience]
    return f"{report.facts.name} · {report.quarter.label} · {edition}"
