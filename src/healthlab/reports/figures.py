"""Report figures drawn with seaborn and returned as PNG bytes.

Figures are drawn on standalone :class:`matplotlib.figure.Figure` objects, so no
pyplot state or interactive backend is involved, and saved without the
``Software`` metadata entry, so a PNG carries no version string. Every function
takes a tidy frame produced by :mod:`healthlab.reports.content`, with one value
per x in each series, so seaborn's aggregation and error bars are turned off
(``estimator=None``, ``errorbar=None``) to save time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_INCHES = 7.0
HEIGHT_INCHES = 2.8
DPI = 110
PALETTE = "colorblind"


# Fixed margins as fractions of the figure. A constrained or tight layout
# would fit them to the labels but costs about 0.3 s more per figure, a
# tenth of a report (measured with matplotlib 3.11 on a 2-core machine).
MARGINS = {"left": 0.09, "right": 0.98, "top": 0.95, "bottom": 0.14}


@contextmanager
def _axes(
    height: float = HEIGHT_INCHES, **margins: float
) -> Iterator[tuple[Figure, Axes]]:
    import seaborn as sns
    from matplotlib.figure import Figure

    with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.1):
        figure = Figure(figsize=(WIDTH_INCHES, height))
        figure.subplots_adjust(**(MARGINS | margins))
        axes = figure.add_subplot()
        yield figure, axes


def to_png(figure: Figure) -> bytes:
    """Render a figure to PNG bytes without software metadata."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _month_axis(axes: Axes) -> None:
    import matplotlib.dates as mdates

    axes.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    axes.set_xlabel("")


def monthly_lines(frame: pd.DataFrame, value: str, hue: str, ylabel: str) -> bytes:
    """Plot one line per ``hue`` level of ``value`` against ``month``."""
    import seaborn as sns

    with _axes() as (figure, axes):
        sns.lineplot(
            data=frame,
            x="month",
            y=value,
            hue=hue,
            marker="o",
            ax=axes,
            palette=PALETTE,
            estimator=None,
            errorbar=None,
        )
        _month_axis(axes)
        axes.set_ylabel(ylabel)
        axes.set_ylim(bottom=0)
        if axes.get_legend() is not None:
            axes.legend(title="", fontsize="small", ncols=3, loc="upper left")
        return to_png(figure)


def enforcement_bars(frame: pd.DataFrame) -> bytes:
    """Plot actions requested and removals confirmed per month, side by side."""
    import seaborn as sns

    long = frame.melt(
        id_vars="month",
        value_vars=["enforcement_requested", "removals_confirmed"],
        var_name="measure",
        value_name="count",
    )
    long["measure"] = long["measure"].map(
        {
            "enforcement_requested": "Actions requested",
            "removals_confirmed": "Removals confirmed",
        }
    )
    long["label"] = long["month"].dt.strftime("%b %Y")
    with _axes(bottom=0.27) as (figure, axes):
        sns.barplot(
            data=long,
            x="label",
            y="count",
            hue="measure",
            ax=axes,
            palette=PALETTE,
            errorbar=None,
        )
        axes.set_xlabel("")
        axes.set_ylabel("Actions")
        axes.tick_params(axis="x", labelrotation=45)
        axes.legend(title="", fontsize="small")
        return to_png(figure)


def utilisation_line(frame: pd.DataFrame, target: float) -> bytes:
    """Plot active users per licensed seat per month, with the target level."""
    import seaborn as sns

    with _axes() as (figure, axes):
        sns.lineplot(
            data=frame,
            x="month",
            y="utilisation",
            marker="o",
            estimator=None,
            errorbar=None,
            ax=axes,
        )
        axes.axhline(target, color="0.4", linestyle="--", linewidth=1)
        axes.annotate(
            f"target {target:.0%}",
            xy=(1, target),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            fontsize="small",
            color="0.3",
        )
        _month_axis(axes)
        axes.set_ylabel("Active users per seat")
        axes.set_ylim(0, max(1.05, float(frame["utilisation"].max()) * 1.1))
        axes.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
        return to_png(figure)


def nps_bars(frame: pd.DataFrame) -> bytes:
    """Plot NPS per quarter, labelled with the number of responses."""
    import seaborn as sns

    shown = frame.dropna(subset=["nps"])
    with _axes() as (figure, axes):
        sns.barplot(
            data=shown, x="quarter", y="nps", color="#4477aa", errorbar=None, ax=axes
        )
        pairs = zip(shown["responses"], shown["nps"], strict=True)
        for index, (responses, nps) in enumerate(pairs):
            axes.annotate(
                f"n={int(responses)}",
                xy=(index, float(nps)),
                ha="center",
                va="bottom" if float(nps) >= 0 else "top",
                fontsize="small",
            )
        axes.axhline(0, color="0.3", linewidth=0.8)
        axes.set_ylim(-100, 100)
        axes.set_xlabel("")
        axes.set_ylabel("NPS")
        return to_png(figure)


def score_line(frame: pd.DataFrame, bands: list[tuple[str, float]]) -> bytes:
    """Plot the monthly health score with the band thresholds as lines."""
    import seaborn as sns

    with _axes() as (figure, axes):
        sns.lineplot(
            data=frame,
            x="month",
            y="score",
            marker="o",
            estimator=None,
            errorbar=None,
            ax=axes,
        )
        for name, minimum in bands:
            if minimum > 0:
                axes.axhline(minimum, color="0.5", linestyle=":", linewidth=1)
                axes.annotate(
                    name,
                    xy=(0, minimum),
                    xycoords=("axes fraction", "data"),
                    va="bottom",
                    fontsize="small",
                    color="0.3",
                )
        _month_axis(axes)
        axes.set_ylim(0, 100)
        axes.set_ylabel("Health score")
        return to_png(figure)


def contribution_bars(frame: pd.DataFrame) -> bytes:
    """Plot each component's contribution to the score change, as bars."""
    import seaborn as sns

    colours = ["#228833" if value >= 0 else "#cc3311" for value in frame["points"]]
    with _axes(height=2.2, left=0.17, bottom=0.2) as (figure, axes):
        sns.barplot(
            data=frame,
            y="component",
            x="points",
            hue="component",
            palette=colours,
            legend=False,
            ax=axes,
        )
        axes.axvline(0, color="0.3", linewidth=0.8)
        axes.set_ylabel("")
        axes.set_xlabel("Points of score change")
        return to_png(figure)
