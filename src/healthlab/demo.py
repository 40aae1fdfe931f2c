"""The main job on the built-in sample portfolio, as ``healthlab demo`` runs it.

The steps are those an operations team runs each quarter on real data:
generate (here: the sample), validate, score, calibrate the weights, evaluate
the early-warning rules, render the client QBR reports and the internal
portfolio report.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from healthlab.errors import CalibrationError, DataValidationError

logger = logging.getLogger(__name__)

DEFAULT_CLIENTS = 300
DEFAULT_MONTHS = 36
DEFAULT_REPORTS = 24


@dataclass
class DemoResult:
    """Output paths of one ``run_demo`` call and the seconds each step took."""

    out: Path
    dataset: Path
    scores: Path
    model: Path
    alerts: Path
    portfolio_report: Path
    reports: Path
    quarter: str
    rendered: int
    failed: list[str]
    timings: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [
            f"Sample dataset:        {self.dataset}",
            f"Scores:                {self.scores}",
            f"Calibrated model:      {self.model}",
            f"Alerts:                {self.alerts}",
            f"Portfolio report:      {self.portfolio_report}  (internal)",
            f"QBR reports {self.quarter}:   {self.reports}  "
            f"({self.rendered} clients, HTML and PDF)",
        ]
        if self.failed:
            lines.append(f"Failed reports:        {', '.join(self.failed)}")
        total = sum(self.timings.values())
        steps = ", ".join(
            f"{name} {seconds:.0f} s" for name, seconds in self.timings.items()
        )
        lines.append(f"Took {total:.0f} s: {steps}.")
        return "\n".join(lines)


def run_demo(
    out: str | Path = "reports/demo",
    n_clients: int = DEFAULT_CLIENTS,
    n_months: int = DEFAULT_MONTHS,
    seed: int = 0,
    n_reports: int = DEFAULT_REPORTS,
    jobs: int | None = None,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run sample, validate, score, calibrate, monitor and render into ``out``.

    Parameters
    ----------
    out
        Output folder; ``out/data`` is regenerated on every run, reports that
        are unchanged since the last run are skipped.
    n_clients, n_months, seed
        Size and seed of the sample portfolio.
    n_reports
        How many clients get a QBR report: the first ``n_reports`` clients
        active in the last quarter, in client id order, so a run stays a few
        minutes long. ``0`` renders every active client.
    jobs
        Worker processes for rendering; the number of CPUs when None.
    echo
        Receives one line per finished step.

    Returns
    -------
    DemoResult
    """
    from healthlab._io import write_table
    from healthlab.calibration import calibrate_dataset
    from healthlab.dataset import load_dataset
    from healthlab.model import default_model_path, load_model
    from healthlab.monitoring.monitor import run_monitor, write_alerts
    from healthlab.monitoring.portfolio import render_portfolio_report
    from healthlab.reports.batch import render_batch
    from healthlab.sample import generate_portfolio
    from healthlab.scoring import score_dataset
    from healthlab.validation import validate_dataset

    out = Path(out)
    dataset = out / "data"
    internal = out / "internal"
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str, message: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now
        echo(f"[{name}] {message}")

    summary = generate_portfolio(
        dataset, n_clients=n_clients, n_months=n_months, seed=seed, overwrite=True
    )
    step("sample", f"{summary.clients} clients, {summary.months} months in {dataset}")

    problems = validate_dataset(dataset)
    if problems:
        raise DataValidationError(str(dataset), problems)
    step("validate", "no problems found")

    data = load_dataset(dataset)
    scores = score_dataset(data, load_model())
    scores_file = write_table(scores, internal / "scores.csv")
    step("score", f"{len(scores)} client-months in {scores_file}")

    model_file = internal / "calibrated-model.yaml"
    try:
        calibration = calibrate_dataset(dataset, model_file, force=True)
        metrics = calibration.backtest.metrics
        detail = (
            f"held-out AUC {metrics.auc:.3f} "
            f"(95% CI {metrics.auc_low:.3f}-{metrics.auc_high:.3f})"
        )
    except CalibrationError as error:
        # The default sample calibrates, but a small --clients may have too few
        # churned clients, so the demo goes on with the default weights.
        warnings.warn(
            f"Calibration failed, using default weights: {error}", stacklevel=2
        )
        model_file = default_model_path()
        detail = "failed, default weights kept"
    step("calibrate", f"{detail}; model in {model_file}")

    model = load_model(model_file)
    alerts = run_monitor(data, model)
    alerts_file = write_alerts(alerts, internal / "alerts.csv")
    step("monitor", f"{len(alerts)} open alerts in {alerts_file}")

    portfolio_file = internal / "portfolio-health.html"
    render_portfolio_report(dataset, portfolio_file, model=model_file)
    step("portfolio", f"internal portfolio report in {portfolio_file}")

    quarter = _last_quarter(data.last_month)
    active = sorted(scores.loc[scores["month"] == data.last_month, "client_id"])
    chosen = active if n_reports == 0 else active[:n_reports]
    batch = render_batch(
        dataset,
        quarter,
        out,
        clients=chosen,
        audience="client",
        formats=("html", "pdf"),
        jobs=jobs,
        model=model_file,
    )
    step("render", batch.summary())

    return DemoResult(
        out=out,
        dataset=dataset,
        scores=scores_file,
        model=model_file,
        alerts=alerts_file,
        portfolio_report=portfolio_file,
        reports=out / quarter / "client",
        quarter=quarter,
        rendered=len(batch.rendered) + len(batch.skipped),
        failed=batch.failed,
        timings=timings,
    )


def _last_quarter(last_month: object) -> str:
    """Return the last quarter whose final month has data, as ``YYYYQn``."""
    import pandas as pd

    month = pd.Timestamp(last_month)  # type: ignore[arg-type]
    if month.month % 3 != 0:
        month = month - pd.offsets.QuarterEnd(1)
    return f"{month.year}Q{month.quarter}"
