"""NPS survey responses and QBR meetings drawn from latent health."""

from __future__ import annotations

import numpy as np

from healthlab._sample.contracts import Calendar, ClientBook
from healthlab._sample.health import Histories

# Expected NPS responses per quarterly survey at full engagement, by segment.
_RESPONSES_PER_SURVEY = {"enterprise": 5.0, "mid_market": 2.0, "smb": 0.8}
# Share of clients who never answer a survey.
SILENT_SHARE = 0.12
# Surveys go out in the second month of each calendar quarter.
_SURVEY_MONTHS = (2, 5, 8, 11)

_QBR_INTERVAL_DAYS = 91
# Chance that a QBR is skipped when the client is healthy, by segment.
_QBR_BASE_MISS = {"enterprise": 0.03, "mid_market": 0.06, "smb": 0.10}
_OBJECTIVES = {"enterprise": (3, 6), "mid_market": (2, 5), "smb": (1, 4)}
_BLANK_NOTE_SHARE = 0.12

_CHANNEL_WORDS = ("marketplaces", "social media", "websites", "app stores", "domains")

_NOTES = {
    "positive": (
        "Happy with takedown speed on {channel}; wants to add more brands.",
        "Strong quarter. Asked about extending coverage to {channel}.",
        "Champion very engaged and shared our results with their CMO.",
        'Said the monthly report is "exactly what legal needs".',
    ),
    "neutral": (
        "Routine review. Asked for better reporting on {channel}.",
        "Walked through the dashboard, few questions.",
        "Agreed to revisit enforcement priorities next quarter.",
        "New marketing lead joined the call and is still learning the product.",
    ),
    "negative": (
        "Frustrated with removal times on {channel}.",
        "Questioned the ROI of the contract and wants a cost review.",
        "Low attendance; our champion seems disengaged.",
        'Complained that listings on {channel} "keep coming back".',
    ),
}
_SENSITIVE_NOTES = (
    "Mentioned they are considering a competitor.",
    "Brand protection budget under review, renewal not guaranteed.",
    "Asked about the contract exit terms.",
    "Evaluating an in-house takedown team.",
    "Their legal team is unhappy with the service.",
)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-values))
    return result


def _last_valid_date(histories: Histories, calendar: Calendar) -> np.ndarray:
    """Last day each client can have dated events: the day before churn, or as-of."""
    before_churn = histories.churn_date - np.timedelta64(1, "D")
    churned = ~np.isnat(histories.churn_date)
    return np.where(churned, before_churn, calendar.as_of)


def nps(
    book: ClientBook,
    calendar: Calendar,
    histories: Histories,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Draw quarterly NPS responses: counts and scores both fall with health."""
    n = book.size
    rate = np.array([_RESPONSES_PER_SURVEY[s] for s in book.segment])
    engagement = rng.gamma(1.5, 1 / 1.5, n) * (rng.random(n) >= SILENT_SHARE)
    bias = rng.normal(0.0, 0.4, n)
    pool_size = np.maximum(2, np.rint(0.6 * book.seats)).astype(np.int64)
    pool_first = np.cumsum(pool_size) - pool_size
    tokens = rng.integers(0, 2**32, pool_size.sum(), dtype=np.uint64)

    month_of_year = (calendar.months.astype(int) % 12) + 1
    surveys = np.flatnonzero(np.isin(month_of_year, _SURVEY_MONTHS))
    client = np.repeat(np.arange(n), len(surveys))
    month = np.tile(surveys, n)
    active = (month >= histories.first[client]) & (month <= histories.last[client])
    client, month = client[active], month[active]
    health = histories.latent[client, month]

    sent = calendar.month_start(month) + rng.integers(0, 15, len(client))
    expected = rate[client] * engagement[client] * (0.3 + 0.9 * health / 100)
    count = rng.poisson(expected)

    survey = np.repeat(np.arange(len(client)), count)
    response_client = client[survey]
    date = sent[survey] + rng.integers(0, 21, len(survey))
    respondent = rng.integers(0, pool_size[response_client])
    mean = 1.5 + 0.095 * health[survey] + bias[response_client]
    score = np.clip(np.rint(rng.normal(mean, 1.6)), 0, 10).astype(np.int64)

    contract_start = book.contract_start(calendar)
    keep = (date >= contract_start[response_client]) & (
        date <= _last_valid_date(histories, calendar)[response_client]
    )
    # A respondent answers a survey at most once.
    _, first_answer = np.unique(
        np.stack([survey, respondent]), axis=1, return_index=True
    )
    once = np.zeros(len(survey), dtype=bool)
    once[first_answer] = True
    keep &= once

    token = tokens[pool_first[response_client] + respondent]
    return {
        "client": response_client[keep],
        "date": date[keep],
        "respondent_id": np.char.mod("r%08x", token[keep]),
        "score": score[keep],
    }


def qbr_meetings(
    book: ClientBook,
    calendar: Calendar,
    histories: Histories,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Draw QBR meetings about every 91 days; unhealthy clients skip more of them."""
    n = book.size
    contract_start = book.contract_start(calendar)
    window_start = calendar.month_start(0)
    is_new = book.start_index >= 0
    anchor = np.where(
        is_new,
        contract_start + rng.integers(45, 91, n),
        window_start + rng.integers(0, _QBR_INTERVAL_DAYS, n) - _QBR_INTERVAL_DAYS,
    )

    slots = calendar.n_months // 3 + 3
    jitter = np.clip(np.rint(rng.normal(0.0, 10.0, (n, slots))), -25, 25)
    offsets = np.arange(slots) * _QBR_INTERVAL_DAYS + jitter
    dates = anchor[:, None] + offsets.astype("m8[D]")
    client = np.repeat(np.arange(n), slots)
    dates = dates.ravel()

    earliest = np.maximum(contract_start, window_start)
    latest = _last_valid_date(histories, calendar)
    in_range = (dates >= earliest[client]) & (dates <= latest[client])
    client, dates = client[in_range], dates[in_range]
    health = histories.latent[client, calendar.month_index(dates)]

    base_miss = np.array([_QBR_BASE_MISS[s] for s in book.segment])[client]
    missed = rng.random(len(client)) < base_miss + 0.8 * _sigmoid((45 - health) / 6)

    mood = (health - 62) / 12 + rng.normal(0.0, 0.8, len(client))
    sentiment = np.select(
        [mood < -0.7, mood > 0.6], ["negative", "positive"], "neutral"
    )
    low = np.array([_OBJECTIVES[s][0] for s in book.segment])[client]
    high = np.array([_OBJECTIVES[s][1] for s in book.segment])[client]
    total = rng.integers(low, high + 1)
    met_share = _sigmoid(0.08 * (health - 50) + rng.normal(0.0, 0.5, len(client)))
    met = rng.binomial(total, met_share)
    notes = _internal_notes(sentiment, health, rng)

    held = ~missed
    return {
        "client": client[held],
        "date": dates[held],
        "sentiment": sentiment[held],
        "objectives_met": met[held],
        "objectives_total": total[held],
        "internal_notes": notes[held],
    }


def _internal_notes(
    sentiment: np.ndarray, health: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Write CSM notes (None when blank); sensitive remarks grow with low health."""
    size = len(sentiment)
    template = rng.integers(0, 4, size)
    channel = rng.integers(0, len(_CHANNEL_WORDS), size)
    sensitive = rng.random(size) < 0.8 * _sigmoid((45 - health) / 6)
    remark = rng.integers(0, len(_SENSITIVE_NOTES), size)
    blank = rng.random(size) < _BLANK_NOTE_SHARE

    notes = np.empty(size, dtype=object)
    for row in range(size):
        if blank[row]:
            notes[row] = None
            continue
        text = _NOTES[str(sentiment[row])][template[row]].format(
            channel=_CHANNEL_WORDS[channel[row]]
        )
        if sensitive[row]:
            text += " " + _SENSITIVE_NOTES[remark[row]]
        notes[row] = text
    return notes
