"""End-to-end calibration of the sample portfolio and the model file it writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from healthlab.calibration import CalibrationResult, calibrate_data, calibrate_dataset
from healthlab.calibration.api import dataset_fingerprint, file_sha256
from healthlab.calibration.backtest import latent_health_auc
from healthlab.dataset import load_dataset
from healthlab.errors import CalibrationError, ConfigError
from healthlab.model import COMPONENTS, default_model_path, load_model


@pytest.fixture(scope="module")
def written(
    sample_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> CalibrationResult:
    out = tmp_path_factory.mktemp("model") / "calibrated.yaml"
    return calibrate_dataset(sample_dir, out)


def test_calibrated_score_reaches_latent_ceiling(
    written: CalibrationResult, sample_dir: Path
) -> None:
    ceiling = latent_health_auc(written.backtest, sample_dir)
    assert ceiling is not None
    latent_auc, _, _ = ceiling
    calibrated_auc = written.backtest.metrics.auc
    print(f"held-out AUC: calibrated {calibrated_auc:.3f}, latent {latent_auc:.3f}")
    assert calibrated_auc >= 0.9 * latent_auc


def test_model_file_loads_with_new_weights(written: CalibrationResult) -> None:
    assert written.output is not None
    model = load_model(written.output)
    assert model.weights == written.model.weights
    assert sum(model.weights.values()) == pytest.approx(1.0, abs=1e-9)
    assert model.churn_risk is not None
    assert model.churn_risk.slope < 0
    assert model.churn_risk.horizon_months == 12
    assert [band.min_score for band in model.bands][0] == 0
    assert model.name.startswith("calibrated-")


def test_provenance_records_data_fit_and_metrics(
    written: CalibrationResult, sample_dir: Path
) -> None:
    assert written.output is not None
    provenance = load_model(written.output).provenance
    assert provenance["data"]["fingerprint"] == dataset_fingerprint(sample_dir)
    assert provenance["data"]["first_month"] == "2023-10"
    assert provenance["data"]["last_month"] == "2026-09"
    observations = provenance["observations"]
    table = written.observations
    assert observations["rows"] == table.observations
    assert observations["clients"] == table.clients
    assert observations["events"] == table.events
    assert observations["excluded"] == table.excluded
    assert provenance["horizon_months"] == 12
    assert provenance["model_type"] == "logit"
    assert provenance["fit"]["standard_errors"] == "cluster-robust by client"
    assert set(provenance["fit"]["coefficients"]) >= {"const", "utilisation"}
    backtest = provenance["metrics"]["backtest"]
    for key in ("auc", "auc_low", "auc_high", "brier", "calibration_slope"):
        assert key in backtest["calibrated"]
        assert key in backtest["previous"]
    assert backtest["calibrated"]["top_decile_lift"] > 1
    checks = {finding["check"] for finding in provenance["findings"]}
    assert "excluded" in checks
    replaces = provenance["replaces"]
    assert replaces["name"] == "default"
    assert replaces["sha256"] == file_sha256(default_model_path())


def test_every_component_has_a_decision(written: CalibrationResult) -> None:
    table = written.final.weights.table
    assert list(table.index) == list(COMPONENTS)
    zero = table[table["weight"] == 0]
    assert set(zero["status"]) <= {"wrong sign", "no evidence", "not fitted"}
    stated = " ".join(str(finding) for finding in written.findings)
    for name in zero.index:
        assert f"`{name}` gets weight 0" in stated


def test_fingerprint_changes_with_a_table(sample_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(sample_dir, copy)
    assert dataset_fingerprint(copy) == dataset_fingerprint(sample_dir)
    (copy / "_ground_truth" / "clients.csv").write_text("ignored\n")
    assert dataset_fingerprint(copy) == dataset_fingerprint(sample_dir)
    nps = copy / "nps.csv"
    nps.write_text(nps.read_text().replace(",9\n", ",8\n", 1))
    assert dataset_fingerprint(copy) != dataset_fingerprint(sample_dir)


def test_rejects_existing_output(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.yaml"
    out.write_text("name: keep me\n")
    with pytest.raises(ConfigError, match=r"model\.yaml already exists; pass --force"):
        calibrate_dataset(sample_dir, out)
    assert out.read_text() == "name: keep me\n"


def test_output_must_be_yaml(sample_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"must end in \.yaml or \.yml"):
        calibrate_dataset(sample_dir, tmp_path / "model.json")


def test_failed_calibration_writes_nothing(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.yaml"
    with pytest.raises(CalibrationError, match="too short for a backtest"):
        calibrate_dataset(sample_dir, out, horizon=24)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_and_records_base_model(
    written: CalibrationResult, sample_dir: Path, tmp_path: Path
) -> None:
    assert written.output is not None
    base = tmp_path / "base.yaml"
    shutil.copy(written.output, base)
    out = tmp_path / "model.yaml"
    out.write_text("old\n")
    result = calibrate_dataset(
        sample_dir, out, model_type="hazard", base_model=base, force=True
    )
    provenance = load_model(out).provenance
    assert provenance["model_type"] == "hazard"
    assert provenance["replaces"]["name"] == written.model.name
    assert provenance["replaces"]["file"] == str(base)
    assert provenance["replaces"]["sha256"] == file_sha256(base)
    assert result.final.fit.model_type == "hazard"
    # The previous weights are compared on the same held-out rows.
    assert result.backtest.previous_metrics.observations == (
        result.backtest.metrics.observations
    )


def test_calibrate_data_does_not_write(sample_dir: Path, tmp_path: Path) -> None:
    data = load_dataset(sample_dir)
    result = calibrate_data(data, load_model(), horizon=9)
    assert result.output is None
    assert result.model.churn_risk is not None
    assert result.model.churn_risk.horizon_months == 9
    assert result.backtest.test_first > result.backtest.train_last
    gap = (result.backtest.test_first.year - result.backtest.train_last.year) * 12 + (
        result.backtest.test_first.month - result.backtest.train_last.month
    )
    assert gap == 10


def test_test_start_moves_the_split(sample_dir: Path) -> None:
    data = load_dataset(sample_dir)
    result = calibrate_data(data, load_model(), test_start="2025-07")
    assert f"{result.backtest.test_first:%Y-%m}" == "2025-07"
    assert f"{result.backtest.train_last:%Y-%m}" == "2024-06"


@pytest.mark.parametrize("start", ["July", "2025-13"])
def test_invalid_test_start_raises(sample_dir: Path, start: str) -> None:
    data = load_dataset(sample_dir)
    with pytest.raises(ConfigError, match=f"Invalid test start '{start}'"):
        calibrate_data(data, load_model(), test_start=start)


def test_test_start_before_training_raises(sample_dir: Path) -> None:
    data = load_dataset(sample_dir)
    with pytest.raises(
        ConfigError,
        match=r"test start 2024-01 leaves no training month.*first observation "
        r"month is 2023-10\. Choose a test start from 2024-11 to 2025-09\.",
    ):
        calibrate_data(data, load_model(), test_start="2024-01")


def test_test_start_after_data_end_raises(sample_dir: Path) -> None:
    data = load_dataset(sample_dir)
    with pytest.raises(
        ConfigError,
        match=r"test start 2030-01 is after the last month of data, 2026-09\.",
    ):
        calibrate_data(data, load_model(), test_start="2030-01")


def test_test_start_without_outcomes_raises(sample_dir: Path) -> None:
    data = load_dataset(sample_dir)
    with pytest.raises(
        ConfigError,
        match=r"test start 2026-01 is after the last observation month with a "
        r"known outcome, 2025-09: .* last month of data, 2026-09\.",
    ):
        calibrate_data(data, load_model(), test_start="2026-01")


def test_test_start_checked_before_horizon(sample_dir: Path) -> None:
    # A 36-month horizon leaves no observation, but the test start is the
    # mistake to report first.
    data = load_dataset(sample_dir)
    with pytest.raises(ConfigError, match="after the last month of data, 2026-09"):
        calibrate_data(data, load_model(), horizon=36, test_start="2027-03")


def test_output_under_a_file_fails_before_loading(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("x\n")
    with pytest.raises(ConfigError, match="blocker.txt is a file, not a folder"):
        calibrate_dataset(tmp_path / "no-such-dataset", blocker / "model.yaml")


def test_output_folder_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="it is a folder. Give a file name"):
        calibrate_dataset(tmp_path / "no-such-dataset", tmp_path)


def test_bad_test_start_fails_before_loading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Invalid test start 'May'"):
        calibrate_dataset(
            tmp_path / "no-such-dataset", tmp_path / "m.yaml", test_start="May"
        )


def test_summary_labels_churned_clients(written: CalibrationResult) -> None:
    summary = written.summary()
    churned = written.observations.churned_clients
    assert f"{churned} churned clients in all observation rows" in summary
    joint = [f for f in written.findings if "cannot split their effect" in f.message]
    assert len(joint) == 1
    fitted = written.final.fitted_rows
    assert f"clients of the {fitted} rows in the weight fit" in joint[0].message
