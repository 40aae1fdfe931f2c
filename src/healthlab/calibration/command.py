"""One entry point for both kinds of calibration, with their option checks.

``healthlab calibrate`` fits either a dataset folder (and writes a model file)
or a one-row-per-customer table (and prints its coefficients). Each kind has
options the other does not take, so :func:`calibrate` checks that the options
given belong to the chosen kind before it runs anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from healthlab.calibration.api import CalibrationResult, calibrate_dataset
from healthlab.calibration.generic import GenericFitResult, calibrate_table
from healthlab.errors import ConfigError

DEFAULT_HORIZON = 12
"""Months after an observation date in which churn counts, unless given."""


def calibrate(
    dataset: str | Path | None = None,
    *,
    table: str | Path | None = None,
    out: str | Path | None = None,
    horizon: int | None = None,
    model_type: str = "logit",
    base_model: str | Path | None = None,
    mapping: str | Path | None = None,
    force: bool = False,
    test_start: str | None = None,
    outcome: str | None = None,
    features: Sequence[str] | None = None,
    id_column: str | None = None,
    categorical: Sequence[str] | None = None,
    drop_invalid: bool = False,
) -> CalibrationResult | GenericFitResult:
    """Calibrate a dataset folder or a one-row-per-customer table.

    Give ``dataset`` and ``out`` to fit score weights and write a model file
    (see :func:`~healthlab.calibration.calibrate_dataset`), or ``table``,
    ``outcome`` and ``features`` to fit the same guarded model on any table
    (see :func:`~healthlab.calibration.calibrate_table`). ``horizon``,
    ``base_model``, ``mapping``, ``force`` and ``test_start`` are for datasets
    only; ``id_column``, ``categorical`` and ``drop_invalid`` for tables only.
    ``horizon`` is :data:`DEFAULT_HORIZON` months when None.

    Returns
    -------
    CalibrationResult or GenericFitResult
        The dataset calibration, or the table fit.

    Raises
    ------
    ConfigError
        If both or neither of ``dataset`` and ``table`` are given, a required
        option is missing, or an option of the other kind is given.
    """
    if table is not None:
        if dataset is not None:
            raise ConfigError(
                f"Give either a dataset folder ({dataset}) or --table ({table}), "
                "not both."
            )
        if outcome is None or not features:
            raise ConfigError("--table needs --outcome COLUMN and --features A,B,C.")
        _reject_options(
            {
                "--out": out is not None,
                "--base-model": base_model is not None,
                "--mapping": mapping is not None,
                "--force": force,
                "--horizon": horizon is not None,
                "--test-start": test_start is not None,
            },
            "These options are for dataset calibration, not --table: {}. With "
            "--table the coefficients are printed.",
        )
        return calibrate_table(
            table,
            outcome,
            features,
            id_column=id_column,
            drop_invalid=drop_invalid,
            categorical=categorical or (),
            model_type=model_type,
        )

    if dataset is None:
        raise ConfigError(
            "Give a dataset folder (healthlab calibrate DIR --out FILE) or a table "
            "(healthlab calibrate --table FILE --outcome COLUMN --features A,B,C)."
        )
    _reject_options(
        {
            "--outcome": outcome is not None,
            "--features": features is not None,
            "--id": id_column is not None,
            "--categorical": categorical is not None,
            "--drop-invalid": drop_invalid,
        },
        "These options need --table: {}.",
    )
    if out is None:
        raise ConfigError("Name the model file to write with --out FILE.yaml.")
    return calibrate_dataset(
        dataset,
        out,
        horizon=DEFAULT_HORIZON if horizon is None else horizon,
        model_type=model_type,
        base_model=base_model,
        mapping=mapping,
        force=force,
        test_start=test_start,
    )


def _reject_options(used: dict[str, bool], message: str) -> None:
    """Raise ConfigError naming the options that are set, if any."""
    names = [name for name, is_used in used.items() if is_used]
    if names:
        raise ConfigError(message.format(", ".join(names)))
