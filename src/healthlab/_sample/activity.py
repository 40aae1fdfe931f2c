"""Monthly usage, brand-protection operations and economic impact inputs.

The table functions take the active client-months (``cells``) with the latent
health of each, and return plain column arrays in the table's key order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthlab._sample.contracts import Calendar, ClientBook
from healthlab.tables import CHANNELS, INFRINGEMENT_TYPES

# How often each channel and infringement type is monitored, and its relative
# detection volume.
_CHANNEL_SHARE = np.array([1.0, 0.7, 0.6, 0.35, 0.5])
_CHANNEL_VOLUME = np.array([1.0, 0.7, 0.4, 0.2, 0.15])
_TYPE_SHARE = np.array([1.0, 0.7, 0.5, 0.5, 0.35])
_TYPE_VOLUME = np.array([1.0, 0.6, 0.4, 0.3, 0.25])

# Removal success at health 60 and median days to removal, per channel.
_CHANNEL_SUCCESS = np.array([0.88, 0.78, 0.62, 0.72, 0.50])
_CHANNEL_DAYS = np.array([2.5, 3.5, 9.0, 6.0, 18.0])

# Detections per monitored channel and type per month at volume 1, by segment.
_SEGMENT_VOLUME = {"enterprise": 60.0, "mid_market": 15.0, "smb": 4.0}

# Share of clients that see a new channel ramp up in the last 6-12 months.
EMERGING_SHARE = 0.15
_EMERGING_CHANNELS = np.array([1, 3, 2, 4])
_EMERGING_WEIGHTS = np.array([0.4, 0.35, 0.15, 0.1])
_EMERGING_BASELINE = 0.2
_EMERGING_GROWTH = (10.0, 25.0)

# Annual economic impact per dollar of ARR at health 60, before client noise,
# with the displacement rate of the default score model.
_IMPACT_MULTIPLE = 2.5
_DISPLACEMENT_RATE = 0.2


@dataclass(frozen=True)
class Cells:
    """Active client-months in client, month order, with their latent health."""

    client: np.ndarray
    month: np.ndarray
    health: np.ndarray


@dataclass(frozen=True)
class Emerging:
    """Per client: the emerging channel index (-1 for none) and its first month."""

    channel: np.ndarray
    start: np.ndarray


def active_cells(first: np.ndarray, last: np.ndarray, latent: np.ndarray) -> Cells:
    """List every client-month from each client's first to last data month."""
    counts = last - first + 1
    client = np.repeat(np.arange(len(first)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    month = first[client] + offsets
    return Cells(client=client, month=month, health=latent[client, month])


def _sigmoid(values: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-values))
    return result


def usage(
    book: ClientBook, calendar: Calendar, cells: Cells, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Draw active users per licensed seat and logins from latent health."""
    n_cells = len(cells.client)
    propensity = rng.normal(0.3, 0.25, book.size)
    login_level = rng.normal(0.0, 0.25, book.size)

    tenure = cells.month - book.start_index[cells.client]
    onboarding = np.select([tenure == 0, tenure == 1, tenure == 2], [0.6, 0.8, 0.95], 1)
    month_of_year = (calendar.months[cells.month].astype(int) % 12) + 1
    holidays = np.where(np.isin(month_of_year, (8, 12)), 0.95, 1.0)

    logit = (
        propensity[cells.client]
        + 0.08 * (cells.health - 55)
        + rng.normal(0.0, 0.15, n_cells)
    )
    share = _sigmoid(logit) * onboarding * holidays
    active = rng.binomial(book.seats[cells.client], share)

    per_user = 8.0 * np.exp(
        0.012 * (cells.health - 60)
        + login_level[cells.client]
        + rng.normal(0.0, 0.1, n_cells)
    )
    logins = rng.poisson(active * per_user)
    return {"active_users": active, "logins": logins}


def draw_emerging(
    book: ClientBook,
    calendar: Calendar,
    first: np.ndarray,
    last: np.ndarray,
    rng: np.random.Generator,
) -> Emerging:
    """Choose the clients that see a new channel ramp up at the end of history."""
    happens = rng.random(book.size) < EMERGING_SHARE
    channel = rng.choice(_EMERGING_CHANNELS, size=book.size, p=_EMERGING_WEIGHTS)
    start = calendar.n_months - rng.integers(6, 13, book.size)
    # Only clients with six months of baseline before the ramp and data through
    # the end of history qualify.
    qualifies = happens & (first <= start - 6) & (last == calendar.n_months - 1)
    return Emerging(
        channel=np.where(qualifies, channel, -1),
        start=np.where(qualifies, start, -1),
    )


def operations(
    book: ClientBook,
    calendar: Calendar,
    cells: Cells,
    emerging: Emerging,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draw detections, enforcement and removals per channel and infringement type.

    Returns the table columns and, per client, the expected removals per month
    at health 60, which sizes the economic impact inputs.
    """
    n = book.size
    n_channels, n_types = len(CHANNELS), len(INFRINGEMENT_TYPES)
    monitors_channel = rng.random((n, n_channels)) < _CHANNEL_SHARE
    monitors_type = rng.random((n, n_types)) < _TYPE_SHARE
    has_emerging = emerging.channel >= 0
    monitors_channel[has_emerging, emerging.channel[has_emerging]] = True

    size = np.array([_SEGMENT_VOLUME[s] for s in book.segment]) * np.exp(
        rng.normal(0.0, 0.4, n)
    )
    request_share = rng.beta(8, 2, n)
    success_level = rng.normal(0.0, 0.3, n)

    # One combination per monitored channel and type, in client, channel, type order.
    monitored = monitors_channel[:, :, None] & monitors_type[:, None, :]
    combo_client, combo_channel, combo_type = np.nonzero(monitored)
    rate = (
        size[combo_client]
        * _CHANNEL_VOLUME[combo_channel]
        * _TYPE_VOLUME[combo_type]
        * np.exp(rng.normal(0.0, 0.5, len(combo_client)))
    )
    is_emerging = combo_channel == emerging.channel[combo_client]
    rate = np.where(is_emerging, rate * _EMERGING_BASELINE, rate)

    base_logit = np.log(_CHANNEL_SUCCESS / (1 - _CHANNEL_SUCCESS))
    typical_success = _sigmoid(base_logit[combo_channel] + success_level[combo_client])
    expected_removals = np.bincount(
        combo_client,
        weights=rate * request_share[combo_client] * typical_success,
        minlength=n,
    )

    rows = _combo_rows(cells, combo_client, n)
    combo = rows["combo"]
    client = combo_client[combo]
    channel = combo_channel[combo]
    month = cells.month[rows["cell"]]
    health = cells.health[rows["cell"]]

    growth = rng.uniform(*_EMERGING_GROWTH, n)
    ramp_length = np.maximum(calendar.n_months - emerging.start, 1)
    progress = np.clip(
        (month - emerging.start[client] + 1) / ramp_length[client], 0.0, 1.0
    )
    ramp = np.where(is_emerging[combo], 1 + growth[client] * progress**1.5, 1.0)

    n_rows = len(combo)
    mean = rate[combo] * ramp * rng.gamma(4.0, 0.25, n_rows)
    detections = rng.poisson(mean)
    requested = rng.binomial(detections, request_share[client])
    success = _sigmoid(
        base_logit[channel] + 0.05 * (health - 60) + success_level[client]
    )
    removals = rng.binomial(requested, success)
    days = _CHANNEL_DAYS[channel] * np.exp(
        -0.015 * (health - 60) + rng.normal(0.0, 0.25, n_rows)
    )
    days = np.where(removals > 0, np.round(days, 1), np.nan)

    columns = {
        "client": client,
        "month": month,
        "channel": channel,
        "infringement_type": combo_type[combo],
        "detections": detections,
        "enforcement_requested": requested,
        "removals_confirmed": removals,
        "median_days_to_removal": days,
    }
    return columns, expected_removals


def _combo_rows(
    cells: Cells, combo_client: np.ndarray, n: int
) -> dict[str, np.ndarray]:
    """Pair every active cell with every monitored combination of its client.

    Both inputs are sorted by client, so the pairs come out in client, month,
    combination order without a sort.
    """
    combos_per_client = np.bincount(combo_client, minlength=n)
    combo_first = np.cumsum(combos_per_client) - combos_per_client
    per_cell = combos_per_client[cells.client]
    cell = np.repeat(np.arange(len(cells.client)), per_cell)
    within = np.arange(per_cell.sum()) - np.repeat(
        np.cumsum(per_cell) - per_cell, per_cell
    )
    combo = combo_first[cells.client[cell]] + within
    return {"cell": cell, "combo": combo}


def economic_impact(
    book: ClientBook,
    cells: Cells,
    expected_removals: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Draw listing prices and units per listing so impact per ARR follows health.

    Units per listing are sized so that a year of expected removals yields an
    impact of about ``2.5 * exp(0.03 * (health - 60))`` times ARR, with client and
    monthly noise, under the default displacement rate.
    """
    n_cells = len(cells.client)
    price_level = np.exp(rng.normal(np.log(60.0), 0.7, book.size))
    value_level = np.exp(rng.normal(0.0, 0.25, book.size))

    price = price_level[cells.client] * np.exp(rng.normal(0.0, 0.12, n_cells))
    multiple = (
        _IMPACT_MULTIPLE
        * value_level[cells.client]
        * np.exp(0.03 * (cells.health - 60))
    )
    monthly_impact = multiple * book.arr_usd[cells.client] / 12
    units = monthly_impact / (
        expected_removals[cells.client] * price * _DISPLACEMENT_RATE
    )
    units = units * np.exp(rng.normal(0.0, 0.15, n_cells))
    return {
        "avg_listing_price_usd": np.round(price, 2),
        "est_units_per_listing": np.round(units, 2),
    }
