"""Run the simulation stages and assemble the seven tables and the ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthlab._sample import activity, feedback
from healthlab._sample.contracts import Calendar, ClientBook, build_clients
from healthlab._sample.health import Histories, simulate_health
from healthlab.tables import CHANNELS, INFRINGEMENT_TYPES, TABLES


@dataclass(frozen=True)
class SampleData:
    """The generated tables, the hidden ground truth and headline counts."""

    tables: dict[str, pd.DataFrame]
    latent_health: pd.DataFrame
    truth: pd.DataFrame
    calendar: Calendar
    renewals_decided: int
    churned_clients: int
    client_years: float


def simulate(
    n_clients: int, n_months: int, seed: int, end: np.datetime64
) -> SampleData:
    """Simulate a portfolio; every stage draws from its own stream of ``seed``."""
    calendar = Calendar(end=end, n_months=n_months)
    streams = np.random.default_rng(seed).spawn(8)

    book = build_clients(n_clients, calendar, streams[0])
    histories = simulate_health(book, calendar, streams[1])
    cells = activity.active_cells(histories.first, histories.last, histories.latent)
    usage = activity.usage(book, calendar, cells, streams[2])
    emerging = activity.draw_emerging(
        book, calendar, histories.first, histories.last, streams[3]
    )
    operations, expected_removals = activity.operations(
        book, calendar, cells, emerging, streams[4]
    )
    impact = activity.economic_impact(book, cells, expected_removals, streams[5])
    nps = feedback.nps(book, calendar, histories, streams[6])
    meetings = feedback.qbr_meetings(book, calendar, histories, streams[7])

    month_text = _dates(calendar.month_start(np.arange(n_months)))
    ids = book.ids
    tables = {
        "clients": _clients_table(book, calendar, histories),
        "usage": pd.DataFrame(
            {
                "client_id": _labels(cells.client, ids),
                "month": _labels(cells.month, month_text),
                **usage,
            }
        ),
        "nps": _nps_table(ids, nps),
        "operations": pd.DataFrame(
            {
                "client_id": _labels(operations["client"], ids),
                "month": _labels(operations["month"], month_text),
                "channel": _labels(operations["channel"], CHANNELS),
                "infringement_type": _labels(
                    operations["infringement_type"], INFRINGEMENT_TYPES
                ),
                "detections": operations["detections"],
                "enforcement_requested": operations["enforcement_requested"],
                "removals_confirmed": operations["removals_confirmed"],
                "median_days_to_removal": operations["median_days_to_removal"],
            }
        ),
        "economic_impact": pd.DataFrame(
            {
                "client_id": _labels(cells.client, ids),
                "month": _labels(cells.month, month_text),
                **impact,
            }
        ),
        "qbr_meetings": _meetings_table(ids, meetings),
        "renewals": _renewals_table(book, histories),
    }
    for name, frame in tables.items():
        expected = list(TABLES[name].column_names)
        if list(frame.columns) != expected:
            raise AssertionError(f"{name}: columns {list(frame.columns)} != {expected}")

    latent_health = pd.DataFrame(
        {
            "client_id": _labels(cells.client, ids),
            "month": _labels(cells.month, month_text),
            "latent_health": np.round(cells.health, 2),
        }
    )
    churned = int((~np.isnat(histories.churn_date)).sum())
    return SampleData(
        tables=tables,
        latent_health=latent_health,
        truth=_truth_table(book, histories, emerging, month_text),
        calendar=calendar,
        renewals_decided=len(histories.renewals["client"]),
        churned_clients=churned,
        client_years=len(cells.client) / 12,
    )


def _labels(codes: np.ndarray, labels: np.ndarray | tuple[str, ...]) -> pd.Categorical:
    """Map integer codes to text labels without a string per row in memory.

    CSV output is the same as for plain text columns.
    """
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(labels)))


def _dates(values: np.ndarray) -> np.ndarray:
    """Format dates as ISO text; NaT becomes an empty string."""
    text = np.datetime_as_string(values.astype("M8[D]"), unit="D")
    result: np.ndarray = np.where(np.isnat(values), "", text)
    return result


def _clients_table(
    book: ClientBook, calendar: Calendar, histories: Histories
) -> pd.DataFrame:
    """Build the clients table; ``renewal_date`` is the churn date or the next one."""
    next_renewal = np.full(book.size, np.datetime64("NaT"), dtype="M8[D]")
    years = 1
    while np.isnat(next_renewal).any():
        _, date = book.anniversary(calendar, years)
        pending = np.isnat(next_renewal) & (date > calendar.as_of)
        next_renewal[pending] = date[pending]
        years += 1
    churned = ~np.isnat(histories.churn_date)
    renewal = np.where(churned, histories.churn_date, next_renewal)
    return pd.DataFrame(
        {
            "client_id": book.ids,
            "client_name": book.names,
            "segment": book.segment,
            "tier": book.tier,
            "arr_usd": book.arr_usd,
            "contract_start": _dates(book.contract_start(calendar)),
            "renewal_date": _dates(renewal),
            "licensed_seats": book.seats,
            "csm": book.csm,
        }
    )


def _nps_table(ids: np.ndarray, nps: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "client_id": ids[nps["client"]],
            "response_date": _dates(nps["date"]),
            "respondent_id": nps["respondent_id"],
            "score": nps["score"],
        }
    )
    frame = frame.drop_duplicates(["client_id", "respondent_id", "response_date"])
    return frame.sort_values(
        ["client_id", "response_date", "respondent_id"], kind="stable"
    ).reset_index(drop=True)


def _meetings_table(ids: np.ndarray, meetings: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "client_id": ids[meetings["client"]],
            "meeting_date": _dates(meetings["date"]),
            "sentiment": meetings["sentiment"],
            "objectives_met": meetings["objectives_met"],
            "objectives_total": meetings["objectives_total"],
            "internal_notes": meetings["internal_notes"],
        }
    )
    return frame.sort_values(["client_id", "meeting_date"], kind="stable").reset_index(
        drop=True
    )


def _renewals_table(book: ClientBook, histories: Histories) -> pd.DataFrame:
    client = histories.renewals["client"].astype(np.int64)
    churned = histories.renewals["churned"].astype(bool)
    frame = pd.DataFrame(
        {
            "client_id": book.ids[client],
            "renewal_date": _dates(histories.renewals["date"].astype("M8[D]")),
            "outcome": np.where(churned, "churned", "renewed"),
            "arr_usd": book.arr_usd[client],
        }
    )
    return frame.sort_values(["client_id", "renewal_date"], kind="stable").reset_index(
        drop=True
    )


def _truth_table(
    book: ClientBook,
    histories: Histories,
    emerging: activity.Emerging,
    month_text: np.ndarray,
) -> pd.DataFrame:
    """Per-client facts behind the churn: level, episodes, dips, emerging channel."""
    has_emerging = emerging.channel >= 0
    return pd.DataFrame(
        {
            "client_id": book.ids,
            "level": np.round(histories.level, 2),
            "episodes": [len(dates) for dates in histories.episode_renewals],
            "episode_renewal_dates": [
                ";".join(_dates(np.array(dates, dtype="M8[D]")))
                for dates in histories.episode_renewals
            ],
            "episode_months": [
                ";".join(str(months) for months in client_months)
                for client_months in histories.episode_months
            ],
            "dips": histories.dips,
            "emerging_channel": np.where(
                has_emerging, np.array(CHANNELS)[emerging.channel], ""
            ),
            "emerging_from": np.where(
                has_emerging, month_text[np.maximum(emerging.start, 0)], ""
            ),
            "churned": ~np.isnat(histories.churn_date),
            "churn_date": _dates(histories.churn_date),
        }
    )
