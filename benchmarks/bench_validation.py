"""Loading and validation: time to read a portfolio, and to reject a broken one.

Three datasets, each timed as the median of repeated runs:

- the sample portfolio (300 clients, 36 months) as written by
  ``healthlab sample``;
- a dense version whose operations table has a row for every client-month of
  usage, channel and infringement type (about 200,000 rows for seed 0);
- that dense version with operations repeated four times and broken in every
  row: five rules fail on every row, and the repetition makes every key a
  duplicate.

The broken case also reports how many problems were listed, which the cap of
rows per rule and column keeps small.

Run with ``python -m benchmarks validation``.
"""

from __future__ import annotations

import itertools
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from healthlab.dataset import load_dataset
from healthlab.sample import generate_portfolio
from healthlab.tables import CHANNELS, INFRINGEMENT_TYPES
from healthlab.validation import validate_dataset

REPEATS = 5


def _median_seconds(action: Callable[[], object], repeats: int = REPEATS) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def _write_dense_operations(folder: Path, seed: int = 0) -> int:
    """Replace operations.csv with one row per client, month, channel and type."""
    rng = np.random.default_rng(seed)
    usage = pd.read_csv(folder / "usage.csv", dtype=str)
    pairs = usage[["client_id", "month"]].itertuples(index=False)
    rows = [
        (client_id, month, channel, kind)
        for (client_id, month), channel, kind in itertools.product(
            pairs, CHANNELS, INFRINGEMENT_TYPES
        )
    ]
    frame = pd.DataFrame(
        rows, columns=["client_id", "month", "channel", "infringement_type"]
    )
    detections = rng.integers(0, 500, len(frame))
    requested = (detections * rng.uniform(0.5, 1, len(frame))).astype(int)
    removed = (requested * rng.uniform(0.5, 1, len(frame))).astype(int)
    frame["detections"] = detections
    frame["enforcement_requested"] = requested
    frame["removals_confirmed"] = removed
    days = rng.uniform(1, 20, len(frame)).round(1)
    frame["median_days_to_removal"] = np.where(removed > 0, days, np.nan)
    frame.to_csv(folder / "operations.csv", index=False)
    return len(frame)


def _break_operations(folder: Path) -> int:
    """Repeat operations four times and break five rules in every row."""
    frame = pd.read_csv(folder / "operations.csv", dtype=str, keep_default_na=False)
    frame = pd.concat([frame] * 4, ignore_index=True)
    frame["detections"] = "many"
    frame["removals_confirmed"] = "999999"
    frame["channel"] = "television"
    frame["month"] = frame["month"].str.replace("-01", "-15", regex=False)
    frame.to_csv(folder / "operations.csv", index=False)
    return len(frame)


def run() -> list[str]:
    lines = [f"median of {REPEATS} runs each"]
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        sample = root / "sample"
        generate_portfolio(sample, n_clients=300, n_months=36, seed=0)
        data = load_dataset(sample)
        seconds = _median_seconds(lambda: load_dataset(sample))
        lines.append(
            f"sample 300x36 ({len(data.operations)} operations rows): "
            f"load_dataset {seconds:.2f} s"
        )

        dense = root / "dense"
        shutil.copytree(sample, dense)
        operation_rows = _write_dense_operations(dense)
        load_seconds = _median_seconds(lambda: load_dataset(dense))
        lines.append(
            f"dense 300x36 ({operation_rows} operations rows): "
            f"load_dataset {load_seconds:.2f} s"
        )

        per_client = _median_seconds(
            lambda: [data.for_client(c) for c in data.clients["client_id"]], 3
        )
        lines.append(f"for_client over 300 clients of the sample: {per_client:.2f} s")

        broken = root / "broken"
        shutil.copytree(dense, broken)
        broken_rows = _break_operations(broken)
        problems = validate_dataset(broken)
        bad_seconds = _median_seconds(lambda: validate_dataset(broken), 3)
        lines.append(
            f"broken ({broken_rows} operations rows, 5 rules failing per row): "
            f"validate_dataset {bad_seconds:.2f} s, {len(problems)} problems listed"
        )
        lines.append(f"ratio broken/dense: {bad_seconds / load_seconds:.1f}")
    return lines
