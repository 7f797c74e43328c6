"""Configuration of the validate stage (``validate:`` section of ``conf/pipeline.yaml``).

Example::

    validate:
      expected_interval_s: 60
      interval_tolerance: 0.5        # median step must lie in 60 s * (1 ± 0.5)
      quarantine_tolerance: 0.02     # stop when more than 2 % of rows are quarantined
      require_label: false
      sensors:
        current:  {min: 0, max: 400}
        pressure: {min: 0, max: 16, max_null_fraction: 0.1}
        vibration: {}                # no range, default null tolerance
      ignore_columns: [fan_speed]    # in the exports, not validated or modelled

Every sensor column of the readings frame must be declared: under ``sensors`` (validated,
and modelled by the stages after) or under ``ignore_columns`` (left out of the validated
frame; it stays in the readings frame). A new project may leave ``sensors`` and
``expected_interval_s`` out: ``ingest`` runs, and ``validate`` then stops with the
columns to declare and the readings' median sampling interval.

Importing this module is cheap: it does not import Great Expectations.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SensorRule(BaseModel):
    """Rules for one sensor column (units as in the readings frame)."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = Field(None, description="smallest plausible value (inclusive); rows below are quarantined")
    max: float | None = Field(None, description="largest plausible value (inclusive); rows above are quarantined")
    max_null_fraction: float = Field(
        0.05, ge=0, le=1, description="largest tolerated fraction of missing values; above it the run stops"
    )

    @model_validator(mode="after")
    def _ordered(self) -> "SensorRule":
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class ValidationConfig(BaseModel):
    """What a valid readings frame looks like (docs/architecture.md §2) and how strict to be."""

    model_config = ConfigDict(extra="forbid")

    sensors: dict[str, SensorRule] = Field(
        default_factory=dict, description="expected sensor columns and their rules (none yet: validate lists the readings')"
    )
    expected_interval_s: float | None = Field(
        None, gt=0, description="nominal sampling interval, seconds (unset: validate reports the readings' median)"
    )
    interval_tolerance: float = Field(
        0.5, ge=0, lt=1, description="relative tolerance on the per-asset median sampling interval"
    )
    quarantine_tolerance: float = Field(
        0.02, ge=0, le=1, description="largest fraction of rows that may be quarantined before the run stops"
    )
    require_label: bool = Field(False, description="the `label` column must be present")
    ignore_columns: list[str] = Field(
        default_factory=list, description="sensor columns left out of the validated frame (and so of every model)"
    )

    @field_validator("sensors", mode="before")
    @classmethod
    def _empty_rules(cls, value):
        # `pressure:` with nothing after it in YAML means "default rules"
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _ignored_are_not_sensors(self) -> "ValidationConfig":
        both = sorted(set(self.sensors) & set(self.ignore_columns))
        if both:
            raise ValueError(f"column(s) {both} are both declared under sensors and listed in ignore_columns")
        return self

    def interval_bounds(self) -> tuple[float, float]:
        """Allowed range of the per-asset median sampling interval, seconds."""
        if self.expected_interval_s is None:
            raise ValueError("validate.expected_interval_s is not set")
        return (
            self.expected_interval_s * (1 - self.interval_tolerance),
            self.expected_interval_s * (1 + self.interval_tolerance),
        )
