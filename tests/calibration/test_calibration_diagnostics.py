"""AUC, its bootstrap interval, Brier score, calibration and lift."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from healthlab.calibration.diagnostics import (
    auc,
    auc_interval,
    brier_score,
    calibration_curve,
    calibration_slope_intercept,
    evaluate,
    roc_curve,
    top_decile_lift,
)


def _pairwise_auc(outcome: np.ndarray, risk: np.ndarray) -> float:
    wins = 0.0
    pairs = 0
    for i, j in itertools.product(
        np.flatnonzero(outcome == 1), np.flatnonzero(outcome == 0)
    ):
        pairs += 1
        if risk[i] > risk[j]:
            wins += 1.0
        elif risk[i] == risk[j]:
            wins += 0.5
    return wins / pairs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_matches_pairwise_count_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    outcome = rng.integers(0, 2, 60)
    risk = rng.integers(0, 8, 60).astype(float)  # many ties
    assert auc(outcome, risk) == pytest.approx(_pairwise_auc(outcome, risk), abs=1e-12)


def test_auc_extremes() -> None:
    outcome = np.array([0, 0, 1, 1])
    assert auc(outcome, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(outcome, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert auc(outcome, np.ones(4)) == 0.5
    assert np.isnan(auc(np.ones(4), np.arange(4.0)))


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probability = rng.uniform(0.01, 0.6, n)
    outcome = (rng.uniform(size=n) < probability).astype(int)
    return outcome, probability


def test_auc_interval_brackets_estimate() -> None:
    outcome, probability = _synthetic(2000, 0)
    low, high = auc_interval(outcome, probability, replicates=300)
    assert low < auc(outcome, probability) < high
    assert 0.02 < high - low < 0.12


def test_cluster_bootstrap_is_wider_for_repeated_rows() -> None:
    outcome, probability = _synthetic(300, 1)
    # Each client contributes eight identical rows: 300 independent units, not 2400.
    repeated_outcome = np.repeat(outcome, 8)
    repeated_probability = np.repeat(probability, 8)
    groups = np.repeat(np.arange(300), 8)
    row_low, row_high = auc_interval(
        repeated_outcome, repeated_probability, replicates=300
    )
    low, high = auc_interval(
        repeated_outcome, repeated_probability, groups, replicates=300
    )
    assert (high - low) > 2 * (row_high - row_low)
    plain_low, plain_high = auc_interval(outcome, probability, replicates=300)
    assert high - low == pytest.approx(plain_high - plain_low, rel=0.3)


def test_auc_interval_is_reproducible() -> None:
    outcome, probability = _synthetic(500, 2)
    first = auc_interval(outcome, probability, replicates=100, seed=7)
    again = auc_interval(outcome, probability, replicates=100, seed=7)
    assert first == again


def test_brier_score() -> None:
    assert brier_score(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(0.1)


def test_calibration_curve_deciles() -> None:
    outcome, probability = _synthetic(5000, 3)
    curve = calibration_curve(outcome, probability)
    assert list(curve["bin"]) == list(range(1, 11))
    assert curve["observations"].sum() == 5000
    assert curve["events"].sum() == outcome.sum()
    assert curve["mean_predicted"].is_monotonic_increasing
    np.testing.assert_allclose(
        curve["observed_rate"], curve["mean_predicted"], atol=0.05
    )


def test_calibration_of_true_probabilities() -> None:
    outcome, probability = _synthetic(20000, 4)
    slope, intercept = calibration_slope_intercept(outcome, probability)
    assert slope == pytest.approx(1.0, abs=0.1)
    assert intercept == pytest.approx(0.0, abs=0.05)


def test_calibration_of_overconfident_predictions() -> None:
    outcome, probability = _synthetic(20000, 5)
    logit = np.log(probability / (1 - probability))
    too_extreme = 1 / (1 + np.exp(-(2 * logit)))
    slope, _ = calibration_slope_intercept(outcome, too_extreme)
    assert slope == pytest.approx(0.5, abs=0.07)
    too_low = 1 / (1 + np.exp(-(logit - 1)))
    _, intercept = calibration_slope_intercept(outcome, too_low)
    assert intercept == pytest.approx(1.0, abs=0.1)


def test_top_decile_lift() -> None:
    outcome = np.array([1] * 10 + [0] * 90)
    risk = np.r_[np.ones(10), np.zeros(90)]
    assert top_decile_lift(outcome, risk) == pytest.approx(10.0)
    assert top_decile_lift(outcome, -risk) == pytest.approx(0.0)


def test_evaluate_collects_every_metric() -> None:
    outcome, probability = _synthetic(1000, 6)
    groups = np.arange(1000) // 4
    metrics = evaluate(outcome, probability, groups, replicates=100)
    assert metrics.observations == 1000
    assert metrics.events == outcome.sum()
    assert metrics.auc == pytest.approx(auc(outcome, probability))
    assert metrics.auc_low < metrics.auc < metrics.auc_high
    assert metrics.top_decile_lift > 1
    record = metrics.to_dict()
    assert record["observations"] == 1000
    assert isinstance(record["auc"], float)


def test_roc_curve_area_equals_auc() -> None:
    rng = np.random.default_rng(8)
    outcome = rng.integers(0, 2, 300)
    risk = rng.integers(0, 20, 300) + 3 * outcome
    curve = roc_curve(outcome, risk)
    assert curve.iloc[0]["false_positive_rate"] == 0.0
    assert curve.iloc[-1]["true_positive_rate"] == 1.0
    area = np.trapezoid(curve["true_positive_rate"], curve["false_positive_rate"])
    assert area == pytest.approx(auc(outcome, risk), abs=1e-12)
