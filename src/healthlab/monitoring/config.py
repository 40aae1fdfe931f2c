"""Parameters of the early-warning rules, stored under ``alerts:`` in a model file.

Every field has a default, so ``alerts: {}`` (or no ``alerts`` key at all) gives the
packaged rule set. A model file overrides only the fields it names, for example::

    alerts:
      cooldown_months: 3
      rules:
        score_drop: {points: 12, months: 3}
        detractor_response: {enabled: false}
      playbooks:
        score_drop: Call the sponsor this week.

This module imports only pydantic, because :mod:`healthlab.model` imports it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["high", "medium", "low"]
SEVERITIES: tuple[str, ...] = ("high", "medium", "low")
"""Severities from the most to the least urgent; the output is sorted in this order."""

RULE_NAMES: tuple[str, ...] = (
    "score_drop",
    "band_downgrade",
    "projected_band_crossing",
    "utilisation_control",
    "enforcement_control",
    "nps_control",
    "utilisation_drop",
    "missed_qbr",
    "detractor_response",
    "emerging_threat",
)
"""Rule identifiers, as they appear in the ``rule`` column of the alerts."""

DEFAULT_PLAYBOOKS: dict[str, str] = {
    "score_drop": (
        "Call the client's sponsor within five working days to find the cause of "
        "the drop and agree a recovery plan."
    ),
    "band_downgrade": (
        "Add the client to the weekly risk review and name an owner for the "
        "recovery plan."
    ),
    "projected_band_crossing": (
        "Review the trend with the client before the quarter ends and agree the "
        "actions that would reverse it."
    ),
    "utilisation_control": (
        "Run a usage review with the client's administrator: find inactive seats "
        "and offer training to the teams that stopped signing in."
    ),
    "enforcement_control": (
        "Ask the enforcement team to review takedown success by platform and "
        "escalate the channels where removals stalled."
    ),
    "nps_control": (
        "Contact recent survey respondents to find what lowered their "
        "satisfaction and report back at the next QBR."
    ),
    "utilisation_drop": (
        "Ask the client's administrator about the drop in active users and offer "
        "a refresher session."
    ),
    "missed_qbr": "Schedule the overdue quarterly business review with the sponsor.",
    "detractor_response": (
        "Close the loop with the detractor within two working days and log the "
        "reason for the low score."
    ),
    "emerging_threat": (
        "Brief the client on the rising channel or infringement type and propose "
        "extra coverage, such as registering further IP assets there."
    ),
}


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSettings(_Settings):
    """Settings every rule shares."""

    enabled: bool = True
    severity: Severity = "medium"
    cooldown_months: int | None = Field(
        None,
        ge=0,
        description="Months before the rule may alert again for the same client; "
        "the global `cooldown_months` when omitted.",
    )
    below_score: float | Literal["top_band"] | None = Field(
        "top_band",
        description="Alert only in months when the client's health score is below "
        "this value; `top_band` is the lower edge of the model's best band, so the "
        "gate moves with calibrated bands; null alerts at any score. In backtests "
        "on the sample portfolio, alerts on clients still in the best band were "
        "mostly followed by a renewal.",
    )
    churn_signal: bool = Field(
        True,
        description="Whether the backtest scores the rule's alerts against churn; "
        "false for rules that call for action for another reason.",
    )


class ScoreDropRule(RuleSettings):
    """Alert when the score fell at least ``points`` below its value ``months`` ago."""

    severity: Severity = "high"
    points: float = Field(10.0, gt=0, le=100)
    months: int = Field(3, ge=1, le=24)


class BandDowngradeRule(RuleSettings):
    """Alert when the score moves into a worse band than the previous month's."""

    severity: Severity = "high"
    confirm_months: int = Field(
        1,
        ge=1,
        le=6,
        description="Consecutive months the worse band must hold before alerting.",
    )


class ProjectedCrossingRule(RuleSettings):
    """Alert when a linear fit of the recent scores crosses into a worse band soon.

    The score is fitted by least squares over the last ``fit_months`` months and
    projected ``horizon_months`` ahead. The rule fires when the projection falls
    below the lower edge of the current band and the slope is at most
    ``-min_slope`` points per month.
    """

    severity: Severity = "medium"
    fit_months: int = Field(6, ge=3, le=24)
    horizon_months: int = Field(3, ge=1, le=12)
    min_slope: float = Field(
        1.0, ge=0, description="Minimum decline in points per month."
    )


class ControlChartRule(RuleSettings):
    """A lower-sided EWMA control chart against the client's own baseline.

    The baseline mean and standard deviation come from the client's first
    ``baseline_months`` months with data. From the month after, the statistic
    ``z_t = smoothing * x_t + (1 - smoothing) * z_{t-1}`` (``z_0`` the baseline
    mean) is compared with the lower control limit
    ``mean - limit_sigmas * sigma * sqrt(smoothing / (2 - smoothing) *
    (1 - (1 - smoothing) ** (2 t)))``, where ``t`` counts the observations since
    the baseline. Months without an observation are skipped.
    """

    severity: Severity = "medium"
    smoothing: float = Field(0.2, gt=0, le=1, description="EWMA weight (lambda).")
    limit_sigmas: float = Field(3.0, gt=0, description="Control limit width (L).")
    baseline_months: int = Field(12, ge=3, le=36)
    min_baseline_points: int = Field(
        6, ge=2, description="Observations the baseline needs for a chart."
    )
    min_sigma: float = Field(
        0.02,
        gt=0,
        description="Floor on the baseline standard deviation, in the metric's "
        "unit, so a nearly flat baseline does not give a zero-width limit.",
    )


class UtilisationControlRule(ControlChartRule):
    """EWMA chart on monthly utilisation (active users per licensed seat)."""


class EnforcementControlRule(ControlChartRule):
    """EWMA chart on the monthly enforcement success rate (removals per request)."""


class NpsControlRule(ControlChartRule):
    """EWMA chart on the monthly mean NPS response (0-10 points).

    Responses are sparse, so the baseline needs fewer observations and the floor
    on the standard deviation is in NPS points.
    """

    min_baseline_points: int = Field(3, ge=2)
    min_sigma: float = Field(0.5, gt=0)


class UtilisationDropRule(RuleSettings):
    """Alert when utilisation is ``drop_fraction`` below its trailing mean."""

    severity: Severity = "medium"
    drop_fraction: float = Field(0.2, gt=0, lt=1)
    trailing_months: int = Field(3, ge=1, le=12)


class MissedQbrRule(RuleSettings):
    """Alert when no QBR took place in the expected interval plus a grace period."""

    severity: Severity = "low"
    expected_interval_days: int = Field(92, ge=1)
    grace_days: int = Field(31, ge=0)


class DetractorRule(RuleSettings):
    """Alert on any NPS response at or below ``max_score`` (0-6 are detractors)."""

    severity: Severity = "low"
    max_score: int = Field(6, ge=0, le=10)


class EmergingThreatRule(RuleSettings):
    """Alert when a channel's or infringement type's detections rise significantly.

    The detections of the last ``recent_months`` are compared with the rate of the
    ``baseline_months`` before them by a one-sided Poisson test:
    ``p = P(X >= observed)`` for ``X ~ Poisson(rate * recent_months)``. The rule
    fires when ``p < alpha``, the observed count is at least ``min_count`` and at
    least ``min_ratio`` times the expected count.

    A rising threat calls for protective work whatever the client's health, so
    the rule fires at any score and is not scored against churn.
    """

    severity: Severity = "low"
    below_score: float | None = None
    churn_signal: bool = False
    recent_months: int = Field(3, ge=1, le=12)
    baseline_months: int = Field(12, ge=3, le=36)
    alpha: float = Field(
        0.001,
        gt=0,
        lt=1,
        description="Significance level of each test; small because every client "
        "has ten channels and types tested every month.",
    )
    min_count: int = Field(20, ge=1)
    min_ratio: float = Field(
        2.5,
        ge=1,
        description="Minimum observed / expected ratio. Detection counts vary "
        "more from month to month than a Poisson count, so large volumes pass "
        "the test at small rises; on the sample portfolio a ratio of 1.5 "
        "flagged about three clients without a new channel for each real one.",
    )


class RuleSet(_Settings):
    """The settings of every rule, one field per rule identifier."""

    score_drop: ScoreDropRule = Field(default_factory=ScoreDropRule)
    band_downgrade: BandDowngradeRule = Field(default_factory=BandDowngradeRule)
    projected_band_crossing: ProjectedCrossingRule = Field(
        default_factory=ProjectedCrossingRule
    )
    utilisation_control: UtilisationControlRule = Field(
        default_factory=UtilisationControlRule
    )
    enforcement_control: EnforcementControlRule = Field(
        default_factory=EnforcementControlRule
    )
    nps_control: NpsControlRule = Field(default_factory=NpsControlRule)
    utilisation_drop: UtilisationDropRule = Field(default_factory=UtilisationDropRule)
    missed_qbr: MissedQbrRule = Field(default_factory=MissedQbrRule)
    detractor_response: DetractorRule = Field(default_factory=DetractorRule)
    emerging_threat: EmergingThreatRule = Field(default_factory=EmergingThreatRule)

    def get(self, name: str) -> RuleSettings:
        """Return the settings of the rule called ``name``."""
        settings: RuleSettings = getattr(self, name)
        return settings


class AlertSettings(_Settings):
    """Everything the monitor and the backtest read from the model file."""

    cooldown_months: int = Field(
        3,
        ge=0,
        description="Months after an alert during which the same rule stays silent "
        "for the same client; 0 alerts every month the rule fires.",
    )
    horizon_months: int = Field(
        12,
        ge=1,
        le=36,
        description="Backtest: an alert counts as correct when the client churns "
        "within this many months after it.",
    )
    rules: RuleSet = Field(default_factory=RuleSet)
    playbooks: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_PLAYBOOKS))

    @model_validator(mode="before")
    @classmethod
    def _merge_playbooks(cls, data: object) -> object:
        # A model file that names a few playbooks keeps the defaults of the others.
        if isinstance(data, dict) and isinstance(data.get("playbooks"), dict):
            data = {**data, "playbooks": {**DEFAULT_PLAYBOOKS, **data["playbooks"]}}
        return data

    @model_validator(mode="after")
    def _check_playbooks(self) -> AlertSettings:
        unknown = sorted(set(self.playbooks) - set(RULE_NAMES))
        if unknown:
            raise ValueError(
                f"playbooks: unknown rule {', '.join(unknown)}; "
                f"known rules are {', '.join(RULE_NAMES)}"
            )
        blank = [name for name, step in self.playbooks.items() if not step.strip()]
        if blank:
            raise ValueError(f"playbooks: empty playbook step for {', '.join(blank)}")
        return self

    def cooldown_for(self, rule: str) -> int:
        """Return the cooldown in months of ``rule``, its own or the global one."""
        own = self.rules.get(rule).cooldown_months
        return self.cooldown_months if own is None else own

    def enabled_rules(self) -> list[str]:
        """Return the identifiers of the enabled rules, in :data:`RULE_NAMES` order."""
        return [name for name in RULE_NAMES if self.rules.get(name).enabled]
