"""Calibrate a dataset end to end and write the new model file with provenance."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from healthlab.calibration.backtest import (
    Backtest,
    check_test_start_in_data,
    parse_month,
    run_backtest,
)
from healthlab.calibration.findings import Finding
from healthlab.calibration.fitting import check_model_type
from healthlab.calibration.observations import ObservationTable, build_observations
from healthlab.calibration.pipeline import CalibratedModel, fit_score_model
from healthlab.calibration.weights import EVIDENCE_LEVEL, RISK_MULTIPLES
from healthlab.dataset import Dataset
from healthlab.errors import ConfigError
from healthlab.model import ScoreModel, default_model_path, dump_model, load_model

logger = logging.getLogger(__name__)


@dataclass
class CalibrationResult:
    """Everything one calibration produced.

    ``model`` is the new score model (fitted on all observation rows),
    ``output`` the file it was written to (None when not written),
    ``dataset`` the dataset folder,
    ``observations`` the modelling table, ``final`` the fit behind ``model``,
    ``backtest`` the held-out evaluation and ``findings`` every finding of
    the observation table, the final fit and the backtest, in that order.
    """

    model: ScoreModel
    output: Path | None
    dataset: Path
    observations: ObservationTable
    final: CalibratedModel
    backtest: Backtest
    previous: ScoreModel
    previous_source: str
    fingerprint: str
    findings: list[Finding] = field(default_factory=list)

    def summary(self) -> str:
        """Return a short text report of the calibration."""
        table = self.observations
        metrics = self.backtest.metrics
        old = self.backtest.previous_metrics
        weights = ", ".join(f"{k} {v:.3f}" for k, v in self.model.weights.items())
        lines = [
            f"Calibrated {self.final.fit.model_type} model on {table.observations} "
            f"observations of {table.clients} clients ({table.events} churn rows, "
            f"{table.churned_clients} churned clients in all observation rows), "
            f"horizon {table.horizon} months.",
            f"Weights: {weights}.",
            f"Backtest (train {self.backtest.train_first:%Y-%m} to "
            f"{self.backtest.train_last:%Y-%m}, test "
            f"{self.backtest.test_first:%Y-%m} to {self.backtest.test_last:%Y-%m}, "
            f"{metrics.observations} rows):",
            f"  calibrated AUC {metrics.auc:.3f} ({metrics.auc_low:.3f}-"
            f"{metrics.auc_high:.3f}), Brier {metrics.brier:.4f}, calibration "
            f"slope {metrics.calibration_slope:.2f}, intercept "
            f"{metrics.calibration_intercept:+.2f}, top-decile lift "
            f"{metrics.top_decile_lift:.2f}",
            f"  previous   AUC {old.auc:.3f} ({old.auc_low:.3f}-{old.auc_high:.3f}), "
            f"Brier {old.brier:.4f}",
            "Bands: "
            + ", ".join(f"{b.name} from {b.min_score:g}" for b in self.model.bands),
        ]
        if self.findings:
            lines.append("Findings:")
            lines += [f"  - {finding}" for finding in self.findings]
        if self.output is not None:
            lines.append(f"Wrote {self.output}")
        return "\n".join(lines)


def calibrate_dataset(
    path: str | Path,
    out: str | Path | None,
    horizon: int = 12,
    model_type: str = "logit",
    base_model: str | Path | None = None,
    mapping: str | Path | None = None,
    force: bool = False,
    test_start: str | None = None,
) -> CalibrationResult:
    """Calibrate score weights on a dataset and write the new model file.

    Parameters
    ----------
    path
        Dataset folder.
    out
        Model file (YAML) to write; None to calibrate without writing.
    horizon
        Months after an observation date in which a renewal decides the
        outcome.
    model_type
        ``"logit"`` (logistic regression) or ``"hazard"`` (discrete-time
        hazard: binomial GLM with cloglog link).
    base_model
        The model file being replaced, whose scoring parameters define the
        components; the packaged default when None.
    mapping
        Column-mapping YAML for the dataset.
    force
        Replace ``out`` if it exists.
    test_start
        First month (``YYYY-MM``) of the backtest's test period; by default
        the middle of the usable history.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ConfigError
        If ``out`` exists and ``force`` is False, or an option is invalid.
    CalibrationError
        If the data cannot support a trustworthy fit.
    DataValidationError
        If the dataset is invalid.
    """
    from healthlab.dataset import load_dataset

    check_model_type(model_type)
    if test_start is not None:
        parse_month(test_start)
    output = None if out is None else Path(out)
    _check_output(output, force)
    previous_file = Path(base_model) if base_model is not None else default_model_path()
    previous = load_model(previous_file)
    data = load_dataset(path, mapping=mapping)
    result = calibrate_data(data, previous, horizon, model_type, test_start)
    result.previous_source = str(
        base_model if base_model is not None else "healthlab default-model.yaml"
    )
    result.fingerprint = dataset_fingerprint(Path(path), mapping)
    result.model = _with_provenance(result, previous_file)
    if output is not None:
        from healthlab._io import write_text_atomic

        # Checked again so that a file created during the fit is not replaced.
        _check_output(output, force)
        write_text_atomic(output, _model_header(result) + dump_model(result.model))
        result.output = output
        logger.info("Wrote calibrated model %s", output)
    return result


def calibrate_data(
    data: Dataset,
    previous: ScoreModel,
    horizon: int = 12,
    model_type: str = "logit",
    test_start: str | None = None,
) -> CalibrationResult:
    """Calibrate on a loaded dataset without writing anything.

    The backtest fits on the earlier observation dates; the returned model is
    then fitted on all of them. Provenance is left empty.
    """
    from healthlab.components import compute_components

    check_model_type(model_type)
    components = compute_components(data, previous)
    # A test start after the data ends is wrong whatever the horizon, so it is
    # reported before the observation table, which may fail for other reasons.
    if test_start is not None and not components.empty:
        check_test_start_in_data(test_start, pd.Timestamp(components["month"].max()))
    table = build_observations(data, previous, horizon, components=components)
    backtest = run_backtest(table, previous, model_type, test_start)
    final = fit_score_model(table.frame, previous, model_type, horizon)
    findings = [*table.findings, *final.findings, *backtest.findings]
    return CalibrationResult(
        model=final.model,
        output=None,
        dataset=Path(data.source),
        observations=table,
        final=final,
        backtest=backtest,
        previous=previous,
        previous_source=previous.name,
        fingerprint="",
        findings=findings,
    )


def _check_output(output: Path | None, force: bool) -> None:
    """Reject an output path that cannot take the model file, before any fit.

    Creates the output's folder if it is missing, so that a path that cannot
    be written fails in seconds rather than after the calibration.
    """
    from healthlab._io import ensure_folder

    if output is None:
        return
    if output.is_dir():
        raise ConfigError(
            f"Cannot write the model file {output}: it is a folder. Give a file "
            "name ending in .yaml, such as --out model.yaml."
        )
    if output.exists() and not force:
        raise ConfigError(
            f"{output} already exists; pass --force (force=True) to replace it, "
            "or choose another --out file."
        )
    if output.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError(f"The model file {output} must end in .yaml or .yml.")
    folder = ensure_folder(output.parent)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"Cannot write the model file {output}: the folder {folder} is not "
            "writable. Choose a folder you can write to."
        )


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_fingerprint(folder: Path, mapping: str | Path | None = None) -> str:
    """Return a SHA-256 over the dataset's table files (and mapping file).

    Each table file contributes its name and bytes, in table order, so a
    renamed, edited or replaced file changes the fingerprint. Other files in
    the folder, such as ``_ground_truth``, do not count.
    """
    from healthlab._reading import find_table_files
    from healthlab.mapping import ColumnMapping, load_mapping

    column_mapping = load_mapping(mapping) if mapping is not None else ColumnMapping()
    files, _ = find_table_files(folder, column_mapping)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}:{files[name].name}:".encode())
        digest.update(file_sha256(files[name]).encode())
    if mapping is not None:
        digest.update(b"mapping:" + file_sha256(Path(mapping)).encode())
    return "sha256:" + digest.hexdigest()


def _with_provenance(result: CalibrationResult, previous_file: Path) -> ScoreModel:
    from healthlab import __version__

    table = result.observations
    final = result.final
    coefficients = final.fit.coefficients.join(
        final.weights.table[["alone_coef", "alone_p", "ridge_coef", "status"]],
        how="left",
    )
    provenance: dict[str, Any] = {
        # No timestamp: the same data and options give a byte-identical file, so
        # reports rendered from it are not re-rendered needlessly.
        "created_by": f"healthlab {__version__} calibrate",
        "data": {
            "source": str(result.dataset),
            "fingerprint": result.fingerprint,
            "first_month": f"{table.data_start:%Y-%m}",
            "last_month": f"{table.data_end:%Y-%m}",
        },
        "observations": {
            "rows": table.observations,
            "fitted_rows": final.fitted_rows,
            "clients": table.clients,
            "events": table.events,
            "churned_clients": table.churned_clients,
            "base_rate": round(final.base_rate, 4),
            "first_date": f"{table.frame['month'].min():%Y-%m}",
            "last_date": f"{table.frame['month'].max():%Y-%m}",
            "excluded": dict(table.excluded),
        },
        "horizon_months": table.horizon,
        "model_type": final.fit.model_type,
        "fit": {
            "method": final.fit.method,
            "standard_errors": (
                "cluster-robust by client"
                if final.fit.cov_type == "cluster"
                else final.fit.cov_type
            ),
            "coefficients": {
                str(term): {
                    key: (round(float(value), 6) if isinstance(value, float) else value)
                    for key, value in row.items()
                    if key in _COEFFICIENT_KEYS and value == value
                }
                for term, row in coefficients.iterrows()
            },
        },
        "weights": _weights_provenance(final),
        "bands": {
            "rule": (
                f"{result.model.bands[0].name} where churn risk is above "
                f"{RISK_MULTIPLES[0]:g}x the base rate, "
                f"{result.model.bands[-1].name} where it is below "
                f"{RISK_MULTIPLES[1]:g}x"
            )
            if len(result.model.bands) == 3
            else "kept from the previous model",
        },
        "metrics": {"backtest": result.backtest.to_dict()},
        "findings": [finding.to_dict() for finding in result.findings],
        "replaces": {
            "name": result.previous.name,
            "file": result.previous_source,
            "sha256": file_sha256(previous_file),
        },
    }
    name = f"calibrated-{result.fingerprint.removeprefix('sha256:')[:12]}"
    description = (
        f"Weights fitted to {table.observations} observations of {table.clients} "
        f"clients ({final.fit.model_type}, {table.horizon}-month horizon)."
    )
    return ScoreModel.model_validate(
        {
            **result.model.model_dump(),
            "name": name,
            "description": description,
            "provenance": provenance,
        }
    )


_COEFFICIENT_KEYS = (
    "coef",
    "std_err",
    "ci_low",
    "ci_high",
    "alone_coef",
    "alone_p",
    "ridge_coef",
    "status",
)


def _weights_provenance(final: CalibratedModel) -> dict[str, Any]:
    """Return how the weights were derived, for the model file."""
    derived = final.weights
    record: dict[str, Any] = {
        "method": (
            "one-sided test of each component alone, then ridge regression of "
            "churn on the components with evidence, coefficients bounded at 0; "
            "weight = -coefficient / sum(-coefficients)"
        ),
        "evidence_level_one_sided": EVIDENCE_LEVEL,
    }
    if derived.penalty is not None:
        record["penalty"] = {
            "chosen": round(derived.penalty.chosen, 6),
            "lowest_deviance": round(derived.penalty.lowest, 6),
            "rule": "largest penalty within one standard error of the lowest "
            "cross-validated deviance",
            "folds": derived.penalty.folds,
            "fold_unit": "client",
        }
    return record


def _model_header(result: CalibrationResult) -> str:
    return (
        "# Score model written by `healthlab calibrate`. The provenance section\n"
        "# records the data, the fit and its held-out metrics; recalibrate rather\n"
        "# than edit the weights by hand.\n"
    )
