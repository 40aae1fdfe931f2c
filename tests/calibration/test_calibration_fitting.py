"""Guards of the churn model fit, each on small data with a known right outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from healthlab.calibration.fitting import (
    MAX_VIF,
    fit_churn_model,
    variance_inflation_factors,
)
from healthlab.errors import CalibrationError, ConfigError


def _clustered_data(
    n_clients: int = 150, months: int = 8, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Return components, churn outcomes and client ids; `a` and `b` matter."""
    rng = np.random.default_rng(seed)
    n = n_clients * months
    design = pd.DataFrame(
        {
            "a": rng.uniform(0, 100, n),
            "b": rng.uniform(0, 100, n),
            "c": rng.uniform(0, 100, n),
        }
    )
    eta = 2.0 - 0.05 * design["a"] - 0.02 * design["b"]
    outcome = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    groups = np.repeat(np.arange(n_clients), months)
    return design, outcome, groups


def _checks(fit: object) -> list[str]:
    return [finding.check for finding in fit.findings]  # type: ignore[attr-defined]


def test_logit_matches_statsmodels_cluster_fit() -> None:
    design, outcome, groups = _clustered_data()
    fit = fit_churn_model(design, outcome, groups=groups)
    direct = sm.Logit(outcome, sm.add_constant(design)).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": groups}
    )
    assert fit.method == "maximum likelihood"
    assert fit.cov_type == "cluster"
    np.testing.assert_allclose(fit.params.to_numpy(), direct.params, atol=1e-6)
    np.testing.assert_allclose(fit.coefficients["std_err"], direct.bse, atol=1e-6)
    assert fit.findings == []


def test_hazard_matches_statsmodels_cloglog_glm() -> None:
    design, outcome, groups = _clustered_data()
    fit = fit_churn_model(design, outcome, groups=groups, model_type="hazard")
    family = sm.families.Binomial(link=sm.families.links.CLogLog())
    direct = sm.GLM(outcome, sm.add_constant(design), family=family).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    np.testing.assert_allclose(fit.params.to_numpy(), direct.params, atol=1e-6)
    np.testing.assert_allclose(fit.coefficients["std_err"], direct.bse, atol=1e-6)
    np.testing.assert_allclose(
        fit.predict(design), direct.predict(sm.add_constant(design)), atol=1e-6
    )


def test_complete_separation_falls_back_to_ridge() -> None:
    design, _, groups = _clustered_data()
    outcome = (design["a"] > 50).astype(int).to_numpy()
    fit = fit_churn_model(design, outcome, groups=groups)
    separation = [f for f in fit.findings if f.check == "separation"]
    assert len(separation) == 1
    assert "completely separated" in separation[0].message
    assert "`a`" in separation[0].message
    assert "L2 (ridge) penalty" in separation[0].action
    assert fit.method == "L2-regularised"
    assert np.isfinite(fit.coefficients.to_numpy()).all()
    assert fit.params["a"] > 0


def test_quasi_separation_is_reported() -> None:
    rng = np.random.default_rng(3)
    x = np.repeat(np.arange(0.0, 101.0), 6)
    # Outcome fixed on each side of 50; both outcomes at exactly 50.
    outcome = np.where(x > 50, 1, 0)
    at_boundary = x == 50
    outcome[at_boundary] = rng.permutation(np.arange(at_boundary.sum()) % 2)
    design = pd.DataFrame({"x": x, "noise": rng.normal(size=len(x))})
    fit = fit_churn_model(design, outcome)
    messages = [f.message for f in fit.findings if f.check == "separation"]
    assert len(messages) == 1
    assert "quasi-completely separated" in messages[0]
    assert fit.method == "L2-regularised"


def test_no_separation_in_overlapping_data() -> None:
    design, outcome, groups = _clustered_data(seed=4)
    fit = fit_churn_model(design, outcome, groups=groups)
    assert "separation" not in _checks(fit)


def test_duplicated_component_is_dropped() -> None:
    design, outcome, groups = _clustered_data()
    doubled = design.assign(a_copy=design["a"])
    fit = fit_churn_model(doubled, outcome, groups=groups)
    collinear = [f for f in fit.findings if f.check == "collinearity"]
    assert len(collinear) == 1
    assert "`a_copy`" in collinear[0].message
    assert "exact linear dependence" in collinear[0].message
    assert "`a`" in collinear[0].message
    assert fit.dropped == ("a_copy",)
    assert fit.features == ("a", "b", "c")
    reference = fit_churn_model(design, outcome, groups=groups)
    np.testing.assert_allclose(fit.params, reference.params, atol=1e-9)


def test_near_linear_combination_is_dropped() -> None:
    design, outcome, groups = _clustered_data()
    noise = np.random.default_rng(1).normal(0, 1, len(design))
    mixed = design.assign(d=0.5 * design["a"] + 0.5 * design["b"] + noise)
    vifs = variance_inflation_factors(mixed)
    assert vifs["d"] > MAX_VIF
    fit = fit_churn_model(mixed, outcome, groups=groups)
    assert fit.dropped == ("d",)
    assert variance_inflation_factors(design).max() < MAX_VIF


def test_constant_component_is_dropped() -> None:
    design, outcome, groups = _clustered_data()
    fit = fit_churn_model(design.assign(flat=50.0), outcome, groups=groups)
    assert "constant" in _checks(fit)
    assert "flat" in fit.dropped


def test_few_events_raise() -> None:
    design, _, groups = _clustered_data()
    outcome = np.zeros(len(design), dtype=int)
    outcome[:40] = 1  # 40 rows, but only the first 5 clients
    with pytest.raises(
        CalibrationError, match="Too few events to calibrate: 5 clients"
    ):
        fit_churn_model(design, outcome, groups=groups)


def test_few_events_per_feature_warn() -> None:
    design, outcome, groups = _clustered_data()
    outcome = np.where(groups < 20, outcome, 0)  # events in at most 20 clients
    fit = fit_churn_model(design, outcome, groups=groups)
    events = [f.message for f in fit.findings if f.check == "events"]
    assert len(events) == 1
    assert "for 3 features" in events[0]
    assert fit.method == "maximum likelihood"


def test_non_convergence_falls_back_to_ridge() -> None:
    design, outcome, groups = _clustered_data()
    fit = fit_churn_model(design, outcome, groups=groups, maxiter=1)
    convergence = [f for f in fit.findings if f.check == "convergence"]
    assert len(convergence) == 1
    assert "did not converge" in convergence[0].message
    assert fit.method == "L2-regularised"
    # The penalty is weak, so the estimates stay close to maximum likelihood.
    reference = fit_churn_model(design, outcome, groups=groups)
    np.testing.assert_allclose(fit.params, reference.params, rtol=0.05, atol=0.01)
    np.testing.assert_allclose(
        fit.coefficients["std_err"], reference.coefficients["std_err"], rtol=0.05
    )


def test_hazard_non_convergence_falls_back() -> None:
    design, outcome, groups = _clustered_data()
    fit = fit_churn_model(
        design, outcome, groups=groups, model_type="hazard", maxiter=1
    )
    assert "convergence" in _checks(fit)
    assert fit.method == "L2-regularised"


def test_few_clusters_are_reported() -> None:
    design, outcome, _ = _clustered_data()
    groups = np.arange(len(design)) % 12
    fit = fit_churn_model(design, outcome, groups=groups)
    assert "clusters" in _checks(fit)


def test_missing_values_raise() -> None:
    design, outcome, groups = _clustered_data()
    design.loc[3, "b"] = np.nan
    with pytest.raises(CalibrationError, match="1 of 1200 rows have missing"):
        fit_churn_model(design, outcome, groups=groups)


def test_outcome_must_be_binary() -> None:
    design, outcome, groups = _clustered_data()
    outcome = outcome.copy()
    outcome[0] = 2
    with pytest.raises(CalibrationError, match="must be 0 or 1"):
        fit_churn_model(design, outcome, groups=groups)


def test_unknown_model_type_raises() -> None:
    design, outcome, groups = _clustered_data()
    with pytest.raises(ConfigError, match="Unknown model type 'probit'"):
        fit_churn_model(design, outcome, groups=groups, model_type="probit")


def test_hazard_separation_falls_back_to_ridge() -> None:
    design, _, groups = _clustered_data()
    outcome = (design["b"] < 30).astype(int).to_numpy()
    fit = fit_churn_model(design, outcome, groups=groups, model_type="hazard")
    assert "separation" in _checks(fit)
    assert fit.method == "L2-regularised"
    assert fit.params["b"] < 0
