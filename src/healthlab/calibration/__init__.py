"""Calibrate score weights against historical churn, with held-out diagnostics.

The modules follow the data flow:

- :mod:`~healthlab.calibration.observations`: the modelling table, one row per
  client and monthly observation date, with the outcome within a horizon;
- :mod:`~healthlab.calibration.fitting`: statsmodels fits (logit, or a
  cloglog discrete-time hazard) behind guards for separation, collinearity,
  non-convergence and too few events;
- :mod:`~healthlab.calibration.penalised`: ridge fits with sign bounds and
  the penalty chosen by cross-validation over folds of whole clients;
- :mod:`~healthlab.calibration.weights`: the weight policy (one-sided
  evidence, then shared weight from the ridge fit), churn-risk map and bands;
- :mod:`~healthlab.calibration.pipeline`: one calibration pass;
- :mod:`~healthlab.calibration.diagnostics` and
  :mod:`~healthlab.calibration.backtest`: AUC, Brier score, calibration and
  lift on later observation dates than the fit;
- :mod:`~healthlab.calibration.generic`: the same fit on any
  one-row-per-customer table;
- :mod:`~healthlab.calibration.api`: end-to-end calibration and the model file;
- :mod:`~healthlab.calibration.command`: one entry point for a dataset or a
  table, with the checks of which options go with which.
"""

from healthlab.calibration.api import (
    CalibrationResult,
    calibrate_data,
    calibrate_dataset,
)
from healthlab.calibration.command import calibrate
from healthlab.calibration.findings import Finding
from healthlab.calibration.fitting import FitResult, fit_churn_model
from healthlab.calibration.generic import GenericFitResult, calibrate_table

__all__ = [
    "CalibrationResult",
    "Finding",
    "FitResult",
    "GenericFitResult",
    "calibrate",
    "calibrate_data",
    "calibrate_dataset",
    "calibrate_table",
    "fit_churn_model",
]
