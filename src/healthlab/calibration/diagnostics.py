"""Accuracy metrics of predicted churn risks: AUC, Brier score, calibration, lift.

All functions take the outcome (1 for the event) and a risk where higher means
more likely to churn. To evaluate a health score, where higher is healthier,
pass its negative.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

BOOTSTRAP_REPLICATES = 500
"""Default number of cluster-bootstrap replicates behind an AUC interval."""

_PROBABILITY_FLOOR = 1e-12


def auc(outcome: np.ndarray | pd.Series, risk: np.ndarray | pd.Series) -> float:
    """Return the area under the ROC curve (Mann-Whitney statistic).

    Ties between an event and a non-event count one half. NaN if either
    class is absent.
    """
    from scipy.stats import rankdata

    y = np.asarray(outcome, dtype=float)
    ranks = rankdata(np.asarray(risk, dtype=float))
    n_events = y.sum()
    n_others = len(y) - n_events
    if n_events == 0 or n_others == 0:
        return math.nan
    rank_sum = ranks[y == 1].sum()
    return float((rank_sum - n_events * (n_events + 1) / 2) / (n_events * n_others))


def auc_interval(
    outcome: np.ndarray | pd.Series,
    risk: np.ndarray | pd.Series,
    groups: np.ndarray | pd.Series | None = None,
    *,
    replicates: int = BOOTSTRAP_REPLICATES,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Return a percentile bootstrap confidence interval of the AUC.

    With ``groups`` (the client id of each row) whole clients are resampled,
    because the rows of one client are not independent; without, rows are.
    Each replicate weights the rows by how often their cluster was drawn and
    computes the weighted Mann-Whitney statistic, so the data are sorted once.
    """
    y = np.asarray(outcome, dtype=float)
    levels, level_index = np.unique(np.asarray(risk, dtype=float), return_inverse=True)
    if groups is None:
        cluster = np.arange(len(y))
    else:
        cluster = pd.factorize(pd.Series(np.asarray(groups)))[0]
    n_clusters = int(cluster.max()) + 1
    events = y == 1
    rng = np.random.default_rng(seed)

    estimates = np.empty(replicates)
    for replicate in range(replicates):
        drawn = np.bincount(
            rng.integers(0, n_clusters, n_clusters), minlength=n_clusters
        )
        weight = drawn[cluster].astype(float)
        other_weight = np.bincount(
            level_index[~events], weight[~events], minlength=len(levels)
        )
        below = np.cumsum(other_weight) - other_weight
        placement = below[level_index[events]] + 0.5 * other_weight[level_index[events]]
        total_events = weight[events].sum()
        total_others = other_weight.sum()
        if total_events == 0 or total_others == 0:
            estimates[replicate] = np.nan
            continue
        estimates[replicate] = (weight[events] * placement).sum() / (
            total_events * total_others
        )
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def brier_score(
    outcome: np.ndarray | pd.Series, probability: np.ndarray | pd.Series
) -> float:
    """Return the mean squared difference between probability and outcome."""
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(probability, dtype=float)
    return float(np.mean((p - y) ** 2))


def calibration_curve(
    outcome: np.ndarray | pd.Series,
    probability: np.ndarray | pd.Series,
    bins: int = 10,
) -> pd.DataFrame:
    """Return observed against predicted event rates by quantile of probability.

    Returns
    -------
    pandas.DataFrame
        One row per bin (deciles by default; fewer when probabilities tie):
        ``bin`` (1 = lowest risk), ``observations``, ``events``,
        ``mean_predicted`` and ``observed_rate``.
    """
    frame = pd.DataFrame(
        {"y": np.asarray(outcome, dtype=float), "p": np.asarray(probability, float)}
    )
    ranks = frame["p"].rank(method="first")
    frame["bin"] = pd.qcut(ranks, min(bins, len(frame)), labels=False) + 1
    curve = (
        frame.groupby("bin")
        .agg(
            observations=("y", "size"),
            events=("y", "sum"),
            mean_predicted=("p", "mean"),
            observed_rate=("y", "mean"),
        )
        .reset_index()
    )
    curve["events"] = curve["events"].astype(int)
    return curve


def _logit(probability: np.ndarray) -> np.ndarray:
    p = np.clip(probability, _PROBABILITY_FLOOR, 1 - _PROBABILITY_FLOOR)
    return np.asarray(np.log(p / (1 - p)), dtype=float)


def calibration_slope_intercept(
    outcome: np.ndarray | pd.Series, probability: np.ndarray | pd.Series
) -> tuple[float, float]:
    """Return the calibration slope and calibration-in-the-large intercept.

    The slope is the coefficient of ``logit(p)`` in a logistic regression of
    the outcome on it. It is 1 for calibrated predictions and below 1 when they
    are too extreme. The intercept comes from a logistic regression with
    ``logit(p)`` as an offset and only a constant. It is 0 for calibrated
    predictions and above 0 when the risks are too low on average.
    """
    import statsmodels.api as sm

    y = np.asarray(outcome, dtype=float)
    linear = _logit(np.asarray(probability, dtype=float))
    family = sm.families.Binomial()
    slope_fit = sm.GLM(y, sm.add_constant(linear, has_constant="add"), family=family)
    slope = float(slope_fit.fit().params[1])
    intercept_fit = sm.GLM(y, np.ones((len(y), 1)), family=family, offset=linear)
    intercept = float(intercept_fit.fit().params[0])
    return slope, intercept


def top_decile_lift(
    outcome: np.ndarray | pd.Series, risk: np.ndarray | pd.Series
) -> float:
    """Return the event rate of the riskiest tenth of rows over the overall rate."""
    y = np.asarray(outcome, dtype=float)
    order = np.argsort(-np.asarray(risk, dtype=float), kind="stable")
    top = order[: max(1, math.ceil(len(y) / 10))]
    overall = y.mean()
    return float(y[top].mean() / overall) if overall > 0 else math.nan


@dataclass(frozen=True)
class Metrics:
    """Out-of-sample performance of churn-risk predictions on one set of rows."""

    observations: int
    events: int
    base_rate: float
    auc: float
    auc_low: float
    auc_high: float
    brier: float
    calibration_slope: float
    calibration_intercept: float
    top_decile_lift: float

    def to_dict(self) -> dict[str, float | int]:
        """Return the metrics as plain numbers, rounded for a model file."""
        return {
            key: value if isinstance(value, int) else round(float(value), 4)
            for key, value in asdict(self).items()
        }


def evaluate(
    outcome: np.ndarray | pd.Series,
    probability: np.ndarray | pd.Series,
    groups: np.ndarray | pd.Series | None = None,
    *,
    replicates: int = BOOTSTRAP_REPLICATES,
    confidence: float = 0.95,
    seed: int = 0,
) -> Metrics:
    """Compute every metric of predicted churn probabilities against outcomes.

    Parameters
    ----------
    outcome
        1 for the event (churn), 0 otherwise.
    probability
        Predicted probability of the event for each row.
    groups
        Client id of each row; the AUC interval resamples whole clients.
    replicates, confidence, seed
        Bootstrap settings of the AUC interval.
    """
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(probability, dtype=float)
    low, high = auc_interval(
        y, p, groups, replicates=replicates, confidence=confidence, seed=seed
    )
    slope, intercept = calibration_slope_intercept(y, p)
    return Metrics(
        observations=len(y),
        events=int(y.sum()),
        base_rate=float(y.mean()),
        auc=auc(y, p),
        auc_low=low,
        auc_high=high,
        brier=brier_score(y, p),
        calibration_slope=slope,
        calibration_intercept=intercept,
        top_decile_lift=top_decile_lift(y, p),
    )


def roc_curve(
    outcome: np.ndarray | pd.Series, risk: np.ndarray | pd.Series
) -> pd.DataFrame:
    """Return the ROC curve: one point per distinct risk, from (0, 0) to (1, 1).

    Returns
    -------
    pandas.DataFrame
        ``threshold``, ``false_positive_rate`` and ``true_positive_rate`` of
        flagging every row whose risk is at or above the threshold.
    """
    y = np.asarray(outcome, dtype=float)
    r = np.asarray(risk, dtype=float)
    levels, index = np.unique(r, return_inverse=True)
    events = np.bincount(index, weights=y, minlength=len(levels))[::-1]
    others = np.bincount(index, weights=1 - y, minlength=len(levels))[::-1]
    return pd.DataFrame(
        {
            "threshold": np.r_[np.inf, levels[::-1]],
            "false_positive_rate": np.r_[0.0, np.cumsum(others) / others.sum()],
            "true_positive_rate": np.r_[0.0, np.cumsum(events) / events.sum()],
        }
    )
