"""Weights, churn-risk map and bands derived from fitted churn models."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from healthlab.calibration.fitting import fit_churn_model
from healthlab.calibration.weights import (
    derive_weights,
    fit_churn_risk,
    normalise_weights,
    propose_bands,
    risk_at,
    score_rows,
)
from healthlab.model import COMPONENTS, Band, ChurnRisk, load_model

PREVIOUS = {name: 0.2 for name in COMPONENTS}


def _components(coefficients: dict[str, float], n_clients: int = 400, seed: int = 0):
    """Return observation rows whose churn follows the given per-point effects."""
    rng = np.random.default_rng(seed)
    months = 6
    n = n_clients * months
    frame = pd.DataFrame(
        {
            "client_id": np.repeat([f"{i:04d}" for i in range(n_clients)], months),
            "month": np.tile(
                pd.date_range("2025-01-01", periods=months, freq="MS"), n_clients
            ),
            "segment": "smb",
        }
    )
    for name in COMPONENTS:
        frame[name] = rng.uniform(0, 100, n)
    eta = 1.0 + sum(
        effect * (frame[name] - 50) for name, effect in coefficients.items()
    )
    frame["outcome"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return frame


def _fit(frame: pd.DataFrame, components: tuple[str, ...] = COMPONENTS):
    return fit_churn_model(
        frame[list(components)], frame["outcome"], groups=frame["client_id"]
    )


def _derive(frame: pd.DataFrame, components: tuple[str, ...] = COMPONENTS):
    return derive_weights(
        _fit(frame, components),
        frame[list(components)],
        frame["outcome"],
        frame["client_id"],
        PREVIOUS,
        components,
    )


def _latent_components(n_clients: int = 300, seed: int = 0) -> pd.DataFrame:
    """Return rows whose churn follows a hidden health measured by noisy copies.

    ``first`` and ``second`` are the hidden health plus independent noise, so
    they correlate about 0.6 and each predicts churn. ``noise`` is unrelated
    to churn, and ``harmful`` rises with the churn risk.
    """
    rng = np.random.default_rng(seed)
    months = 6
    n = n_clients * months
    level = np.repeat(rng.normal(60, 12, n_clients), months)
    health = level + rng.normal(0, 4, n)
    eta = -2.0 - 0.06 * (health - 60)
    return pd.DataFrame(
        {
            "client_id": np.repeat([f"{i:04d}" for i in range(n_clients)], months),
            "first": health + rng.normal(0, 10, n),
            "second": health + rng.normal(0, 10, n),
            "noise": rng.uniform(0, 100, n),
            "harmful": 50 - 0.5 * (health - 60) + rng.normal(0, 10, n),
            "outcome": (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int),
        }
    )


def test_weights_follow_ridge_coefficients() -> None:
    effects = {
        "utilisation": -0.04,
        "enforcement": -0.03,
        "nps": -0.02,
        "impact": -0.02,
        "engagement": -0.01,
    }
    frame = _components(effects, n_clients=1500)
    derived = _derive(frame)
    assert set(derived.table["status"]) == {"evidence"}
    assert sum(derived.weights.values()) == pytest.approx(1.0, abs=1e-12)
    ridge = -derived.table["ridge_coef"]
    for name in COMPONENTS:
        assert derived.weights[name] == pytest.approx(
            ridge[name] / ridge.sum(), abs=1e-4
        )
    # With uncorrelated components and plenty of data the penalty barely
    # changes the proportions of the maximum likelihood fit.
    mle = -derived.table["coef"] / -derived.table["coef"].sum()
    for name in COMPONENTS:
        assert derived.weights[name] == pytest.approx(mle[name], abs=0.03)


def test_composite_ranks_like_the_model() -> None:
    effects = {name: -0.03 for name in COMPONENTS}
    frame = _components(effects, n_clients=1000)
    derived = _derive(frame)
    model = load_model().model_copy(update={"weights": derived.weights})
    score = score_rows(frame, model)
    assert derived.ridge is not None
    eta = derived.ridge.linear_predictor(frame)
    # Weights are rounded to 4 decimals, so the ranks agree to that precision.
    assert spearmanr(score, -eta).statistic > 0.99999


def test_correlated_protective_components_share_weight() -> None:
    frame = _latent_components(n_clients=100)
    components = ("first", "second")
    assert frame["first"].corr(frame["second"]) == pytest.approx(0.6, abs=0.1)
    derived = _derive(frame, components)
    # The joint interval of `first` includes 0, yet it predicts churn alone.
    assert derived.table.loc["first", "ci_high"] > 0
    assert set(derived.table["status"]) == {"evidence"}
    assert derived.weights["first"] > 0.25
    assert derived.weights["second"] > 0.25
    assert (derived.table["alone_p"] < 0.05).all()
    assert any(f.check == "weights" and "ridge" in f.message for f in derived.findings)


def test_wrong_sign_component_gets_zero_weight() -> None:
    effects = {"utilisation": -0.05, "enforcement": -0.03, "nps": 0.04}
    derived = _derive(_components(effects))
    assert derived.table.loc["nps", "status"] == "wrong sign"
    assert derived.weights["nps"] == 0.0
    assert derived.weights["utilisation"] > derived.weights["enforcement"] > 0
    wrong = [f for f in derived.findings if f.check == "wrong_sign"]
    assert len(wrong) == 1
    assert "A higher `nps` goes with more churn" in wrong[0].message
    assert wrong[0].action == "`nps` gets weight 0."


def test_harmful_component_among_correlated_gets_zero() -> None:
    frame = _latent_components(seed=1)
    derived = _derive(frame, ("first", "second", "harmful"))
    assert derived.table.loc["harmful", "status"] == "wrong sign"
    assert derived.weights["harmful"] == 0.0
    assert derived.weights["first"] > 0.25
    assert derived.weights["second"] > 0.25


def test_harmful_given_others_kept_at_zero() -> None:
    # `mixed` predicts less churn alone because it contains `first`, but
    # given `first` it carries only a harmful part.
    frame = _latent_components(n_clients=600, seed=2)
    rng = np.random.default_rng(7)
    risk = rng.normal(0, 8, len(frame))
    frame["mixed"] = frame["first"] + risk
    eta = -2.0 - 0.06 * (frame["first"] - 60) + 0.1 * risk
    frame["outcome"] = (rng.uniform(size=len(frame)) < 1 / (1 + np.exp(-eta))).astype(
        int
    )
    derived = _derive(frame, ("first", "mixed"))
    table = derived.table
    assert table.loc["mixed", "alone_p"] < 0.05
    assert table.loc["mixed", "status"] == "wrong sign"
    assert table.loc["mixed", "ridge_coef"] == 0.0
    assert derived.weights == {"first": 1.0, "mixed": 0.0}
    kept = [f for f in derived.findings if "keeps its coefficient" in f.message]
    assert len(kept) == 1
    assert "`mixed`" in kept[0].message


def test_pure_noise_component_gets_no_weight() -> None:
    for seed in range(3):
        frame = _latent_components(seed=seed)
        derived = _derive(frame, ("first", "second", "noise"))
        assert derived.weights["noise"] <= 0.02
        assert derived.weights["first"] > 0.25
        assert derived.weights["second"] > 0.25


def test_component_without_evidence_gets_zero_weight() -> None:
    effects = {"utilisation": -0.05, "enforcement": -0.03}
    derived = _derive(_components(effects))
    for name in ("impact", "engagement"):
        assert derived.table.loc[name, "status"] in ("no evidence", "wrong sign")
        assert derived.weights[name] == 0.0
    assert derived.weights["utilisation"] > derived.weights["enforcement"] > 0
    messages = " ".join(f.message for f in derived.findings)
    assert "shows no clear link to less churn" in messages


def test_dropped_component_gets_zero_weight() -> None:
    frame = _components({"utilisation": -0.05, "enforcement": -0.03})
    frame["impact"] = frame["utilisation"]
    derived = _derive(frame)
    assert derived.table.loc["impact", "status"] == "not fitted"
    assert derived.weights["impact"] == 0.0


def test_no_evidence_keeps_previous_weights() -> None:
    derived = _derive(_components({}, seed=2))
    assert derived.weights == PREVIOUS
    assert set(derived.table["status"]) == {"previous weight"}
    assert any(
        "previous model's weights are kept" in f.action for f in derived.findings
    )


def test_normalise_weights_sums_to_one() -> None:
    weights = normalise_weights(pd.Series({"a": 1.0, "b": 1.0, "c": 1.0}))
    assert weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert list(weights.round(4)) == [0.3334, 0.3333, 0.3333]


def test_churn_risk_map_matches_outcomes() -> None:
    rng = np.random.default_rng(5)
    score = rng.uniform(0, 100, 6000)
    probability = 1 / (1 + np.exp(-(2.0 - 0.06 * score)))
    outcome = (rng.uniform(size=len(score)) < probability).astype(int)
    groups = np.arange(len(score)) // 6
    risk, _ = fit_churn_risk(score, outcome, groups, horizon=12)
    assert risk.slope == pytest.approx(-0.06, abs=0.01)
    assert risk.intercept == pytest.approx(2.0, abs=0.3)
    assert risk.horizon_months == 12


def test_bands_sit_where_risk_crosses_base_rate_multiples() -> None:
    risk = ChurnRisk(intercept=2.0, slope=-0.06, horizon_months=12)
    previous = load_model().bands
    bands, findings = propose_bands(risk, 0.12, previous)
    assert findings == []
    assert [band.name for band in bands] == [band.name for band in previous]
    assert bands[0].min_score == 0
    assert risk_at(risk, np.array([bands[1].min_score]))[0] == pytest.approx(
        0.24, abs=0.002
    )
    assert risk_at(risk, np.array([bands[2].min_score]))[0] == pytest.approx(
        0.12, abs=0.002
    )


def test_bands_kept_when_risk_rises_with_score() -> None:
    previous = [Band(name="low", min_score=0), Band(name="high", min_score=50)]
    risk = ChurnRisk(intercept=-3.0, slope=0.01, horizon_months=12)
    bands, findings = propose_bands(risk, 0.1, previous)
    assert bands == previous
    assert len(findings) == 1
    assert "does not fall as the score rises" in findings[0].message


def test_bands_kept_when_edges_leave_the_scale() -> None:
    previous = load_model().bands
    risk = ChurnRisk(intercept=-1.0, slope=-0.001, horizon_months=12)
    bands, findings = propose_bands(risk, 0.1, previous)
    assert bands == list(previous)
    assert "do not fit inside the 0-100 scale" in findings[0].message
    assert not math.isnan(bands[1].min_score)
