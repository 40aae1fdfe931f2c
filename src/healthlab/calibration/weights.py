"""Score weights, churn-risk map and bands derived from a fitted churn model.

Every component is a 0-100 sub-score, and the composite is a weighted mean
of them. A health score may only reward what goes with less churn, and that
direction is known before any fit, so the weight policy is:

1. Evidence, tested one-sided. Each component is fitted alone (same link,
   standard errors clustered by client). It has evidence when its coefficient
   is below 0 at the one-sided level :data:`EVIDENCE_LEVEL`. A component whose
   coefficient is above 0 at that level has the wrong sign. Either way, a
   component without evidence gets weight 0.
2. Shared weight. The components are noisy measures of one client health and
   correlated, and a portfolio has few churned clients, so the joint maximum
   likelihood fit splits their effect almost arbitrarily and most of its
   intervals include 0. The components with evidence are therefore fitted
   together by ridge regression (:mod:`healthlab.calibration.penalised`):
   an L2 penalty on the standardised coefficients, every coefficient bounded
   at 0 from above, the penalty chosen by cross-validation over folds of whole
   clients with the one-standard-error rule. The penalty spreads the effect
   over correlated components instead of picking one.
3. Component ``i`` gets the weight ``-b_i / sum_j(-b_j)``, with ``b`` the
   ridge coefficients per score point. The composite is then a decreasing
   linear function of the ridge model's linear predictor, so it ranks clients
   as that model does, for rows with every component present. A component
   whose coefficient the bound keeps at 0 would raise churn given the others,
   so it has the wrong sign and gets weight 0.
4. A component the guarded fit dropped (constant or collinear) gets weight 0,
   and when no component is left the previous model's weights are kept.

Each decision is reported as a finding. The joint maximum likelihood fit
still supplies the coefficients and intervals reported in the model file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from healthlab.calibration.findings import Finding
from healthlab.calibration.fitting import FitResult, fit_churn_model
from healthlab.calibration.penalised import (
    PenaltyChoice,
    RidgeFit,
    choose_penalty,
    fit_ridge,
)
from healthlab.errors import CalibrationError
from healthlab.model import COMPONENTS, Band, ChurnRisk, ComponentName, ScoreModel

WEIGHT_DECIMALS = 4
EVIDENCE_LEVEL = 0.05
"""One-sided significance level of the test of each component's own effect."""
DEFAULT_BAND_NAMES: tuple[str, str, str] = ("at_risk", "watch", "healthy")
RISK_MULTIPLES: tuple[float, float] = (2.0, 1.0)
"""Churn risk, as multiples of the base rate, at the lower edge of the second
and third band: below the first the risk is over twice the base rate."""

TABLE_COLUMNS: tuple[str, ...] = (
    "coef",
    "ci_low",
    "ci_high",
    "alone_coef",
    "alone_p",
    "ridge_coef",
    "status",
    "weight",
)


@dataclass
class DerivedWeights:
    """Component weights and how each was decided.

    ``table`` is indexed by component with the columns of
    :data:`TABLE_COLUMNS`. ``coef``, ``ci_low`` and ``ci_high`` come from the
    joint maximum likelihood fit. ``alone_coef`` is the coefficient of the
    component fitted alone and ``alone_p`` its one-sided p-value for a
    protective effect. ``ridge_coef`` is the ridge coefficient, NaN when the
    component was not in the ridge fit. ``status`` is ``evidence``,
    ``wrong sign``, ``no evidence``, ``not fitted`` or ``previous weight``.
    ``penalty`` and ``ridge`` are the cross-validation and the ridge fit,
    None when no component had evidence.
    """

    weights: dict[str, float]
    table: pd.DataFrame
    findings: list[Finding] = field(default_factory=list)
    penalty: PenaltyChoice | None = None
    ridge: RidgeFit | None = None


@dataclass
class _Decision:
    name: str
    status: str = "evidence"
    alone_coef: float = math.nan
    alone_p: float = math.nan
    ridge_coef: float = math.nan
    weight: float = 0.0


def derive_weights(
    fit: FitResult,
    design: pd.DataFrame,
    outcome: pd.Series | np.ndarray,
    groups: pd.Series | np.ndarray,
    previous: Mapping[str, float] | Mapping[ComponentName, float],
    components: Sequence[str] = COMPONENTS,
) -> DerivedWeights:
    """Derive component weights by the policy of the module docstring.

    Parameters
    ----------
    fit
        The guarded joint fit of churn (outcome 1) on the components, whose
        kept features and model type are used.
    design, outcome, groups
        The rows ``fit`` was fitted on: one column per component, the
        outcome and the client of each row.
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
    y = np.asarray(outcome, dtype=float)
    findings: list[Finding] = []
    decisions = {name: _Decision(name) for name in components}
    for decision in decisions.values():
        if decision.name in fit.features:
            _test_alone(decision, design, y, groups, fit.model_type, findings)
        else:
            decision.status = "not fitted"
            findings.append(
                Finding(
                    "evidence",
                    f"`{decision.name}` is not in the fitted model.",
                    f"`{decision.name}` gets weight 0.",
                )
            )

    candidates = [d.name for d in decisions.values() if d.status == "evidence"]
    choice = ridge = None
    if candidates:
        choice = choose_penalty(design[candidates], y, groups, fit.model_type)
        ridge = fit_ridge(design[candidates], y, choice.chosen, fit.model_type)
        _apply_ridge(decisions, ridge, findings)
        churned = int(pd.Series(np.asarray(groups))[y == 1].nunique())
        findings += _method_findings(fit, design, ridge, choice, churned)

    table = pd.DataFrame(
        [
            {
                "component": d.name,
                **_joint_estimates(fit, d.name),
                "alone_coef": d.alone_coef,
                "alone_p": d.alone_p,
                "ridge_coef": d.ridge_coef,
                "status": d.status,
                "weight": d.weight,
            }
            for d in decisions.values()
        ]
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
    return DerivedWeights(
        weights=weights, table=table, findings=findings, penalty=choice, ridge=ridge
    )


def _joint_estimates(fit: FitResult, name: str) -> dict[str, float]:
    if name not in fit.features:
        return {"coef": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    keys = ["coef", "ci_low", "ci_high"]
    values = fit.coefficients.loc[name, keys].to_numpy(dtype=float)
    return dict(zip(keys, values.tolist(), strict=True))


def _test_alone(
    decision: _Decision,
    design: pd.DataFrame,
    y: np.ndarray,
    groups: pd.Series | np.ndarray,
    model_type: str,
    findings: list[Finding],
) -> None:
    """Test one component's own effect one-sided and record the decision."""
    from scipy.stats import norm

    name = decision.name
    alone = fit_churn_model(
        design[[name]], y, groups=groups, model_type=model_type
    ).coefficients
    coef, z = alone.loc[name, ["coef", "z"]].to_numpy(dtype=float)
    decision.alone_coef = float(coef)
    decision.alone_p = float(norm.cdf(float(z)))
    harmful_p = float(norm.sf(float(z)))
    effect = f"{decision.alone_coef:+.4f} per point when fitted alone"
    if harmful_p < EVIDENCE_LEVEL:
        decision.status = "wrong sign"
        message = (
            f"A higher `{name}` goes with more churn ({effect}, one-sided "
            f"p = {harmful_p:.2g}). A health score cannot reward it; check how "
            "the component is computed."
        )
    elif decision.alone_p >= EVIDENCE_LEVEL:
        decision.status = "no evidence"
        message = (
            f"`{name}` shows no clear link to less churn ({effect}, one-sided "
            f"p = {decision.alone_p:.2g}, not below {EVIDENCE_LEVEL:g})."
        )
    else:
        return
    findings.append(
        Finding(decision.status.replace(" ", "_"), message, f"`{name}` gets weight 0.")
    )


def _apply_ridge(
    decisions: dict[str, _Decision], ridge: RidgeFit, findings: list[Finding]
) -> None:
    for name, coef, at_bound in zip(
        ridge.coefficients.index,
        ridge.coefficients.to_numpy(dtype=float).tolist(),
        ridge.at_bound.to_numpy(dtype=bool).tolist(),
        strict=True,
    ):
        decision = decisions[str(name)]
        decision.ridge_coef = coef
        if not at_bound:
            decision.weight = -coef
            continue
        decision.status = "wrong sign"
        others = [other for other in ridge.coefficients.index if other != name]
        findings.append(
            Finding(
                "wrong_sign",
                f"`{name}` predicts less churn on its own (one-sided p = "
                f"{decision.alone_p:.2g}), but given "
                + _join([f"`{other}`" for other in others])
                + f" a higher `{name}` goes with more churn: the ridge fit keeps "
                "its coefficient at the bound 0.",
                f"`{name}` gets weight 0; the components it overlaps with carry "
                "its effect.",
            )
        )


def _join(names: list[str]) -> str:
    """Join names as in a sentence: "a", "a and b", "a, b and c"."""
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _method_findings(
    fit: FitResult,
    design: pd.DataFrame,
    ridge: RidgeFit,
    choice: PenaltyChoice,
    churned_clients: int,
) -> list[Finding]:
    """Explain the ridge fit and why the joint intervals do not decide weights."""
    with_evidence = [str(name) for name in ridge.coefficients.index]
    link = "logistic" if fit.model_type == "logit" else "complementary log-log"
    findings = [
        Finding(
            "weights",
            f"Weights are proportional to minus the coefficients of a ridge {link} "
            "fit of churn on "
            + _join([f"`{name}`" for name in with_evidence])
            + f", bounded at 0 so that no component can raise churn. The penalty "
            f"{choice.chosen:.3g} on the standardised coefficients is the largest "
            "whose held-out deviance is within one standard error of the lowest "
            f"(at penalty {choice.lowest:.3g}), in {choice.folds}-fold "
            "cross-validation with each client's rows in one fold.",
        )
    ]
    if len(with_evidence) < 2:
        return findings

    # The joint maximum likelihood fit, tested one-sided at the same level.
    from scipy.stats import norm

    limit = float(norm.isf(EVIDENCE_LEVEL))
    joint = fit.coefficients.loc[with_evidence]
    jointly = [
        str(name)
        for name, row in joint.iterrows()
        if row["coef"] + limit * row["std_err"] < 0
    ]
    if len(jointly) == len(with_evidence):
        return findings
    correlation = design[with_evidence].corr().to_numpy()
    pairs = correlation[np.triu_indices(len(with_evidence), k=1)]
    named = _join([f"`{name}`" for name in jointly]) or "no component"
    findings.append(
        Finding(
            "weights",
            f"In the joint maximum likelihood fit only {named} "
            f"{'has' if len(jointly) == 1 else 'have'} a one-sided "
            f"{1 - EVIDENCE_LEVEL:.0%} bound below 0, although each component "
            "with evidence predicts less churn on its own: they are correlated "
            f"({pairs.min():.2f} to {pairs.max():.2f}) and the fit cannot split "
            f"their effect with the {churned_clients} churned clients of the "
            f"{len(design)} rows in the weight fit.",
            "The ridge fit shares the weight among them rather than giving 0 "
            "to each component whose joint interval includes 0.",
        )
    )
    return findings


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
