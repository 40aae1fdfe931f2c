"""Tests for the composite score, bands, confidence and change contributions."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_components import HAND, random_dataset

from healthlab.dataset import load_dataset
from healthlab.model import COMPONENTS, ScoreModel, load_model
from healthlab.scoring import (
    CONTRIBUTION_COLUMNS,
    SCORE_COLUMNS,
    composite_scores,
    score_dataset,
)

BANDS = [
    {"name": "at_risk", "min_score": 0},
    {"name": "watch", "min_score": 45},
    {"name": "healthy", "min_score": 65},
]

component_value = st.one_of(st.just(math.nan), st.floats(0, 100))
component_row = st.fixed_dictionaries({name: component_value for name in COMPONENTS})
weight_value = st.one_of(st.just(0.0), st.floats(0.01, 5))
weight_set = st.fixed_dictionaries({name: weight_value for name in COMPONENTS}).filter(
    lambda weights: sum(weights.values()) > 0
)


def make_model(weights: dict[str, float], **parameters: float) -> ScoreModel:
    return ScoreModel.model_validate(
        {"weights": weights, "bands": BANDS, "parameters": parameters}
    )


def make_components(rows: list[dict[str, float]], client_id: str = "1") -> pd.DataFrame:
    """Build a components table for one client, one row per consecutive month."""
    frame = pd.DataFrame(rows, columns=list(COMPONENTS), dtype=float)
    frame.insert(0, "client_id", client_id)
    frame.insert(1, "month", pd.date_range("2024-01-01", periods=len(rows), freq="MS"))
    return frame


def score_rows(rows: list[dict[str, float]], weights: dict[str, float]) -> pd.DataFrame:
    return composite_scores(
        make_components(rows), make_model(weights), pd.Series(dtype=str)
    )


def expected_score(values: dict[str, float], weights: dict[str, float]) -> float:
    available = {
        name: weight
        for name, weight in weights.items()
        if weight > 0 and not math.isnan(values[name])
    }
    if not available:
        return math.nan
    total = sum(available.values())
    return sum(values[name] * weight for name, weight in available.items()) / total


@settings(max_examples=100, deadline=None)
@given(values=component_row, weights=weight_set)
def test_score_within_bounds(
    values: dict[str, float], weights: dict[str, float]
) -> None:
    scored = score_rows([values], weights).iloc[0]
    expected = expected_score(values, weights)
    if math.isnan(expected):
        assert math.isnan(scored["score"])
        assert scored["confidence"] == 0
        assert bool(scored["low_confidence"])
    else:
        assert 0 <= scored["score"] <= 100
        assert scored["score"] == pytest.approx(expected, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    values=component_row,
    weights=weight_set,
    component=st.sampled_from(COMPONENTS),
    increase=st.floats(0, 100),
)
def test_score_non_decreasing_in_component(
    values: dict[str, float],
    weights: dict[str, float],
    component: str,
    increase: float,
) -> None:
    assume(weights[component] > 0)
    assume(not math.isnan(values[component]))
    higher = {**values, component: min(values[component] + increase, 100.0)}
    scores = score_rows([values, higher], weights)["score"]
    assert scores.iloc[1] >= scores.iloc[0]


@settings(max_examples=100, deadline=None)
@given(
    months=st.lists(component_row, min_size=2, max_size=6),
    weights=weight_set,
)
def test_contributions_sum_to_change(
    months: list[dict[str, float]], weights: dict[str, float]
) -> None:
    scored = score_rows(months, weights)
    assert math.isnan(scored["score_change"].iloc[0])
    assert scored[list(CONTRIBUTION_COLUMNS)].iloc[0].isna().all()
    for position in range(1, len(months)):
        current = scored.iloc[position]
        previous = scored.iloc[position - 1]
        if math.isnan(current["score"]) or math.isnan(previous["score"]):
            assert math.isnan(current["score_change"])
            continue
        total = current[list(CONTRIBUTION_COLUMNS)].sum()
        assert current["score_change"] == pytest.approx(
            current["score"] - previous["score"], abs=1e-12
        )
        assert abs(total - current["score_change"]) < 1e-9


@settings(max_examples=100, deadline=None)
@given(values=component_row, weights=weight_set)
def test_confidence_is_available_weight(
    values: dict[str, float], weights: dict[str, float]
) -> None:
    scored = score_rows([values], weights).iloc[0]
    available = sum(
        weight for name, weight in weights.items() if not math.isnan(values[name])
    )
    assert scored["confidence"] == pytest.approx(available / sum(weights.values()))
    threshold = 0.7  # low_confidence_below in the default parameters
    if scored["confidence"] < threshold:
        assert bool(scored["low_confidence"])


def test_renormalises_missing_component() -> None:
    weights = {name: 0.2 for name in COMPONENTS}
    full = {"utilisation": 80, "enforcement": 60, "nps": 40, "impact": 20}
    scored = score_rows(
        [{**full, "engagement": 100.0}, {**full, "engagement": math.nan}], weights
    )
    assert scored["score"].tolist() == pytest.approx([60.0, 50.0])
    assert scored["confidence"].tolist() == pytest.approx([1.0, 0.8])
    # Engagement leaves: it takes back its 0.2 * 100 = 20 points, and each
    # remaining component's effective weight grows from 0.2 to 0.25.
    contributions = scored.iloc[1][list(CONTRIBUTION_COLUMNS)]
    assert contributions["contrib_engagement"] == pytest.approx(-20.0)
    assert contributions["contrib_utilisation"] == pytest.approx(0.05 * 80)
    assert contributions["contrib_impact"] == pytest.approx(0.05 * 20)
    assert scored["score_change"].iloc[1] == pytest.approx(-10.0)


def test_zero_weight_component_ignored() -> None:
    weights = {**{name: 1.0 for name in COMPONENTS}, "impact": 0.0}
    rows = [
        {"utilisation": 50, "enforcement": 50, "nps": 50, "impact": 0, "engagement": 50}
    ]
    scored = score_rows(rows, weights).iloc[0]
    assert scored["score"] == pytest.approx(50.0)
    assert scored["confidence"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0.0, "at_risk"),
        (44.999999, "at_risk"),
        (45.0, "watch"),
        (64.99, "watch"),
        (65.0, "healthy"),
        (100.0, "healthy"),
    ],
)
def test_band_boundaries(score: float, band: str) -> None:
    # Only utilisation has weight, so the score equals it exactly.
    weights = {**{name: 0.0 for name in COMPONENTS}, "utilisation": 1.0}
    scored = score_rows([{"utilisation": score}], weights).iloc[0]
    assert scored["score"] == score
    assert scored["band"] == band


@settings(max_examples=100, deadline=None)
@given(values=st.lists(component_row, min_size=1, max_size=5), weights=weight_set)
def test_band_matches_model(
    values: list[dict[str, float]], weights: dict[str, float]
) -> None:
    model = make_model(weights)
    scored = composite_scores(make_components(values), model, pd.Series(dtype=str))
    for score, band in zip(scored["score"], scored["band"], strict=True):
        if math.isnan(score):
            assert pd.isna(band)
        else:
            assert band == model.band_for(score)


def test_segment_weights_apply() -> None:
    model = ScoreModel.model_validate(
        {
            "weights": {name: 1.0 for name in COMPONENTS},
            "segment_weights": {"smb": {"utilisation": 1.0}},
            "bands": BANDS,
        }
    )
    rows = [{"utilisation": 90, "enforcement": 10, "nps": 10, "impact": 10}]
    components = pd.concat(
        [make_components(rows, "a"), make_components(rows, "b")], ignore_index=True
    )
    segments = pd.Series({"a": "smb", "b": "enterprise"})
    scored = composite_scores(components, model, segments).set_index("client_id")
    assert scored.loc["a", "score"] == pytest.approx(90.0)
    # "enterprise" has no segment weights, so the base weights apply.
    assert scored.loc["b", "score"] == pytest.approx(30.0)
    assert scored.loc["a", "confidence"] == pytest.approx(1.0)
    assert scored.loc["b", "confidence"] == pytest.approx(0.8)


def test_low_confidence_few_nps_responses() -> None:
    full = {name: 50.0 for name in COMPONENTS}
    components = make_components([full, full, full])
    components["nps_responses"] = [2, 3, np.nan]
    weights = {name: 1.0 for name in COMPONENTS}
    scored = composite_scores(components, make_model(weights), pd.Series(dtype=str))
    assert scored["low_confidence"].tolist() == [True, False, True]

    without_nps = {**weights, "nps": 0.0}
    scored = composite_scores(components, make_model(without_nps), pd.Series(dtype=str))
    assert scored["low_confidence"].tolist() == [False, False, False]


def test_change_needs_consecutive_months() -> None:
    row = {name: 50.0 for name in COMPONENTS}
    components = make_components([row, row, row])
    components.loc[2, "month"] = pd.Timestamp("2024-05-01")
    scored = composite_scores(
        components, make_model({name: 1.0 for name in COMPONENTS}), pd.Series()
    )
    assert scored["score_change"].notna().tolist() == [False, True, False]


def test_change_restarts_per_client() -> None:
    rows = [{name: value for name in COMPONENTS} for value in (10.0, 20.0)]
    components = pd.concat(
        [make_components(rows, "b"), make_components(rows, "a")], ignore_index=True
    )
    scored = composite_scores(
        components, make_model({name: 1.0 for name in COMPONENTS}), pd.Series()
    )
    assert scored["client_id"].tolist() == ["a", "a", "b", "b"]
    assert scored["score_change"].tolist()[1::2] == pytest.approx([10.0, 10.0])
    assert scored["score_change"].isna().tolist()[::2] == [True, True]


def test_missing_component_column_rejected() -> None:
    components = make_components([{"utilisation": 1.0}]).drop(columns="nps")
    with pytest.raises(ValueError, match="missing the columns nps"):
        composite_scores(components, load_model(), pd.Series(dtype=str))


def test_score_dataset_hand_values() -> None:
    model = load_model()
    scores = score_dataset(HAND, model)
    assert scores.columns[:3].tolist() == ["client_id", "month", "segment"]
    assert scores.columns[3 : 3 + len(SCORE_COLUMNS)].tolist() == list(SCORE_COLUMNS)
    assert scores.groupby("client_id")["segment"].first().to_dict() == {
        "001": "enterprise",
        "002": "smb",
    }

    # 001 in February 2024, components from the hand-worked values:
    # utilisation 70, enforcement Wilson(17, 20), NPS 58.33, impact and
    # engagement as computed in test_components.
    february = scores[
        (scores["client_id"] == "001") & (scores["month"] == "2024-02-01")
    ].iloc[0]
    values = {name: february[name] for name in COMPONENTS}
    assert values["utilisation"] == pytest.approx(70.0)
    assert values["nps"] == pytest.approx((10 * 20 / 12 + 100) / 2)
    weights = model.weights_for("enterprise")
    assert february["score"] == pytest.approx(expected_score(values, weights))
    assert february["confidence"] == pytest.approx(1.0)
    # 2 NPS responses are under the minimum of 3.
    assert bool(february["low_confidence"])
    assert february["band"] == model.band_for(february["score"])

    # January has no engagement: weights renormalise over the other four.
    january = scores[
        (scores["client_id"] == "001") & (scores["month"] == "2024-01-01")
    ].iloc[0]
    assert january["confidence"] == pytest.approx(0.85)
    assert math.isnan(january["score_change"])
    contributions = february[list(CONTRIBUTION_COLUMNS)].sum()
    assert contributions == pytest.approx(february["score"] - january["score"])


def test_score_dataset_contributions_exact() -> None:
    scores = score_dataset(random_dataset(11, n_clients=40, n_months=18), load_model())
    changes = scores["score_change"].notna()
    assert changes.sum() > 100
    residual = (
        scores.loc[changes, list(CONTRIBUTION_COLUMNS)].sum(axis=1)
        - scores.loc[changes, "score_change"]
    )
    assert residual.abs().max() < 1e-9
    valid = scores["score"].dropna()
    assert valid.between(0, 100).all()


@pytest.fixture(scope="module")
def sample_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from healthlab.sample import generate_portfolio

    folder = tmp_path_factory.mktemp("sample") / "portfolio"
    generate_portfolio(folder, n_clients=25, n_months=18, seed=3)
    return folder


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("healthlab")), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_score_cli_writes_table(sample_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    result = run_cli("score", sample_folder, "--out", out)
    assert result.returncode == 0, result.stderr
    assert f"to {out}" in result.stdout

    written = pd.read_csv(out, dtype={"client_id": str}, parse_dates=["month"])
    expected = score_dataset(load_dataset(sample_folder), load_model())
    assert len(written) == len(expected)
    assert written["client_id"].tolist() == expected["client_id"].tolist()
    assert written["client_id"].str.fullmatch(r"\d{4}").all()
    assert written.columns.tolist() == expected.columns.tolist()
    np.testing.assert_allclose(written["score"], expected["score"], rtol=1e-12)
    assert written["band"].tolist() == expected["band"].tolist()
    changes = written["score_change"].notna()
    residual = (
        written.loc[changes, list(CONTRIBUTION_COLUMNS)].sum(axis=1)
        - written.loc[changes, "score_change"]
    )
    assert residual.abs().max() < 1e-9


def test_score_cli_rejects_bad_model(sample_folder: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.yaml"
    model.write_text("weights: {utilisation: -1}\nbands: []\n", encoding="utf-8")
    out = tmp_path / "scores.csv"
    result = run_cli("score", sample_folder, "--out", out, "--model", model)
    assert result.returncode == 2
    assert f"Model file {model} is invalid" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_score_cli_rejects_bad_dataset(sample_folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(sample_folder, broken)
    usage = pd.read_csv(broken / "usage.csv", dtype=str)
    usage.drop(columns="active_users").to_csv(broken / "usage.csv", index=False)
    out = tmp_path / "scores.csv"
    result = run_cli("score", broken, "--out", out)
    assert result.returncode == 2
    assert "active_users" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_score_cli_checks_suffix_before_reading(tmp_path: Path) -> None:
    out = tmp_path / "scores.xlsx"
    result = run_cli("score", tmp_path / "no-such-folder", "--out", out)
    assert result.returncode == 2
    assert f"Cannot write {out}: the file name must end in .csv" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_score_cli_rejects_input_file(sample_folder: Path, tmp_path: Path) -> None:
    before = (sample_folder / "usage.csv").read_bytes()
    result = run_cli("score", sample_folder, "--out", sample_folder / "usage.csv")
    assert result.returncode == 2
    assert "it is the `usage` table of the dataset" in result.stderr
    assert "Traceback" not in result.stderr
    assert (sample_folder / "usage.csv").read_bytes() == before


def test_score_cli_out_under_a_file(sample_folder: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run_cli("score", sample_folder, "--out", blocker / "deep" / "s.csv")
    assert result.returncode == 2
    assert f"{blocker} is a file, not a folder. Choose another path." in result.stderr
    assert "Traceback" not in result.stderr
    assert blocker.read_text(encoding="utf-8") == "not a folder"
