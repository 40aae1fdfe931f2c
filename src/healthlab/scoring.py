"""The composite health score, its band and confidence, and its monthly change.

The composite is a weighted mean of the components that have data. With the
client's segment weights ``w_i`` (see :meth:`ScoreModel.weights_for`) and
``a_i`` equal to 1 when component ``i`` has a value in the row and 0 when it is
NaN, the effective weights are ``e_i = w_i * a_i / sum_j(w_j * a_j)`` and

    score = sum_i(e_i * c_i)

Missing components therefore drop out and the other weights are renormalised
to sum to 1. ``confidence = sum_j(w_j * a_j) / sum_j(w_j)`` is the share of
the model's weight that had data. A row without any positively weighted
component has score NaN, band NaN and confidence 0.

The change since the client's previous month decomposes exactly into one
contribution per component::

    contrib_i = e_i,t * c_i,t - e_i,t-1 * c_i,t-1      (c_i taken as 0 where a_i = 0)
    score_change = score_t - score_t-1 = sum_i(contrib_i)

A component whose value moves contributes its weighted move. When a component
appears or disappears, every effective weight changes, so the other
components' contributions include the renormalisation: if NPS (weight 0.2 of
1) goes missing, the remaining ``e_i`` grow by the factor 1 / 0.8, each
remaining component contributes ``0.25 * e_i,t-1 * c_i`` more, and NPS
contributes ``-e_nps,t-1 * c_nps,t-1``. The first month of a client, and a month
following a month without a score, has NaN change and contributions.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from healthlab._io import check_not_input, check_table_suffix, write_table
from healthlab.components import compute_components, month_numbers
from healthlab.dataset import Dataset, load_dataset
from healthlab.mapping import ColumnMapping
from healthlab.model import COMPONENTS, ScoreModel, load_model

logger = logging.getLogger(__name__)

CONTRIBUTION_COLUMNS: tuple[str, ...] = tuple(f"contrib_{name}" for name in COMPONENTS)
"""Columns holding each component's share of ``score_change``."""

SCORE_COLUMNS: tuple[str, ...] = (
    "score",
    "band",
    "confidence",
    "low_confidence",
    "score_change",
    *CONTRIBUTION_COLUMNS,
)
"""Columns :func:`composite_scores` adds after ``month``, in this order."""


def _weight_matrix(
    model: ScoreModel, client_ids: pd.Series, segments: pd.Series
) -> np.ndarray:
    """Return one row of model weights per score row, by the client's segment."""
    row_segments = client_ids.map(segments.rename(index=str))
    codes, uniques = pd.factorize(row_segments, use_na_sentinel=True)
    table = np.array(
        [
            [model.weights_for(str(segment))[name] for name in COMPONENTS]
            for segment in uniques
        ]
        + [[model.weights_for(None)[name] for name in COMPONENTS]],
        dtype=np.float64,
    ).reshape(len(uniques) + 1, len(COMPONENTS))
    # A client without a known segment gets code -1, which picks the last row
    # of the table, the model's base weights.
    return table[codes]


def _bands(model: ScoreModel, score: np.ndarray) -> pd.Series:
    """Return the band name of each score, NaN for NaN.

    A score equal to a band's ``min_score`` belongs to that band.
    """
    minimums = np.array([band.min_score for band in model.bands])
    names = np.array([band.name for band in model.bands], dtype=object)
    index = np.searchsorted(minimums, np.nan_to_num(score), side="right") - 1
    return pd.Series(np.where(np.isnan(score), None, names[index.clip(0)]), dtype="str")


def composite_scores(
    components: pd.DataFrame, model: ScoreModel, segments: pd.Series
) -> pd.DataFrame:
    """Combine component scores into the composite score and explain its change.

    See the module docstring for the formulas.

    Parameters
    ----------
    components
        One row per client and month with ``client_id``, ``month`` and the
        columns in :data:`healthlab.model.COMPONENTS` (0-100 or NaN), as
        returned by :func:`healthlab.components.compute_components`. An
        ``nps_responses`` column, when present, feeds the low-confidence flag.
    model
        The score model: weights, bands and ``parameters.low_confidence_below``
        and ``parameters.nps_min_responses``.
    segments
        Segment of each client, indexed by client id. A client missing here
        is scored with the model's base ``weights``.

    Returns
    -------
    pandas.DataFrame
        ``components`` sorted by client id and month, with the columns in
        :data:`SCORE_COLUMNS` inserted after ``month``. ``low_confidence`` is
        True when ``confidence`` is below ``low_confidence_below``, when the
        NPS component has weight but fewer than ``nps_min_responses`` responses
        in its window, or when there is no score.

    Raises
    ------
    ValueError
        If ``components`` lacks ``client_id``, ``month`` or a component column.
    """
    missing = [
        name for name in ("client_id", "month", *COMPONENTS) if name not in components
    ]
    if missing:
        raise ValueError(
            "`components` is missing the columns "
            f"{', '.join(missing)}; build it with compute_components()."
        )

    frame = components.sort_values(["client_id", "month"], ignore_index=True)
    client_ids = frame["client_id"].astype(str)
    weights = _weight_matrix(model, client_ids, segments)
    values = frame[list(COMPONENTS)].to_numpy(dtype=np.float64)
    available = ~np.isnan(values)

    available_weight = (weights * available).sum(axis=1)
    has_score = available_weight > 0
    divisor = np.where(has_score, available_weight, 1.0)[:, None]
    effective = weights * available / divisor
    weighted = effective * np.where(available, values, 0.0)
    score = np.where(has_score, np.clip(weighted.sum(axis=1), 0.0, 100.0), np.nan)
    confidence = available_weight / weights.sum(axis=1)

    low_confidence = ~has_score | (confidence < model.parameters.low_confidence_below)
    if "nps_responses" in frame:
        nps_weight = weights[:, COMPONENTS.index("nps")]
        responses = frame["nps_responses"].to_numpy(dtype=np.float64)
        few = np.nan_to_num(responses) < model.parameters.nps_min_responses
        low_confidence |= (nps_weight > 0) & few

    # The previous row is the same client's previous month, when it has a score.
    month = month_numbers(frame["month"])
    follows = np.zeros(len(frame), dtype=bool)
    follows[1:] = (client_ids.to_numpy()[1:] == client_ids.to_numpy()[:-1]) & (
        month[1:] == month[:-1] + 1
    )
    follows[1:] &= has_score[1:] & has_score[:-1]
    previous = np.roll(weighted, 1, axis=0)
    contributions = np.where(follows[:, None], weighted - previous, np.nan)
    change = np.where(follows, score - np.roll(score, 1), np.nan)

    scores = {
        "score": score,
        "band": _bands(model, score),
        "confidence": confidence,
        "low_confidence": low_confidence,
        "score_change": change,
        **{
            column: contributions[:, index]
            for index, column in enumerate(CONTRIBUTION_COLUMNS)
        },
    }
    keys = ["client_id", "month"]
    rest = frame.drop(columns=[*keys, *(name for name in scores if name in frame)])
    added = pd.DataFrame(scores, index=frame.index)
    frame = pd.concat([frame[keys], added, rest], axis=1)
    return frame


def score_dataset(data: Dataset, model: ScoreModel) -> pd.DataFrame:
    """Score every client for every month of its history.

    Runs :func:`healthlab.components.compute_components` and then
    :func:`composite_scores` with each client's segment.

    Returns
    -------
    pandas.DataFrame
        One row per client and month: ``client_id``, ``month``, ``segment``,
        the columns in :data:`SCORE_COLUMNS`, the components and the evidence
        columns of :func:`~healthlab.components.compute_components`.
    """
    started = time.perf_counter()
    components = compute_components(data, model)
    clients = data.clients.assign(client_id=data.clients["client_id"].astype(str))
    segments = clients.set_index("client_id")["segment"]
    scores = composite_scores(components, model, segments)
    scores.insert(2, "segment", scores["client_id"].map(segments).astype("str"))
    logger.info(
        "Scored %d client months of %d clients in %.2f s",
        len(scores),
        scores["client_id"].nunique(),
        time.perf_counter() - started,
    )
    return scores


def score_to_file(
    dataset: str | Path,
    out: str | Path,
    model: str | Path | None = None,
    mapping: str | Path | ColumnMapping | None = None,
) -> pd.DataFrame:
    """Load and validate a dataset, score it and write the scores to ``out``.

    The output name is checked before the data is read, and nothing is written
    unless every step succeeds.

    Parameters
    ----------
    dataset
        Dataset folder.
    out
        Output table; ``.csv``, ``.parquet`` or ``.json`` (records).
    model
        Score model file; the packaged default when omitted.
    mapping
        Column-mapping file for files exported by other tools.

    Returns
    -------
    pandas.DataFrame
        The scores as :func:`score_dataset` returns them.

    Raises
    ------
    ConfigError
        If ``out`` has another suffix or is a table file of ``dataset``, or the
        model or mapping file is invalid.
    DataValidationError
        If the dataset breaks the data model.
    """
    check_table_suffix(out)
    check_not_input(out, dataset)
    score_model = load_model(model)
    data = load_dataset(dataset, mapping=mapping)
    scores = score_dataset(data, score_model)
    write_table(scores, out)
    return scores
