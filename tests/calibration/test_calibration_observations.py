"""The observation table: outcomes within the horizon, exclusions, no look-ahead."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from healthlab.calibration.observations import build_observations
from healthlab.dataset import Dataset, load_dataset
from healthlab.errors import CalibrationError, ConfigError
from healthlab.model import COMPONENTS, load_model

HORIZON = 6


@pytest.fixture(scope="module")
def data(small_sample_dir: Path) -> Dataset:
    return load_dataset(small_sample_dir)


def _expected_outcome(
    renewals: pd.DataFrame, client: str, month: pd.Timestamp, horizon: int
) -> float | None:
    start = month + pd.DateOffset(months=1)
    end = month + pd.DateOffset(months=horizon + 1)
    inside = renewals[
        (renewals["client_id"] == client)
        & (renewals["renewal_date"] >= start)
        & (renewals["renewal_date"] < end)
    ]
    if inside.empty:
        return None
    return float((inside["outcome"] == "churned").any())


def test_outcomes_match_renewals_in_window(data: Dataset) -> None:
    table = build_observations(data, load_model(), HORIZON)
    frame = table.frame
    assert set(frame["outcome"].unique()) == {0, 1}
    for row in frame.itertuples():
        expected = _expected_outcome(data.renewals, row.client_id, row.month, HORIZON)
        assert expected == row.outcome, (row.client_id, row.month)


def test_excluded_rows_are_counted(data: Dataset) -> None:
    model = load_model()
    table = build_observations(data, model, HORIZON)
    assert table.observations + sum(table.excluded.values()) == table.grid_rows
    last_month = table.data_end
    assert table.frame["month"].max() <= last_month - pd.DateOffset(months=HORIZON)
    # Every month within the horizon of the data end is excluded as past the end.
    from healthlab.components import compute_components

    grid = compute_components(data, model)
    late = grid["month"] > last_month - pd.DateOffset(months=HORIZON)
    assert table.excluded["horizon_past_data_end"] == int(late.sum())
    assert table.excluded["no_renewal_in_horizon"] > 0
    finding = table.findings[0]
    assert finding.check == "excluded"
    assert f"{table.excluded['no_renewal_in_horizon']} because no renewal" in (
        finding.message
    )


def test_rows_carry_components_and_segment(data: Dataset) -> None:
    table = build_observations(data, load_model(), HORIZON)
    for name in ("client_id", "month", "segment", *COMPONENTS, "outcome"):
        assert name in table.frame
    segments = data.clients.set_index("client_id")["segment"]
    assert (table.frame["segment"] == table.frame["client_id"].map(segments)).all()
    assert table.events == int(table.frame["outcome"].sum())
    assert table.churned_clients <= table.clients


def _change_after(data: Dataset, cutoff: pd.Timestamp) -> Dataset:
    """Return a copy whose every dated value after ``cutoff``'s month differs."""
    after = cutoff + pd.DateOffset(months=1)
    usage = data.usage.copy()
    usage.loc[usage["month"] >= after, "active_users"] = 0
    nps = data.nps.copy()
    nps.loc[nps["response_date"] >= after, "score"] = 0
    operations = data.operations.copy()
    late = operations["month"] >= after
    operations.loc[late, "removals_confirmed"] = 0
    impact = data.economic_impact.copy()
    impact.loc[impact["month"] >= after, "avg_listing_price_usd"] = 0.0
    meetings = data.qbr_meetings.copy()
    meetings.loc[meetings["meeting_date"] >= after, "sentiment"] = "negative"
    renewals = data.renewals.copy()
    flip = renewals["renewal_date"] >= after
    renewals.loc[flip, "outcome"] = renewals.loc[flip, "outcome"].map(
        {"renewed": "churned", "churned": "renewed"}
    )
    return dataclasses.replace(
        data,
        usage=usage,
        nps=nps,
        operations=operations,
        economic_impact=impact,
        qbr_meetings=meetings,
        renewals=renewals,
    )


def test_no_look_ahead(data: Dataset) -> None:
    model = load_model()
    original = build_observations(data, model, HORIZON).frame
    cutoff = pd.Timestamp(original["month"].min()) + pd.DateOffset(months=9)
    changed = build_observations(_change_after(data, cutoff), model, HORIZON).frame

    keys = ["client_id", "month"]
    joined = original.merge(changed, on=keys, suffixes=("", "_changed"))
    before = joined[joined["month"] <= cutoff]
    assert len(before) == int((original["month"] <= cutoff).sum())
    for name in COMPONENTS:
        pd.testing.assert_series_equal(
            before[name], before[f"{name}_changed"], check_names=False
        )
    # Outcomes whose window closed by the cutoff cannot see the flipped renewals.
    closed = before["month"] + pd.DateOffset(months=HORIZON) <= cutoff
    assert closed.sum() > 0
    assert (
        before.loc[closed, "outcome"] == before.loc[closed, "outcome_changed"]
    ).all()
    # The change is real: later rows do differ.
    later = joined[joined["month"] > cutoff]
    assert not np.allclose(
        later["utilisation"], later["utilisation_changed"], equal_nan=True
    )


@pytest.mark.parametrize("horizon", [0, 61, 2.5])
def test_invalid_horizon_raises(data: Dataset, horizon: object) -> None:
    with pytest.raises(ConfigError, match="horizon must be 1 to 60 months"):
        build_observations(data, load_model(), horizon)  # type: ignore[arg-type]


def test_horizon_longer_than_history_raises(data: Dataset) -> None:
    with pytest.raises(CalibrationError, match="no observation with a known outcome"):
        build_observations(data, load_model(), 40)
