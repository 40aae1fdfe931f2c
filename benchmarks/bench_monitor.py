"""Early-warning monitor: run time, and the backtest figures against churn.

For each sample portfolio (default ``generate_portfolio`` settings, 36 months)
the benchmark times one ``run_monitor`` call for the last month and one full
``run_backtest`` replay, as medians of repeated runs. It prints the backtest
figures with the default model: median lead time of caught churns, precision of
churn-signal alerts against the base rate, recall, and alerts per client per
quarter. The figures are deterministic for a seed, but the timings are not.

Run with ``python -m benchmarks monitor``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from healthlab.dataset import load_dataset
from healthlab.model import load_model
from healthlab.monitoring.backtest import run_backtest
from healthlab.monitoring.monitor import run_monitor
from healthlab.sample import generate_portfolio
from healthlab.scoring import score_dataset

T = TypeVar("T")

PORTFOLIOS = ((300, 0, 3), (300, 1, 1), (300, 2, 1), (3000, 0, 1))
"""(clients, seed, timing repeats) of each portfolio measured."""


def _timed(function: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Return the median seconds of ``repeats`` calls and the last result."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def run() -> list[str]:
    """Return one line of timings and figures per portfolio."""
    model = load_model()
    lines = [
        "clients seed  monitor_s backtest_s  lead_days precision base_rate  lift "
        "recall alerts/client/quarter alerts/csm/month"
    ]
    with tempfile.TemporaryDirectory() as folder:
        for clients, seed, repeats in PORTFOLIOS:
            path = Path(folder) / f"sample-{clients}-{seed}"
            generate_portfolio(path, n_clients=clients, seed=seed)
            data = load_dataset(path)
            scores = score_dataset(data, model)

            monitor_seconds, _ = _timed(
                lambda data=data, scores=scores: run_monitor(
                    data, model, scores=scores
                ),
                repeats,
            )
            backtest_seconds, result = _timed(
                lambda data=data, scores=scores: run_backtest(
                    data, model, scores=scores
                ),
                repeats,
            )
            summary = result.summary
            lines.append(
                f"{clients:7d} {seed:4d} {monitor_seconds:10.2f} "
                f"{backtest_seconds:10.2f} {summary['median_lead_time_days']:10.0f} "
                f"{summary['precision']:9.3f} {summary['base_rate']:9.3f} "
                f"{summary['lift']:5.2f} {summary['recall']:6.2f} "
                f"{summary['alerts_per_client_quarter']:21.2f} "
                f"{summary['alerts_per_csm_month']:17.1f}"
            )
    lines.append(
        "targets: lead_days >= 90, precision >= 2 x base_rate (lift >= 2), "
        "alerts/client/quarter <= 2"
    )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
