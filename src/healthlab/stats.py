"""Small statistical helpers shared by scoring, reports and monitoring.

Every function is vectorised: it takes scalars or array-likes, broadcasts them
with numpy rules, and returns a float array of the broadcast shape (a 0-d array
for scalar inputs, so ``float(result)`` gives a plain number). Missing results
are NaN, never an exception, so the helpers can run over a whole portfolio table
at once.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def _z_two_sided(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be between 0 and 1, got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(
    successes: ArrayLike, trials: ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Compute the two-sided Wilson score interval of a binomial proportion.

    The bounds equal ``statsmodels.stats.proportion.proportion_confint(successes,
    trials, alpha=1 - confidence, method="wilson")`` (no continuity correction).
    Unlike the normal approximation, the interval stays inside [0, 1] and is wide
    when ``trials`` is small, which makes its lower bound a conservative rate.

    Parameters
    ----------
    successes, trials
        Counts, broadcast against each other. ``successes`` must lie in
        ``[0, trials]``.
    confidence
        Coverage of the two-sided interval, for example 0.95.

    Returns
    -------
    lower, upper
        Float arrays in [0, 1]; NaN where ``trials`` is 0.

    Raises
    ------
    ValueError
        If ``confidence`` is not strictly between 0 and 1, or a count is
        negative or ``successes`` exceeds ``trials``.
    """
    z = _z_two_sided(confidence)
    x, n = np.broadcast_arrays(
        np.asarray(successes, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    )
    if np.any(x < 0) or np.any(x > n):
        raise ValueError("`successes` must lie between 0 and `trials`.")

    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        z2n = z * z / n
        centre = (p + z2n / 2) / (1 + z2n)
        half = z * np.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    # The bounds at 0 and ``trials`` successes are exactly 0 and 1, which the
    # formula reaches only up to rounding.
    lower = np.where(x == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    upper = np.where(x == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    lower = np.where(n > 0, lower, np.nan)
    upper = np.where(n > 0, upper, np.nan)
    return lower, upper


def wilson_lower_bound(
    successes: ArrayLike, trials: ArrayLike, confidence: float = 0.95
) -> FloatArray:
    """Compute the lower end of the two-sided Wilson interval; NaN for 0 trials.

    This is the conservative success rate used by the enforcement and engagement
    components: 9 removals out of 10 requests give about 0.60 at 95% confidence,
    90 out of 100 give about 0.83. See :func:`wilson_interval` for the
    parameters and errors.
    """
    lower, _ = wilson_interval(successes, trials, confidence)
    return lower


def net_promoter_score(
    promoters: ArrayLike, detractors: ArrayLike, responses: ArrayLike
) -> FloatArray:
    """Compute the Net Promoter Score from response counts, on [-100, 100].

    NPS is the percentage of promoters (scores 9-10) minus the percentage of
    detractors (scores 0-6). Passives (7-8) count only in ``responses``. The
    result is NaN where ``responses`` is 0.
    """
    p, d, n = np.broadcast_arrays(
        np.asarray(promoters, dtype=np.float64),
        np.asarray(detractors, dtype=np.float64),
        np.asarray(responses, dtype=np.float64),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, 100.0 * (p - d) / n, np.nan)


def shrink_toward(
    estimate: ArrayLike,
    observations: ArrayLike,
    prior: ArrayLike,
    prior_observations: float,
) -> FloatArray:
    """Shrink an estimate toward a prior mean by pseudo-observations.

    Returns ``(n * estimate + k * prior) / (n + k)`` with ``n = observations``
    and ``k = prior_observations``: the posterior mean of a normal mean with a
    prior worth ``k`` observations. With ``k = 10``, a client with 2 NPS
    responses keeps 1/6 of its own NPS and takes 5/6 from the portfolio, and a
    client with 90 responses keeps 90%. Where ``n`` is 0 the result is
    ``prior``, and the estimate is ignored even when it is NaN.

    Raises
    ------
    ValueError
        If ``prior_observations`` is negative, or both it and ``n`` are 0.
    """
    if prior_observations < 0:
        raise ValueError(
            f"`prior_observations` must be 0 or more, got {prior_observations!r}"
        )
    value, n, mean = np.broadcast_arrays(
        np.asarray(estimate, dtype=np.float64),
        np.asarray(observations, dtype=np.float64),
        np.asarray(prior, dtype=np.float64),
    )
    if np.any(n < 0):
        raise ValueError("`observations` must be 0 or more.")
    if prior_observations == 0 and np.any(n == 0):
        raise ValueError("Cannot shrink an estimate with 0 observations and no prior.")
    own = n / (n + prior_observations)
    # An estimate without observations is NaN; its weight is 0, so use the prior.
    return np.where(n > 0, own * value + (1 - own) * mean, mean)


def nps_prior_observations(
    promoters: ArrayLike, detractors: ArrayLike, responses: ArrayLike
) -> float:
    """Estimate how many pseudo-responses the portfolio NPS is worth as a prior.

    An empirical-Bayes method-of-moments estimate for :func:`shrink_toward`
    over one row per client. Each response counts +1 (promoter), 0 (passive)
    or -1 (detractor). ``s2`` is the pooled within-client variance of these
    values. ``tau2``, the variance of the true client NPS, is the variance of
    the client means minus their mean sampling variance ``s2 / n``. The
    estimate is ``k = s2 / tau2``, so clients that differ little from one
    another get a large ``k`` and are pulled hard toward the portfolio. It is
    approximate: it ignores the sampling error of the grand mean.

    Returns
    -------
    float
        ``k`` in pseudo-responses; ``inf`` when the observed spread between
        clients is no larger than sampling noise, NaN with fewer than two
        clients that have at least two responses.
    """
    p, d, n = (
        np.asarray(values, dtype=np.float64).ravel()
        for values in np.broadcast_arrays(promoters, detractors, responses)
    )
    keep = n >= 2
    p, d, n = p[keep], d[keep], n[keep]
    if len(n) < 2:
        return float("nan")

    means = (p - d) / n
    # Unbiased within-client variance of the +1/0/-1 scores, pooled by degrees
    # of freedom.
    second_moment = (p + d) / n
    within = (second_moment - means**2) * n / (n - 1)
    pooled = float(np.sum(within * (n - 1)) / np.sum(n - 1))

    grand = float(np.sum(p - d) / np.sum(n))
    between = float(np.mean((means - grand) ** 2) - np.mean(pooled / n))
    if between <= 0:
        return float("inf")
    return pooled / between
