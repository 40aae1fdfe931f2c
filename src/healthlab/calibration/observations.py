"""The modelling table: one row per client and monthly observation date.

A row's components are those of :func:`healthlab.components.compute_components`
for its month, so they use only data dated on or before the end of that month.
Its outcome looks at the renewals decided in the ``horizon`` months after it:
from the first day of the next month up to the end of month ``month + horizon``.

- outcome 1 (churned): the client left at a renewal in that window;
- outcome 0 (renewed): at least one renewal in the window, none of them churn.

Two kinds of row have no outcome and are excluded, and counted:

- ``horizon_past_data_end``: the window ends after the last month of data, so
  the renewal decisions in it are not all known yet;
- ``no_renewal_in_horizon``: no renewal was decided in the window (a contract
  longer than the horizon, or a client whose data stops early).

The window starts after the observation month because the month's components
may include data from after a renewal dated inside that month.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from healthlab.calibration.findings import Finding
from healthlab.dataset import Dataset
from healthlab.errors import CalibrationError, ConfigError
from healthlab.model import COMPONENTS, ScoreModel

logger = logging.getLogger(__name__)

OUTCOME = "outcome"
"""Column of the observation table holding 1 for churn and 0 for renewal."""

EXCLUSION_REASONS: dict[str, str] = {
    "horizon_past_data_end": "the horizon runs past the last month of data",
    "no_renewal_in_horizon": "no renewal was decided within the horizon",
}


@dataclass
class ObservationTable:
    """Observation rows with their outcome, and the rows left out and why.

    ``frame`` has ``client_id``, ``month`` (the observation date, first of
    month), ``segment``, one column per component (0-100 or NaN), ``nps_responses``,
    ``outcome`` (1 churned, 0 renewed) and ``renewal_date`` (the renewal that
    decided the outcome). ``excluded`` counts the grid rows left out by reason,
    see :data:`EXCLUSION_REASONS`.
    """

    frame: pd.DataFrame
    horizon: int
    data_start: pd.Timestamp
    data_end: pd.Timestamp
    grid_rows: int
    excluded: dict[str, int]
    findings: list[Finding] = field(default_factory=list)

    @property
    def observations(self) -> int:
        """Return the number of rows with an outcome."""
        return len(self.frame)

    @property
    def clients(self) -> int:
        """Return the number of clients with at least one row."""
        return int(self.frame["client_id"].nunique())

    @property
    def events(self) -> int:
        """Return the number of rows whose outcome is churn."""
        return int(self.frame[OUTCOME].sum())

    @property
    def churned_clients(self) -> int:
        """Return the number of clients with at least one churn outcome."""
        churned = self.frame.loc[self.frame[OUTCOME] == 1, "client_id"]
        return int(churned.nunique())


def build_observations(
    data: Dataset,
    model: ScoreModel,
    horizon: int = 12,
    components: pd.DataFrame | None = None,
) -> ObservationTable:
    """Build the modelling table of a dataset for one horizon.

    Parameters
    ----------
    data
        The loaded dataset; its ``renewals`` table supplies the outcomes.
    model
        The score model whose ``parameters`` define the components.
    horizon
        Months after the observation month in which a renewal decides the
        outcome.
    components
        The output of :func:`healthlab.components.compute_components` for
        ``data`` and ``model``, when the caller has it already.

    Returns
    -------
    ObservationTable

    Raises
    ------
    ConfigError
        If ``horizon`` is not a whole number of months from 1 to 60.
    CalibrationError
        If no row has an outcome.
    """
    from healthlab.components import compute_components, month_numbers

    if not isinstance(horizon, int | np.integer) or not 1 <= horizon <= 60:
        raise ConfigError(f"The horizon must be 1 to 60 months; got {horizon!r}.")
    if components is None:
        components = compute_components(data, model)
    grid = components.reset_index(drop=True)
    if grid.empty:
        raise CalibrationError(f"Dataset {data.source} has no client months to use.")
    month = month_numbers(grid["month"])
    last_month = int(month.max())

    renewals = data.renewals
    decided = pd.DataFrame(
        {
            "client_id": renewals["client_id"].astype(str).to_numpy(),
            "renewal_month": month_numbers(renewals["renewal_date"]),
            "renewal_date": pd.to_datetime(renewals["renewal_date"]).to_numpy(),
            "churned": (renewals["outcome"] == "churned").to_numpy(dtype=np.int64),
        }
    )
    pairs = (
        pd.DataFrame(
            {
                "row": np.arange(len(grid)),
                "client_id": grid["client_id"].astype(str).to_numpy(),
                "month": month,
            }
        )
        .merge(decided, on="client_id")
        .query("renewal_month > month and renewal_month <= month + @horizon")
    )
    # Churn anywhere in the window decides it; otherwise the first renewal does.
    pairs = pairs.sort_values(
        ["row", "churned", "renewal_date"], ascending=[True, False, True]
    )
    deciding = pairs.drop_duplicates("row").set_index("row")

    past_end = month + horizon > last_month
    has_renewal = np.zeros(len(grid), dtype=bool)
    has_renewal[deciding.index.to_numpy()] = True
    keep = ~past_end & has_renewal
    excluded = {
        "horizon_past_data_end": int(past_end.sum()),
        "no_renewal_in_horizon": int((~past_end & ~has_renewal).sum()),
    }

    segments = data.clients.assign(client_id=data.clients["client_id"].astype(str))
    segment_of = segments.set_index("client_id")["segment"]
    columns = ["client_id", "month", *COMPONENTS]
    if "nps_responses" in grid:
        columns.append("nps_responses")
    rows = np.flatnonzero(keep)
    frame = grid.loc[rows, columns].reset_index(drop=True)
    frame["client_id"] = frame["client_id"].astype(str)
    frame.insert(2, "segment", frame["client_id"].map(segment_of).astype(str))
    frame[OUTCOME] = deciding.loc[rows, "churned"].to_numpy(dtype=np.int64)
    frame["renewal_date"] = deciding.loc[rows, "renewal_date"].to_numpy()

    if frame.empty:
        raise CalibrationError(
            f"Dataset {data.source} has no observation with a known outcome for a "
            f"{horizon}-month horizon: {excluded['horizon_past_data_end']} rows "
            "have a horizon past the last month of data and "
            f"{excluded['no_renewal_in_horizon']} have no renewal in it. Use a "
            "shorter horizon or a longer history."
        )
    table = ObservationTable(
        frame=frame,
        horizon=horizon,
        data_start=pd.Timestamp(grid["month"].min()),
        data_end=pd.Timestamp(grid["month"].max()),
        grid_rows=len(grid),
        excluded=excluded,
    )
    table.findings.append(
        Finding(
            "excluded",
            f"{table.observations} of {len(grid)} client months have a known "
            f"outcome within {horizon} months. Left out: "
            + "; ".join(
                f"{count} because {EXCLUSION_REASONS[reason]}"
                for reason, count in excluded.items()
            )
            + ".",
        )
    )
    logger.info(
        "Observation table: %d rows, %d clients, %d churn rows; excluded %s",
        table.observations,
        table.clients,
        table.events,
        excluded,
    )
    return table
