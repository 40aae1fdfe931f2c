"""One calibration pass: observation rows in, a new score model out.

The backtest runs this pass on the earlier observation dates only, and
:func:`healthlab.calibration.calibrate_dataset` on all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from healthlab.calibration.findings import Finding
from healthlab.calibration.fitting import FitResult, fit_churn_model
from healthlab.calibration.observations import OUTCOME
from healthlab.calibration.weights import (
    DerivedWeights,
    derive_weights,
    fit_churn_risk,
    propose_bands,
    score_rows,
)
from healthlab.errors import CalibrationError
from healthlab.model import COMPONENTS, ScoreModel


@dataclass
class CalibratedModel:
    """A score model fitted to observation rows, with everything behind it.

    ``fit`` is the churn model on the components, ``weights`` the weights
    derived from it, ``risk_fit`` the logistic fit of churn on the new
    composite score that gave ``model.churn_risk``, and ``base_rate`` the
    share of rows that churned.
    """

    model: ScoreModel
    fit: FitResult
    weights: DerivedWeights
    risk_fit: FitResult
    base_rate: float
    fitted_rows: int
    findings: list[Finding] = field(default_factory=list)


def fit_score_model(
    frame: pd.DataFrame,
    previous: ScoreModel,
    model_type: str,
    horizon: int,
) -> CalibratedModel:
    """Fit component weights, churn-risk map and bands to observation rows.

    Parameters
    ----------
    frame
        Rows of an :class:`~healthlab.calibration.observations.ObservationTable`.
    previous
        The model being replaced: its scoring parameters, band names and,
        when no component has evidence, its weights carry over.
    model_type
        ``"logit"`` or ``"hazard"``.
    horizon
        Horizon of the outcomes, in months, recorded in the churn-risk map.

    Returns
    -------
    CalibratedModel
    """
    findings: list[Finding] = []
    present = [name for name in COMPONENTS if frame[name].notna().any()]
    for name in COMPONENTS:
        if name not in present:
            findings.append(
                Finding(
                    "missing",
                    f"`{name}` has no value in any observation row.",
                    f"`{name}` is left out of the fit and gets weight 0.",
                )
            )
    if not present:
        raise CalibrationError("No component has a value in any observation row.")

    # Rows missing a component are left out of the fit only. The composite
    # renormalises over the components present, so they are still scored.
    complete = frame.dropna(subset=present)
    if len(complete) < len(frame):
        missing = frame[present].isna().sum()
        detail = ", ".join(
            f"`{name}` in {count}" for name, count in missing.items() if count
        )
        findings.append(
            Finding(
                "missing",
                f"{len(frame) - len(complete)} of {len(frame)} observation rows "
                f"lack a component ({detail}).",
                "They are left out of the weight fit; the composite score "
                "renormalises over the components present, so they are still "
                "scored and evaluated.",
            )
        )
    fit = fit_churn_model(
        complete[present],
        complete[OUTCOME],
        groups=complete["client_id"],
        model_type=model_type,
    )
    findings += fit.findings
    derived = derive_weights(
        fit,
        complete[present],
        complete[OUTCOME],
        complete["client_id"],
        previous.weights,
    )
    findings += derived.findings
    if previous.segment_weights:
        findings.append(
            Finding(
                "segments",
                "The previous model has weights per segment "
                f"({', '.join(previous.segment_weights)}); calibration fits one "
                "set of weights for all clients.",
                "The new model has no segment weights.",
            )
        )

    weighted = previous.model_copy(
        update={"weights": derived.weights, "segment_weights": {}}
    )
    score = score_rows(frame, weighted)
    outcome = frame[OUTCOME].to_numpy(dtype=float)
    risk, risk_fit = fit_churn_risk(score, outcome, frame["client_id"], horizon)
    base_rate = float(np.mean(outcome))
    bands, band_findings = propose_bands(risk, base_rate, previous.bands)
    findings += band_findings
    model = ScoreModel.model_validate(
        {
            **weighted.model_dump(),
            "weights": derived.weights,
            "segment_weights": {},
            "churn_risk": risk.model_dump(),
            "bands": [band.model_dump() for band in bands],
        }
    )
    return CalibratedModel(
        model=model,
        fit=fit,
        weights=derived,
        risk_fit=risk_fit,
        base_rate=base_rate,
        fitted_rows=len(complete),
        findings=findings,
    )
