"""HTML sections of the internal portfolio health report.

``notebooks/portfolio-health.ipynb`` displays the sections built here;
:func:`healthlab.monitoring.portfolio.render_portfolio_report` executes it and
exports the page. Text and table cells are escaped by
:mod:`healthlab.reports.markup`, so client names are shown as text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthlab.model import COMPONENTS
from healthlab.monitoring import figures, portfolio
from healthlab.monitoring.backtest import BacktestResult
from healthlab.monitoring.drift import PSI_MODERATE, PSI_SIGNIFICANT
from healthlab.reports import markup


def overview(
    pf: portfolio.Portfolio, alerts: pd.DataFrame, result: BacktestResult
) -> str:
    """Return the title, the internal-use notice and the headline figures."""
    scores = portfolio.current_scores(pf)
    bands = portfolio.band_summary(pf)
    worst = pf.band_names[0]
    worst_arr = float(bands.loc[bands["band"] == worst, "arr_usd"].sum())
    high = int((alerts["severity"] == "high").sum())
    figures_row = [
        ("Clients scored", markup.count(len(scores)), f"in {pf.as_of:%Y-%m}"),
        ("ARR", markup.money(scores["arr_usd"].sum()), "of clients scored"),
        (f"ARR in {worst}", markup.money(worst_arr), "lowest band"),
        ("Alerts this month", markup.count(len(alerts)), f"{high} high severity"),
        (
            "Median lead time",
            f"{markup.number(result.summary['median_lead_time_days'], 0)} days",
            "first alert to churn, backtest",
        ),
    ]
    return (
        markup.heading(f"Portfolio health, {pf.as_of:%B %Y}", 1)
        + markup.notice(
            "Internal: this report lists every client with its score, alerts and "
            "CSM. Do not share it with clients."
        )
        + markup.key_figures(figures_row)
    )


def distribution(pf: portfolio.Portfolio) -> str:
    """Return the score histogram and the clients, ARR and mean score per band."""
    scores = portfolio.current_scores(pf)
    edges = [(band.name, band.min_score) for band in pf.model.bands]
    summary = portfolio.band_summary(pf)
    return markup.image(
        figures.score_histogram(scores, edges),
        alt="Histogram of current health scores by band",
        caption=f"Health scores in {pf.as_of:%Y-%m}; dashed lines are band edges.",
    ) + markup.table(
        summary,
        {
            "band": "Band",
            "clients": "Clients",
            "arr_usd": "ARR",
            "share_of_arr": "Share of ARR",
            "mean_score": "Mean score",
        },
        {
            "clients": markup.count,
            "arr_usd": markup.money,
            "share_of_arr": markup.percent,
            "mean_score": markup.number,
        },
    )


def migration(pf: portfolio.Portfolio) -> str:
    """Return the band migration matrix over the last three months."""
    matrix = portfolio.band_migration(pf)
    earlier = pf.as_of - pd.DateOffset(months=3)
    moved_down = _moved(matrix, pf.band_names[::-1], down=True)
    moved_up = _moved(matrix, pf.band_names[::-1], down=False)
    text = (
        f"Rows are the band in {earlier:%Y-%m}, columns the band in "
        f"{pf.as_of:%Y-%m}. {moved_down} clients moved to a worse band "
        f"and {moved_up} to a better one; '{portfolio.NEW}' clients had no score "
        f"three months ago and '{portfolio.LEFT}' clients have none now (most "
        "left at a renewal)."
    )
    return markup.image(
        figures.migration_heatmap(matrix), alt="Band migration matrix"
    ) + markup.paragraph(text)


def _moved(matrix: pd.DataFrame, order: list[str], down: bool) -> int:
    """Count clients above (``down``) or below the diagonal of band changes."""
    counts = matrix.loc[order, order].to_numpy()
    part = np.triu(counts, k=1) if down else np.tril(counts, k=-1)
    return int(part.sum())


def arr_at_risk(pf: portfolio.Portfolio) -> str:
    """Return ARR by band and segment, and the expected loss if the model has one."""
    arr = portfolio.arr_at_risk(pf)
    columns = {"band": "Band"} | {
        name: name.replace("_", " ") for name in arr.columns if name != "band"
    }
    formats = {name: markup.money for name in columns if name != "band"}
    html = markup.image(
        figures.arr_by_band(arr), alt="ARR by band and segment"
    ) + markup.table(arr, columns, formats, caption="ARR (USD) by band and segment")
    scores = portfolio.current_scores(pf)
    if "expected_arr_loss_usd" in scores:
        loss = scores["expected_arr_loss_usd"].sum()
        horizon = pf.model.churn_risk.horizon_months if pf.model.churn_risk else 12
        html += markup.paragraph(
            f"Expected ARR lost to churn within {horizon} months, from the "
            f"model's churn-risk curve: {markup.money(loss)}."
        )
    else:
        html += markup.paragraph(
            "The model file has no churn-risk curve, so no expected loss is shown. "
            "The calibrate command fits one."
        )
    return html


def movers(pf: portfolio.Portfolio, count: int = 10) -> str:
    """Return the clients whose score fell or rose most over three months."""
    table = portfolio.top_movers(pf, count=count)
    columns = {
        "client_name": "Client",
        "score_before": "Before",
        "score": "Now",
        "change": "Change",
    } | {f"contrib_{name}": name.capitalize() for name in COMPONENTS}
    formats = {"score_before": markup.number, "score": markup.number}
    formats |= {name: markup.signed for name in columns if name.startswith("contrib")}
    formats["change"] = markup.signed

    html = ""
    for direction, caption in (("fell", "Largest falls"), ("rose", "Largest rises")):
        rows = table[table["direction"] == direction]
        if rows.empty:
            continue
        html += markup.table(rows, columns, formats, caption=caption)
        html += markup.bullets(
            f"{row['client_name']}: {row['explanation']}"
            for row in rows.to_dict("records")
        )
    return html or markup.paragraph("No client has three complete months of scores.")


def alert_list(alerts: pd.DataFrame) -> str:
    """Return the alerts of the month and the playbook step of each rule."""
    if alerts.empty:
        return markup.paragraph("No alert was issued this month.")
    counts = alerts["severity"].value_counts()
    summary = ", ".join(
        f"{int(counts.get(level, 0))} {level}" for level in ("high", "medium", "low")
    )
    named = alerts.assign(rule_name=alerts["rule"].str.replace("_", " "))
    steps = named.drop_duplicates("rule").sort_values("rule")
    return (
        markup.paragraph(f"{len(alerts)} alerts: {summary}.")
        + markup.table(
            named,
            {
                "severity": "Severity",
                "client_name": "Client",
                "csm": "CSM",
                "rule_name": "Rule",
                "explanation": "Why",
                "first_seen": "First seen",
            },
            {"first_seen": lambda value: f"{value:%Y-%m}"},
        )
        + markup.heading("Next step for each rule", 3)
        + markup.bullets(
            f"{row['rule_name']}: {row['playbook']}" for row in steps.to_dict("records")
        )
    )


def drift(pf: portfolio.Portfolio) -> str:
    """Return the PSI table of the score and components."""
    table = portfolio.drift_table(pf)
    text = (
        f"Population stability index of each client's value in "
        f"{table.attrs['current_month']} against {table.attrs['reference_month']}, "
        "with decile bins from the earlier month. Below "
        f"{PSI_MODERATE:.2f} is stable, {PSI_MODERATE:.2f} to "
        f"{PSI_SIGNIFICANT:.2f} a moderate shift, {PSI_SIGNIFICANT:.2f} or more a "
        "significant shift. The noise level is the PSI that sampling alone gives "
        "for samples of these sizes. A component with many tied values, such as "
        "NPS for clients with few responses, has lumpy bins and a PSI that "
        "overstates the shift."
    )
    return markup.table(
        table,
        {
            "variable": "Variable",
            "psi": "PSI",
            "label": "Reading",
            "noise_level": "Noise level",
            "reference_mean": "Mean before",
            "current_mean": "Mean now",
            "reference_n": "Clients before",
            "current_n": "Clients now",
        },
        {
            "psi": lambda value: markup.number(value, 3),
            "noise_level": lambda value: markup.number(value, 3),
            "reference_mean": markup.number,
            "current_mean": markup.number,
            "reference_n": markup.count,
            "current_n": markup.count,
        },
    ) + markup.paragraph(text)


def backtest_section(result: BacktestResult) -> str:
    """Return the backtest figures, the per-rule table and two plots."""
    summary = result.summary
    cards = [
        (
            "Median lead time",
            f"{markup.number(summary['median_lead_time_days'], 0)} days",
            "first alert to churn",
        ),
        (
            "Precision",
            markup.percent(summary["precision"]),
            f"base rate {markup.percent(summary['base_rate'])}",
        ),
        ("Lift", f"{markup.number(summary['lift'])}x", "precision / base rate"),
        (
            "Recall",
            markup.percent(summary["recall"]),
            f"{summary['caught']} of {summary['churns']} churns",
        ),
        (
            "Alerts per client",
            markup.number(summary["alerts_per_client_quarter"], 2),
            "per quarter",
        ),
    ]
    text = (
        f"The monitor was replayed month by month over {summary['months']} months "
        f"and {summary['clients']} clients. An alert is correct when the client "
        f"churned within {summary['horizon_months']} months after it; alerts "
        "whose horizon runs past the data are left out of precision. The base "
        "rate is the share of client months followed by a churn within the "
        "horizon. Emerging-threat alerts ask for protective work rather than "
        "predict churn, so they count in the alert volume only. CSMs received "
        f"{markup.number(summary['alerts_per_csm_month'])} alerts a month on "
        f"average, at most {summary['max_alerts_per_csm_month']}."
    )
    return (
        markup.key_figures(cards)
        + markup.paragraph(text)
        + markup.table(
            result.by_rule,
            {
                "rule": "Rule",
                "alerts": "Alerts",
                "evaluable": "Evaluable",
                "correct": "Correct",
                "precision": "Precision",
                "lift": "Lift",
            },
            {
                "alerts": markup.count,
                "evaluable": markup.count,
                "correct": markup.count,
                "precision": markup.percent,
                "lift": markup.number,
            },
            caption="Alerts and precision per rule",
        )
        + markup.image(
            figures.lead_times(result.churns),
            alt="Histogram of lead times",
            caption="Days from the first alert to the churn; the line marks 90 days.",
        )
        + markup.image(
            figures.alerts_per_month(result.alerts),
            alt="Alerts issued per month",
            caption="Alerts issued per month in the replay, by severity.",
        )
    )
