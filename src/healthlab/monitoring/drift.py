"""Population stability index (PSI) of the score and its components between periods.

For a reference sample ``r`` and a current sample ``c`` binned alike,

    PSI = sum_b (c_b - r_b) * ln(c_b / r_b)

where ``r_b`` and ``c_b`` are the shares of each sample in bin ``b``. The bins
are the deciles of the reference sample (``bins=10``), so each contains about a
tenth of the reference. The outer bins are open-ended, so every current value
falls in one. Ties can merge quantile edges (a score capped at 100, for
example), and the duplicate edges are then dropped, which leaves fewer bins.
A bin that one sample leaves empty would make the logarithm infinite, so a
share of zero is replaced by ``epsilon`` (default ``1e-4``). The shares are not
renormalised after that.

The usual reading in credit-risk model monitoring: below 0.10 the
population is stable, 0.10 to 0.25 is a moderate shift worth a look, and 0.25 or
more is a significant shift that calls for a review of the model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthlab.errors import ConfigError
from healthlab.model import COMPONENTS

PSI_MODERATE = 0.10
"""PSI from which a shift is reported as moderate."""
PSI_SIGNIFICANT = 0.25
"""PSI from which a shift is reported as significant."""
EPSILON = 1e-4
"""Share used in place of zero for an empty bin."""

PSI_COLUMNS: tuple[str, ...] = (
    "variable",
    "psi",
    "label",
    "bins",
    "reference_n",
    "current_n",
    "reference_mean",
    "current_mean",
    "noise_level",
)


def reference_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Return the inner bin edges: the distinct quantiles of ``reference``.

    The quantiles are at ``1/bins, 2/bins, ..., (bins-1)/bins``, taken by the
    inverted empirical distribution function, so every edge is a value of the
    reference sample and tied values never straddle an edge.
    """
    ordered = np.sort(np.asarray(reference, dtype=float))
    size = len(ordered)
    # The k/bins quantile is the ceil(k * size / bins)-th smallest value; integer
    # arithmetic keeps 3/10 of 100 values at exactly the 30th.
    positions = [-(-k * size // bins) - 1 for k in range(1, bins)]
    return np.unique(ordered[positions])


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return the share of ``values`` in each bin of ``edges``.

    Bin ``i`` contains the values in ``(edges[i-1], edges[i]]``. The first bin
    is open below and the last open above, so there are ``len(edges) + 1``
    bins.
    """
    positions = np.searchsorted(edges, values, side="left")
    counts = np.bincount(positions, minlength=len(edges) + 1)
    return counts / counts.sum()


def psi(
    reference: np.ndarray | pd.Series,
    current: np.ndarray | pd.Series,
    bins: int = 10,
    epsilon: float = EPSILON,
) -> float:
    """Return the population stability index of ``current`` against ``reference``.

    NaN values are dropped from both samples first.

    Raises
    ------
    ConfigError
        If either sample has no value, or ``bins`` is below 2.
    """
    if bins < 2:
        raise ConfigError(f"PSI needs at least 2 bins, got bins={bins}.")
    expected = _finite(reference)
    actual = _finite(current)
    if expected.size == 0 or actual.size == 0:
        raise ConfigError(
            "PSI needs values in both periods: the reference has "
            f"{expected.size} and the current period {actual.size}."
        )
    edges = reference_edges(expected, bins)
    reference_share = np.maximum(bin_shares(expected, edges), epsilon)
    current_share = np.maximum(bin_shares(actual, edges), epsilon)
    terms = (current_share - reference_share) * np.log(current_share / reference_share)
    return float(terms.sum())


def psi_label(value: float) -> str:
    """Return ``stable``, ``moderate shift`` or ``significant shift`` for a PSI."""
    if value >= PSI_SIGNIFICANT:
        return "significant shift"
    if value >= PSI_MODERATE:
        return "moderate shift"
    return "stable"


def population_stability(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    variables: tuple[str, ...] = ("score", *COMPONENTS),
    bins: int = 10,
) -> pd.DataFrame:
    """Return the PSI of each variable between two samples of clients.

    Parameters
    ----------
    reference, current
        One row per observation (for example one row per client for one month
        of :func:`healthlab.scoring.score_dataset`), with the columns named in
        ``variables``. Repeating a client over several months would count its
        value several times and exaggerate lumps in the distribution.
    variables
        Columns to compare; the score and every component by default.
    bins
        Number of quantile bins taken from the reference sample.

    Returns
    -------
    pandas.DataFrame
        One row per variable with the columns in :data:`PSI_COLUMNS`. A variable
        without values in one of the samples has PSI NaN and label ``no data``.
        ``noise_level`` is ``(bins - 1) * (1 / reference_n + 1 / current_n)``,
        the approximate PSI of two independent samples of one distribution, so
        a PSI near it is sampling noise rather than drift.
    """
    rows = []
    for variable in variables:
        before = _finite(reference[variable])
        after = _finite(current[variable])
        if before.size and after.size:
            value = psi(before, after, bins=bins)
            label = psi_label(value)
            used_bins = len(reference_edges(before, bins)) + 1
            noise = (used_bins - 1) * (1 / before.size + 1 / after.size)
        else:
            value, label, used_bins, noise = np.nan, "no data", 0, np.nan
        rows.append(
            (
                variable,
                value,
                label,
                used_bins,
                before.size,
                after.size,
                before.mean() if before.size else np.nan,
                after.mean() if after.size else np.nan,
                noise,
            )
        )
    return pd.DataFrame(rows, columns=list(PSI_COLUMNS))


def _finite(values: np.ndarray | pd.Series) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]
