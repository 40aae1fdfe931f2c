"""Calendar and client facts of the sample portfolio: segments, contracts, owners."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from healthlab._sample import names
from healthlab.tables import SEGMENTS, TIERS

# Share of clients per segment, in the order of SEGMENTS.
SEGMENT_SHARES = (0.15, 0.35, 0.50)

# Licensed seats: median and clip range per segment.
_SEATS = {"enterprise": (80, 25, 400), "mid_market": (25, 8, 80), "smb": (6, 2, 20)}

# Tier probabilities per segment, in the order of TIERS.
_TIER_SHARES = {
    "enterprise": (0.70, 0.30, 0.00),
    "mid_market": (0.30, 0.55, 0.15),
    "smb": (0.05, 0.45, 0.50),
}
_TIER_PRICE = {"premium": 1.3, "standard": 1.0, "essentials": 0.75}
_PRICE_PER_SEAT_USD = 3000.0

# Share of clients whose first contract starts inside the history window.
NEW_CLIENT_SHARE = 0.3
_MAX_TENURE_DAYS = 6 * 365

CLIENTS_PER_CSM = 30


@dataclass(frozen=True)
class Calendar:
    """The monthly grid of the history: ``n_months`` months ending at ``end``."""

    end: np.datetime64
    n_months: int

    @property
    def first(self) -> np.datetime64:
        """First month of the history (``datetime64[M]``)."""
        return self.end - (self.n_months - 1)

    @property
    def months(self) -> np.ndarray:
        """Every month of the history as ``datetime64[M]``."""
        return self.first + np.arange(self.n_months)

    @property
    def as_of(self) -> np.datetime64:
        """Last day of the last month: the date the dataset describes."""
        last_day: np.datetime64 = (self.end + 1).astype("M8[D]") - 1
        return last_day

    def month_start(self, index: np.ndarray | int) -> np.ndarray:
        """First day (``datetime64[D]``) of the month at each grid index."""
        result: np.ndarray = (self.first + np.asarray(index)).astype("M8[D]")
        return result

    def month_index(self, dates: np.ndarray) -> np.ndarray:
        """Grid index of the month that contains each date (may be out of range)."""
        months = dates.astype("M8[M]")
        result: np.ndarray = (months - self.first).astype(np.int64)
        return result


@dataclass(frozen=True)
class ClientBook:
    """Per-client facts, one array element per client in client id order.

    ``start_index`` is the grid index of the month the first contract starts in
    (negative for clients that started before the history). Contracts start on
    day ``start_day`` (1-28) of that month and renew on each anniversary.
    """

    ids: np.ndarray
    names: np.ndarray
    segment: np.ndarray
    tier: np.ndarray
    seats: np.ndarray
    arr_usd: np.ndarray
    start_index: np.ndarray
    start_day: np.ndarray
    csm: np.ndarray

    @property
    def size(self) -> int:
        return len(self.ids)

    def contract_start(self, calendar: Calendar) -> np.ndarray:
        """First day of each client's first contract (``datetime64[D]``)."""
        return calendar.month_start(self.start_index) + (self.start_day - 1)

    def anniversary(self, calendar: Calendar, years: int) -> tuple[np.ndarray, ...]:
        """Month index and date of each client's renewal ``years`` after the start."""
        index = self.start_index + 12 * years
        return index, calendar.month_start(index) + (self.start_day - 1)


def build_clients(
    n_clients: int, calendar: Calendar, rng: np.random.Generator
) -> ClientBook:
    """Draw segments, seats, ARR, contract dates, names and owners for each client."""
    width = max(4, len(str(n_clients)))
    ids = np.array([f"{number:0{width}d}" for number in range(1, n_clients + 1)])

    segment_codes = rng.choice(len(SEGMENTS), size=n_clients, p=SEGMENT_SHARES)
    segment = np.array(SEGMENTS)[segment_codes]

    seats = np.empty(n_clients, dtype=np.int64)
    tier = np.empty(n_clients, dtype=object)
    seat_noise = rng.normal(0.0, 0.5, n_clients)
    tier_draws = rng.random(n_clients)
    for name in SEGMENTS:
        members = segment == name
        median, low, high = _SEATS[name]
        drawn = np.rint(median * np.exp(seat_noise[members]))
        seats[members] = np.clip(drawn, low, high).astype(np.int64)
        bounds = np.cumsum(_TIER_SHARES[name])
        codes = np.searchsorted(bounds, tier_draws[members], side="right")
        tier[members] = np.array(TIERS)[np.minimum(codes, len(TIERS) - 1)]
    tier = tier.astype(str)

    tier_price = np.array([_TIER_PRICE[value] for value in tier])
    arr_noise = np.exp(rng.normal(0.0, 0.2, n_clients))
    arr_usd = np.round(seats * _PRICE_PER_SEAT_USD * tier_price * arr_noise, -2)

    start_index, start_day = _draw_contract_starts(n_clients, calendar, rng)
    client_names = names.client_names(n_clients, rng)
    csm = names.assign_csms(n_clients, CLIENTS_PER_CSM, rng)

    return ClientBook(
        ids=ids,
        names=client_names,
        segment=segment,
        tier=tier,
        seats=seats,
        arr_usd=arr_usd,
        start_index=start_index,
        start_day=start_day,
        csm=csm,
    )


def _draw_contract_starts(
    n_clients: int, calendar: Calendar, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the month index and day of each first contract.

    Clients already under contract started up to six years before the history.
    New clients start inside it, early enough to leave three months of data.
    """
    is_new = rng.random(n_clients) < NEW_CLIENT_SHARE
    day = rng.integers(1, 29, n_clients)

    tenure_days = rng.integers(31, _MAX_TENURE_DAYS, n_clients)
    existing_index = -np.ceil(tenure_days / 30.44).astype(np.int64)
    latest_new = max(calendar.n_months - 3, 1)
    new_index = rng.integers(0, latest_new, n_clients)

    start_index = np.where(is_new, new_index, existing_index).astype(np.int64)
    return start_index, day.astype(np.int64)
