"""The score model file: components, weights, bands and scoring parameters.

A model file is YAML validated by pydantic. The packaged default lives in
``healthlab/config/default-model.yaml``; ``healthlab calibrate`` writes new ones
with their provenance.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from healthlab.errors import ConfigError
from healthlab.monitoring.config import AlertSettings

ComponentName = Literal["utilisation", "enforcement", "nps", "impact", "engagement"]
COMPONENTS: tuple[str, ...] = (
    "utilisation",
    "enforcement",
    "nps",
    "impact",
    "engagement",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """A score band: scores at or above ``min_score`` (and below the next band)."""

    name: str
    min_score: float = Field(ge=0, le=100)


class ScoringParameters(_Strict):
    """Parameters that turn raw client data into 0-100 component scores."""

    confidence_level: float = Field(0.95, gt=0.5, lt=1)
    enforcement_window_months: int = Field(3, ge=1, le=24)
    utilisation_window_months: int = Field(3, ge=1, le=24)
    utilisation_target: float = Field(
        1.0, gt=0, le=1, description="Active users per seat that scores 100."
    )
    nps_window_months: int = Field(12, ge=1, le=36)
    nps_prior_responses: float = Field(
        10,
        ge=0,
        description="Pseudo-responses pulling a client's NPS to the portfolio.",
    )
    impact_window_months: int = Field(12, ge=1, le=36)
    impact_target_multiple: float = Field(
        10.0,
        gt=0,
        description="Impact per dollar of ARR that scores 100; the impact score "
        "rises with log(1 + impact per dollar) up to it.",
    )
    displacement_rate: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Share of counterfeit sales assumed to displace a genuine sale.",
    )
    engagement_window_months: int = Field(6, ge=1, le=24)
    engagement_objectives_weight: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Share of the engagement score from objectives met; the rest "
        "comes from meeting sentiment.",
    )
    nps_min_responses: int = Field(
        3,
        ge=0,
        description="NPS responses in the window under which a score is flagged "
        "as low confidence (when NPS has weight).",
    )
    low_confidence_below: float = Field(
        0.7, ge=0, le=1, description="Data confidence under which a score is flagged."
    )


class ChurnRisk(_Strict):
    """Map from score to churn probability: ``logit(p) = intercept + slope * score``."""

    intercept: float
    slope: float
    horizon_months: int = Field(12, ge=1, le=60)


class ScoreModel(BaseModel):
    """A complete score model as read from a model file."""

    model_config = ConfigDict(extra="forbid")

    name: str = "default"
    description: str = ""
    weights: dict[ComponentName, float]
    segment_weights: dict[str, dict[ComponentName, float]] = Field(default_factory=dict)
    bands: list[Band]
    parameters: ScoringParameters = Field(default_factory=ScoringParameters)
    churn_risk: ChurnRisk | None = None
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    provenance: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ScoreModel:
        for label, weights in [("weights", self.weights)] + [
            (f"segment_weights.{name}", w) for name, w in self.segment_weights.items()
        ]:
            negative = [name for name, weight in weights.items() if weight < 0]
            if negative:
                raise ValueError(
                    f"{label}: negative weight for {', '.join(negative)}; a weight "
                    "must be 0 or more"
                )
            if sum(weights.values()) <= 0:
                raise ValueError(f"{label}: at least one weight must be positive")
        minimums = [band.min_score for band in self.bands]
        if not minimums or minimums[0] != 0:
            raise ValueError("bands: the first band must start at min_score 0")
        if minimums != sorted(set(minimums)):
            raise ValueError(
                "bands: min_score must increase strictly from band to band"
            )
        return self

    def weights_for(self, segment: str | None) -> dict[str, float]:
        """Return the component weights for a segment, all components included."""
        chosen = self.segment_weights.get(segment or "", self.weights)
        return {name: float(chosen.get(name, 0.0)) for name in COMPONENTS}  # type: ignore[call-overload]

    def band_for(self, score: float) -> str:
        """Return the name of the band a score falls in."""
        name = self.bands[0].name
        for band in self.bands:
            if score >= band.min_score:
                name = band.name
        return name


def default_model_path() -> Path:
    """Return the path of the packaged default model file."""
    return Path(str(resources.files("healthlab") / "config" / "default-model.yaml"))


def load_model(path: str | Path | None = None) -> ScoreModel:
    """Read and validate a model file; the packaged default when ``path`` is None.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or breaks the model's rules. The
        message names the file and each invalid field.
    """
    file = Path(path) if path is not None else default_model_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"Model file {file} not found; check the path, or leave it out to use "
            "the packaged default model."
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"Model file {file} is a folder; give the path of a YAML file."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Cannot read model file {file}: {error}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"Model file {file} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        found = "nothing" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(
            f"Model file {file} contains {found}; it must be a YAML mapping with "
            "`weights` and `bands`, as in the packaged default-model.yaml."
        )
    try:
        return ScoreModel.model_validate(raw)
    except ValidationError as error:
        details = "\n".join(_describe(item) for item in error.errors())
        raise ConfigError(
            f"Model file {file} is invalid:\n{details}\n"
            "Fix these fields; the packaged default-model.yaml shows the format."
        ) from None


def _describe(item: ErrorDetails) -> str:
    """Format one pydantic error as ``  - field: message``."""
    message = item["msg"].removeprefix("Value error, ")
    field = ".".join(str(part) for part in item["loc"])
    # Checks across fields name their fields in the message already.
    return f"  - {field}: {message}" if field else f"  - {message}"


def dump_model(model: ScoreModel) -> str:
    """Serialise a model to YAML text in a stable field order."""
    data = model.model_dump(mode="json", exclude_defaults=False)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
