"""Time-based backtest: calibrate on earlier observation dates, test on later ones.

The training rows are those whose outcome was known when the test period
starts: a row at month ``m`` needs renewals up to month ``m + horizon``, so
with the test period starting at month ``T`` the training months end at
``T - horizon - 1``. That gap of one horizon keeps any outcome of the test
period out of the fit. By default ``T`` is chosen so that the training and
test periods have the same number of observation months.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from healthlab.calibration.diagnostics import Metrics, auc, auc_interval, evaluate
from healthlab.calibration.findings import Finding
from healthlab.calibration.observations import OUTCOME, ObservationTable
from healthlab.calibration.pipeline import CalibratedModel, fit_score_model
from healthlab.calibration.weights import fit_churn_risk, risk_at, score_rows
from healthlab.errors import CalibrationError, ConfigError
from healthlab.model import ChurnRisk, ScoreModel

logger = logging.getLogger(__name__)


@dataclass
class Backtest:
    """Held-out performance of the calibrated and the previous weights.

    ``predictions`` has one row per test observation scored by both models:
    ``client_id``, ``month``, ``outcome``, ``score`` and ``probability`` of
    the calibrated model, ``previous_score`` and ``previous_probability``.
    Each model's probability comes from a churn-risk map fitted on the
    training rows. ``metrics`` and ``previous_metrics`` evaluate them.
    """

    train_first: pd.Timestamp
    train_last: pd.Timestamp
    test_first: pd.Timestamp
    test_last: pd.Timestamp
    train_rows: int
    calibrated: CalibratedModel
    previous_risk: ChurnRisk
    predictions: pd.DataFrame
    metrics: Metrics
    previous_metrics: Metrics
    findings: list[Finding] = field(default_factory=list)

    def comparison(self) -> pd.DataFrame:
        """Return the metrics of both weightings side by side, one row each."""
        return pd.DataFrame(
            [self.metrics.to_dict(), self.previous_metrics.to_dict()],
            index=pd.Index(["calibrated", "previous"], name="weights"),
        )

    def to_dict(self) -> dict[str, object]:
        """Return the periods and metrics as plain values for a model file."""
        return {
            "train": {
                "first_month": f"{self.train_first:%Y-%m}",
                "last_month": f"{self.train_last:%Y-%m}",
                "observations": self.train_rows,
            },
            "test": {
                "first_month": f"{self.test_first:%Y-%m}",
                "last_month": f"{self.test_last:%Y-%m}",
                "observations": len(self.predictions),
            },
            "calibrated": self.metrics.to_dict(),
            "previous": self.previous_metrics.to_dict(),
        }


def split_months(
    table: ObservationTable, test_start: str | pd.Timestamp | None = None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the last training month and the first test month.

    Raises
    ------
    ConfigError
        If ``test_start`` is not a month, or lies outside the observation
        months that leave one month on each side of the gap.
    CalibrationError
        If the history is too short for one month on each side of the gap.
    """
    months = table.frame["month"]
    first, last = months.min(), months.max()
    horizon = pd.DateOffset(months=table.horizon)
    # The earliest test start leaves one training month before the gap.
    earliest = first + horizon + pd.DateOffset(months=1)
    if test_start is None:
        span = (last.year - first.year) * 12 + last.month - first.month
        # Equal numbers of months on each side of the gap of one horizon.
        train_months = (span + 1 - table.horizon) // 2
        start = first + horizon + pd.DateOffset(months=max(train_months, 0))
    else:
        start = parse_month(test_start)
        _check_test_start(table, start, earliest)
    train_last = start - horizon - pd.DateOffset(months=1)
    if train_last < first or start > last:
        raise CalibrationError(
            f"The observation dates {first:%Y-%m} to {last:%Y-%m} are too short "
            f"for a backtest with a {table.horizon}-month horizon and a test period "
            f"from {start:%Y-%m}: training needs observation months that end "
            f"{table.horizon} months before the test period. Use a shorter horizon "
            "or a longer history."
        )
    return train_last, start


def check_test_start_in_data(
    test_start: str | pd.Timestamp, data_end: pd.Timestamp, advice: str = ""
) -> None:
    """Reject a test start after the last month of data.

    Raises
    ------
    ConfigError
        If ``test_start`` is not a month or is after ``data_end``.
    """
    start = parse_month(test_start)
    if start > data_end:
        raise ConfigError(
            f"The test start {start:%Y-%m} is after the last month of data, "
            f"{data_end:%Y-%m}. "
            + (advice or "Choose an earlier test start (--test-start YYYY-MM).")
        )


def _check_test_start(
    table: ObservationTable, start: pd.Timestamp, earliest: pd.Timestamp
) -> None:
    """Reject a requested test start outside the usable observation months."""
    first, last = table.frame["month"].min(), table.frame["month"].max()
    if earliest <= last:
        advice = f"Choose a test start from {earliest:%Y-%m} to {last:%Y-%m}."
    else:
        advice = (
            f"No test start works with a {table.horizon}-month horizon on this "
            "history; use a shorter horizon or a longer history."
        )
    check_test_start_in_data(start, table.data_end, advice)
    if start > last:
        raise ConfigError(
            f"The test start {start:%Y-%m} is after the last observation month "
            f"with a known outcome, {last:%Y-%m}: the {table.horizon}-month "
            f"horizon of later months runs past the last month of data, "
            f"{table.data_end:%Y-%m}. {advice}"
        )
    if start < earliest:
        raise ConfigError(
            f"The test start {start:%Y-%m} leaves no training month: training "
            f"months must end more than {table.horizon} months before the test "
            "period, and "
            f"the first observation month is {first:%Y-%m}. {advice}"
        )


def parse_month(value: str | pd.Timestamp) -> pd.Timestamp:
    """Return the first day of the month ``value`` names (``YYYY-MM``).

    Raises
    ------
    ConfigError
        If ``value`` is not a month such as ``2025-04``.
    """
    if isinstance(value, pd.Timestamp):
        return value.to_period("M").to_timestamp()
    match = re.fullmatch(r"(\d{4})-(\d{2})(-\d{2})?", str(value).strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ConfigError(
            f"Invalid test start {value!r}; give a month such as 2025-04."
        )
    return pd.Timestamp(int(match.group(1)), int(match.group(2)), 1)


def run_backtest(
    table: ObservationTable,
    previous: ScoreModel,
    model_type: str = "logit",
    test_start: str | pd.Timestamp | None = None,
    seed: int = 0,
) -> Backtest:
    """Calibrate on the earlier observation dates and evaluate on the later ones.

    Parameters
    ----------
    table
        The observation table.
    previous
        The model being replaced; its weights are evaluated on the same test
        rows, with a churn-risk map fitted on the same training rows.
    model_type
        ``"logit"`` or ``"hazard"``.
    test_start
        First month of the test period; by default the month that gives the
        training and test periods equal numbers of months.
    seed
        Seed of the bootstrap behind the AUC intervals.
    """
    train_last, test_first = split_months(table, test_start)
    frame = table.frame
    train = frame[frame["month"] <= train_last].reset_index(drop=True)
    first_month = pd.Timestamp(frame["month"].min())
    test = frame[frame["month"] >= test_first].reset_index(drop=True)
    try:
        calibrated = fit_score_model(train, previous, model_type, table.horizon)
    except CalibrationError as error:
        raise CalibrationError(
            f"The backtest cannot fit on its training months {first_month:%Y-%m} to "
            f"{train_last:%Y-%m}: {error} The backtest needs that much on the "
            "earlier months alone; pass a later test start (--test-start) or use "
            "a longer history."
        ) from None

    old_train = score_rows(train, previous)
    old_risk, _ = fit_churn_risk(
        old_train, train[OUTCOME].to_numpy(), train["client_id"], table.horizon
    )
    new_risk = calibrated.model.churn_risk
    assert new_risk is not None  # fit_score_model always sets it
    predictions = test[["client_id", "month", OUTCOME]].assign(
        score=score_rows(test, calibrated.model),
        previous_score=score_rows(test, previous),
    )
    scored = predictions["score"].notna() & predictions["previous_score"].notna()
    findings: list[Finding] = []
    if not scored.all():
        findings.append(
            Finding(
                "missing",
                f"{int((~scored).sum())} test rows have no score under one of the "
                "models (no component with weight has data).",
                "They are left out of both models' test metrics.",
            )
        )
    predictions = predictions[scored].reset_index(drop=True)
    predictions["probability"] = risk_at(new_risk, predictions["score"])
    predictions["previous_probability"] = risk_at(
        old_risk, predictions["previous_score"]
    )
    if predictions[OUTCOME].nunique() < 2:
        raise CalibrationError(
            f"The test period {test_first:%Y-%m} to {frame['month'].max():%Y-%m} "
            "has only one outcome, so the backtest cannot measure anything. Use a "
            "longer history or another test start."
        )

    outcome = predictions[OUTCOME].to_numpy()
    groups = predictions["client_id"].to_numpy()
    metrics = evaluate(outcome, predictions["probability"], groups, seed=seed)
    previous_metrics = evaluate(
        outcome, predictions["previous_probability"], groups, seed=seed
    )
    logger.info(
        "Backtest: train to %s (%d rows), test from %s (%d rows): AUC %.3f "
        "calibrated, %.3f previous",
        f"{train_last:%Y-%m}",
        len(train),
        f"{test_first:%Y-%m}",
        len(predictions),
        metrics.auc,
        previous_metrics.auc,
    )
    return Backtest(
        train_first=pd.Timestamp(train["month"].min()),
        train_last=pd.Timestamp(train["month"].max()),
        test_first=pd.Timestamp(test["month"].min()),
        test_last=pd.Timestamp(test["month"].max()),
        train_rows=len(train),
        calibrated=calibrated,
        previous_risk=old_risk,
        predictions=predictions,
        metrics=metrics,
        previous_metrics=previous_metrics,
        findings=findings,
    )


def latent_health(backtest: Backtest, dataset: str | Path) -> pd.Series | None:
    """Return the sample generator's latent health of each test row.

    The sample portfolio writes its hidden latent health to
    ``_ground_truth/latent_health.csv``. A score built from observable data
    cannot rank churn better than it, so it is the ceiling for the calibrated
    score. Returns None when the dataset has no ground truth.

    Raises
    ------
    CalibrationError
        If the ground truth lacks a test row, so it belongs to another dataset.
    """
    from healthlab.sample import GROUND_TRUTH_FOLDER

    path = Path(dataset) / GROUND_TRUTH_FOLDER / "latent_health.csv"
    if not path.is_file():
        return None
    truth = pd.read_csv(path, dtype={"client_id": str}, parse_dates=["month"])
    rows = backtest.predictions[["client_id", "month"]].merge(
        truth, on=["client_id", "month"], how="left"
    )
    missing = int(rows["latent_health"].isna().sum())
    if missing:
        raise CalibrationError(
            f"{path} has no latent health for {missing} test rows; it does not "
            "belong to this dataset."
        )
    return rows["latent_health"].rename(None)


def latent_health_auc(
    backtest: Backtest, dataset: str | Path, seed: int = 0
) -> tuple[float, float, float] | None:
    """Return the AUC of the latent health on the test rows and its interval.

    Returns ``(auc, low, high)``, or None when the dataset has no ground truth
    (see :func:`latent_health`).
    """
    latent = latent_health(backtest, dataset)
    if latent is None:
        return None
    risk = -latent.to_numpy(dtype=float)
    outcome = backtest.predictions[OUTCOME].to_numpy()
    groups = backtest.predictions["client_id"].to_numpy()
    low, high = auc_interval(outcome, risk, groups, seed=seed)
    return auc(outcome, risk), low, high
