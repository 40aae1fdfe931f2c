"""Score weights, churn-risk map and bands derived from a fitted churn model.

Every component is a 0-100 sub-score, and the composite is a weighted mean
of them. Component ``i`` gets the weight ``-b_i / sum_j(-b_j)``, where ``b_i``
is its coefficient on churn. The composite is then a decreasing linear
function of the model's linear predictor, so it ranks clients exactly as the
model does, for rows with every component present.

A health score may only reward what goes with less churn, so the weight policy
is:

- a component whose coefficient is 0 or positive ("wrong sign") gets weight 0;
- a component whose confidence interval includes 0 ("no evidence") gets
  weight 0, because the data cannot tell its effect from noise;
- a component the fit dropped (constant or collinear) gets weight 0;
- when no component is left, the previous model's weights are kept.

Each case is reported as a finding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from healthlab.calibration.findings import Finding
from healthlab.calibration.fitting import FitResult, fit_churn_model
from healthlab.errors import CalibrationError
from healthlab.model import COMPONENTS, Band, ChurnRisk, ComponentName, ScoreModel

WEIGHT_DECIMALS = 4
DEFAULT_BAND_NAMES: tuple[str, str, str] = ("at_risk", "watch", "healthy")
RISK_MULTIPLES: tuple[float, float] = (2.0, 1.0)
"""Churn risk, as multiples of the base rate, at the lower edge of the second
and third band: below the first the risk is over twice the base rate."""


@dataclass
class DerivedWeights:
    """Component weights and how each was decided.

    ``table`` is indexed by component with columns ``coef``, ``ci_low``,
    ``ci_high``, ``status`` (``evidence``, ``wrong sign``, ``no evidence``,
    ``not fitted`` or ``previous weight``) and ``weight``.
    """

    weights: dict[str, float]
    table: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)


def derive_weights(
    fit: FitResult,
    previous: Mapping[str, float] | Mapping[ComponentName, float],
    components: Sequence[str] = COMPONENTS,
) -> DerivedWeights:
    """Derive component weights from the coefficients of a churn model.

    Parameters
    ----------
    fit
        A churn model fitted on the components (outcome 1 = churn).
    previous
        The weights of the model being replaced, kept if no component has
        evidence.
    components
        The components to weight, in output order.

    Returns
    -------
    DerivedWeights
        Weights that sum to 1, rounded to :data:`WEIGHT_DECIMALS` decimals.
    """
    level = f"{fit.confidence:.0%}"
    findings: list[Finding] = []
    rows = []
    for name in components:
        if name not in fit.features:
            rows.append((name, math.nan, math.nan, math.nan, "not fitted", 0.0))
            findings.append(
                Finding(
                    "evidence",
                    f"`{name}` is not in the fitted model.",
                    f"`{name}` gets weight 0.",
                )
            )
            continue
        estimates = fit.coefficients.loc[name, ["coef", "ci_low", "ci_high"]]
        coef, low, high = (float(value) for value in estimates.to_numpy(dtype=float))
        interval = f"{coef:+.4f} per point, {level} CI {low:+.4f} to {high:+.4f}"
        if coef >= 0 and low > 0:
            status = "wrong sign"
            message = (
                f"A higher `{name}` goes with more churn ({interval}). A health "
                "score cannot reward it; check how the component is computed."
            )
        elif coef >= 0 or high >= 0:
            status = "no evidence"
            message = (
                f"`{name}` shows no clear link to churn ({interval}: the "
                "interval includes 0)."
            )
        else:
            rows.append((name, coef, low, high, "evidence", -coef))
            continue
        rows.append((name, coef, low, high, status, 0.0))
        findings.append(
            Finding(status.replace(" ", "_"), message, f"`{name}` gets weight 0.")
        )

    table = pd.DataFrame(
        rows, columns=["component", "coef", "ci_low", "ci_high", "status", "weight"]
    ).set_index("component")
    if table["weight"].sum() <= 0:
        old = {str(name): float(weight) for name, weight in previous.items()}
        table["weight"] = [old.get(str(name), 0.0) for name in table.index]
        table["status"] = "previous weight"
        findings.append(
            Finding(
                "evidence",
                "No component shows a clear link to less churn, so the data "
                "cannot support new weights.",
                "The previous model's weights are kept; only the churn-risk map "
                "and bands are refitted.",
            )
        )
    table["weight"] = normalise_weights(table["weight"])
    weights = {name: float(table["weight"][name]) for name in components}
    return DerivedWeights(weights=weights, table=table, findings=findings)


def normalise_weights(weights: pd.Series) -> pd.Series:
    """Return weights scaled to sum to 1 after rounding to WEIGHT_DECIMALS."""
    values = np.array((weights / weights.sum()).round(WEIGHT_DECIMALS), dtype=float)
    # Put the rounding residue on the largest weight so the sum is exactly 1.
    largest = int(np.argmax(values))
    values[largest] = round(1.0 - (values.sum() - values[largest]), WEIGHT_DECIMALS)
    return pd.Series(values, index=weights.index, name=weights.name)


def score_rows(frame: pd.DataFrame, model: ScoreModel) -> np.ndarray:
    """Return the composite score of each row of ``frame``, in row order.

    ``frame`` needs ``client_id``, ``month``, ``segment`` and the component
    columns; the score is :func:`healthlab.scoring.composite_scores`.
    """
    from healthlab.scoring import composite_scores

    keyed = frame.assign(_row=np.arange(len(frame)))
    segments = (
        frame.drop_duplicates("client_id").set_index("client_id")["segment"].astype(str)
    )
    scored = composite_scores(keyed, model, segments)
    scores = np.empty(len(frame))
    scores[scored["_row"].to_numpy()] = scored["score"].to_numpy(dtype=float)
    return scores


def fit_churn_risk(
    score: np.ndarray,
    outcome: np.ndarray,
    groups: np.ndarray | pd.Series,
    horizon: int,
) -> tuple[ChurnRisk, FitResult]:
    """Fit ``logit(p) = intercept + slope * score`` on scored observation rows.

    Rows without a score are ignored. The fit is a logistic regression with
    cluster-robust standard errors behind the same guards as the weights.
    """
    scored = ~np.isnan(score)
    fit = fit_churn_model(
        pd.DataFrame({"score": score[scored]}),
        np.asarray(outcome)[scored],
        groups=np.asarray(groups)[scored],
        model_type="logit",
    )
    if "score" not in fit.features:
        raise CalibrationError(
            "The composite score is the same for every observation, so it cannot "
            "be mapped to a churn probability."
        )
    risk = ChurnRisk(
        intercept=round(float(fit.params["const"]), 6),
        slope=round(float(fit.params["score"]), 6),
        horizon_months=horizon,
    )
    return risk, fit


def risk_at(risk: ChurnRisk, score: np.ndarray | pd.Series) -> np.ndarray:
    """Return the churn probability the map gives for each score."""
    from scipy.special import expit

    return np.asarray(expit(risk.intercept + risk.slope * np.asarray(score)), float)


def score_at_risk(risk: ChurnRisk, probability: float) -> float:
    """Return the score at which the map gives ``probability``."""
    return (math.log(probability / (1 - probability)) - risk.intercept) / risk.slope


def propose_bands(
    risk: ChurnRisk,
    base_rate: float,
    previous: Sequence[Band],
) -> tuple[list[Band], list[Finding]]:
    """Propose three bands from churn-risk levels relative to the base rate.

    The lowest band contains the scores whose risk is above twice the base
    rate, the middle one the risks between the base rate and twice it, and the
    top one the risks below the base rate (see :data:`RISK_MULTIPLES`). Band names come
    from ``previous`` when it has three bands. If the map does not fall with
    the score, or a threshold lands outside 1-99, the previous bands are kept.
    """
    names = (
        tuple(band.name for band in previous)
        if len(previous) == 3
        else DEFAULT_BAND_NAMES
    )
    kept = (
        "The previous model's bands are kept: "
        + ", ".join(f"{band.name} from {band.min_score:g}" for band in previous)
        + "."
    )
    if risk.slope >= 0:
        return list(previous), [
            Finding("bands", "Churn risk does not fall as the score rises.", kept)
        ]
    thresholds = []
    for multiple in RISK_MULTIPLES:
        probability = multiple * base_rate
        if not 0 < probability < 1:
            return list(previous), [
                Finding(
                    "bands",
                    f"A churn risk of {multiple:g} times the base rate "
                    f"({base_rate:.1%}) is not a probability.",
                    kept,
                )
            ]
        thresholds.append(round(score_at_risk(risk, probability), 1))
    if not 1 <= thresholds[0] < thresholds[1] <= 99:
        return list(previous), [
            Finding(
                "bands",
                f"The risk-based band edges ({thresholds[0]:g} and "
                f"{thresholds[1]:g}) do not fit inside the 0-100 scale.",
                kept,
            )
        ]
    bands = [
        Band(name=names[0], min_score=0),
        Band(name=names[1], min_score=thresholds[0]),
        Band(name=names[2], min_score=thresholds[1]),
    ]
    return bands, []
