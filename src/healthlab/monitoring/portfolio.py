"""The portfolio health report: its tables for one month, and its rendering.

``notebooks/portfolio-health.ipynb`` only calls these functions (through the
HTML sections of :mod:`healthlab.monitoring.report`) and displays their
results, so every number in the report can be reproduced from Python:

>>> portfolio = load_portfolio("data/sample", as_of="2026-06")  # doctest: +SKIP
>>> band_migration(portfolio)  # doctest: +SKIP

:func:`render_portfolio_report` executes the notebook with papermill and writes
one self-contained HTML page without code. The report lists every client with
its score, alerts and CSM, so it is internal: write it to an internal folder,
never beside the reports shared with clients.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from healthlab._io import find_notebook
from healthlab.dataset import Dataset
from healthlab.errors import ConfigError, ReportError
from healthlab.model import COMPONENTS, ScoreModel
from healthlab.monitoring.backtest import BacktestResult, run_backtest
from healthlab.monitoring.drift import population_stability
from healthlab.monitoring.monitor import cut_dataset, parse_month, run_monitor

logger = logging.getLogger(__name__)

NOTEBOOK_NAME = "portfolio-health.ipynb"

NEW = "new"
"""Row label of the migration matrix for clients without a score before."""
LEFT = "left"
"""Column label of the migration matrix for clients without a score now."""


@dataclass(frozen=True)
class Portfolio:
    """A dataset as known at the end of ``as_of``, with its model and scores."""

    data: Dataset
    model: ScoreModel
    scores: pd.DataFrame
    as_of: pd.Timestamp

    @property
    def band_names(self) -> list[str]:
        """Band names from the worst to the best."""
        return [band.name for band in self.model.bands]


def load_portfolio(
    dataset: str | Path | Dataset,
    as_of: str | date | pd.Timestamp | None = None,
    model_file: str | Path | ScoreModel | None = None,
) -> Portfolio:
    """Load, validate and score a dataset as known at the end of ``as_of``.

    Parameters
    ----------
    dataset
        A dataset folder or an already loaded :class:`~healthlab.dataset.Dataset`.
    as_of
        Month to report on; the last month with usage data when omitted or
        blank.
    model_file
        Score model YAML or a loaded model; the packaged default when omitted.

    Raises
    ------
    ConfigError
        If ``as_of`` is invalid or has no scores, or the model file is invalid.
    DataValidationError
        If the dataset is invalid.
    """
    from healthlab.dataset import load_dataset
    from healthlab.model import load_model
    from healthlab.scoring import score_dataset

    data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    if isinstance(model_file, ScoreModel):
        model = model_file
    else:
        model = load_model(model_file or None)
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        month = pd.Timestamp(pd.to_datetime(data.usage["month"]).max())
    else:
        month = parse_month(as_of)
    cut = cut_dataset(data, month)
    scores = score_dataset(cut, model)
    if not (scores["month"] == month).any():
        raise ConfigError(
            f"No client of {data.source} has a score in {month:%Y-%m}; choose "
            "a month inside the data."
        )
    return Portfolio(data=cut, model=model, scores=scores, as_of=month)


def current_scores(portfolio: Portfolio) -> pd.DataFrame:
    """Return one row per client scored in the evaluation month.

    Columns: ``client_id``, ``client_name``, ``segment``, ``csm``, ``arr_usd``,
    ``score``, ``band``, ``confidence`` and, when the model has a ``churn_risk``
    section, ``churn_probability`` and ``expected_arr_loss_usd``.
    """
    scores = portfolio.scores
    now = scores[(scores["month"] == portfolio.as_of) & scores["score"].notna()]
    clients = portfolio.data.clients.set_index("client_id")
    table = now[["client_id", "score", "band", "confidence"]].join(
        clients[["client_name", "segment", "csm", "arr_usd"]], on="client_id"
    )
    risk = portfolio.model.churn_risk
    if risk is not None:
        logit = risk.intercept + risk.slope * table["score"]
        table["churn_probability"] = 1 / (1 + np.exp(-logit))
        table["expected_arr_loss_usd"] = table["churn_probability"] * table["arr_usd"]
    columns = ["client_id", "client_name", "segment", "csm", "arr_usd"]
    rest = [column for column in table.columns if column not in columns]
    return table[columns + rest].sort_values("client_id", ignore_index=True)


def band_summary(portfolio: Portfolio) -> pd.DataFrame:
    """Return clients, ARR and mean score per band in the evaluation month."""
    table = current_scores(portfolio)
    summary = table.groupby("band", observed=True).agg(
        clients=("client_id", "size"),
        arr_usd=("arr_usd", "sum"),
        mean_score=("score", "mean"),
    )
    summary = summary.reindex(portfolio.band_names[::-1]).fillna(0)
    summary["share_of_arr"] = summary["arr_usd"] / summary["arr_usd"].sum()
    return summary.rename_axis("band").reset_index()


def band_migration(portfolio: Portfolio, months: int = 3) -> pd.DataFrame:
    """Count clients by band ``months`` earlier (rows) and now (columns).

    A client without a score in the earlier month is counted in the row
    :data:`NEW`; one that had a score then but none now (it churned or its
    data stopped) in the column :data:`LEFT`. Bands run from best to worst.
    """
    earlier_month = portfolio.as_of - pd.DateOffset(months=months)
    scores = portfolio.scores.dropna(subset=["score"])
    before = scores[scores["month"] == earlier_month].set_index("client_id")["band"]
    now = scores[scores["month"] == portfolio.as_of].set_index("client_id")["band"]
    clients = before.index.union(now.index)
    pairs = pd.DataFrame(
        {
            "before": before.reindex(clients).fillna(NEW),
            "now": now.reindex(clients).fillna(LEFT),
        }
    )
    order = portfolio.band_names[::-1]
    matrix = pd.crosstab(pairs["before"], pairs["now"])
    matrix = matrix.reindex(index=[*order, NEW], columns=[*order, LEFT], fill_value=0)
    matrix.index.name = f"band in {earlier_month:%Y-%m}"
    matrix.columns.name = f"band in {portfolio.as_of:%Y-%m}"
    return matrix


def arr_at_risk(portfolio: Portfolio) -> pd.DataFrame:
    """Return ARR in USD by band (rows, best to worst) and segment (columns).

    A ``total`` column sums each band over the segments.
    """
    table = current_scores(portfolio)
    pivot = table.pivot_table(
        index="band", columns="segment", values="arr_usd", aggfunc="sum", fill_value=0
    )
    pivot = pivot.reindex(portfolio.band_names[::-1], fill_value=0)
    pivot["total"] = pivot.sum(axis=1)
    pivot.columns.name = None
    return pivot.rename_axis("band").reset_index()


def top_movers(portfolio: Portfolio, months: int = 3, count: int = 10) -> pd.DataFrame:
    """Return the clients whose score fell or rose most over ``months`` months.

    The change is explained by the per-component contributions of
    :func:`healthlab.scoring.composite_scores`, summed over the months, so the
    contributions of a row add up to its ``change``. Clients with a month
    without a score in the period are left out, because their change has no
    exact decomposition.

    Returns
    -------
    pandas.DataFrame
        Up to ``count`` fallers (most negative change first) followed by up to
        ``count`` risers, with ``direction``, ``client_id``, ``client_name``,
        ``score_before``, ``score``, ``change``, one ``contrib_<component>``
        column per component and an ``explanation`` sentence.
    """
    start = portfolio.as_of - pd.DateOffset(months=months)
    scores = portfolio.scores
    window = scores[(scores["month"] > start) & (scores["month"] <= portfolio.as_of)]
    contributions = [f"contrib_{name}" for name in COMPONENTS]
    complete = window.groupby("client_id").filter(
        lambda frame: len(frame) == months and frame["score_change"].notna().all()
    )
    summed = complete.groupby("client_id")[["score_change", *contributions]].sum()
    now = window[window["month"] == portfolio.as_of].set_index("client_id")["score"]
    summed = summed.join(now.rename("score"), how="inner")
    summed = summed.rename(columns={"score_change": "change"})
    summed["score_before"] = summed["score"] - summed["change"]
    names = portfolio.data.clients.set_index("client_id")["client_name"]
    summed["client_name"] = names.reindex(summed.index).to_numpy()

    ordered = summed.reset_index().sort_values(["change", "client_id"])
    fallers = ordered[ordered["change"] < 0].head(count).assign(direction="fell")
    risers = (
        ordered[ordered["change"] > 0]
        .sort_values(["change", "client_id"], ascending=[False, True])
        .head(count)
        .assign(direction="rose")
    )
    movers = pd.concat([fallers, risers], ignore_index=True)
    movers["explanation"] = [
        _explain_move({str(key): value for key, value in row.items()}, start)
        for row in movers.to_dict("records")
    ]
    columns = [
        "direction",
        "client_id",
        "client_name",
        "score_before",
        "score",
        "change",
        *contributions,
        "explanation",
    ]
    return movers[columns]


def _explain_move(row: dict[str, object], start: pd.Timestamp) -> str:
    change = float(row["change"])  # type: ignore[arg-type]
    parts = sorted(
        (
            (float(row[f"contrib_{name}"]), name)  # type: ignore[arg-type]
            for name in COMPONENTS
            if not math.isnan(float(row[f"contrib_{name}"]))  # type: ignore[arg-type]
        ),
        key=lambda item: item[0] if change > 0 else -item[0],
        reverse=True,
    )
    drivers = [
        f"{name} {value:+.1f}" for value, name in parts[:2] if value * change > 0
    ]
    verb = "Fell" if change < 0 else "Rose"
    sentence = f"{verb} {abs(change):.1f} points since {start:%Y-%m}"
    if drivers:
        sentence += f", mostly from {' and '.join(drivers)}"
    return sentence + "."


def drift_table(portfolio: Portfolio, months_back: int = 12) -> pd.DataFrame:
    """Return the PSI of the score and components against ``months_back`` earlier.

    Each client scored in the evaluation month is one observation of the
    current sample, and each client scored ``months_back`` months earlier one
    of the reference sample. A year apart by default, so that seasonality does
    not count as drift. ``attrs`` contains both months.
    """
    reference_month = portfolio.as_of - pd.DateOffset(months=months_back)
    scores = portfolio.scores
    table = population_stability(
        scores[scores["month"] == reference_month],
        scores[scores["month"] == portfolio.as_of],
    )
    table.attrs["reference_month"] = f"{reference_month:%Y-%m}"
    table.attrs["current_month"] = f"{portfolio.as_of:%Y-%m}"
    return table


def current_alerts(portfolio: Portfolio) -> pd.DataFrame:
    """Return the alerts issued in the evaluation month (see ``run_monitor``)."""
    return run_monitor(
        portfolio.data, portfolio.model, as_of=portfolio.as_of, scores=portfolio.scores
    )


def backtest(portfolio: Portfolio) -> BacktestResult:
    """Return the backtest of the monitor over the history up to ``as_of``."""
    return run_backtest(portfolio.data, portfolio.model, scores=portfolio.scores)


def default_notebook() -> Path:
    """Return the portfolio notebook, packaged or from the source tree."""
    return find_notebook(NOTEBOOK_NAME)


def render_portfolio_report(
    dataset: str | Path,
    out_html: str | Path,
    as_of: str | date | pd.Timestamp | None = None,
    model: str | Path | None = None,
    notebook: str | Path | None = None,
    timeout: float = 600,
) -> Path:
    """Execute the portfolio notebook with papermill and write it as HTML.

    The page has no code, prompts or parameters and embeds its figures, and it
    is written atomically. It lists every client, so ``out_html`` belongs in an
    internal folder.

    Parameters
    ----------
    dataset
        Dataset folder.
    out_html
        HTML file to write.
    as_of
        Month to report on; the last month of data when omitted.
    model
        Score model YAML; the packaged default when omitted.
    notebook
        Notebook to execute; :func:`default_notebook` when omitted.
    timeout
        Seconds one cell may run before the execution is stopped.

    Raises
    ------
    ReportError
        If the notebook is missing or fails; the message names the failing
        cell's error, such as an invalid dataset or ``as_of``.
    """
    source = Path(notebook) if notebook is not None else default_notebook()
    if not source.is_file():
        raise ReportError(f"The notebook {source} was not found.")

    import papermill
    from papermill.exceptions import PapermillExecutionError

    from healthlab._io import write_text_atomic
    from healthlab.reports.export import export_html, machine_paths

    started = time.perf_counter()
    month = "" if as_of is None else f"{parse_month(as_of):%Y-%m}"
    parameters = {
        "dataset": str(Path(dataset).resolve()),
        "as_of": month,
        "model_file": "" if model is None else str(Path(model).resolve()),
    }
    with tempfile.TemporaryDirectory(prefix="healthlab-portfolio-") as work:
        executed = Path(work) / NOTEBOOK_NAME
        try:
            result = papermill.execute_notebook(
                str(source),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                cwd=work,
                execution_timeout=timeout,
                # The kernel's own start-up warnings (plain TCP on loopback) are
                # noise on the command line; cell errors still raise.
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except PapermillExecutionError as error:
            raise ReportError(
                f"The portfolio notebook failed in cell {error.exec_count}: "
                f"{error.ename}: {error.evalue}"
            ) from None
        title = f"Portfolio health {month or 'latest month'}"
        page = export_html(
            result,
            title=title,
            audience="internal",
            footer="Internal: portfolio health",
            forbidden=machine_paths(work, Path(dataset).resolve()),
        )
    write_text_atomic(out_html, page)
    logger.info(
        "Rendered the portfolio report to %s in %.1f s",
        out_html,
        time.perf_counter() - started,
    )
    return Path(out_html)
