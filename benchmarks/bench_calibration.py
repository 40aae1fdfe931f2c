"""Time calibration on 10,000 clients x 60 months next to a bare statsmodels fit.

The observation table is built in memory with numpy. Each client has a latent
health that drifts month to month and five noisy components derived from it,
with NPS missing in a quarter of the rows. Clients renew once a year and churn
at a renewal with a probability that falls with latent health. There are three
timings on the same rows, each the median of :data:`REPEATS` runs:

- bare: ``statsmodels`` ``Logit`` with cluster-robust errors on the complete
  rows, nothing else;
- guarded fit: :func:`healthlab.calibration.fit_churn_model` on the same
  matrix (separation linear program, variance inflation factors, the fit);
- calibration: the final fit, weights, churn-risk map and bands on all rows
  plus the time-based backtest with its metrics, as ``healthlab calibrate``
  runs them after loading the dataset.

Usage: ``python -m benchmarks calibration`` or
``python -m benchmarks.bench_calibration``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from healthlab.calibration.backtest import run_backtest
from healthlab.calibration.fitting import fit_churn_model
from healthlab.calibration.observations import ObservationTable
from healthlab.calibration.pipeline import fit_score_model
from healthlab.model import COMPONENTS, load_model

N_CLIENTS = 10_000
N_MONTHS = 60
HORIZON = 12
REPEATS = 3


def synthetic_observations(
    n_clients: int = N_CLIENTS, n_months: int = N_MONTHS, seed: int = 0
) -> ObservationTable:
    """Build an observation table with a 12-month horizon from simulated clients."""
    rng = np.random.default_rng(seed)
    level = rng.normal(70, 10, n_clients)
    drift = np.cumsum(rng.normal(0, 2, (n_clients, n_months)), axis=1)
    latent = np.clip(level[:, None] + drift, 0, 100)

    # One renewal a year at a client-specific month. Churn ends the client.
    first_renewal = rng.integers(1, 13, n_clients)
    churn_month = np.full(n_clients, n_months + HORIZON)
    for year in range(n_months // 12 + 1):
        month = first_renewal + 12 * year
        inside = (month < n_months) & (churn_month > month)
        health = latent[np.arange(n_clients), np.minimum(month, n_months - 1)]
        leaves = rng.uniform(size=n_clients) < 1 / (1 + np.exp(0.1 * (health - 45)))
        churn_month = np.where(inside & leaves, month, churn_month)

    client = np.repeat(np.arange(n_clients), n_months)
    month = np.tile(np.arange(n_months), n_clients)
    next_renewal = first_renewal[client] + 12 * np.maximum(
        0, -((first_renewal[client] - month - 1) // 12)
    )
    alive = month < churn_month[client]
    usable = alive & (month + HORIZON < n_months)
    months = pd.date_range("2020-01-01", periods=n_months, freq="MS").to_numpy()
    frame = pd.DataFrame(
        {
            "client_id": np.char.zfill(client.astype(str), 5),
            "month": months[month],
            "segment": "mid_market",
        }
    )
    health = latent.ravel()
    for index, name in enumerate(COMPONENTS):
        noise = rng.normal(0, 8 + 4 * index, len(frame))
        frame[name] = np.clip(health + noise, 0, 100)
    frame.loc[rng.uniform(size=len(frame)) < 0.25, "nps"] = np.nan
    frame["outcome"] = (churn_month[client] == next_renewal).astype(np.int64)
    frame["renewal_date"] = frame["month"]
    frame = frame[usable].reset_index(drop=True)
    return ObservationTable(
        frame=frame,
        horizon=HORIZON,
        data_start=pd.Timestamp("2020-01-01"),
        data_end=pd.Timestamp("2020-01-01") + pd.DateOffset(months=n_months - 1),
        grid_rows=int(alive.sum()),
        excluded={"horizon_past_data_end": int((alive & ~usable).sum())},
    )


def _median_seconds(action: Callable[[], object], repeats: int = REPEATS) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run() -> list[str]:
    """Time the bare fit, the guarded fit and the whole calibration."""
    import statsmodels.api as sm

    table = synthetic_observations()
    model = load_model()
    complete = table.frame.dropna(subset=list(COMPONENTS))
    design = complete[list(COMPONENTS)]
    outcome = complete["outcome"].to_numpy()
    groups = pd.factorize(complete["client_id"])[0]
    exog = sm.add_constant(design)

    def bare() -> object:
        return sm.Logit(outcome, exog).fit(
            disp=0, cov_type="cluster", cov_kwds={"groups": groups}
        )

    def guarded() -> object:
        return fit_churn_model(design, outcome, groups=groups)

    def calibration() -> object:
        fit_score_model(table.frame, model, "logit", HORIZON)
        return run_backtest(table, model, "logit")

    bare()  # import statsmodels and warm caches before timing
    bare_seconds = _median_seconds(bare)
    guarded_seconds = _median_seconds(guarded)
    calibration_seconds = _median_seconds(calibration)
    backtest = run_backtest(table, model, "logit")
    return [
        f"observation table: {N_CLIENTS} clients x {N_MONTHS} months, horizon "
        f"{HORIZON}: {len(table.frame)} rows, {len(complete)} complete, "
        f"{table.events} churn rows",
        f"bare statsmodels Logit (cluster SEs):  median {bare_seconds:.2f} s "
        f"of {REPEATS} runs",
        f"guarded fit_churn_model:               median {guarded_seconds:.2f} s "
        f"({guarded_seconds / bare_seconds:.1f}x bare)",
        f"calibration (final fit + backtest):    median {calibration_seconds:.2f} s "
        f"({calibration_seconds / bare_seconds:.1f}x bare)",
        f"backtest AUC {backtest.metrics.auc:.3f} calibrated, "
        f"{backtest.previous_metrics.auc:.3f} previous weights",
    ]


if __name__ == "__main__":
    for line in run():
        print(line, flush=True)
