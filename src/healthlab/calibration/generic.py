"""The churn model on any one-row-per-customer table.

:func:`calibrate_table` reads a CSV or Parquet table, checks the outcome and
feature columns, one-hot encodes categorical features against a stated
reference level and fits the same guarded logistic regression as the dataset
calibration. Every invalid cell is reported with its row number (the header is
row 1). Rows with invalid cells are dropped only on request (``drop_invalid``).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from healthlab._parsing import MAX_ROWS_PER_RULE
from healthlab.calibration.diagnostics import Metrics, evaluate
from healthlab.calibration.findings import Finding
from healthlab.calibration.fitting import FitResult, check_model_type, fit_churn_model
from healthlab.errors import CalibrationError, ConfigError, DataValidationError, Problem

logger = logging.getLogger(__name__)

OUTCOME_LABELS: dict[str, int] = {
    "0": 0,
    "1": 1,
    "false": 0,
    "true": 1,
    "no": 0,
    "yes": 1,
}
"""Accepted outcome labels after trimming and lower-casing, and their value."""

MAX_LEVELS = 50
"""Most distinct values a categorical feature may have."""

FIRST_DATA_ROW = 2
"""Row number of the first data row: the header is row 1, as in a spreadsheet."""

CROSS_VALIDATION_FOLDS = 5

_MODEL_NAMES = {
    "logit": "logistic regression",
    "hazard": "binomial GLM with cloglog link",
}


@dataclass
class GenericFitResult:
    """A churn model fitted on a one-row-per-customer table.

    ``design`` is the fitted design matrix without the constant: numeric
    features as they are and one 0/1 column ``feature[level]`` per
    non-reference level of each categorical feature. ``outcome`` contains
    the 0/1 outcome of the same rows, ``rows`` their row numbers in the file.
    ``reference_levels`` maps each categorical feature to its reference level
    (the most frequent value). ``metrics`` come from cross-validated
    predictions (:data:`CROSS_VALIDATION_FOLDS` folds), so they are out of
    sample.
    """

    source: str
    outcome_column: str
    features: list[str]
    kinds: dict[str, str]
    reference_levels: dict[str, str]
    design: pd.DataFrame
    outcome: pd.Series
    rows: pd.Series
    dropped_rows: list[int]
    fit: FitResult
    metrics: Metrics
    findings: list[Finding] = field(default_factory=list)

    def coefficients(self) -> pd.DataFrame:
        """Return the coefficient table with odds ratios and their interval."""
        table = self.fit.coefficients.copy()
        table["odds_ratio"] = np.exp(table["coef"])
        table["or_low"] = np.exp(table["ci_low"])
        table["or_high"] = np.exp(table["ci_high"])
        return table

    def summary(self) -> str:
        """Return a text report: data, coefficients, metrics and findings."""
        fit = self.fit
        metrics = self.metrics
        lines = [
            f"{self.source}: outcome `{self.outcome_column}`, {fit.n_obs} rows, "
            f"{fit.n_events} events ({fit.n_events / fit.n_obs:.1%}); "
            f"{_count(len(self.dropped_rows), 'row')} dropped as invalid.",
            f"Model: {_MODEL_NAMES[fit.model_type]}, {fit.method}, {fit.cov_type} "
            "standard errors.",
        ]
        for feature in self.features:
            if self.kinds[feature] == "categorical":
                lines.append(
                    f"`{feature}` is categorical; reference level "
                    f"{self.reference_levels[feature]!r} (the most frequent)."
                )
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            lines.append(self.coefficients().to_string(float_format="{:.4g}".format))
        lines.append(
            f"Cross-validated ({CROSS_VALIDATION_FOLDS} folds): AUC {metrics.auc:.3f} "
            f"({metrics.auc_low:.3f}-{metrics.auc_high:.3f}), Brier "
            f"{metrics.brier:.4f}, calibration slope "
            f"{metrics.calibration_slope:.2f}, intercept "
            f"{metrics.calibration_intercept:+.2f}, top-decile lift "
            f"{metrics.top_decile_lift:.2f}."
        )
        if self.findings:
            lines.append("Findings:")
            lines += [f"  - {finding}" for finding in self.findings]
        return "\n".join(lines)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (every cell as text) or Parquet table.

    The file goes through the dataset reader's checks, so an Excel workbook,
    a binary, UTF-16 or non-UTF-8 file is named as such. The index of the
    returned frame is the spreadsheet row number (the header is row 1).

    Raises
    ------
    ConfigError
        If the path is a folder, the file is missing, unreadable or not CSV
        or Parquet, or its header names a column twice.
    """
    from healthlab._reading import _read_csv, _read_parquet

    file = Path(path)
    expected = (
        "--table expects a CSV or Parquet file with one row per customer and the "
        "column names on the first line"
    )
    if file.is_dir():
        raise ConfigError(
            f"The table {file} is a folder; {expected}. To calibrate a dataset "
            f"folder, run `healthlab calibrate {file} --out MODEL.yaml` without "
            "--table."
        )
    if not file.is_file():
        raise ConfigError(f"The table {file} was not found; {expected}.")
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".txt", ".parquet"):
        raise ConfigError(f"The table {file} must be a .csv or .parquet file.")

    reader = _read_parquet if suffix == ".parquet" else _read_csv
    frame, problems = reader(file, file.name)
    # A UTF-8 byte-order mark is stripped before parsing, so it is harmless here.
    problems = [problem for problem in problems if problem.rule != "byte-order-mark"]
    if frame is None or problems:
        details = "\n".join(f"  - {problem}" for problem in problems)
        raise ConfigError(f"Cannot read the table {file}:\n{details}")
    return frame


def calibrate_table(
    table: str | Path | pd.DataFrame,
    outcome: str,
    features: Sequence[str],
    id_column: str | None = None,
    drop_invalid: bool = False,
    categorical: Sequence[str] = (),
    model_type: str = "logit",
    seed: int = 0,
) -> GenericFitResult:
    """Fit a guarded logistic regression of ``outcome`` on ``features``.

    Parameters
    ----------
    table
        A CSV or Parquet file, or a DataFrame, with one row per customer.
    outcome
        The outcome column: 0/1, True/False or Yes/No (any case, surrounding
        spaces ignored). 1, True and Yes mark the event (churn).
    features
        Predictor columns. A column is numeric when its type is numeric or
        most of its non-blank cells are numbers, otherwise categorical.
    id_column
        Customer id column; its values must be unique.
    drop_invalid
        Drop rows with an invalid outcome label or a blank or non-numeric
        feature cell, and report how many, instead of raising.
    categorical
        Features to treat as categorical even though they look numeric
        (codes such as area codes).
    model_type
        ``"logit"`` or ``"hazard"`` (binomial GLM with cloglog link).
    seed
        Seed of the cross-validation folds and the AUC bootstrap.

    Returns
    -------
    GenericFitResult

    Raises
    ------
    ConfigError
        If a named column does not exist, or the options contradict each other.
    DataValidationError
        If cells are invalid (without ``drop_invalid``) or ids repeat; every
        problem is listed with its row number.
    CalibrationError
        If the data cannot support a fit (see
        :func:`~healthlab.calibration.fitting.fit_churn_model`).
    """
    check_model_type(model_type)
    if isinstance(table, pd.DataFrame):
        frame, source = table, "table"
        rows = pd.Series(np.arange(len(frame)) + FIRST_DATA_ROW, name="row")
    else:
        # The reader numbers rows as a spreadsheet does and skips empty rows.
        frame, source = read_table(table), Path(table).name
        rows = pd.Series(frame.index.to_numpy(), name="row")
    features = list(features)
    _check_columns(frame, source, outcome, features, id_column, categorical)
    frame = frame.reset_index(drop=True)

    problems: list[Problem] = []
    if id_column is not None:
        problems += _duplicate_ids(frame[id_column], source, id_column, rows)
        if problems:
            raise DataValidationError(source, _listed_first(problems))
    y, outcome_problems = _parse_outcome(frame[outcome], source, outcome, rows)
    problems += outcome_problems
    kinds = {
        name: "categorical"
        if name in categorical or not _looks_numeric(frame[name])
        else "numeric"
        for name in features
    }
    values: dict[str, pd.Series] = {}
    for name in features:
        parsed, column_problems = _parse_feature(
            frame[name], kinds[name], source, name, rows
        )
        values[name] = parsed
        problems += column_problems

    findings: list[Finding] = []
    invalid = sorted({problem.row for problem in problems if problem.row is not None})
    if problems and not drop_invalid:
        raise DataValidationError(source, _listed_first(problems))
    if invalid:
        keep = ~rows.isin(invalid)
        y = y[keep]
        values = {name: column[keep] for name, column in values.items()}
        shown = ", ".join(str(row) for row in invalid[:MAX_ROWS_PER_RULE])
        hidden = len(invalid) - MAX_ROWS_PER_RULE
        more = f" and {hidden} more" if hidden > 0 else ""
        findings.append(
            Finding(
                "invalid_rows",
                f"{len(invalid)} of {len(rows)} rows have invalid cells "
                f"(rows {shown}{more}).",
                "They were dropped, as requested.",
            )
        )
        rows = rows[keep]
    if len(rows) == 0:
        raise CalibrationError(f"No valid row is left in {source} to fit.")

    design, references = _design_matrix(values, kinds, source)
    fit = fit_churn_model(design, y.to_numpy(), model_type=model_type)
    findings += fit.findings
    metrics = _cross_validated_metrics(
        design[list(fit.features)], y.to_numpy(), model_type, seed
    )
    logger.info("Fitted %s on %d rows of %s", outcome, len(rows), source)
    return GenericFitResult(
        source=source,
        outcome_column=outcome,
        features=features,
        kinds=kinds,
        reference_levels=references,
        design=design,
        outcome=y.reset_index(drop=True),
        rows=rows.reset_index(drop=True),
        dropped_rows=list(invalid),
        fit=fit,
        metrics=metrics,
        findings=findings,
    )


def _check_columns(
    frame: pd.DataFrame,
    source: str,
    outcome: str,
    features: list[str],
    id_column: str | None,
    categorical: Sequence[str],
) -> None:
    if not features:
        raise ConfigError("Name at least one feature column (--features A,B,C).")
    named = [outcome, *features, *([id_column] if id_column else []), *categorical]
    unknown = [name for name in dict.fromkeys(named) if name not in frame.columns]
    if unknown:
        from healthlab._reading import (
            _is_one_column_with_separators,
            _wrong_separator,
        )

        available = [str(name) for name in frame.columns]
        if _is_one_column_with_separators(available, {}):
            raise ConfigError(str(_wrong_separator(source, available[0])))
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, available, n=1)
            hints.append(
                f"`{name}`" + (f" (did you mean `{close[0]}`?)" if close else "")
            )
        raise ConfigError(
            f"{source} has no column {', '.join(hints)}. Available columns: "
            f"{', '.join(available)}."
        )
    repeated = sorted({name for name in features if features.count(name) > 1})
    if repeated:
        raise ConfigError(f"Features named more than once: {', '.join(repeated)}.")
    if outcome in features:
        raise ConfigError(f"The outcome `{outcome}` cannot also be a feature.")
    if id_column is not None and id_column in features:
        raise ConfigError(f"The id column `{id_column}` cannot also be a feature.")
    stray = [name for name in categorical if name not in features]
    if stray:
        raise ConfigError(
            f"Categorical columns must be features too: {', '.join(stray)}."
        )


def _count(number: int, noun: str) -> str:
    """Return "1 row", "2 rows": a count with its noun in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _listed_first(problems: list[Problem]) -> list[Problem]:
    """Keep the first rows of each column and rule, plus one line with the count.

    A table with a wrong outcome column has an invalid cell in every row, and
    a message with thousands of lines cannot be read. As in dataset validation,
    each column and rule keeps its first :data:`MAX_ROWS_PER_RULE` rows. The
    count lines come first, because
    :class:`~healthlab.errors.DataValidationError` shows only the first
    problems in its message.
    """
    groups: dict[tuple[str | None, str], list[Problem]] = {}
    for problem in problems:
        groups.setdefault((problem.column, problem.rule), []).append(problem)

    counts: list[Problem] = []
    listed: list[Problem] = []
    for (column, rule), group in groups.items():
        listed += group[:MAX_ROWS_PER_RULE]
        if len(group) > MAX_ROWS_PER_RULE:
            first = group[0]
            counts.append(
                Problem(
                    first.file,
                    rule,
                    f"{first.message}: {len(group)} rows break this rule, from "
                    f"row {first.row} to row {group[-1].row}; only the first "
                    f"{MAX_ROWS_PER_RULE} are listed",
                    column=column,
                )
            )
    return counts + listed


def _text(column: pd.Series) -> pd.Series:
    """Return the cells as trimmed text, with missing values as ''."""
    return column.astype("string").fillna("").str.strip().astype(object)


def _duplicate_ids(
    ids: pd.Series, source: str, column: str, rows: pd.Series
) -> list[Problem]:
    text = _text(ids)
    repeated = text.duplicated(keep=False) & (text != "")
    problems = [
        Problem(
            source,
            "duplicate-id",
            "id appears in more than one row; the table must have one row per customer",
            row=int(rows[index]),
            column=column,
            value=str(text[index]),
        )
        for index in np.flatnonzero(repeated)
    ]
    return problems


def _parse_outcome(
    column: pd.Series, source: str, name: str, rows: pd.Series
) -> tuple[pd.Series, list[Problem]]:
    if pd.api.types.is_bool_dtype(column) and not column.isna().any():
        return column.astype(int), []
    text = _text(column).str.lower()
    y = text.map(OUTCOME_LABELS)
    bad = y.isna()
    problems = [
        Problem(
            source,
            "outcome-label",
            "the outcome must be 0/1, True/False or Yes/No; fix the cell or "
            "drop the row with --drop-invalid",
            row=int(rows[index]),
            column=name,
            value=str(column.iloc[index]),
        )
        for index in np.flatnonzero(bad)
    ]
    return y.fillna(-1).astype(int), problems


def _looks_numeric(column: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    text = _text(column)
    filled = text[text != ""]
    if filled.empty:
        return True
    return bool(pd.to_numeric(filled, errors="coerce").notna().mean() > 0.5)


def _parse_feature(
    column: pd.Series, kind: str, source: str, name: str, rows: pd.Series
) -> tuple[pd.Series, list[Problem]]:
    if kind == "categorical":
        text = _text(column)
        blank = text == ""
        return text, [
            Problem(
                source,
                "blank",
                "blank cell in a categorical feature; fill it or drop the row "
                "with --drop-invalid",
                row=int(rows[index]),
                column=name,
            )
            for index in np.flatnonzero(blank)
        ]
    if pd.api.types.is_numeric_dtype(column):
        numbers = column.astype(float)
        text = column.astype(str)
    else:
        text = _text(column)
        numbers = pd.to_numeric(text.where(text != ""), errors="coerce").astype(float)
    problems = []
    for index in np.flatnonzero(~np.isfinite(numbers.to_numpy())):
        is_blank = (
            bool(pd.isna(column.iloc[index])) or not str(text.iloc[index]).strip()
        )
        problems.append(
            Problem(
                source,
                "blank" if is_blank else "not-a-number",
                ("blank cell" if is_blank else "not a finite number")
                + " in a numeric feature; fix it or drop the row with "
                "--drop-invalid",
                row=int(rows[index]),
                column=name,
                value=None if is_blank else str(column.iloc[index]),
            )
        )
    return numbers, problems


def _design_matrix(
    values: dict[str, pd.Series], kinds: dict[str, str], source: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    columns: dict[str, pd.Series] = {}
    references: dict[str, str] = {}
    for name, column in values.items():
        column = column.reset_index(drop=True)
        if kinds[name] == "numeric":
            columns[name] = column
            continue
        counts = column.value_counts()
        if len(counts) > MAX_LEVELS:
            raise ConfigError(
                f"`{name}` in {source} has {len(counts)} distinct values; one-hot "
                f"encoding it would add {len(counts) - 1} columns (at most "
                f"{MAX_LEVELS} values are allowed). Leave it out or group its "
                "values."
            )
        # The most frequent level is the reference; ties go to the first in
        # sorted order so the choice does not depend on row order.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        reference = str(ranked[0][0])
        references[name] = reference
        for level in sorted(str(level) for level in counts.index):
            if level != reference:
                columns[f"{name}[{level}]"] = (column == level).astype(float)
    return pd.DataFrame(columns), references


def _cross_validated_metrics(
    design: pd.DataFrame, y: np.ndarray, model_type: str, seed: int
) -> Metrics:
    rng = np.random.default_rng(seed)
    fold = rng.permutation(np.arange(len(y)) % CROSS_VALIDATION_FOLDS)
    predicted = np.empty(len(y))
    for number in range(CROSS_VALIDATION_FOLDS):
        test = fold == number
        fold_fit = fit_churn_model(
            design[~test], y[~test], model_type=model_type, screen_collinearity=False
        )
        predicted[test] = fold_fit.predict(design[test])
    return evaluate(y, predicted, seed=seed)
