"""Population stability index: known values, empty bins, ties and labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from healthlab.errors import ConfigError
from healthlab.monitoring.drift import (
    EPSILON,
    PSI_COLUMNS,
    bin_shares,
    population_stability,
    psi,
    psi_label,
    reference_edges,
)


def test_psi_identical_is_zero() -> None:
    values = np.arange(100, dtype=float)
    assert psi(values, values) == 0.0


def test_psi_same_distribution_reordered() -> None:
    values = np.arange(100, dtype=float)
    assert psi(values, values[::-1].copy()) == 0.0


def test_psi_known_shift_two_bins() -> None:
    # Median edge 1.5: reference shares (0.5, 0.5), current (0.75, 0.25).
    value = psi([0, 1, 2, 3], [0, 0, 0, 3], bins=2)
    expected = 0.25 * math.log(1.5) + (-0.25) * math.log(0.5)
    assert value == pytest.approx(expected)
    assert value == pytest.approx(0.25 * math.log(3))


def test_psi_known_shift_deciles() -> None:
    reference = np.arange(100, dtype=float)
    # Everything moves into the top decile, so nine bins are empty.
    current = np.full(50, 500.0)
    expected = 9 * (EPSILON - 0.1) * math.log(EPSILON / 0.1) + 0.9 * math.log(10)
    assert psi(reference, current) == pytest.approx(expected)


def test_psi_empty_bin_uses_epsilon() -> None:
    reference = np.arange(100, dtype=float)
    current = np.arange(10, 100, dtype=float)  # the first decile is empty
    value = psi(reference, current, epsilon=1e-3)
    shares = bin_shares(current, reference_edges(reference))
    assert shares[0] == 0.0
    terms = [
        (max(share, 1e-3) - 0.1) * math.log(max(share, 1e-3) / 0.1) for share in shares
    ]
    assert math.isfinite(value)
    assert value == pytest.approx(sum(terms))


def test_psi_ties_merge_bins() -> None:
    reference = np.array([1.0] * 80 + [2.0] * 20)
    edges = reference_edges(reference)
    assert list(edges) == [1.0, 2.0]
    assert list(bin_shares(reference, edges)) == [0.8, 0.2, 0.0]
    assert psi(reference, reference) == 0.0


def test_psi_ignores_nan() -> None:
    values = np.arange(20, dtype=float)
    with_nan = np.concatenate([values, [np.nan, np.nan]])
    assert psi(values, with_nan) == 0.0


def test_psi_empty_sample_raises() -> None:
    with pytest.raises(ConfigError, match="PSI needs values in both periods"):
        psi([1.0, 2.0], [np.nan])


def test_psi_one_bin_raises() -> None:
    with pytest.raises(ConfigError, match="at least 2 bins"):
        psi([1.0, 2.0], [1.0, 2.0], bins=1)


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0.0, "stable"),
        (0.0999, "stable"),
        (0.10, "moderate shift"),
        (0.2499, "moderate shift"),
        (0.25, "significant shift"),
        (1.3, "significant shift"),
    ],
)
def test_psi_label_cutoffs(value: float, label: str) -> None:
    assert psi_label(value) == label


def test_population_stability_table() -> None:
    rng = np.random.default_rng(7)
    reference = pd.DataFrame(
        {"score": rng.normal(70, 10, 500), "nps": rng.normal(50, 10, 500)}
    )
    current = pd.DataFrame(
        {"score": rng.normal(70, 10, 500), "nps": rng.normal(60, 10, 500)}
    )
    current.loc[:, "empty"] = np.nan
    reference.loc[:, "empty"] = np.nan
    table = population_stability(reference, current, ("score", "nps", "empty"))
    assert tuple(table.columns) == PSI_COLUMNS
    rows = table.set_index("variable")
    assert rows.loc["score", "label"] == "stable"
    # A one-standard-deviation shift of the mean is far past 0.25.
    assert rows.loc["nps", "psi"] > 0.25
    assert rows.loc["nps", "label"] == "significant shift"
    assert rows.loc["score", "noise_level"] == pytest.approx(9 * (2 / 500))
    assert rows.loc["empty", "label"] == "no data"
    assert math.isnan(rows.loc["empty", "psi"])
