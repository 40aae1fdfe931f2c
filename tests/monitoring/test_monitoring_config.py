"""Alert settings in the model file: defaults, overrides and invalid values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from healthlab.errors import ConfigError
from healthlab.model import default_model_path, load_model
from healthlab.monitoring.config import (
    DEFAULT_PLAYBOOKS,
    RULE_NAMES,
    AlertSettings,
)


def write_model(folder: Path, alerts: object) -> Path:
    raw = yaml.safe_load(default_model_path().read_text(encoding="utf-8"))
    raw["alerts"] = alerts
    path = folder / "model.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_packaged_yaml_matches_defaults() -> None:
    assert load_model().alerts == AlertSettings()


def test_empty_alerts_gives_defaults(tmp_path: Path) -> None:
    model = load_model(write_model(tmp_path, {}))
    assert model.alerts == AlertSettings()
    assert model.alerts.enabled_rules() == list(RULE_NAMES)
    assert model.alerts.playbooks == DEFAULT_PLAYBOOKS


def test_partial_override_keeps_other_defaults(tmp_path: Path) -> None:
    alerts = {
        "cooldown_months": 2,
        "rules": {"score_drop": {"points": 15}},
        "playbooks": {"missed_qbr": "Book the QBR."},
    }
    settings = load_model(write_model(tmp_path, alerts)).alerts
    assert settings.cooldown_months == 2
    assert settings.rules.score_drop.points == 15
    assert settings.rules.score_drop.months == 3
    assert settings.rules.nps_control.min_sigma == 0.5
    assert settings.playbooks["missed_qbr"] == "Book the QBR."
    assert settings.playbooks["score_drop"] == DEFAULT_PLAYBOOKS["score_drop"]


def test_cooldown_for_rule() -> None:
    settings = AlertSettings.model_validate(
        {"cooldown_months": 4, "rules": {"missed_qbr": {"cooldown_months": 6}}}
    )
    assert settings.cooldown_for("missed_qbr") == 6
    assert settings.cooldown_for("score_drop") == 4


def test_emerging_threat_not_churn_signal() -> None:
    rules = AlertSettings().rules
    assert rules.emerging_threat.churn_signal is False
    assert rules.emerging_threat.below_score is None
    assert rules.score_drop.churn_signal is True


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"rules": {"score_drop": {"points": -1}}}, r"alerts\.rules\.score_drop"),
        ({"rules": {"score_drop": {"severity": "urgent"}}}, "severity"),
        ({"rules": {"no_such_rule": {}}}, "no_such_rule"),
        ({"rules": {"score_drop": {"pointz": 3}}}, "pointz"),
        ({"playbooks": {"no_such_rule": "Act."}}, "unknown rule no_such_rule"),
        ({"playbooks": {"score_drop": "  "}}, "empty playbook step for score_drop"),
        ({"cooldown_months": -1}, "cooldown_months"),
        ({"rules": {"emerging_threat": {"alpha": 1.5}}}, "alpha"),
    ],
)
def test_invalid_alerts_rejected(tmp_path: Path, alerts: object, message: str) -> None:
    path = write_model(tmp_path, alerts)
    with pytest.raises(ConfigError, match=message):
        load_model(path)
