"""The five component scores of client health, per client and month.

Each component is a 0-100 measure computed over a trailing window of months
that ends with the row's month (both ends included), conservatively and from
data dated on or before the end of that month only:

utilisation
    Mean over the window of ``active_users / licensed_seats`` (months with a
    usage row), scored ``min(ratio / utilisation_target, 1) * 100``. With the
    default target of 1.0 the score is the percentage of licensed seats in use.
enforcement
    Lower end of the Wilson interval of ``removals_confirmed /
    enforcement_requested``, both summed over the window, all channels and
    infringement types, times 100. NaN without requests in the window.
nps
    NPS of the responses in the window, shrunk toward the portfolio NPS of the
    same window by ``nps_prior_responses`` pseudo-responses, then mapped from
    [-100, 100] to [0, 100]. NaN without a response in the window, so the
    composite renormalises its weights and reports lower confidence rather
    than scoring a silent client at the portfolio average.
impact
    Economic impact (see :func:`monthly_impact`), annualised as 12 times its
    mean over the window's months that have impact inputs, divided by ARR and
    scored ``min(log(1 + multiple) / log(1 + impact_target_multiple), 1) * 100``
    (see :func:`impact_score`). NaN without impact inputs in the window or with
    an ARR of 0.
engagement
    ``100 * (w * objectives + (1 - w) * sentiment)`` over the QBR meetings in
    the window, with ``w = engagement_objectives_weight``, ``objectives`` the
    Wilson lower bound of objectives met over objectives agreed, and
    ``sentiment`` the mean of negative 0, neutral 0.5, positive 1. Without
    agreed objectives the sentiment alone counts. A window without a meeting
    scores 0 (a missed QBR is a warning sign) when the whole window lies inside
    the contract and inside the meeting records, which begin at the month of
    the first meeting in the dataset; otherwise it is NaN.

The month grid has one row per client and month, from the later of the
contract start month and the client's first month with data in any dated table,
to the last month with usage or operations data in the whole dataset. A churned
client stops at the month of the day before the renewal it left at, its last
day under contract. A client whose data stops early keeps its rows, scored by
each component's rule for an empty window. Data dated before a client's first
grid month (such as usage during a pilot before the contract) is ignored.

Computation is vectorised over the whole grid: data rows are placed on the
grid with integer arithmetic and trailing windows are sums of shifted arrays,
so the cost grows with rows times window length and not with the number of
clients.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from healthlab.dataset import Dataset
from healthlab.model import COMPONENTS, ScoreModel, ScoringParameters
from healthlab.stats import net_promoter_score, shrink_toward, wilson_lower_bound

logger = logging.getLogger(__name__)

SENTIMENT_VALUES: dict[str, float] = {"negative": 0.0, "neutral": 0.5, "positive": 1.0}
"""Numeric value of each QBR meeting sentiment in the engagement component."""

EVIDENCE_COLUMNS: tuple[str, ...] = (
    "seats",
    "usage_months",
    "active_users",
    "utilisation_ratio",
    "detections",
    "enforcement_requested",
    "removals_confirmed",
    "success_rate",
    "success_lower",
    "nps_responses",
    "nps_promoters",
    "nps_detractors",
    "nps_raw",
    "nps_portfolio",
    "nps_shrunk",
    "arr_usd",
    "impact_months",
    "impact_usd",
    "impact_multiple",
    "meetings",
    "objectives_met",
    "objectives_total",
    "objectives_lower",
    "sentiment_mean",
)
"""Columns after the components in :func:`compute_components`, in order."""

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def month_numbers(values: pd.Series) -> IntArray:
    """Convert dates to months counted from January 1970 (NaT to a large negative).

    Any day of a month maps to that month, so a response dated 2026-03-17 and
    the usage row for ``2026-03-01`` share a month number.
    """
    stamps = pd.to_datetime(values).to_numpy()
    return stamps.astype("datetime64[M]").astype(np.int64)


def month_stamps(numbers: ArrayLike) -> NDArray[np.datetime64]:
    """Convert months counted from January 1970 to first-of-month datetime64[ns]."""
    months = np.asarray(numbers, dtype=np.int64).astype("datetime64[M]")
    return months.astype("datetime64[ns]")


@dataclass(frozen=True)
class _MonthGrid:
    """One row per client and month, with every client's months contiguous.

    ``client_ids`` lists every client of the clients table and ``start`` /
    ``length`` / ``offset`` are per client (``length`` 0 for a client without
    rows). ``client``, ``month`` and ``position`` are per grid row: the client's
    index, the month number (see :func:`month_numbers`) and the number of
    months since the client's first row.
    """

    client_ids: NDArray[np.object_]
    start: IntArray
    length: IntArray
    offset: IntArray
    client: IntArray
    month: IntArray
    position: IntArray

    @property
    def size(self) -> int:
        """Number of grid rows."""
        return len(self.month)

    def locate(self, client: IntArray, month: IntArray) -> IntArray:
        """Return the grid row of each (client index, month); -1 when off the grid."""
        known = client >= 0
        safe = np.where(known, client, 0)
        step = month - self.start[safe]
        inside = known & (step >= 0) & (step < self.length[safe])
        return np.where(inside, self.offset[safe] + step, -1)

    def total(self, rows: IntArray, weights: ArrayLike | None = None) -> FloatArray:
        """Sum ``weights`` (or count rows) per grid row, skipping rows of -1."""
        on_grid = rows >= 0
        values = None if weights is None else np.asarray(weights)[on_grid]
        counts = np.bincount(rows[on_grid], weights=values, minlength=self.size)
        return counts.astype(np.float64)

    def trailing(self, values: FloatArray, window: int) -> FloatArray:
        """Sum ``values`` over each row's trailing ``window`` months of its client."""
        result = values.astype(np.float64, copy=True)
        for lag in range(1, min(window, self.size)):
            same_client = self.position[lag:] >= lag
            result[lag:] += np.where(same_client, values[:-lag], 0.0)
        return result

    def per_row(self, per_client: ArrayLike) -> NDArray[np.generic]:
        """Repeat a per-client array onto the grid rows."""
        return np.asarray(per_client)[self.client]


def _client_index(clients: pd.Index, ids: pd.Series) -> IntArray:
    """Return each id's position in ``clients``, -1 for an unknown id."""
    positions = clients.get_indexer(pd.Index(ids.astype(str)))
    return positions.astype(np.int64)


class _Located:
    """A dated table with each row's client index, month number and grid row."""

    def __init__(
        self, frame: pd.DataFrame, date_column: str, clients: pd.Index
    ) -> None:
        self.frame = frame
        self.client = _client_index(clients, frame["client_id"])
        self.month = month_numbers(frame[date_column])
        self.rows: IntArray = np.full(len(frame), -1, dtype=np.int64)

    def place(self, grid: _MonthGrid) -> None:
        self.rows = grid.locate(self.client, self.month)

    def column(self, name: str) -> FloatArray:
        return self.frame[name].to_numpy(dtype=np.float64)


def _located_tables(data: Dataset, clients: pd.Index) -> dict[str, _Located]:
    return {
        "usage": _Located(data.usage, "month", clients),
        "operations": _Located(data.operations, "month", clients),
        "economic_impact": _Located(data.economic_impact, "month", clients),
        "nps": _Located(data.nps, "response_date", clients),
        "qbr_meetings": _Located(data.qbr_meetings, "meeting_date", clients),
    }


def _build_grid(
    data: Dataset, clients: pd.Index, tables: dict[str, _Located]
) -> _MonthGrid:
    count = len(clients)
    never = np.iinfo(np.int64).max // 4
    first = np.full(count, never, dtype=np.int64)
    for table in tables.values():
        known = (table.client >= 0) & (table.month > -never)
        np.minimum.at(first, table.client[known], table.month[known])
    start = np.maximum(first, month_numbers(data.clients["contract_start"]))

    # Every client runs to the last month with usage or operations data in the
    # dataset, except that a churned client stops at the renewal it left at.
    activity = [tables[name] for name in ("usage", "operations")]
    dated = np.concatenate([table.month[table.client >= 0] for table in activity])
    dated = dated[dated > -never]
    end = np.full(count, dated.max() if len(dated) else -never, dtype=np.int64)
    renewals = data.renewals
    churned = renewals[renewals["outcome"].astype(str) == "churned"]
    churn_client = _client_index(clients, churned["client_id"])
    # The contract runs until the renewal date, so a renewal on the first of a
    # month ends the client's rows in the month before.
    last_day = churned["renewal_date"] - pd.Timedelta(days=1)
    churn_month = month_numbers(last_day)
    known = churn_client >= 0
    np.minimum.at(end, churn_client[known], churn_month[known])

    length = np.clip(end - start + 1, 0, None)
    length[first == never] = 0
    offset = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
    client = np.repeat(np.arange(count, dtype=np.int64), length)
    position = np.arange(len(client), dtype=np.int64) - offset[client]
    return _MonthGrid(
        client_ids=clients.to_numpy(dtype=object),
        start=start,
        length=length,
        offset=offset,
        client=client,
        month=start[client] + position,
        position=position,
    )


def impact_usd(
    removals: ArrayLike,
    avg_listing_price_usd: ArrayLike,
    est_units_per_listing: ArrayLike,
    displacement_rate: float,
) -> FloatArray:
    """Estimate the revenue protected by removals, in USD.

    ``removals * avg_listing_price_usd * est_units_per_listing *
    displacement_rate``: each removed listing would have sold
    ``est_units_per_listing`` units at the listing price, and only the share
    ``displacement_rate`` of those sales would otherwise have been genuine
    sales. The rate is deliberately low, so the estimate is conservative.
    """
    return (
        np.asarray(removals, dtype=np.float64)
        * np.asarray(avg_listing_price_usd, dtype=np.float64)
        * np.asarray(est_units_per_listing, dtype=np.float64)
        * displacement_rate
    )


def monthly_impact(data: Dataset, parameters: ScoringParameters) -> pd.DataFrame:
    """Compute the economic impact per client and month, with its inputs.

    Returns one row per row of the ``economic_impact`` table, sorted by client
    and month. Each row has the month's confirmed removals summed over channels
    and infringement types (0 when the month has no operations row), the two
    price inputs, the displacement rate and ``impact_usd`` from
    :func:`impact_usd`. The impact component annualises these values over its
    window, and reports show the rows to explain the figure.
    """
    removals = data.operations.groupby(["client_id", "month"], as_index=False)[
        "removals_confirmed"
    ].sum()
    table = data.economic_impact[
        ["client_id", "month", "avg_listing_price_usd", "est_units_per_listing"]
    ].merge(removals, on=["client_id", "month"], how="left")
    table["removals_confirmed"] = table["removals_confirmed"].fillna(0).astype(np.int64)
    table["displacement_rate"] = parameters.displacement_rate
    table["impact_usd"] = impact_usd(
        table["removals_confirmed"],
        table["avg_listing_price_usd"],
        table["est_units_per_listing"],
        parameters.displacement_rate,
    )
    columns = [
        "client_id",
        "month",
        "removals_confirmed",
        "avg_listing_price_usd",
        "est_units_per_listing",
        "displacement_rate",
        "impact_usd",
    ]
    return table[columns].sort_values(["client_id", "month"], ignore_index=True)


def _divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _scale_to_target(value: FloatArray, target: float) -> FloatArray:
    return np.minimum(value / target, 1.0) * 100.0


def impact_score(multiple: ArrayLike, target_multiple: float) -> FloatArray:
    """Score impact per dollar of ARR from 0 to 100 on a logarithmic scale.

    ``min(log(1 + multiple) / log(1 + target_multiple), 1) * 100``: 0 for no
    impact, 100 from ``target_multiple`` on. Impact multiples spread over an
    order of magnitude and each extra dollar counts for less than the one
    before, so the score rises with the logarithm rather than linearly: with
    a target of 10, a multiple of 1 scores 29, 3 scores 58 and 6 scores 81.
    """
    ratio = np.log1p(np.asarray(multiple, dtype=np.float64)) / np.log1p(target_multiple)
    return np.minimum(ratio, 1.0) * 100.0


def _utilisation(
    grid: _MonthGrid,
    usage: _Located,
    seats_per_client: FloatArray,
    parameters: ScoringParameters,
) -> dict[str, FloatArray]:
    window = parameters.utilisation_window_months
    seats = seats_per_client[usage.client.clip(0)]
    users = usage.column("active_users")
    months = grid.trailing(grid.total(usage.rows), window)
    user_sum = grid.trailing(grid.total(usage.rows, users), window)
    ratio_sum = grid.trailing(grid.total(usage.rows, _divide(users, seats)), window)
    ratio = _divide(ratio_sum, months)
    return {
        "utilisation": _scale_to_target(ratio, parameters.utilisation_target),
        "seats": grid.per_row(seats_per_client).astype(np.float64),
        "usage_months": months,
        "active_users": _divide(user_sum, months),
        "utilisation_ratio": ratio,
    }


def _enforcement(
    grid: _MonthGrid, operations: _Located, parameters: ScoringParameters
) -> dict[str, FloatArray]:
    window = parameters.enforcement_window_months
    sums = {
        name: grid.trailing(
            grid.total(operations.rows, operations.column(name)), window
        )
        for name in ("detections", "enforcement_requested", "removals_confirmed")
    }
    requested = sums["enforcement_requested"]
    confirmed = sums["removals_confirmed"]
    lower = wilson_lower_bound(confirmed, requested, parameters.confidence_level)
    return {
        "enforcement": lower * 100.0,
        **sums,
        "success_rate": _divide(confirmed, requested),
        "success_lower": lower,
    }


def _portfolio_nps(
    grid: _MonthGrid,
    nps: _Located,
    promoter: FloatArray,
    detractor: FloatArray,
    window: int,
) -> FloatArray:
    """Compute the portfolio NPS over each grid row's trailing window.

    The portfolio pools every known client's responses, including ones dated
    off the grid, per calendar month.
    """
    known = nps.client >= 0
    if not known.any() or not grid.size:
        return np.full(grid.size, np.nan)

    first = int(nps.month[known].min())
    size = int(max(nps.month[known].max(), grid.month.max())) - first + 1
    slot = nps.month[known] - first
    cumulative = {
        name: np.bincount(slot, weights=weights, minlength=size).cumsum()
        for name, weights in (
            ("responses", None),
            ("promoters", promoter[known]),
            ("detractors", detractor[known]),
        )
    }

    inside = grid.month >= first
    upper = np.where(inside, grid.month - first, 0)
    lower = upper - window
    sums = {
        name: np.where(
            inside,
            values[upper] - np.where(lower >= 0, values[lower.clip(0)], 0.0),
            0.0,
        )
        for name, values in cumulative.items()
    }
    return net_promoter_score(sums["promoters"], sums["detractors"], sums["responses"])


def _nps(
    grid: _MonthGrid, nps: _Located, parameters: ScoringParameters
) -> dict[str, FloatArray]:
    window = parameters.nps_window_months
    scores = nps.column("score")
    promoter = (scores >= 9).astype(np.float64)
    detractor = (scores <= 6).astype(np.float64)

    responses = grid.trailing(grid.total(nps.rows), window)
    promoters = grid.trailing(grid.total(nps.rows, promoter), window)
    detractors = grid.trailing(grid.total(nps.rows, detractor), window)
    raw = net_promoter_score(promoters, detractors, responses)

    portfolio = _portfolio_nps(grid, nps, promoter, detractor, window)
    shrunk = np.full(grid.size, np.nan)
    has_responses = responses > 0
    shrunk[has_responses] = shrink_toward(
        raw[has_responses],
        responses[has_responses],
        portfolio[has_responses],
        parameters.nps_prior_responses,
    )
    return {
        "nps": (shrunk + 100.0) / 2.0,
        "nps_responses": responses,
        "nps_promoters": promoters,
        "nps_detractors": detractors,
        "nps_raw": raw,
        "nps_portfolio": portfolio,
        "nps_shrunk": shrunk,
    }


def _impact(
    grid: _MonthGrid,
    operations: _Located,
    inputs: _Located,
    arr_per_client: FloatArray,
    parameters: ScoringParameters,
) -> dict[str, FloatArray]:
    window = parameters.impact_window_months
    removals = grid.total(operations.rows, operations.column("removals_confirmed"))
    has_inputs = grid.total(inputs.rows) > 0
    price = np.zeros(grid.size)
    units = np.zeros(grid.size)
    on_grid = inputs.rows >= 0
    price[inputs.rows[on_grid]] = inputs.column("avg_listing_price_usd")[on_grid]
    units[inputs.rows[on_grid]] = inputs.column("est_units_per_listing")[on_grid]
    monthly = np.where(
        has_inputs,
        impact_usd(removals, price, units, parameters.displacement_rate),
        0.0,
    )

    months = grid.trailing(has_inputs.astype(np.float64), window)
    annual = 12.0 * _divide(grid.trailing(monthly, window), months)
    arr = grid.per_row(arr_per_client).astype(np.float64)
    multiple = _divide(annual, arr)
    return {
        "impact": impact_score(multiple, parameters.impact_target_multiple),
        "arr_usd": arr,
        "impact_months": months,
        "impact_usd": annual,
        "impact_multiple": multiple,
    }


def _engagement(
    grid: _MonthGrid,
    meetings: _Located,
    contract_start: IntArray,
    parameters: ScoringParameters,
) -> dict[str, FloatArray]:
    window = parameters.engagement_window_months
    sentiment = (
        meetings.frame["sentiment"].astype(str).map(SENTIMENT_VALUES).to_numpy(float)
    )
    count = grid.trailing(grid.total(meetings.rows), window)
    met = grid.trailing(
        grid.total(meetings.rows, meetings.column("objectives_met")), window
    )
    total = grid.trailing(
        grid.total(meetings.rows, meetings.column("objectives_total")), window
    )
    mood = _divide(grid.trailing(grid.total(meetings.rows, sentiment), window), count)
    objectives = wilson_lower_bound(met, total, parameters.confidence_level)

    share = parameters.engagement_objectives_weight
    blended = np.where(total > 0, share * objectives + (1 - share) * mood, mood)

    # No meeting in the window is a missed QBR only when the window lies inside
    # both the contract and the meeting records.
    known = meetings.client >= 0
    records_start = meetings.month[known].min() if known.any() else np.inf
    window_start = grid.month - (window - 1)
    missed = (
        (count == 0)
        & (window_start >= contract_start[grid.client])
        & (window_start >= records_start)
    )
    engagement = np.where(missed, 0.0, blended * 100.0)
    return {
        "engagement": engagement,
        "meetings": count,
        "objectives_met": met,
        "objectives_total": total,
        "objectives_lower": objectives,
        "sentiment_mean": mood,
    }


def compute_components(data: Dataset, model: ScoreModel) -> pd.DataFrame:
    """Compute the five component scores for every client and month.

    Parameters
    ----------
    data
        A loaded dataset; see :mod:`healthlab.dataset` for its dtypes.
    model
        The score model; only ``model.parameters`` is used here.

    Returns
    -------
    pandas.DataFrame
        One row per client and month of the grid described in the module
        docstring, sorted by client (in clients-table order) and month. The
        columns are ``client_id``, ``month`` (first of month, datetime64[ns]),
        the components in :data:`healthlab.model.COMPONENTS` (0-100, NaN
        without data) and the evidence columns in :data:`EVIDENCE_COLUMNS`.
        Window sums such as ``enforcement_requested``, ``nps_responses`` and
        ``meetings`` cover each component's own window, and ``impact_usd`` is
        annualised. Every value in a row uses only data dated on or before the
        end of its month.
    """
    parameters = model.parameters
    clients = pd.Index(data.clients["client_id"].astype(str))
    tables = _located_tables(data, clients)
    grid = _build_grid(data, clients, tables)
    for table in tables.values():
        table.place(grid)

    seats = data.clients["licensed_seats"].to_numpy(dtype=np.float64)
    arr = data.clients["arr_usd"].to_numpy(dtype=np.float64)
    contract_start = month_numbers(data.clients["contract_start"])
    columns: dict[str, FloatArray] = {}
    columns.update(_utilisation(grid, tables["usage"], seats, parameters))
    columns.update(_enforcement(grid, tables["operations"], parameters))
    columns.update(_nps(grid, tables["nps"], parameters))
    columns.update(
        _impact(grid, tables["operations"], tables["economic_impact"], arr, parameters)
    )
    columns.update(
        _engagement(grid, tables["qbr_meetings"], contract_start, parameters)
    )

    frame = pd.DataFrame(
        {
            "client_id": pd.array(grid.per_row(grid.client_ids), dtype="str"),
            "month": month_stamps(grid.month),
        }
    )
    for name in (*COMPONENTS, *EVIDENCE_COLUMNS):
        frame[name] = columns[name]
    logger.info(
        "Computed components for %d client months of %d clients",
        len(frame),
        int((grid.length > 0).sum()),
    )
    return frame
