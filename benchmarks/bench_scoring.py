"""Time ``score_dataset`` on synthetic portfolios of 300 x 36 and 10,000 x 60.

The portfolio is built in memory with numpy, without files or the sample
generator. Per client and month it has one usage and one impact row, up to five
operations rows and about 0.4 NPS responses, plus a QBR meeting every quarter.

Usage: ``python -m benchmarks scoring``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from healthlab.dataset import Dataset
from healthlab.model import load_model
from healthlab.scoring import score_dataset
from healthlab.tables import CHANNELS, INFRINGEMENT_TYPES, SENTIMENTS

SIZES = ((300, 36, 5), (10_000, 60, 3))
"""(clients, months, repeats) per benchmark case."""

OPERATION_ROWS_PER_MONTH = 5


def synthetic_portfolio(n_clients: int, n_months: int, seed: int = 0) -> Dataset:
    """Build a valid in-memory dataset of ``n_clients`` over ``n_months``."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2020-01-01", periods=n_months, freq="MS").to_numpy()
    ids = np.array([f"{number:05d}" for number in range(n_clients)], dtype=object)
    seats = rng.integers(5, 200, n_clients)
    begin = rng.integers(0, n_months // 3, n_clients)
    clients = pd.DataFrame(
        {
            "client_id": ids,
            "client_name": ids,
            "segment": rng.choice(["enterprise", "mid_market", "smb"], n_clients),
            "tier": "standard",
            "arr_usd": rng.uniform(2e4, 5e5, n_clients),
            "contract_start": months[begin],
            "renewal_date": months[begin] + np.timedelta64(365, "D"),
            "licensed_seats": seats,
            "csm": "csm",
        }
    )

    client = np.repeat(np.arange(n_clients), n_months)
    month = np.tile(np.arange(n_months), n_clients)
    keep = month >= begin[client]
    client, month = client[keep], month[keep]
    size = len(client)
    usage = pd.DataFrame(
        {
            "client_id": ids[client],
            "month": months[month],
            "active_users": rng.binomial(seats[client], 0.6),
            "logins": rng.integers(0, 500, size),
        }
    )
    impact = pd.DataFrame(
        {
            "client_id": ids[client],
            "month": months[month],
            "avg_listing_price_usd": rng.uniform(5, 300, size),
            "est_units_per_listing": rng.uniform(1, 20, size),
        }
    )

    combos = rng.choice(
        len(CHANNELS) * len(INFRINGEMENT_TYPES),
        (size, OPERATION_ROWS_PER_MONTH),
    )
    combos.sort(axis=1)
    op_client = np.repeat(client, OPERATION_ROWS_PER_MONTH)
    op_month = np.repeat(month, OPERATION_ROWS_PER_MONTH)
    combo = combos.ravel()
    distinct = np.ones(len(combo), dtype=bool)
    distinct[1:] = (combo[1:] != combo[:-1]) | (op_client[1:] != op_client[:-1])
    distinct[1:] |= op_month[1:] != op_month[:-1]
    requested = rng.integers(0, 60, len(combo))
    operations = pd.DataFrame(
        {
            "client_id": ids[op_client],
            "month": months[op_month],
            "channel": np.array(CHANNELS)[combo // len(INFRINGEMENT_TYPES)],
            "infringement_type": np.array(INFRINGEMENT_TYPES)[
                combo % len(INFRINGEMENT_TYPES)
            ],
            "detections": requested * 2,
            "enforcement_requested": requested,
            "removals_confirmed": rng.binomial(requested, 0.8),
            "median_days_to_removal": rng.uniform(1, 9, len(combo)),
        }
    )[distinct]

    answered = rng.random(size) < 0.4
    nps = pd.DataFrame(
        {
            "client_id": ids[client[answered]],
            "response_date": months[month[answered]] + np.timedelta64(9, "D"),
            "respondent_id": "r",
            "score": rng.integers(0, 11, int(answered.sum())),
        }
    )
    quarterly = month % 3 == 0
    total = rng.integers(0, 6, int(quarterly.sum()))
    meetings = pd.DataFrame(
        {
            "client_id": ids[client[quarterly]],
            "meeting_date": months[month[quarterly]] + np.timedelta64(14, "D"),
            "sentiment": rng.choice(SENTIMENTS, len(total)),
            "objectives_met": rng.binomial(total, 0.7),
            "objectives_total": total,
            "internal_notes": "",
        }
    )
    churned = rng.random(n_clients) < 0.1
    renewals = pd.DataFrame(
        {
            "client_id": ids[churned],
            "renewal_date": months[np.minimum(begin[churned] + 24, n_months - 1)],
            "outcome": "churned",
            "arr_usd": 1.0,
        }
    )
    return Dataset(
        source=Path("synthetic"),
        clients=clients,
        usage=usage,
        nps=nps,
        operations=operations.reset_index(drop=True),
        economic_impact=impact,
        qbr_meetings=meetings,
        renewals=renewals,
    )


def run() -> list[str]:
    model = load_model()
    lines = []
    for n_clients, n_months, repeats in SIZES:
        data = synthetic_portfolio(n_clients, n_months)
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            scores = score_dataset(data, model)
            timings.append(time.perf_counter() - started)
        lines.append(
            f"score_dataset {n_clients} clients x {n_months} months: "
            f"{len(scores)} rows from {len(data.operations)} operations rows, "
            f"median {statistics.median(timings):.2f} s of {repeats} runs"
        )
    return lines
