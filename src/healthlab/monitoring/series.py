"""Per-client monthly series that the early-warning rules read.

The control charts and the utilisation rule read raw monthly measurements rather
than the scoring components, because the components are already smoothed over
windows of several months and a control chart assumes roughly independent
observations. The score rules read the score from :mod:`healthlab.scoring`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from healthlab.dataset import Dataset


@dataclass(frozen=True)
class ClientSeries:
    """The monthly inputs of every rule for one client.

    ``months`` are the months in which the client has a score. Every series is
    restricted to them, so no rule fires before the client's data starts or
    after it stops (at churn).
    """

    client_id: str
    months: pd.DatetimeIndex
    score: pd.Series
    utilisation: pd.Series
    """Active users per licensed seat."""
    enforcement_success: pd.Series
    """Removals confirmed per enforcement action requested; NaN without requests."""
    nps_mean: pd.Series
    """Mean NPS response (0-10) of the month; NaN without responses."""
    responses: pd.DataFrame
    """NPS responses: ``response_date`` and ``score``."""
    meeting_dates: pd.Series
    detections: pd.DataFrame
    """Detections per month, one column per channel and infringement type."""


def iter_client_series(data: Dataset, scores: pd.DataFrame) -> Iterator[ClientSeries]:
    """Yield the series of every client with at least one score, by client id.

    Parameters
    ----------
    data
        The dataset, already cut at the evaluation month if needed.
    scores
        Output of :func:`healthlab.scoring.score_dataset` (``client_id``,
        ``month``, ``score``), cut at the same month.
    """
    seats = data.clients.set_index("client_id")["licensed_seats"].astype(float)
    usage = data.usage.assign(
        utilisation=data.usage["active_users"]
        / data.usage["client_id"].map(seats).to_numpy()
    )
    operations = _operations_by_month(data.operations)
    operations["success"] = operations["removals_confirmed"] / operations[
        "enforcement_requested"
    ].replace(0, np.nan)
    nps = data.nps.assign(month=_month_of(data.nps["response_date"]))
    detections = _detections_by_subject(data.operations)
    subjects = detections.columns.drop(["client_id", "month"])

    valid = scores.dropna(subset=["score"]).sort_values(["client_id", "month"])
    valid = valid.assign(client_id=valid["client_id"].astype(str))
    grid = _MonthGrid(valid)
    utilisation = grid.values(usage, ["utilisation"], np.nan)[:, :, 0]
    success = grid.values(operations, ["success"], np.nan)[:, :, 0]
    monthly_nps = nps.groupby(["client_id", "month"])["score"].mean().reset_index()
    nps_mean = grid.values(monthly_nps, ["score"], np.nan)[:, :, 0]
    counts = grid.values(detections, list(subjects), 0.0)

    nps_by_client = _by_client(nps)
    meetings_by_client = _by_client(data.qbr_meetings)
    no_meetings = data.qbr_meetings.iloc[0:0]
    for client_id, frame in _by_client(valid).items():
        months = pd.DatetimeIndex(frame["month"])
        row, columns = grid.locate(client_id, months)
        responses = nps_by_client.get(client_id, nps.iloc[0:0])
        responses = responses[responses["month"] <= months.max()]
        yield ClientSeries(
            client_id=client_id,
            months=months,
            score=pd.Series(frame["score"].to_numpy(float), index=months),
            utilisation=pd.Series(utilisation[row, columns], index=months),
            enforcement_success=pd.Series(success[row, columns], index=months),
            nps_mean=pd.Series(nps_mean[row, columns], index=months),
            responses=responses[["response_date", "score"]],
            meeting_dates=meetings_by_client.get(client_id, no_meetings)[
                "meeting_date"
            ],
            detections=pd.DataFrame(
                counts[row, columns], index=months, columns=subjects
            ),
        )


class _MonthGrid:
    """Dense client-by-month arrays on the clients and months of ``scores``."""

    def __init__(self, scores: pd.DataFrame) -> None:
        self.clients = pd.Index(sorted(scores["client_id"].unique()))
        self.months = pd.DatetimeIndex(sorted(scores["month"].unique()))

    def values(
        self, frame: pd.DataFrame, columns: list[str], fill: float
    ) -> np.ndarray:
        """Return ``frame[columns]`` as an array (clients, months, columns)."""
        full = pd.MultiIndex.from_product(
            [self.clients, self.months], names=["client_id", "month"]
        )
        if frame.empty or not columns:
            shape = (len(self.clients), len(self.months), len(columns))
            return np.full(shape, fill, dtype=float)
        keyed = frame.assign(client_id=frame["client_id"].astype(str))
        table = keyed.set_index(["client_id", "month"])[columns].astype(float)
        dense = table.reindex(full, fill_value=fill).to_numpy()
        return dense.reshape(len(self.clients), len(self.months), len(columns))

    def locate(
        self, client_id: str, months: pd.DatetimeIndex
    ) -> tuple[int, np.ndarray]:
        """Return the row of ``client_id`` and the columns of ``months``."""
        row = int(self.clients.get_loc(client_id))
        return row, self.months.get_indexer(months)


def _by_client(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {str(key): group for key, group in frame.groupby("client_id", sort=True)}


def _month_of(dates: pd.Series) -> pd.Series:
    return pd.to_datetime(dates).dt.to_period("M").dt.start_time


def _operations_by_month(operations: pd.DataFrame) -> pd.DataFrame:
    totals = operations.groupby(["client_id", "month"], sort=True)[
        ["enforcement_requested", "removals_confirmed"]
    ].sum()
    return totals.reset_index()


def _detections_by_subject(operations: pd.DataFrame) -> pd.DataFrame:
    """Return detections per client and month, one column per subject."""
    if operations.empty:
        return pd.DataFrame(columns=["client_id", "month"])
    parts = []
    for column, label in (
        ("channel", "channel"),
        ("infringement_type", "infringement type"),
    ):
        wide = operations.pivot_table(
            index=["client_id", "month"],
            columns=column,
            values="detections",
            aggfunc="sum",
            fill_value=0,
        )
        wide.columns = [f"{label}: {name}" for name in wide.columns]
        parts.append(wide)
    return pd.concat(parts, axis=1).fillna(0).reset_index()
