"""Seaborn figures of the portfolio health notebook, returned as PNG bytes.

Each function takes a table from :mod:`healthlab.monitoring.portfolio` or
:mod:`healthlab.monitoring.backtest` and draws on a standalone matplotlib
figure, so no pyplot state is involved.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pandas as pd

from healthlab.reports.figures import to_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_INCHES = 7.0
HEIGHT_INCHES = 3.0
PALETTE = "colorblind"


@contextmanager
def _axes(height: float = HEIGHT_INCHES) -> Iterator[tuple[Figure, Axes]]:
    import seaborn as sns
    from matplotlib.figure import Figure

    with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.1):
        figure = Figure(figsize=(WIDTH_INCHES, height), layout="constrained")
        yield figure, figure.add_subplot()


def score_histogram(scores: pd.DataFrame, band_edges: list[tuple[str, float]]) -> bytes:
    """Plot the distribution of current scores coloured by band.

    ``band_edges`` are ``(name, min_score)`` pairs; each edge above 0 is drawn
    as a dashed line.
    """
    import seaborn as sns

    with _axes() as (figure, axes):
        sns.histplot(
            data=scores,
            x="score",
            hue="band",
            hue_order=[name for name, _ in band_edges][::-1],
            multiple="stack",
            binwidth=5,
            binrange=(0, 100),
            palette=PALETTE,
            ax=axes,
        )
        for _, edge in band_edges[1:]:
            axes.axvline(edge, color="0.3", linestyle="--", linewidth=1)
        axes.set_xlim(0, 100)
        axes.set_xlabel("Health score")
        axes.set_ylabel("Clients")
        return to_png(figure)


def migration_heatmap(matrix: pd.DataFrame) -> bytes:
    """Plot a band migration matrix as an annotated heat map of client counts."""
    import seaborn as sns

    with _axes(height=2.8) as (figure, axes):
        sns.heatmap(
            matrix,
            annot=True,
            fmt="d",
            cmap="Blues",
            cbar=False,
            linewidths=0.5,
            ax=axes,
        )
        axes.set_ylabel(str(matrix.index.name))
        axes.set_xlabel(str(matrix.columns.name))
        axes.tick_params(axis="y", rotation=0)
        return to_png(figure)


def arr_by_band(arr: pd.DataFrame) -> bytes:
    """Plot ARR per band, one bar per segment (from :func:`arr_at_risk`)."""
    import seaborn as sns

    long = arr.drop(columns="total").melt(
        id_vars="band", var_name="segment", value_name="arr_usd"
    )
    long["arr_musd"] = long["arr_usd"] / 1e6
    with _axes() as (figure, axes):
        sns.barplot(
            data=long, x="band", y="arr_musd", hue="segment", palette=PALETTE, ax=axes
        )
        axes.set_xlabel("")
        axes.set_ylabel("ARR (million USD)")
        return to_png(figure)


def lead_times(churns: pd.DataFrame, target_days: float = 90) -> bytes:
    """Plot the lead time of the first alert before each caught churn."""
    import seaborn as sns

    caught = churns[churns["caught"]]
    with _axes() as (figure, axes):
        sns.histplot(
            data=caught, x="lead_time_days", binwidth=30, binrange=(0, 390), ax=axes
        )
        axes.axvline(target_days, color="0.3", linestyle="--", linewidth=1)
        axes.set_xlabel("Days from the first alert to the churn")
        axes.set_ylabel("Churned clients")
        return to_png(figure)


def alerts_per_month(alerts: pd.DataFrame) -> bytes:
    """Plot the number of alerts issued each month, stacked by severity."""
    import seaborn as sns

    counts = alerts.groupby(["month", "severity"]).size().rename("alerts").reset_index()
    counts["month"] = counts["month"].dt.strftime("%Y-%m")
    with _axes() as (figure, axes):
        sns.histplot(
            data=counts,
            x="month",
            weights="alerts",
            hue="severity",
            hue_order=["low", "medium", "high"],
            multiple="stack",
            discrete=True,
            palette=PALETTE,
            ax=axes,
        )
        axes.set_xlabel("")
        axes.set_ylabel("Alerts")
        for label in axes.get_xticklabels():
            label.set_rotation(90)
        return to_png(figure)
