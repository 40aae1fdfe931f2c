"""Seaborn figures of a calibration: coefficients, weights, calibration, ROC.

Each function returns a matplotlib ``Figure`` and leaves showing or saving it
to the caller, so notebooks and reports can use the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from healthlab.calibration.backtest import Backtest
from healthlab.calibration.diagnostics import auc, calibration_curve, roc_curve
from healthlab.calibration.fitting import CONSTANT
from healthlab.calibration.weights import DerivedWeights

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_coefficients(derived: DerivedWeights) -> Figure:
    """Plot each component's coefficient with its confidence interval.

    Points are coloured by the weight decision (``evidence``, ``no
    evidence``, ``wrong sign``). A coefficient below 0 means less churn.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = derived.table.drop(index=CONSTANT, errors="ignore").reset_index()
    table = table.dropna(subset=["coef"])
    figure, axes = plt.subplots(figsize=(7, 0.6 * len(table) + 1.5))
    axes.errorbar(
        table["coef"],
        table["component"],
        xerr=[table["coef"] - table["ci_low"], table["ci_high"] - table["coef"]],
        fmt="none",
        ecolor="grey",
        capsize=3,
    )
    sns.scatterplot(
        data=table, x="coef", y="component", hue="status", s=70, ax=axes, zorder=3
    )
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_xlabel("Coefficient on churn per score point (log-odds or log-hazard)")
    axes.set_ylabel("")
    axes.set_title("Component effects with confidence intervals")
    figure.tight_layout()
    return figure


def plot_weights(
    previous: Mapping[str, float], calibrated: Mapping[str, float]
) -> Figure:
    """Plot the previous and the calibrated weight of each component side by side."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    rows = [
        {"component": name, "weights": label, "weight": float(weights.get(name, 0.0))}
        for label, weights in (("previous", previous), ("calibrated", calibrated))
        for name in calibrated
    ]
    figure, axes = plt.subplots(figsize=(7, 3.5))
    sns.barplot(
        data=pd.DataFrame(rows), x="component", y="weight", hue="weights", ax=axes
    )
    axes.set_title("Component weights: previous model and calibrated")
    axes.set_xlabel("")
    figure.tight_layout()
    return figure


def plot_calibration(backtest: Backtest) -> Figure:
    """Plot observed against predicted churn by decile on the held-out rows."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    predictions = backtest.predictions
    curves = []
    for label, column in (
        ("calibrated", "probability"),
        ("previous", "previous_probability"),
    ):
        curve = calibration_curve(predictions["outcome"], predictions[column])
        curves.append(curve.assign(weights=label))
    data = pd.concat(curves, ignore_index=True)
    figure, axes = plt.subplots(figsize=(5.5, 5))
    top = float(max(data["mean_predicted"].max(), data["observed_rate"].max()))
    axes.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1)
    sns.lineplot(
        data=data,
        x="mean_predicted",
        y="observed_rate",
        hue="weights",
        marker="o",
        ax=axes,
    )
    axes.set_xlabel("Predicted churn within the horizon (decile mean)")
    axes.set_ylabel("Observed churn rate")
    axes.set_title(
        f"Calibration on held-out months {backtest.test_first:%Y-%m} to "
        f"{backtest.test_last:%Y-%m}"
    )
    figure.tight_layout()
    return figure


def plot_roc(backtest: Backtest, latent: pd.Series | None = None) -> Figure:
    """Plot the ROC curves of both weightings on the held-out rows.

    ``latent``, when given, is a risk per prediction row (such as the negative
    latent health of the sample portfolio) drawn as the ceiling.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    predictions = backtest.predictions
    risks = {
        f"calibrated (AUC {backtest.metrics.auc:.3f})": predictions["probability"],
        f"previous (AUC {backtest.previous_metrics.auc:.3f})": predictions[
            "previous_probability"
        ],
    }
    if latent is not None:
        ceiling = auc(predictions["outcome"], latent)
        risks[f"latent health, the ceiling (AUC {ceiling:.3f})"] = latent
    curves = [
        roc_curve(predictions["outcome"], risk).assign(score=label)
        for label, risk in risks.items()
    ]
    figure, axes = plt.subplots(figsize=(5.5, 5))
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    sns.lineplot(
        data=pd.concat(curves, ignore_index=True),
        x="false_positive_rate",
        y="true_positive_rate",
        hue="score",
        estimator=None,
        sort=False,
        ax=axes,
    )
    axes.set_xlabel("False positive rate")
    axes.set_ylabel("True positive rate")
    axes.set_title("ROC on held-out months")
    figure.tight_layout()
    return figure
