"""Ridge churn fits with sign bounds and the penalty chosen by cross-validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from healthlab.calibration.penalised import (
    PENALTIES,
    choose_penalty,
    client_folds,
    fit_ridge,
)
from healthlab.errors import CalibrationError


def _rows(n_clients: int = 400, seed: int = 0) -> pd.DataFrame:
    """Return client-month rows with two protective features and a harmful one."""
    rng = np.random.default_rng(seed)
    months = 5
    n = n_clients * months
    level = np.repeat(rng.normal(0, 1, n_clients), months)
    frame = pd.DataFrame(
        {
            "client_id": np.repeat(np.arange(n_clients), months),
            "a": 50 + 15 * (level + rng.normal(0, 0.7, n)),
            "b": 50 + 10 * (level + rng.normal(0, 0.7, n)),
            "harm": rng.normal(0, 5, n),
        }
    )
    eta = -2.0 - 0.8 * level + 0.1 * frame["harm"]
    frame["outcome"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    return frame


@pytest.mark.parametrize(
    ("model_type", "link"),
    [("logit", sm.families.links.Logit()), ("hazard", sm.families.links.CLogLog())],
)
def test_unpenalised_fit_matches_statsmodels(model_type: str, link: object) -> None:
    frame = _rows()
    design = frame[["a", "b", "harm"]]
    fit = fit_ridge(design, frame["outcome"], 0.0, model_type, protective=False)
    family = sm.families.Binomial(link=link)
    expected = sm.GLM(frame["outcome"], sm.add_constant(design), family=family).fit(
        tol_criterion="params", atol=1e-12, rtol=0.0
    )
    assert fit.intercept == pytest.approx(expected.params["const"], abs=1e-6)
    for name in design.columns:
        assert fit.coefficients[name] == pytest.approx(expected.params[name], abs=1e-6)


def test_penalised_fit_matches_statsmodels() -> None:
    frame = _rows()
    design = frame[["a", "b", "harm"]]
    penalty = 0.05
    fit = fit_ridge(design, frame["outcome"], penalty, protective=False)
    standardised = (design - design.mean()) / design.std(ddof=0)
    model = sm.GLM(
        frame["outcome"],
        sm.add_constant(standardised),
        family=sm.families.Binomial(),
    )
    expected = model.fit_regularized(
        method="elastic_net", alpha=np.r_[0.0, [penalty] * 3], L1_wt=0.0
    )
    for name in design.columns:
        assert fit.standardised[name] == pytest.approx(expected.params[name], abs=1e-4)
    assert not fit.at_bound.any()


def test_bound_holds_harmful_feature_at_zero() -> None:
    frame = _rows()
    fit = fit_ridge(frame[["a", "b", "harm"]], frame["outcome"], 0.01)
    assert fit.coefficients["harm"] == 0.0
    assert bool(fit.at_bound["harm"])
    assert fit.coefficients["a"] < 0
    assert fit.coefficients["b"] < 0
    # A feature held at 0 drops out, so the others match a fit without it.
    without = fit_ridge(frame[["a", "b"]], frame["outcome"], 0.01)
    for name in ("a", "b"):
        assert fit.coefficients[name] == pytest.approx(
            without.coefficients[name], abs=1e-7
        )
    assert fit.intercept == pytest.approx(without.intercept, abs=1e-6)


def test_heavier_penalty_shrinks_coefficients() -> None:
    frame = _rows()
    design = frame[["a", "b"]]
    light = fit_ridge(design, frame["outcome"], 0.001)
    heavy = fit_ridge(design, frame["outcome"], 1.0)
    assert (heavy.standardised.abs() < light.standardised.abs()).all()


def test_linear_predictor_uses_original_scale() -> None:
    frame = _rows()
    design = frame[["a", "b"]]
    fit = fit_ridge(design, frame["outcome"], 0.1)
    expected = fit.intercept + design["a"] * fit.coefficients["a"]
    expected += design["b"] * fit.coefficients["b"]
    np.testing.assert_allclose(fit.linear_predictor(frame), expected, rtol=1e-12)


def test_constant_feature_rejected() -> None:
    frame = _rows().assign(flat=3.0)
    with pytest.raises(CalibrationError, match="constant flat"):
        fit_ridge(frame[["a", "flat"]], frame["outcome"], 0.1)


def test_client_folds_keep_clients_whole() -> None:
    frame = _rows(n_clients=203)
    fold = client_folds(frame["client_id"], frame["outcome"], 5)
    assert set(np.unique(fold)) == set(range(5))
    per_client = pd.Series(fold).groupby(frame["client_id"].to_numpy()).nunique()
    assert (per_client == 1).all()
    churned = frame.groupby("client_id")["outcome"].max()
    fold_of = pd.Series(fold).groupby(frame["client_id"].to_numpy()).first()
    churned_per_fold = fold_of[churned.astype(bool)].value_counts()
    assert churned_per_fold.max() - churned_per_fold.min() <= 1


def test_client_folds_repeat() -> None:
    frame = _rows()
    first = client_folds(frame["client_id"], frame["outcome"], 5)
    again = client_folds(frame["client_id"], frame["outcome"], 5)
    np.testing.assert_array_equal(first, again)


def test_choose_penalty_one_standard_error_rule() -> None:
    frame = _rows()
    choice = choose_penalty(frame[["a", "b"]], frame["outcome"], frame["client_id"])
    table = choice.table
    assert list(table.index) == sorted(PENALTIES, reverse=True)
    assert table.loc[choice.lowest, "difference"] == 0.0
    assert choice.chosen >= choice.lowest
    assert table.loc[choice.chosen, "difference"] <= table.loc[choice.chosen, "std_err"]
    # Every heavier penalty than the chosen one is more than one error worse.
    heavier = table[table.index > choice.chosen]
    assert (heavier["difference"] > heavier["std_err"]).all()
    # The signal is strong, so the heaviest penalty is clearly worse.
    assert choice.chosen < max(PENALTIES)
    assert choice.folds == 5


def test_choose_penalty_needs_clients() -> None:
    frame = _rows(n_clients=40)
    churned = frame.groupby("client_id")["outcome"].transform("max") == 1
    few = pd.concat([frame[~churned], frame[churned].head(3)])
    with pytest.raises(CalibrationError, match="Too few clients to cross-validate"):
        choose_penalty(few[["a", "b"]], few["outcome"], few["client_id"])
