"""The churn model on one-row-per-customer tables, including real public ones."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from healthlab._parsing import MAX_ROWS_PER_RULE
from healthlab.calibration import calibrate_table
from healthlab.errors import ConfigError, DataValidationError

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _shared_table(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} not found: the public churn tables live outside the repo")
    return path


def _direct_logit(frame: pd.DataFrame, outcome: pd.Series, columns: list[str]):
    exog = sm.add_constant(frame[columns].astype(float), has_constant="add")
    return sm.Logit(outcome.astype(float), exog).fit(disp=0)


@pytest.mark.shared_data
def test_bank_coefficients_match_statsmodels() -> None:
    path = _shared_table("bank_churn.csv")
    features = [
        "CreditScore",
        "Geography",
        "Gender",
        "Age",
        "Tenure",
        "Balance",
        "NumOfProducts",
        "HasCrCard",
        "IsActiveMember",
        "EstimatedSalary",
    ]
    result = calibrate_table(
        path, "Exited", features, id_column="CustomerId", drop_invalid=True
    )
    # The last line of the published file is shifted by one column, so its
    # outcome cell contains 50000. It is the only row dropped.
    assert result.dropped_rows == [10002]
    assert result.reference_levels == {"Geography": "France", "Gender": "Male"}

    raw = pd.read_csv(path).iloc[:-1]
    design = raw[[name for name in features if name not in ("Geography", "Gender")]]
    design = design.assign(
        **{
            "Geography[Germany]": (raw["Geography"] == "Germany").astype(float),
            "Geography[Spain]": (raw["Geography"] == "Spain").astype(float),
            "Gender[Female]": (raw["Gender"] == "Female").astype(float),
        }
    )
    direct = _direct_logit(design, raw["Exited"], list(result.fit.features))
    assert result.fit.method == "maximum likelihood"
    assert len(result.fit.features) == 11
    for term, value in direct.params.items():
        assert result.fit.params[term] == pytest.approx(value, abs=1e-6), term
    np.testing.assert_allclose(
        result.fit.coefficients["std_err"], direct.bse, rtol=1e-6
    )
    assert 0.70 < result.metrics.auc < 0.85


@pytest.mark.shared_data
def test_bank_bad_label_names_the_row() -> None:
    path = _shared_table("bank_churn.csv")
    with pytest.raises(
        DataValidationError, match=r"row 10002, column `Exited`"
    ) as info:
        calibrate_table(path, "Exited", ["Age", "Balance"])
    assert len(info.value.problems) == 1
    assert info.value.problems[0].value == "50000"
    assert "--drop-invalid" in str(info.value)


@pytest.mark.shared_data
def test_telecom_coefficients_match_statsmodels() -> None:
    path = _shared_table("mlc_churn_train.csv")
    features = [
        "International_Plan",
        "Voice_Mail_Plan",
        "No_Vmail_Messages",
        "Total_Day_minutes",
        "Total_Day_charge",
        "Total_Eve_Minutes",
        "No_CS_Calls",
        "Area_Code",
    ]
    result = calibrate_table(path, "Customer_Left", features, categorical=["Area_Code"])
    # Labels are stored with a leading space (" yes"); they are trimmed.
    assert result.reference_levels == {
        "International_Plan": "no",
        "Voice_Mail_Plan": "no",
        "Area_Code": "415",
    }
    # Day charge is a fixed tariff times day minutes: an exact dependence.
    assert "Total_Day_charge" in result.fit.dropped
    assert "collinearity" in {finding.check for finding in result.findings}

    raw = pd.read_csv(path)
    outcome = raw["Customer_Left"].astype(int)
    design = raw[["No_Vmail_Messages", "Total_Day_minutes", "Total_Eve_Minutes"]]
    design = design.assign(
        No_CS_Calls=raw["No_CS_Calls"],
        **{
            "International_Plan[yes]": (raw["International_Plan"] == " yes").astype(
                float
            ),
            "Voice_Mail_Plan[yes]": (raw["Voice_Mail_Plan"] == " yes").astype(float),
            "Area_Code[408]": (raw["Area_Code"] == 408).astype(float),
            "Area_Code[510]": (raw["Area_Code"] == 510).astype(float),
        },
    )
    direct = _direct_logit(design, outcome, list(result.fit.features))
    for term, value in direct.params.items():
        assert result.fit.params[term] == pytest.approx(value, abs=1e-6), term


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    usage = rng.uniform(0, 10, n)
    plan = rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2])
    eta = 1.0 - 0.4 * usage + np.where(plan == "pro", -0.5, 0.0)
    churned = rng.uniform(size=n) < 1 / (1 + np.exp(-eta))
    return pd.DataFrame(
        {
            "customer": [f"c{i:04d}" for i in range(n)],
            "usage": usage.round(3),
            "plan": plan,
            "left": np.where(churned, "Yes", "No"),
        }
    )


@pytest.mark.parametrize(
    ("yes", "no"),
    [("1", "0"), ("True", "False"), (" YES ", "no"), ("true", " FALSE")],
)
def test_outcome_labels_accepted(tmp_path: Path, yes: str, no: str) -> None:
    frame = _table()
    frame["left"] = np.where(frame["left"] == "Yes", yes, no)
    result = calibrate_table(
        _write(tmp_path, frame.to_csv(index=False)), "left", ["usage", "plan"]
    )
    assert result.fit.n_events == int((_table()["left"] == "Yes").sum())
    assert result.fit.params["usage"] < 0


def test_bad_outcome_labels_name_rows(tmp_path: Path) -> None:
    frame = _table()
    frame.loc[[4, 9], "left"] = ["maybe", ""]
    frame.loc[20, "left"] = "2"
    path = _write(tmp_path, frame.to_csv(index=False))
    with pytest.raises(DataValidationError, match="3 problems found") as info:
        calibrate_table(path, "left", ["usage"])
    rows = [problem.row for problem in info.value.problems]
    assert rows == [6, 11, 22]
    assert {problem.column for problem in info.value.problems} == {"left"}
    assert "row 6, column `left`" in str(info.value)


def test_non_numeric_cells_name_rows(tmp_path: Path) -> None:
    frame = _table().astype({"usage": object})
    frame.loc[2, "usage"] = "n/a"
    frame.loc[7, "usage"] = ""
    path = _write(tmp_path, frame.to_csv(index=False))
    with pytest.raises(DataValidationError, match="2 problems found") as info:
        calibrate_table(path, "left", ["usage", "plan"])
    problems = {problem.row: problem for problem in info.value.problems}
    assert problems[4].rule == "not-a-number"
    assert problems[4].value == "n/a"
    assert problems[9].rule == "blank"


def test_drop_invalid_drops_and_counts(tmp_path: Path) -> None:
    frame = _table().astype({"usage": object})
    frame.loc[2, "usage"] = "n/a"
    frame.loc[5, "left"] = "unknown"
    path = _write(tmp_path, frame.to_csv(index=False))
    result = calibrate_table(path, "left", ["usage", "plan"], drop_invalid=True)
    assert result.dropped_rows == [4, 7]
    assert result.fit.n_obs == len(frame) - 2
    assert "2 of 400 rows have invalid cells (rows 4, 7)" in result.summary()


def test_reference_level_is_most_frequent(tmp_path: Path) -> None:
    path = _write(tmp_path, _table().to_csv(index=False))
    result = calibrate_table(path, "left", ["usage", "plan"], id_column="customer")
    assert result.kinds == {"usage": "numeric", "plan": "categorical"}
    assert result.reference_levels == {"plan": "basic"}
    assert list(result.design.columns) == ["usage", "plan[pro]", "plan[team]"]
    assert "reference level 'basic' (the most frequent)" in result.summary()


def test_unknown_columns_list_available(tmp_path: Path) -> None:
    path = _write(tmp_path, _table().to_csv(index=False))
    with pytest.raises(
        ConfigError,
        match=r"no column `Usage` \(did you mean `usage`\?\), `tenure`\. "
        r"Available columns: customer, usage, plan, left\.",
    ):
        calibrate_table(path, "left", ["Usage", "tenure"])


def test_duplicate_ids_name_rows(tmp_path: Path) -> None:
    frame = _table()
    frame.loc[10, "customer"] = frame.loc[3, "customer"]
    path = _write(tmp_path, frame.to_csv(index=False))
    with pytest.raises(DataValidationError, match="row 5, column `customer`"):
        calibrate_table(path, "left", ["usage"], id_column="customer")


def test_too_many_levels_raise(tmp_path: Path) -> None:
    path = _write(tmp_path, _table().to_csv(index=False))
    with pytest.raises(ConfigError, match="`customer` in customers.csv has 400"):
        calibrate_table(path, "left", ["usage", "customer"])


def test_outcome_cannot_be_a_feature(tmp_path: Path) -> None:
    path = _write(tmp_path, _table().to_csv(index=False))
    with pytest.raises(ConfigError, match="cannot also be a feature"):
        calibrate_table(path, "left", ["usage", "left"])


def test_dataframe_and_parquet_inputs(tmp_path: Path) -> None:
    frame = _table()
    frame["left"] = frame["left"] == "Yes"
    parquet = tmp_path / "customers.parquet"
    frame.to_parquet(parquet)
    from_file = calibrate_table(parquet, "left", ["usage", "plan"])
    from_frame = calibrate_table(frame, "left", ["usage", "plan"])
    pd.testing.assert_series_equal(from_file.fit.params, from_frame.fit.params)


def test_missing_table_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        calibrate_table(tmp_path / "absent.csv", "left", ["usage"])


def test_parquet_missing_number_names_row(tmp_path: Path) -> None:
    frame = _table()
    frame.loc[6, "usage"] = np.nan
    parquet = tmp_path / "customers.parquet"
    frame.to_parquet(parquet)
    with pytest.raises(DataValidationError, match="row 8, column `usage`: blank"):
        calibrate_table(parquet, "left", ["usage", "plan"])


def test_folder_as_table_raises(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"is a folder; --table expects a CSV or Parquet file with one row "
        r"per customer",
    ):
        calibrate_table(tmp_path, "left", ["usage"])


def test_missing_table_says_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"absent\.csv was not found; --table expects a CSV or Parquet file",
    ):
        calibrate_table(tmp_path / "absent.csv", "left", ["usage"])


def test_workbook_named_csv_raises(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    with zipfile.ZipFile(path, "w") as workbook:
        workbook.writestr("xl/workbook.xml", "<workbook>\u00e9</workbook>" * 50)
    with pytest.raises(ConfigError, match="zip archive, such as an Excel workbook"):
        calibrate_table(path, "left", ["usage"])


def test_windows_1252_table_names_line(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("usage,left,city\n1.5,No,Z\u00fcrich\n".encode("cp1252"))
    with pytest.raises(ConfigError, match=r"row 2: invalid UTF-8.*0xfc"):
        calibrate_table(path, "left", ["usage"])


def test_semicolon_table_hints_separator(tmp_path: Path) -> None:
    path = _write(tmp_path, _table().to_csv(index=False, sep=";"))
    with pytest.raises(ConfigError, match="separate cells with ';': save it with"):
        calibrate_table(path, "left", ["usage"])


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(_table().to_csv(index=False), encoding="utf-8-sig")
    result = calibrate_table(path, "left", ["usage"], id_column="customer")
    assert result.fit.n_obs == 400


def test_many_invalid_cells_listed_per_rule(tmp_path: Path) -> None:
    frame = _table()
    path = _write(tmp_path, frame.to_csv(index=False))
    with pytest.raises(DataValidationError) as info:
        calibrate_table(path, "left", ["usage"], id_column="plan")
    problems = info.value.problems
    assert len(problems) == MAX_ROWS_PER_RULE + 1
    assert problems[0].row is None
    assert "400 rows break this rule, from row 2 to row 401" in problems[0].message
    assert "only the first 20 are listed" in str(info.value)
    assert [problem.row for problem in problems[1:]] == list(range(2, 22))


def test_many_invalid_outcomes_keep_count(tmp_path: Path) -> None:
    frame = _table()
    frame["left"] = frame["plan"]
    path = _write(tmp_path, frame.to_csv(index=False))
    with pytest.raises(DataValidationError, match="400 rows break this rule"):
        calibrate_table(path, "left", ["usage"])


def test_drop_invalid_drops_every_bad_row(tmp_path: Path) -> None:
    frame = _table().astype({"usage": object})
    frame.loc[:29, "usage"] = "n/a"
    path = _write(tmp_path, frame.to_csv(index=False))
    result = calibrate_table(path, "left", ["usage", "plan"], drop_invalid=True)
    assert result.dropped_rows == list(range(2, 32))
    assert result.fit.n_obs == 370
    assert "30 rows dropped as invalid" in result.summary()
    assert "and 10 more" in result.summary()


def test_one_dropped_row_is_singular(tmp_path: Path) -> None:
    frame = _table().astype({"usage": object})
    frame.loc[3, "usage"] = "n/a"
    path = _write(tmp_path, frame.to_csv(index=False))
    result = calibrate_table(path, "left", ["usage"], drop_invalid=True)
    assert "; 1 row dropped as invalid." in result.summary()


def test_skipped_empty_rows_keep_row_numbers(tmp_path: Path) -> None:
    text = _table(n=200).to_csv(index=False)
    lines = text.splitlines()
    lines.insert(3, ",,,")
    lines[10] = lines[10].rsplit(",", 1)[0] + ",maybe"
    path = _write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(DataValidationError, match="row 11, column `left`"):
        calibrate_table(path, "left", ["usage"])
