"""Binary churn models fitted with statsmodels, guarded against untrustworthy fits.

:func:`fit_churn_model` fits either a logistic regression (``logit``) or a
discrete-time hazard model (``hazard``: a binomial GLM with the complementary
log-log link). With a fixed horizon the cloglog model is the grouped-time
proportional-hazards model, so its coefficients are log hazard ratios.

Before and after the fit it runs these guards, each reported as a
:class:`~healthlab.calibration.findings.Finding` with the fallback it took:

- too few events (outcome 1) or non-events: raise :class:`CalibrationError`;
- constant features: dropped;
- collinear features (variance inflation factor above :data:`MAX_VIF`): the
  worst one is dropped, repeatedly;
- perfect or quasi-complete separation, found with a linear program: L2
  (ridge) regularised fit;
- non-convergence (``mle_retvals["converged"]`` for Logit, ``converged`` for
  GLM) or non-finite estimates: L2 regularised fit.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from healthlab.calibration.findings import Finding
from healthlab.errors import CalibrationError, ConfigError

logger = logging.getLogger(__name__)

ModelType = Literal["logit", "hazard"]
MODEL_TYPES: tuple[str, ...] = ("logit", "hazard")
CONSTANT = "const"

MIN_EVENTS = 10
"""Minimum number of independent events, and of non-events, to fit at all."""
MIN_EVENTS_PER_FEATURE = 2
"""Minimum number of independent events per feature to fit at all."""
RECOMMENDED_EVENTS_PER_FEATURE = 10
"""Events per feature below which estimates are reported as unstable."""
MAX_VIF = 10.0
"""Variance inflation factor above which a feature counts as collinear."""
MIN_CLUSTERS = 30
"""Clusters below which cluster-robust standard errors are reported as unreliable."""
RIDGE_PRIOR_SD = 2.5
"""L2 penalty of the fallback fit, as the sd of a normal prior on a coefficient
of a feature scaled to unit standard deviation."""

_SEPARATION_TOLERANCE = 1e-6
# R^2 within 1e-8 of 1: only rounding separates the column from the others.
_EXACT_DEPENDENCE_VIF = 1e8


@dataclass
class FitResult:
    """A fitted churn model: coefficients, standard errors and findings.

    ``coefficients`` is indexed by term (``const`` first, then the features
    kept in the fit) with columns ``coef``, ``std_err``, ``z``, ``p_value``,
    ``ci_low`` and ``ci_high``. ``dropped`` lists the features the guards
    removed. ``method`` is ``"maximum likelihood"`` or ``"L2-regularised"``.
    """

    model_type: str
    method: str
    features: tuple[str, ...]
    dropped: tuple[str, ...]
    coefficients: pd.DataFrame
    n_obs: int
    n_events: int
    n_clusters: int | None
    cov_type: str
    confidence: float
    findings: list[Finding] = field(default_factory=list)

    @property
    def params(self) -> pd.Series:
        """Return the coefficients as a Series indexed by term."""
        return self.coefficients["coef"]

    def linear_predictor(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the linear predictor for the rows of ``frame``."""
        params = self.params
        values = frame[list(self.features)].to_numpy(dtype=float)
        eta: np.ndarray = params[CONSTANT] + values @ params[list(self.features)]
        return eta

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the predicted probability of the event for the rows of ``frame``."""
        return inverse_link(self.linear_predictor(frame), self.model_type)


def inverse_link(eta: np.ndarray, model_type: str) -> np.ndarray:
    """Return probabilities from a linear predictor under the model's link."""
    from scipy.special import expit

    if model_type == "logit":
        return np.asarray(expit(eta), dtype=float)
    return np.asarray(-np.expm1(-np.exp(np.clip(eta, -700, 700))), dtype=float)


def check_model_type(model_type: str) -> str:
    """Return ``model_type`` if it is a known model type, else raise ConfigError."""
    if model_type not in MODEL_TYPES:
        raise ConfigError(
            f"Unknown model type {model_type!r}; use one of {', '.join(MODEL_TYPES)}."
        )
    return model_type


def fit_churn_model(
    design: pd.DataFrame,
    outcome: pd.Series | np.ndarray,
    *,
    groups: pd.Series | np.ndarray | None = None,
    model_type: str = "logit",
    maxiter: int = 100,
    confidence: float = 0.95,
    screen_collinearity: bool = True,
) -> FitResult:
    """Fit a binary outcome on the columns of ``design`` behind the guards.

    Parameters
    ----------
    design
        One numeric column per feature, without a constant; one row per
        observation. Missing or infinite values are not allowed.
    outcome
        1 for an event (churn), 0 otherwise, aligned with ``design``.
    groups
        Cluster of each row (the client id). When given, standard errors are
        cluster-robust and events are counted per cluster.
    model_type
        ``"logit"`` or ``"hazard"`` (binomial GLM with cloglog link).
    maxiter
        Iteration limit of the maximum likelihood fit.
    confidence
        Level of the confidence intervals.
    screen_collinearity
        Run the variance inflation factor screen. Refits on the features a
        screened fit kept (cross-validation folds) may skip it.

    Returns
    -------
    FitResult

    Raises
    ------
    CalibrationError
        If the data contain missing values or too few events to fit, or if
        even the regularised fallback fails.
    """
    check_model_type(model_type)
    if CONSTANT in design.columns:
        raise ConfigError(f"A feature must not be named {CONSTANT!r}; rename it.")
    x = design.astype(float).reset_index(drop=True)
    y = np.asarray(outcome, dtype=float)
    if len(x) != len(y):
        raise ValueError("`design` and `outcome` must have the same number of rows")
    _check_values(x, y)
    codes = _group_codes(groups, len(y))
    n_clusters = None if codes is None else int(codes.max()) + 1

    findings: list[Finding] = []
    features = _drop_constant_features(x, findings)
    if screen_collinearity:
        features = _drop_collinear_features(x, features, findings)
    n_events = _check_events(y, codes, len(features), findings)
    if n_clusters is not None and n_clusters < MIN_CLUSTERS:
        findings.append(
            Finding(
                "clusters",
                f"Only {n_clusters} clients (clusters) are in the fit; "
                f"cluster-robust standard errors need about {MIN_CLUSTERS} or more.",
                "Confidence intervals may be too narrow; read them with caution.",
            )
        )

    exog = x[features].copy()
    exog.insert(0, CONSTANT, 1.0)
    cov_type = "nonrobust"
    if codes is not None and n_clusters is not None and n_clusters > 1:
        cov_type = "cluster"
    cluster_codes = codes if cov_type == "cluster" else None

    coefficients, problem = _fit_maximum_likelihood(
        exog, y, cluster_codes, model_type, maxiter, confidence
    )
    # A converged fit whose score equations certify that no separating
    # direction exists needs no linear program (see _certifies_no_separation).
    separation = None
    if coefficients is None or not _certifies_no_separation(
        exog, y, coefficients["coef"].to_numpy(), model_type
    ):
        separation = _separation_finding(exog, y)
    if separation is not None:
        findings.append(separation)
        coefficients = None
    elif problem is not None:
        findings.append(
            Finding(
                "convergence",
                f"The maximum likelihood fit did not converge: {problem}.",
                _RIDGE_ACTION,
            )
        )
    method = "maximum likelihood"
    if coefficients is None:
        method = "L2-regularised"
        coefficients = _fit_ridge(exog, y, cluster_codes, model_type, confidence)
    dropped = tuple(name for name in design.columns if name not in features)
    logger.info(
        "Fitted %s model (%s) on %d rows, %d events; dropped %s",
        model_type,
        method,
        len(y),
        n_events,
        ", ".join(dropped) or "nothing",
    )
    return FitResult(
        model_type=model_type,
        method=method,
        features=tuple(features),
        dropped=dropped,
        coefficients=coefficients,
        n_obs=len(y),
        n_events=int(y.sum()),
        n_clusters=n_clusters,
        cov_type=cov_type,
        confidence=confidence,
        findings=findings,
    )


_RIDGE_ACTION = (
    "Fitted with an L2 (ridge) penalty instead: a normal prior with sd "
    f"{RIDGE_PRIOR_SD} on each coefficient of a feature scaled to unit standard "
    "deviation. Its standard errors are sandwich estimates of the penalised fit."
)


def _check_values(x: pd.DataFrame, y: np.ndarray) -> None:
    finite = np.isfinite(x.to_numpy()).all(axis=1) & np.isfinite(y)
    if not finite.all():
        raise CalibrationError(
            f"{int((~finite).sum())} of {len(y)} rows have missing or infinite "
            "values; drop or fill them before fitting."
        )
    labels = set(np.unique(y).tolist())
    if not labels <= {0.0, 1.0}:
        raise CalibrationError(
            f"The outcome must be 0 or 1; found {sorted(labels - {0.0, 1.0})}."
        )


def _group_codes(
    groups: pd.Series | np.ndarray | None, n_rows: int
) -> np.ndarray | None:
    if groups is None:
        return None
    values = pd.Series(np.asarray(groups))
    if len(values) != n_rows:
        raise ValueError("`groups` must have one value per row of `design`")
    codes, _ = pd.factorize(values)
    return np.asarray(codes, dtype=np.int64)


def _drop_constant_features(x: pd.DataFrame, findings: list[Finding]) -> list[str]:
    kept = []
    for name in x.columns:
        column = x[name]
        if column.min() == column.max():
            findings.append(
                Finding(
                    "constant",
                    f"`{name}` has the same value ({column.iloc[0]:g}) in every row, "
                    "so its effect cannot be estimated.",
                    f"`{name}` was dropped from the fit.",
                )
            )
        else:
            kept.append(str(name))
    return kept


def variance_inflation_factors(x: pd.DataFrame) -> pd.Series:
    """Return the variance inflation factor of each column of ``x``.

    Each factor comes from statsmodels' ``variance_inflation_factor`` on the
    columns plus a constant, so it is ``1 / (1 - R^2)`` of that column on the
    others. An exact linear dependence gives ``inf``.
    """
    from statsmodels.stats.outliers_influence import variance_inflation_factor

    exog = np.column_stack([np.ones(len(x)), x.to_numpy(dtype=float)])
    values = {}
    # Exact dependence is what this function is for, so statsmodels' warnings
    # about singular or poorly conditioned matrices are expected here.
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, name in enumerate(x.columns, start=1):
            vif = float(variance_inflation_factor(exog, index))
            values[name] = np.inf if not np.isfinite(vif) or vif < 0 else vif
    return pd.Series(values, dtype=float)


def _drop_collinear_features(
    x: pd.DataFrame, features: list[str], findings: list[Finding]
) -> list[str]:
    kept = list(features)
    while len(kept) > 1:
        vifs = variance_inflation_factors(x[kept])
        worst = vifs.max()
        if worst <= MAX_VIF:
            break
        # Among equally bad features drop the last one, so the earlier
        # (usually the primary) feature stays in the model.
        candidates = [name for name in kept if vifs[name] >= worst * (1 - 1e-9)]
        name = candidates[-1]
        kept.remove(name)
        correlations = x[kept].corrwith(x[name]).abs().sort_values(ascending=False)
        partner = str(correlations.index[0])
        vif_text = "infinite" if np.isinf(worst) else f"{worst:.3g}"
        if worst > _EXACT_DEPENDENCE_VIF:
            vif_text += " (an exact linear dependence)"
        findings.append(
            Finding(
                "collinearity",
                f"`{name}` is (nearly) a linear combination of the other features: "
                f"its variance inflation factor is {vif_text}, above {MAX_VIF:g}. "
                f"It is most correlated with `{partner}` "
                f"(|r| = {correlations.iloc[0]:.3f}).",
                f"`{name}` was dropped from the fit; the features it duplicates "
                "carry its effect.",
            )
        )
    return kept


def _check_events(
    y: np.ndarray, codes: np.ndarray | None, n_features: int, findings: list[Finding]
) -> int:
    if codes is None:
        events = int(y.sum())
        non_events = len(y) - events
        unit = "observations"
    else:
        events = int(np.unique(codes[y == 1]).size)
        non_events = int(np.unique(codes[y == 0]).size)
        unit = "clients"
    fewest = min(events, non_events)
    required = max(MIN_EVENTS, MIN_EVENTS_PER_FEATURE * n_features)
    counts = (
        f"{events} {unit} with the event (outcome 1) and {non_events} without "
        f"(outcome 0), for {n_features} features"
    )
    if fewest < required:
        raise CalibrationError(
            f"Too few events to calibrate: {counts}. At least {required} of each "
            f"are needed ({MIN_EVENTS} at minimum and {MIN_EVENTS_PER_FEATURE} per "
            "feature). Use a longer history, a longer horizon or fewer features."
        )
    if fewest < RECOMMENDED_EVENTS_PER_FEATURE * n_features:
        findings.append(
            Finding(
                "events",
                f"Few events per feature: {counts} ({fewest / n_features:.1f} per "
                f"feature, fewer than the usual {RECOMMENDED_EVENTS_PER_FEATURE}).",
                "The fit went ahead; expect unstable coefficients and wide "
                "confidence intervals.",
            )
        )
    return events


def _separation_finding(exog: pd.DataFrame, y: np.ndarray) -> Finding | None:
    """Detect complete or quasi-complete separation with a linear program.

    The data are separated exactly when some direction ``b`` has
    ``s_i * x_i @ b >= 0`` for every row, with at least one strict inequality
    (``s_i = +1`` for an event, ``-1`` otherwise). Along such a ``b`` the
    likelihood keeps rising, so the maximum likelihood estimate does not exist.
    The program maximises the sum of these margins inside the box ``|b| <= 1``.
    """
    from scipy.optimize import linprog

    values = exog.to_numpy(dtype=float)
    scale = values.std(axis=0)
    scale[scale == 0] = 1.0
    signed = (2 * y - 1)[:, None] * (values / scale)
    solution = linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(len(y)),
        bounds=[(-1.0, 1.0)] * values.shape[1],
        method="highs-ds",
    )
    if solution.status != 0:
        logger.warning("Separation check inconclusive: %s", solution.message)
        return None
    margins = signed @ solution.x
    predicted = int((margins > _SEPARATION_TOLERANCE).sum())
    if predicted == 0:
        return None
    direction = pd.Series(solution.x, index=exog.columns).drop(CONSTANT)
    largest = float(direction.abs().max())
    involved = [
        f"`{name}`"
        for name, weight in direction.items()
        if largest > 0 and abs(weight) >= 0.01 * largest
    ]
    combination = ", ".join(involved) or "the constant"
    if _strictly_separable(signed):
        message = (
            "The outcome is completely separated: a weighted sum of "
            f"{combination} puts every event on one side and every non-event on "
            "the other, so the maximum likelihood estimates do not exist "
            "(they grow without bound)."
        )
    else:
        message = (
            "The outcome is quasi-completely separated: a weighted sum of "
            f"{combination} predicts {predicted} of {len(y)} observations "
            "perfectly, so some maximum likelihood estimates do not exist "
            "(they grow without bound)."
        )
    return Finding("separation", message, _RIDGE_ACTION)


def _certifies_no_separation(
    exog: pd.DataFrame, y: np.ndarray, params: np.ndarray, model_type: str
) -> bool:
    """Return True if the fitted score equations rule out separation.

    At the estimate the score is ``sum_i(l_i * s_i * z_i)`` with every
    ``l_i > 0``: ``|y_i - p_i|`` times a positive link factor, ``s_i`` the
    sign used by :func:`_separation_finding` and ``z_i`` the rows scaled as
    there. For any ``b`` in the box ``|b| <= 1`` this bounds the margins:
    ``min(l) * sum_i(s_i * z_i @ b) <= sqrt(k) * |score|``. When that bound is
    below the separation tolerance, the linear program cannot find a margin
    above it either (Stiemke's lemma, with tolerances), so it is skipped.
    """
    values = exog.to_numpy(dtype=float)
    scale = values.std(axis=0)
    scale[scale == 0] = 1.0
    eta = values @ params
    probability = inverse_link(eta, model_type)
    residual = y - probability
    if model_type == "logit":
        factor = np.ones_like(eta)
    else:
        # d(mu)/d(eta) / (mu * (1 - mu)) for the complementary log-log link.
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            slope = np.exp(eta - np.exp(eta))
            factor = slope / (probability * (1 - probability))
    weight = np.abs(residual) * factor
    if not np.isfinite(weight).all() or weight.min() <= 0:
        return False
    score = (values / scale).T @ (residual * factor)
    bound = np.sqrt(values.shape[1]) * np.linalg.norm(score) / weight.min()
    return bool(bound < _SEPARATION_TOLERANCE)


def _strictly_separable(signed: np.ndarray) -> bool:
    """Return True if some direction gives every row a positive margin."""
    from scipy.optimize import linprog

    # Maximise t subject to signed @ b >= t, |b| <= 1 and t <= 1.
    n_rows, n_columns = signed.shape
    solution = linprog(
        c=np.r_[np.zeros(n_columns), -1.0],
        A_ub=np.column_stack([-signed, np.ones(n_rows)]),
        b_ub=np.zeros(n_rows),
        bounds=[(-1.0, 1.0)] * n_columns + [(None, 1.0)],
        method="highs-ds",
    )
    return bool(solution.status == 0 and -solution.fun > _SEPARATION_TOLERANCE)


def _family(model_type: str) -> Any:
    import statsmodels.api as sm

    link = (
        sm.families.links.Logit()
        if model_type == "logit"
        else (sm.families.links.CLogLog())
    )
    return sm.families.Binomial(link=link)


def _fit_maximum_likelihood(
    exog: pd.DataFrame,
    y: np.ndarray,
    codes: np.ndarray | None,
    model_type: str,
    maxiter: int,
    confidence: float,
) -> tuple[pd.DataFrame | None, str | None]:
    """Return the coefficient table, or None and the reason the fit failed."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    cov: dict[str, Any] = {}
    if codes is not None:
        cov = {"cov_type": "cluster", "cov_kwds": {"groups": codes}}
    # The convergence flag is checked below, so statsmodels' own warnings
    # (overflow, ConvergenceWarning) would only repeat it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if model_type == "logit":
                results = sm.Logit(y, exog).fit(
                    method="newton", maxiter=maxiter, disp=0, **cov
                )
                converged = bool(results.mle_retvals["converged"])
            else:
                # Converge on the parameters rather than the deviance, so the
                # score equations are solved tightly enough to certify that the
                # data are not separated.
                results = sm.GLM(y, exog, family=_family(model_type)).fit(
                    maxiter=maxiter,
                    tol_criterion="params",
                    atol=1e-12,
                    rtol=0.0,
                    **cov,
                )
                converged = bool(results.converged)
        except (np.linalg.LinAlgError, PerfectSeparationError, ValueError) as error:
            return None, f"statsmodels raised {type(error).__name__}: {error}"
    if not converged:
        return None, f"no convergence within {maxiter} iterations"
    table = _coefficient_table(
        pd.Series(results.params, index=exog.columns),
        pd.Series(results.bse, index=exog.columns),
        confidence,
    )
    if not np.isfinite(table[["coef", "std_err"]].to_numpy()).all():
        return None, "some estimates or standard errors are not finite"
    return table, None


def _fit_ridge(
    exog: pd.DataFrame,
    y: np.ndarray,
    codes: np.ndarray | None,
    model_type: str,
    confidence: float,
) -> pd.DataFrame:
    """Fit with an L2 penalty on the standardised features; the constant is free."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    n_rows = len(y)
    scale = exog.std(ddof=0).replace(0.0, 1.0)
    scale[CONSTANT] = 1.0
    standardised = exog / scale
    alpha = np.full(exog.shape[1], 1.0 / (n_rows * RIDGE_PRIOR_SD**2))
    alpha[list(exog.columns).index(CONSTANT)] = 0.0

    model = sm.GLM(y, standardised, family=_family(model_type))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        results = model.fit_regularized(method="elastic_net", alpha=alpha, L1_wt=0.0)
    params = np.asarray(results.params, dtype=float)
    failed = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    if failed or not np.isfinite(params).all():
        raise CalibrationError(
            "The regularised fallback fit did not converge either "
            f"({failed[0].message if failed else 'non-finite estimates'}). "
            "Check the features for extreme values or use fewer features."
        )

    # Sandwich covariance of the penalised estimator: bread from the penalised
    # Hessian, meat from the per-row (or per-cluster) score contributions.
    scores = model.score_obs(params, scale=1.0)
    hessian = model.hessian(params, scale=1.0) - n_rows * np.diag(alpha)
    bread = np.linalg.inv(-hessian)
    n_params = len(params)
    if codes is None:
        meat = scores.T @ scores
        correction = n_rows / max(n_rows - n_params, 1)
    else:
        sums = np.zeros((int(codes.max()) + 1, n_params))
        np.add.at(sums, codes, scores)
        meat = sums.T @ sums
        n_clusters = len(sums)
        correction = (n_clusters / max(n_clusters - 1, 1)) * (
            (n_rows - 1) / max(n_rows - n_params, 1)
        )
    covariance = correction * bread @ meat @ bread

    scale_values = scale.to_numpy(dtype=float)
    coef = pd.Series(params / scale_values, index=exog.columns)
    std_err = pd.Series(np.sqrt(np.diag(covariance)) / scale_values, index=exog.columns)
    return _coefficient_table(coef, std_err, confidence)


def _coefficient_table(
    coef: pd.Series, std_err: pd.Series, confidence: float
) -> pd.DataFrame:
    from scipy.stats import norm

    quantile = float(norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = coef / std_err
    table = pd.DataFrame(
        {
            "coef": coef,
            "std_err": std_err,
            "z": z,
            "p_value": 2 * norm.sf(np.abs(z)),
            "ci_low": coef - quantile * std_err,
            "ci_high": coef + quantile * std_err,
        }
    )
    table.index.name = "term"
    return table
