"""The ``healthlab`` command line: argument parsing and printing only.

Every subcommand calls one library function that a notebook can call too. User
errors (:class:`~healthlab.errors.HealthlabError`) print a message and exit with
status 2, without a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from healthlab.errors import ConfigError, HealthlabError

app = typer.Typer(
    name="healthlab",
    help="Client health scores, churn calibration, early warning and QBR reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_USER_ERROR = 2

DatasetArg = Annotated[
    Path, typer.Argument(help="Dataset folder with one CSV or Parquet file per table.")
]
MappingOpt = Annotated[
    Path | None,
    typer.Option(
        "--mapping", help="Column-mapping YAML for files exported by other tools."
    ),
]
ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", help="Score model YAML; the packaged default if omitted."),
]


@app.callback()
def _configure(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress at INFO level.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the dataset to.")],
    clients: Annotated[int, typer.Option(min=1, help="Number of clients.")] = 300,
    months: Annotated[int, typer.Option(min=6, help="Months of history.")] = 36,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing dataset in OUT.")
    ] = False,
) -> None:
    """Generate the built-in sample portfolio, deterministic for a seed."""
    from healthlab.sample import generate_portfolio

    summary = generate_portfolio(
        out, n_clients=clients, n_months=months, seed=seed, overwrite=force
    )
    typer.echo(summary)


@app.command()
def validate(dataset: DatasetArg, mapping: MappingOpt = None) -> None:
    """Check a dataset and list every problem at once; exit 2 if there are any."""
    from healthlab.validation import validate_dataset

    problems = validate_dataset(dataset, mapping=mapping)
    if not problems:
        typer.echo(f"{dataset}: valid.")
        return
    for problem in problems:
        typer.echo(str(problem), err=True)
    noun = "problem" if len(problems) == 1 else "problems"
    typer.echo(f"{dataset}: {len(problems)} {noun} found.", err=True)
    raise typer.Exit(EXIT_USER_ERROR)


@app.command()
def score(
    dataset: DatasetArg,
    out: Annotated[
        Path, typer.Option("--out", help="Output table (.csv, .parquet or .json).")
    ],
    model: ModelOpt = None,
    mapping: MappingOpt = None,
) -> None:
    """Score every client for every month and explain each month's change."""
    from healthlab.scoring import score_to_file

    scores = score_to_file(dataset, out, model=model, mapping=mapping)
    typer.echo(
        f"Wrote {len(scores)} rows for {scores['client_id'].nunique()} clients to {out}"
    )


@app.command()
def calibrate(
    dataset: Annotated[
        Path | None,
        typer.Argument(help="Dataset folder to calibrate on (or use --table)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Model file (YAML) to write.")
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=60,
            help="Months after an observation in which churn counts (default 12).",
        ),
    ] = None,
    model_type: Annotated[
        Literal["logit", "hazard"],
        typer.Option(
            "--model-type",
            help="logit (logistic regression) or hazard (cloglog discrete-time "
            "hazard).",
        ),
    ] = "logit",
    base_model: Annotated[
        Path | None,
        typer.Option(
            "--base-model",
            help="Model file being replaced; the packaged default if omitted.",
        ),
    ] = None,
    mapping: MappingOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the --out file if it exists.")
    ] = False,
    test_start: Annotated[
        str | None,
        typer.Option(
            "--test-start",
            help="First month (YYYY-MM) of the backtest's test period; by default "
            "the one that gives training and test periods equal lengths.",
        ),
    ] = None,
    table: Annotated[
        Path | None,
        typer.Option(
            "--table", help="Fit on a one-row-per-customer CSV or Parquet table."
        ),
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            "--outcome", help="With --table: outcome column (0/1, True/False, Yes/No)."
        ),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option("--features", help="With --table: predictor columns, A,B,C."),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option("--id", help="With --table: customer id column (unique)."),
    ] = None,
    categorical: Annotated[
        str | None,
        typer.Option(
            "--categorical",
            help="With --table: numeric-looking features to one-hot encode, A,B.",
        ),
    ] = None,
    drop_invalid: Annotated[
        bool,
        typer.Option(
            "--drop-invalid",
            help="With --table: drop rows with invalid cells instead of stopping.",
        ),
    ] = False,
) -> None:
    """Fit score weights to historical churn and write a new model file.

    With --table, fit the same guarded model on any one-row-per-customer table
    and print its coefficients and cross-validated metrics instead.
    """
    from healthlab.calibration import calibrate as run_calibration

    result = run_calibration(
        dataset,
        table=table,
        out=out,
        horizon=horizon,
        model_type=model_type,
        base_model=base_model,
        mapping=mapping,
        force=force,
        test_start=test_start,
        outcome=outcome,
        features=None if features is None else _split(features, "--features"),
        id_column=id_column,
        categorical=None
        if categorical is None
        else [name.strip() for name in categorical.split(",") if name.strip()],
        drop_invalid=drop_invalid,
    )
    typer.echo(result.summary())


@app.command()
def monitor(
    dataset: DatasetArg,
    out: Annotated[
        Path, typer.Option("--out", help="Alerts file to write (.csv or .json).")
    ],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Month to evaluate (YYYY-MM or a date in it); the last scored "
            "month if omitted. Later data is ignored.",
        ),
    ] = None,
    model: ModelOpt = None,
    mapping: MappingOpt = None,
) -> None:
    """Evaluate early-warning rules and write the alerts issued for one month."""
    from healthlab.monitoring.monitor import monitor_dataset, summarise_alerts

    alerts, month = monitor_dataset(
        dataset, out, as_of=as_of, model=model, mapping=mapping
    )
    counts = summarise_alerts(alerts)
    breakdown = ", ".join(f"{count} {severity}" for severity, count in counts.items())
    noun = "alert" if len(alerts) == 1 else "alerts"
    typer.echo(f"Wrote {len(alerts)} {noun} for {month:%Y-%m} to {out} ({breakdown}).")


@app.command()
def render(
    dataset: DatasetArg,
    quarter: Annotated[
        str, typer.Option("--quarter", help="Report quarter as YYYYQn, e.g. 2026Q3.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Output folder; reports go to OUT/QUARTER/.")
    ],
    clients: Annotated[
        str | None,
        typer.Option(
            "--clients",
            help="Comma-separated client ids (default: every client with data "
            "in the quarter).",
        ),
    ] = None,
    segment: Annotated[
        str | None, typer.Option("--segment", help="Render one segment only.")
    ] = None,
    audience: Annotated[
        str, typer.Option("--audience", help="Edition: client or internal.")
    ] = "client",
    formats: Annotated[
        str, typer.Option("--formats", help="Comma-separated: html, pdf.")
    ] = "html,pdf",
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", min=1, help="Worker processes (default: CPU count)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://h:8786."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Render even unchanged reports.")
    ] = False,
    model: ModelOpt = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Seconds a report may execute, once its kernel is ready, before "
            "it is stopped and recorded as failed.",
        ),
    ] = 300.0,
    alerts: Annotated[
        Path | None,
        typer.Option("--alerts", help="Alerts file for the internal edition."),
    ] = None,
    mapping: MappingOpt = None,
) -> None:
    """Render one QBR report per client to HTML and PDF; exit 1 if any failed."""
    from healthlab.reports.batch import render_batch

    result = render_batch(
        dataset,
        quarter,
        out,
        clients=None if clients is None else _split(clients, "--clients"),
        segment=segment,
        audience=audience,
        formats=_split(formats, "--formats"),
        jobs=jobs,
        scheduler=scheduler,
        force=force,
        model=model,
        timeout=timeout,
        alerts=alerts,
        mapping=mapping,
    )
    typer.echo(result.summary())
    if result.failed:
        for entry in result.with_status("failed"):
            typer.echo(f"failed: {entry.client_id}: {entry.error}", err=True)
        raise typer.Exit(1)


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the sample data and reports.")
    ] = Path("reports/demo"),
    clients: Annotated[
        int, typer.Option(min=20, help="Clients in the sample portfolio.")
    ] = 300,
    months: Annotated[int, typer.Option(min=24, help="Months of history.")] = 36,
    seed: Annotated[int, typer.Option(help="Random seed of the sample.")] = 0,
    reports: Annotated[
        int,
        typer.Option(
            min=0, help="Clients to render QBR reports for; 0 renders every client."
        ),
    ] = 24,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Parallel report workers; CPUs if unset.")
    ] = None,
) -> None:
    """Run the whole job on the sample portfolio and render some reports.

    The steps are sample, validate, score, calibrate, monitor and render.
    """
    from healthlab.demo import run_demo

    result = run_demo(
        out,
        n_clients=clients,
        n_months=months,
        seed=seed,
        n_reports=reports,
        jobs=jobs,
        echo=typer.echo,
    )
    typer.echo("")
    typer.echo(str(result))
    if result.failed:
        raise typer.Exit(1)


def _split(value: str, option: str) -> list[str]:
    """Split a comma-separated option value, dropping spaces and empty items."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{option} is empty; give one or more values, A,B,C.")
    return items


def main() -> None:
    """Run the CLI, turning user errors into a message and exit status 2."""
    try:
        app()
    except HealthlabError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(EXIT_USER_ERROR)
