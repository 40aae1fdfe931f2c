"""Ridge (L2-penalised) churn fits with sign bounds, and the penalty chosen by CV.

The components of a health score are noisy measures of one underlying client
health, so they are correlated, and a portfolio has few churned clients. Maximum
likelihood then splits the effect among the components almost arbitrarily. An
L2 penalty on the standardised coefficients spreads it over correlated
components instead, and the penalty is chosen by cross-validation.

:func:`fit_ridge` minimises, over the intercept ``a`` and the coefficients ``b``
of the standardised features ``z`` (mean 0, standard deviation 1),

    -(1 / n) * sum_i log L(y_i | a + z_i @ b) + (penalty / 2) * sum_j b_j**2

with every ``b_j <= 0`` when the direction is fixed: a higher sub-score may
lower churn or leave it alone, never raise it. This is the objective of R's
glmnet (2.0 and later) with ``alpha = 0``, ``standardize = TRUE`` and
``upper.limits = 0``. Links are ``logit`` and ``hazard``
(complementary log-log), as in :mod:`healthlab.calibration.fitting`.

:func:`choose_penalty` runs K-fold cross-validation with folds of whole clients
(rows of one client are not independent) and applies the one-standard-error
rule: it takes the largest penalty whose held-out deviance is within one
standard error of the lowest. The standard error is that of the per-fold
differences from the best penalty, so that folds that are easier for every
penalty do not widen it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthlab.errors import CalibrationError

PENALTIES: tuple[float, ...] = tuple(float(p) for p in np.geomspace(10.0, 1e-4, 16))
"""Penalties tried by cross-validation, largest first. At 10 the standardised
coefficients are close to 0; at 1e-4 the fit is close to maximum likelihood."""
CV_FOLDS = 5
"""Number of cross-validation folds of whole clients."""
CV_SEED = 0
"""Seed of the assignment of clients to folds, fixed so a calibration repeats."""

_MAX_ITERATIONS = 100
_GRADIENT_TOLERANCE = 1e-8
_BOUND_TOLERANCE = 1e-6
_ETA_LIMIT = 30.0


@dataclass(frozen=True)
class RidgeFit:
    """A penalised fit on the original feature scale.

    ``coefficients`` are per unit of each feature (per score point for the
    components), and ``standardised`` are per standard deviation.
    ``at_bound`` marks the coefficients that the sign bound keeps at 0.
    """

    intercept: float
    coefficients: pd.Series
    standardised: pd.Series
    at_bound: pd.Series
    penalty: float
    model_type: str

    def linear_predictor(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the linear predictor for the rows of ``frame``."""
        values = frame[list(self.coefficients.index)].to_numpy(dtype=float)
        eta: np.ndarray = self.intercept + values @ self.coefficients.to_numpy()
        return eta


@dataclass(frozen=True)
class PenaltyChoice:
    """Cross-validated deviance of each penalty and the penalty chosen.

    ``table`` is indexed by penalty (largest first) with columns ``deviance``
    (held-out deviance per row), ``difference`` (from the lowest) and
    ``std_err`` (standard error of that difference).
    """

    table: pd.DataFrame
    chosen: float
    lowest: float
    folds: int


def _log_likelihood(
    eta: np.ndarray, y: np.ndarray, model_type: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each row's log-likelihood, its derivative in ``eta`` and the
    expected information (the Fisher scoring weight)."""
    eta = np.clip(eta, -_ETA_LIMIT, _ETA_LIMIT)
    if model_type == "logit":
        log_p = -np.logaddexp(0.0, -eta)
        p = np.exp(log_p)
        # log(1 - p) = log(p) - eta, so y log p + (1 - y) log(1 - p) is this.
        return log_p - (1 - y) * eta, y - p, p * (1 - p)
    # Complementary log-log: p = 1 - exp(-mu) with mu = exp(eta).
    mu = np.exp(eta)
    log_p = np.log(-np.expm1(-mu))
    # d(log p)/d(eta) = mu / expm1(mu), which tends to 1 as mu -> 0.
    ratio = mu / np.expm1(mu)
    slope = y * ratio - (1 - y) * mu
    return y * log_p - (1 - y) * mu, slope, mu * ratio


def fit_ridge(
    design: pd.DataFrame,
    outcome: pd.Series | np.ndarray,
    penalty: float,
    model_type: str = "logit",
    protective: bool = True,
    start: np.ndarray | None = None,
) -> RidgeFit:
    """Fit the penalised churn model of the module docstring.

    Parameters
    ----------
    design
        One numeric column per feature, without a constant; no missing values.
    outcome
        1 for an event (churn), 0 otherwise.
    penalty
        Weight of the L2 penalty on the standardised coefficients (>= 0).
    model_type
        ``"logit"`` or ``"hazard"`` (complementary log-log link).
    protective
        Bound every coefficient at 0 from above, so no feature can raise churn.
    start
        Starting point ``[a, b_1, ..., b_k]`` on the standardised scale, such
        as the solution at a nearby penalty.

    Raises
    ------
    CalibrationError
        If a feature is constant or the optimiser fails.
    """
    x = design.to_numpy(dtype=float)
    y = np.asarray(outcome, dtype=float)
    mean, scale = _standardisation(x, design.columns)
    z = np.column_stack([np.ones(len(y)), (x - mean) / scale])
    solution = _solve(z, y, penalty, model_type, protective, start)
    standardised = pd.Series(solution[1:], index=design.columns, dtype=float)
    per_unit = standardised / scale
    return RidgeFit(
        intercept=float(solution[0] - per_unit.to_numpy() @ mean),
        coefficients=per_unit,
        standardised=standardised,
        at_bound=(standardised >= 0) & protective,
        penalty=float(penalty),
        model_type=model_type,
    )


def _standardisation(x: np.ndarray, names: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean and standard deviation (ddof 0) of each column of ``x``."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    if (scale == 0).any():
        constant = ", ".join(str(name) for name in names[scale == 0])
        raise CalibrationError(
            f"Cannot fit a penalised model on constant {constant}; drop it first."
        )
    return mean, scale


def _solve(
    z: np.ndarray,
    y: np.ndarray,
    penalty: float,
    model_type: str,
    protective: bool,
    start: np.ndarray | None,
) -> np.ndarray:
    """Return ``[a, b_1, ..., b_k]`` on the standardised scale ``z``."""
    if start is None:
        # Start from the intercept-only fit: the link of the event rate.
        rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        start = np.zeros(z.shape[1])
        if model_type == "logit":
            start[0] = np.log(rate / (1 - rate))
        else:
            start[0] = np.log(-np.log1p(-rate))
    solution = _projected_newton(z, y, penalty, model_type, protective, start)
    if solution is None:
        raise CalibrationError(
            f"The penalised fit (penalty {penalty:g}) did not converge within "
            f"{_MAX_ITERATIONS} iterations. Check the components for extreme values."
        )
    return solution


def _newton_step(
    hessian: np.ndarray,
    gradient: np.ndarray,
    fixed: np.ndarray,
    at_bound: np.ndarray,
) -> np.ndarray:
    """Solve the Newton equations for the coefficients not fixed at the bound.

    A coefficient on the bound whose step would cross it is fixed as well and
    the step solved again, because the projection would cancel that part of
    the step and leave the rest pointing in a worse direction.
    """
    fixed = fixed.copy()
    step = np.zeros(len(gradient))
    while True:
        free = ~fixed
        step[:] = 0.0
        step[free] = -np.linalg.solve(hessian[np.ix_(free, free)], gradient[free])
        leaving = free & at_bound & (step > 0)
        if not leaving.any():
            return step
        fixed |= leaving


def _projected_newton(
    z: np.ndarray,
    y: np.ndarray,
    penalty: float,
    model_type: str,
    protective: bool,
    start: np.ndarray,
) -> np.ndarray | None:
    """Minimise the penalised loss by Fisher scoring projected onto the bounds.

    Each step solves the Newton equations for the coefficients that are free:
    off the bound, or on it with a gradient that points away from it. A
    backtracking (Armijo) search along the projected path keeps the loss
    falling. Returns None without convergence.
    """
    n_rows, n_columns = z.shape
    penalised = np.r_[0.0, np.ones(n_columns - 1)]
    bounded = penalised.astype(bool) & protective

    def evaluate(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Return the loss, its gradient and the Fisher information weights."""
        value, slope, information = _log_likelihood(z @ beta, y, model_type)
        loss = -value.sum() / n_rows + 0.5 * penalty * beta[1:] @ beta[1:]
        gradient = -(z.T @ slope) / n_rows + penalty * penalised * beta
        return float(loss), gradient, information

    beta = np.minimum(start, np.where(bounded, 0.0, np.inf))
    loss, gradient, information = evaluate(beta)
    for _ in range(_MAX_ITERATIONS):
        # Coefficients within a small distance of the bound count as on it, so
        # a step that the projection would cut short to almost nothing is not
        # taken (the epsilon-active set of projected Newton methods).
        at_bound = bounded & (beta >= -_BOUND_TOLERANCE)
        fixed = at_bound & (gradient <= 0)
        if np.abs(np.where(fixed, 0.0, gradient)).max() < _GRADIENT_TOLERANCE:
            return beta
        hessian = (z.T * information) @ z / n_rows + penalty * np.diag(penalised)
        step = _newton_step(hessian, gradient, fixed, at_bound)

        size = 1.0
        while size > 1e-12:
            candidate = beta + size * step
            candidate[bounded] = np.minimum(candidate[bounded], 0.0)
            trial = evaluate(candidate)
            if trial[0] < loss + 1e-4 * gradient @ (candidate - beta):
                break
            size /= 2
        else:
            # No step lowers the loss any more: the solution is within rounding.
            return beta
        beta = candidate
        loss, gradient, information = trial
    return None


def client_folds(
    groups: pd.Series | np.ndarray, outcome: pd.Series | np.ndarray, folds: int
) -> np.ndarray:
    """Assign every row to a fold so that each client's rows share one fold.

    Clients with an event and clients without are dealt to the folds
    separately, in a random order fixed by :data:`CV_SEED`, so that every fold
    gets a similar share of churned clients.
    """
    codes, _ = pd.factorize(pd.Series(np.asarray(groups)), sort=True)
    y = np.asarray(outcome, dtype=float)
    has_event = np.zeros(int(codes.max()) + 1, dtype=bool)
    has_event[codes[y == 1]] = True
    rng = np.random.default_rng(CV_SEED)
    fold_of_client = np.empty(len(has_event), dtype=np.int64)
    offset = 0
    for members in (np.flatnonzero(has_event), np.flatnonzero(~has_event)):
        order = rng.permutation(members)
        fold_of_client[order] = (np.arange(len(order)) + offset) % folds
        offset += len(order)
    fold: np.ndarray = fold_of_client[codes]
    return fold


def choose_penalty(
    design: pd.DataFrame,
    outcome: pd.Series | np.ndarray,
    groups: pd.Series | np.ndarray,
    model_type: str = "logit",
    penalties: tuple[float, ...] = PENALTIES,
    folds: int = CV_FOLDS,
) -> PenaltyChoice:
    """Choose the ridge penalty by cross-validation over folds of whole clients.

    Returns the largest penalty whose held-out deviance is within one standard
    error of the lowest (see the module docstring). With fewer than two
    clients per fold and outcome, the folds are reduced to fit.

    Raises
    ------
    CalibrationError
        If there are too few clients with and without an event for two folds.
    """
    y = np.asarray(outcome, dtype=float)
    codes, _ = pd.factorize(pd.Series(np.asarray(groups)))
    events = np.unique(codes[y == 1]).size
    non_events = np.unique(codes[y == 0]).size
    folds = min(folds, events // 2, non_events // 2)
    if folds < 2:
        raise CalibrationError(
            f"Too few clients to cross-validate the penalty: {events} with the "
            f"event and {non_events} without; at least 4 of each are needed."
        )
    ordered = sorted(penalties, reverse=True)
    fold = client_folds(groups, y, folds)
    x = design.to_numpy(dtype=float)
    deviance = np.zeros((len(ordered), folds))
    for index in range(folds):
        train, test = fold != index, fold == index
        mean, scale = _standardisation(x[train], design.columns)
        z_train = np.column_stack([np.ones(train.sum()), (x[train] - mean) / scale])
        z_test = np.column_stack([np.ones(test.sum()), (x[test] - mean) / scale])
        # Each fit starts from the solution at the previous, larger penalty.
        solution = None
        for row, penalty in enumerate(ordered):
            solution = _solve(
                z_train, y[train], penalty, model_type, True, start=solution
            )
            log_likelihood, _, _ = _log_likelihood(
                z_test @ solution, y[test], model_type
            )
            deviance[row, index] = -2.0 * log_likelihood.sum()

    total = deviance.sum(axis=1)
    best = int(np.argmin(total))
    difference = deviance - deviance[best]
    std_err = difference.std(axis=1, ddof=1) * np.sqrt(folds)
    within = np.flatnonzero(total - total[best] <= std_err)
    chosen = int(within.min())  # the largest penalty, as `ordered` falls
    table = pd.DataFrame(
        {
            "deviance": total / len(y),
            "difference": (total - total[best]) / len(y),
            "std_err": std_err / len(y),
        },
        index=pd.Index(ordered, name="penalty"),
    )
    return PenaltyChoice(
        table=table, chosen=ordered[chosen], lowest=ordered[best], folds=folds
    )
