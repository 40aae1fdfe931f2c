"""Portfolio tables, and the portfolio notebook executed and exported to HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from healthlab.dataset import Dataset
from healthlab.errors import ConfigError, ReportError
from healthlab.model import COMPONENTS, ScoreModel
from healthlab.monitoring import portfolio
from healthlab.monitoring.portfolio import default_notebook, render_portfolio_report


@pytest.fixture(scope="module")
def pf(small_data: Dataset, default_model: ScoreModel) -> portfolio.Portfolio:
    return portfolio.load_portfolio(
        small_data, as_of="2026-06", model_file=default_model
    )


def test_notebook_committed_without_outputs() -> None:
    notebook = json.loads(default_notebook().read_text(encoding="utf-8"))
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] for cell in code)
    assert all(cell["execution_count"] is None for cell in code)
    tagged = [cell for cell in code if "parameters" in cell["metadata"].get("tags", [])]
    assert len(tagged) == 1
    source = "".join(tagged[0]["source"])
    for name in ("dataset", "as_of", "model_file"):
        assert f"{name} = " in source


def test_load_portfolio_cuts_at_as_of(pf: portfolio.Portfolio) -> None:
    assert pf.as_of == pd.Timestamp("2026-06-01")
    assert pf.scores["month"].max() == pf.as_of
    assert pd.to_datetime(pf.data.usage["month"]).max() <= pf.as_of


def test_load_portfolio_month_without_scores(small_data: Dataset) -> None:
    with pytest.raises(ConfigError, match="No client .* has a score in 2019-01"):
        portfolio.load_portfolio(small_data, as_of="2019-01")


def test_band_migration_counts(pf: portfolio.Portfolio) -> None:
    matrix = portfolio.band_migration(pf)
    scores = pf.scores.dropna(subset=["score"])
    before = scores[scores["month"] == "2026-03-01"]
    now = scores[scores["month"] == "2026-06-01"]
    assert list(matrix.index) == ["healthy", "watch", "at_risk", portfolio.NEW]
    assert list(matrix.columns) == ["healthy", "watch", "at_risk", portfolio.LEFT]
    clients = set(before["client_id"]) | set(now["client_id"])
    assert matrix.to_numpy().sum() == len(clients)
    assert matrix.drop(index=portfolio.NEW).to_numpy().sum() == len(before)
    assert matrix.drop(columns=portfolio.LEFT).to_numpy().sum() == len(now)


def test_arr_at_risk_totals(pf: portfolio.Portfolio) -> None:
    arr = portfolio.arr_at_risk(pf)
    current = portfolio.current_scores(pf)
    assert arr["total"].sum() == pytest.approx(current["arr_usd"].sum())
    segments = [column for column in arr.columns if column not in ("band", "total")]
    assert arr[segments].sum(axis=1).tolist() == pytest.approx(arr["total"].tolist())


def test_top_movers_contributions_add_up(pf: portfolio.Portfolio) -> None:
    movers = portfolio.top_movers(pf, count=5)
    assert len(movers) > 0
    contributions = movers[[f"contrib_{name}" for name in COMPONENTS]].sum(axis=1)
    assert contributions.tolist() == pytest.approx(movers["change"].tolist())
    fell = movers[movers["direction"] == "fell"]
    assert (fell["change"] < 0).all()
    assert fell["change"].is_monotonic_increasing
    assert fell["explanation"].str.startswith("Fell ").all()


def test_drift_table_months(pf: portfolio.Portfolio) -> None:
    table = portfolio.drift_table(pf)
    assert table.attrs == {"reference_month": "2025-06", "current_month": "2026-06"}
    assert set(table["variable"]) == {"score", *COMPONENTS}


def test_render_missing_notebook(small_portfolio: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="none.ipynb was not found"):
        render_portfolio_report(
            small_portfolio, tmp_path / "out.html", notebook=tmp_path / "none.ipynb"
        )


@pytest.mark.slow
def test_render_portfolio_report(small_portfolio: Path, tmp_path: Path) -> None:
    out = tmp_path / "internal" / "portfolio.html"
    written = render_portfolio_report(small_portfolio, out, as_of="2026-06")
    assert written == out
    page = out.read_text(encoding="utf-8")
    for heading in (
        "Portfolio health, June 2026",
        "Score distribution",
        "Band migration",
        "ARR at risk",
        "Top movers",
        "Alerts this month",
        "Drift of the score",
        "Backtest of the early-warning rules",
    ):
        assert heading in page
    assert "data:image/png;base64," in page
    assert "load_portfolio" not in page  # no code
    assert "Traceback" not in page
    assert str(small_portfolio) not in page
    names = pd.read_csv(small_portfolio / "clients.csv", dtype=str)["client_name"]
    for name in names[names.str.contains("<", regex=False)]:
        assert name not in page


@pytest.mark.slow
def test_render_failure_raises_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="portfolio notebook failed"):
        render_portfolio_report(tmp_path / "missing", tmp_path / "out.html")
    assert not (tmp_path / "out.html").exists()
