"""Latent health paths and churn at renewal for the sample portfolio.

Each client's latent health (0-100) is an AR(1) process around a client level.
Some renewals are preceded by a deterioration episode, a decline of 20-45 points
over 6-18 months that ends at the renewal and recovers if the client renews.
Short dips that recover on their own add false alarms. At each renewal inside
the history the client churns with probability
``1 / (1 + exp(-(CHURN_INTERCEPT + CHURN_SLOPE * (h3 - 50))))``, where ``h3`` is
the mean latent health of the last three months before the renewal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthlab._sample.contracts import Calendar, ClientBook

LEVEL_MEAN = 70.0
LEVEL_SD = 9.0
LEVEL_RANGE = (30.0, 95.0)
AR_COEFFICIENT = 0.8
AR_NOISE_SD = 3.5

EPISODE_PROBABILITY = 0.18
EPISODE_MONTHS = (6, 18)
EPISODE_DEPTH = (20.0, 45.0)
RECOVERY_MONTHS = 4.0

DIPS_PER_YEAR = 0.08
DIP_MONTHS = (3, 6)
DIP_DEPTH = (10.0, 25.0)

CHURN_INTERCEPT = -1.45
CHURN_SLOPE = -0.14

# Months simulated before the history so that every renewal has three months of
# latent health behind it.
BURN_IN = 3
# Episodes may end at renewals up to this many months after the history, so the
# last months show clients who are declining now.
LOOK_AHEAD = 18


@dataclass(frozen=True)
class Histories:
    """Latent health and churn of every client.

    ``latent`` has one column per history month and is NaN outside a client's
    data months ``first[i]..last[i]`` (inclusive grid indices).
    """

    latent: np.ndarray
    first: np.ndarray
    last: np.ndarray
    churn_date: np.ndarray
    renewals: dict[str, np.ndarray]
    level: np.ndarray
    episode_renewals: list[list[np.datetime64]]
    episode_months: list[list[int]]
    dips: np.ndarray


def simulate_health(
    book: ClientBook, calendar: Calendar, rng: np.random.Generator
) -> Histories:
    """Simulate latent health for every client and decide each renewal."""
    n = book.size
    columns = calendar.n_months + BURN_IN
    grid = np.arange(columns) - BURN_IN

    level = np.clip(rng.normal(LEVEL_MEAN, LEVEL_SD, n), *LEVEL_RANGE)
    noise = rng.normal(0.0, AR_NOISE_SD, (n, columns))
    drift = np.empty((n, columns))
    drift[:, 0] = noise[:, 0] / np.sqrt(1 - AR_COEFFICIENT**2)
    for column in range(1, columns):
        drift[:, column] = AR_COEFFICIENT * drift[:, column - 1] + noise[:, column]

    offset, episode_renewals, episode_months = _episodes(book, calendar, grid, rng)
    dip_offset, dips = _dips(n, calendar, grid, rng)
    health = np.clip(level[:, None] + drift + np.minimum(offset, dip_offset), 0, 100)

    first = np.maximum(book.start_index, 0)
    last, churn_date, renewals = _decide_renewals(book, calendar, health, rng)
    in_data = (grid[None, BURN_IN:] >= first[:, None]) & (
        grid[None, BURN_IN:] <= last[:, None]
    )
    latent = np.where(in_data, health[:, BURN_IN:], np.nan)
    return Histories(
        latent=latent,
        first=first,
        last=last,
        churn_date=churn_date,
        renewals=renewals,
        level=level,
        episode_renewals=episode_renewals,
        episode_months=episode_months,
        dips=dips,
    )


def _max_years(book: ClientBook, calendar: Calendar) -> int:
    horizon = calendar.n_months + LOOK_AHEAD
    return int((horizon - book.start_index.min()) // 12 + 1)


def _episodes(
    book: ClientBook, calendar: Calendar, grid: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, list[list[np.datetime64]], list[list[int]]]:
    """Return the health offset of deterioration episodes before renewals."""
    n = book.size
    offset = np.zeros((n, len(grid)))
    renewals: list[list[np.datetime64]] = [[] for _ in range(n)]
    months: list[list[int]] = [[] for _ in range(n)]

    for years in range(1, _max_years(book, calendar) + 1):
        index, date = book.anniversary(calendar, years)
        happens = rng.random(n) < EPISODE_PROBABILITY
        duration = rng.integers(EPISODE_MONTHS[0], EPISODE_MONTHS[1] + 1, n)
        depth = rng.uniform(*EPISODE_DEPTH, n)

        # New clients get at least two healthy months before an episode starts.
        room = index - book.start_index - 2
        duration = np.minimum(duration, room)
        valid = (
            happens
            & (index >= 0)
            & (index < calendar.n_months + LOOK_AHEAD)
            & (duration >= 3)
        )
        if not valid.any():
            continue

        start = index - duration
        elapsed = (grid[None, :] - start[:, None]) / np.maximum(duration, 1)[:, None]
        decline = np.clip(elapsed, 0.0, 1.0) ** 1.2
        after = np.exp(-np.maximum(grid[None, :] - index[:, None], 0) / RECOVERY_MONTHS)
        shape = np.where(grid[None, :] <= index[:, None], decline, after)
        episode = -depth[:, None] * shape
        offset = np.where(valid[:, None], np.minimum(offset, episode), offset)

        for client in np.flatnonzero(valid):
            renewals[client].append(date[client])
            months[client].append(int(duration[client]))
    return offset, renewals, months


def _dips(
    n: int, calendar: Calendar, grid: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return the health offset of short dips that recover without a renewal."""
    offset = np.zeros((n, len(grid)))
    count = np.zeros(n, dtype=np.int64)
    chance = 1 - np.exp(-DIPS_PER_YEAR * len(grid) / 12)
    for _ in range(2):
        happens = rng.random(n) < chance
        start = rng.integers(grid[0], calendar.n_months, n)
        duration = rng.integers(DIP_MONTHS[0], DIP_MONTHS[1] + 1, n)
        depth = rng.uniform(*DIP_DEPTH, n)
        low = start + duration
        elapsed = np.clip((grid[None, :] - start[:, None]) / duration[:, None], 0, 1)
        after = np.exp(-np.maximum(grid[None, :] - low[:, None], 0) / RECOVERY_MONTHS)
        shape = np.where(grid[None, :] <= low[:, None], elapsed, after)
        dip = -depth[:, None] * shape
        offset = np.where(happens[:, None], np.minimum(offset, dip), offset)
        count += happens
    return offset, count


def _decide_renewals(
    book: ClientBook,
    calendar: Calendar,
    health: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Decide every renewal inside the history, in date order, until churn.

    The contract ends on the renewal date, so a client that churns keeps data up
    to the month holding the day before it. That is the month before the renewal
    when the renewal falls on the first of a month, and the renewal month otherwise.
    """
    n = book.size
    last = np.full(n, calendar.n_months - 1, dtype=np.int64)
    churn_date = np.full(n, np.datetime64("NaT"), dtype="M8[D]")
    churned = np.zeros(n, dtype=bool)
    rows: dict[str, list[np.ndarray]] = {"client": [], "date": [], "churned": []}

    window_start = calendar.month_start(0)
    for years in range(1, _max_years(book, calendar) + 1):
        index, date = book.anniversary(calendar, years)
        draw = rng.random(n)
        decided = (date > window_start) & (date <= calendar.as_of) & ~churned
        if not decided.any():
            continue

        final_month = index - (book.start_day == 1)
        columns = np.clip(final_month + BURN_IN, 2, health.shape[1] - 1)
        recent = np.stack([health[np.arange(n), columns - lag] for lag in range(3)])
        logit = CHURN_INTERCEPT + CHURN_SLOPE * (recent.mean(axis=0) - 50)
        leaves = decided & (draw < 1 / (1 + np.exp(-logit)))

        last = np.where(leaves, final_month, last)
        churn_date = np.where(leaves, date, churn_date)
        churned |= leaves
        rows["client"].append(np.flatnonzero(decided))
        rows["date"].append(date[decided])
        rows["churned"].append(leaves[decided])

    renewals = {
        key: np.concatenate(parts) if parts else np.array([])
        for key, parts in rows.items()
    }
    return last, churn_date, renewals
