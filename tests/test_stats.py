"""Tests for the shared statistical helpers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from healthlab.stats import (
    net_promoter_score,
    nps_prior_observations,
    shrink_toward,
    wilson_interval,
    wilson_lower_bound,
)


@pytest.mark.parametrize(
    ("successes", "trials", "confidence"),
    [(0, 1, 0.95), (1, 1, 0.95), (9, 10, 0.95), (90, 100, 0.95), (3, 4, 0.8)]
    + [(17, 20, 0.99), (0, 50, 0.9), (50, 50, 0.9), (1234, 5000, 0.95)],
)
def test_wilson_matches_statsmodels(
    successes: int, trials: int, confidence: float
) -> None:
    lower, upper = wilson_interval(successes, trials, confidence)
    expected = proportion_confint(
        successes, trials, alpha=1 - confidence, method="wilson"
    )
    assert float(lower) == pytest.approx(expected[0], abs=1e-12)
    assert float(upper) == pytest.approx(expected[1], abs=1e-12)


def test_wilson_known_values() -> None:
    # Worked values at 95%: 9/10 and 90/100 (z = 1.959964).
    assert float(wilson_lower_bound(9, 10)) == pytest.approx(0.5958499, abs=1e-6)
    assert float(wilson_lower_bound(90, 100)) == pytest.approx(0.8256343, abs=1e-6)
    assert float(wilson_lower_bound(0, 10)) == 0.0
    assert float(wilson_interval(10, 10)[1]) == 1.0


def test_wilson_zero_trials_is_nan() -> None:
    lower, upper = wilson_interval([0, 3], [0, 4])
    assert np.isnan(lower[0])
    assert np.isnan(upper[0])
    assert lower[1] > 0


@settings(max_examples=60, deadline=None)
@given(
    trials=st.integers(1, 10_000),
    share=st.floats(0, 1),
    confidence=st.floats(0.55, 0.999),
)
def test_wilson_vectorised_statsmodels(
    trials: int, share: float, confidence: float
) -> None:
    successes = round(share * trials)
    lower = wilson_lower_bound(np.array([successes]), np.array([trials]), confidence)
    expected, _ = proportion_confint(
        successes, trials, alpha=1 - confidence, method="wilson"
    )
    assert lower.shape == (1,)
    assert lower[0] == pytest.approx(expected, abs=1e-9)
    assert 0 <= lower[0] <= successes / trials + 1e-12


def test_wilson_tighter_with_more_trials() -> None:
    lower = wilson_lower_bound([8, 80, 800], [10, 100, 1000])
    assert np.all(np.diff(lower) > 0)
    assert lower[-1] < 0.8


@pytest.mark.parametrize(
    ("successes", "trials", "confidence", "message"),
    [
        (5, 4, 0.95, "between 0 and `trials`"),
        (-1, 4, 0.95, "between 0 and `trials`"),
        (1, 4, 1.0, "`confidence` must be between 0 and 1"),
        (1, 4, 0.0, "`confidence` must be between 0 and 1"),
    ],
)
def test_wilson_rejects_invalid(
    successes: int, trials: int, confidence: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        wilson_interval(successes, trials, confidence)


def test_net_promoter_score() -> None:
    values = net_promoter_score([5, 0, 3], [1, 4, 3], [10, 4, 0])
    assert values[0] == pytest.approx(40.0)
    assert values[1] == pytest.approx(-100.0)
    assert np.isnan(values[2])


def test_shrink_toward_weights() -> None:
    # 2 observations against 10 pseudo-observations keep 1/6 of the estimate.
    assert float(shrink_toward(60.0, 2, 0.0, 10)) == pytest.approx(10.0)
    assert float(shrink_toward(60.0, 90, 0.0, 10)) == pytest.approx(54.0)
    assert float(shrink_toward(60.0, 5, 20.0, 0)) == pytest.approx(60.0)


def test_shrink_toward_no_observations_gives_prior() -> None:
    shrunk = shrink_toward([np.nan, 50.0], [0, 0], [12.0, -3.0], 10)
    assert shrunk.tolist() == [12.0, -3.0]


@pytest.mark.parametrize(
    ("observations", "prior_observations", "message"),
    [
        (1, -1.0, "`prior_observations` must be 0 or more"),
        (-1, 5.0, "`observations` must be 0 or more"),
        (0, 0.0, "0 observations and no prior"),
    ],
)
def test_shrink_toward_rejects_invalid(
    observations: int, prior_observations: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        shrink_toward(10.0, observations, 0.0, prior_observations)


def test_nps_prior_recovers_spread() -> None:
    # True client NPS values spread with sd 0.3 on the -1..1 scale. Responses
    # are +1 or -1 with that mean, so their variance is 1 - mean**2.
    rng = np.random.default_rng(7)
    means = np.clip(rng.normal(0.2, 0.3, size=4000), -0.95, 0.95)
    responses = rng.integers(5, 40, size=means.size)
    promoters = rng.binomial(responses, (1 + means) / 2)
    detractors = responses - promoters
    within = float(np.mean(1 - means**2))
    expected = within / float(np.var(means))
    estimate = nps_prior_observations(promoters, detractors, responses)
    assert estimate == pytest.approx(expected, rel=0.15)


def test_nps_prior_edge_cases() -> None:
    assert np.isnan(nps_prior_observations([1], [0], [3]))
    # Identical clients: no spread beyond sampling noise.
    assert nps_prior_observations([5, 5, 5], [5, 5, 5], [10, 10, 10]) == np.inf
