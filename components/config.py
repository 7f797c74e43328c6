"""Pipeline configuration: one YAML file (``conf/pipeline.yaml``) validated by pydantic.

The same file feeds the CLI, the Prefect flows and DVC, so a parameter lives in exactly
one place: each model's settings (its window included) in its own section under
``models:``, validated by its detector's settings class (:mod:`components.detectors`).
A project's file may leave out every section with defaults; DVC needs each tracked
section present, so ``dvc.yaml``'s first stage writes the file with every default
filled in (:func:`resolved_settings`) and the later stages read and track that one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from components.config_errors import describe_validation_error
from components.detectors.base import DetectorSettings
from components.detectors.registry import DETECTORS, SERVED_KIND, detector_class
from components.legacy_config import legacy_layout_moves
from components.dashboard.config import DashboardConfig
from components.fleet.config import FleetConfig
from components.live.config import WatchConfig
from components.quality.config import ValidationConfig
from components.features.drift import DriftTrackingConfig
from components.scoring.alarms import AlarmConfig
from components.scoring.thresholds import ThresholdConfig



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GrafanaCsvSource(_Strict):
    """Grafana "Inspect > Data > Download CSV" exports matched by a glob."""

    kind: Literal["grafana_csv"] = "grafana_csv"
    glob: str
    asset: str | None = Field(None, description="every file of this source is this asset (Grafana's file names carry none)")
    asset_pattern: str = Field(
        r"^(?P<asset>[^_]+)__",
        description="regex on the file name; its `asset` group names the asset, without `asset`",
    )
    timezone: str = Field("UTC", description="dashboard time zone of formatted time stamps")


class PlainCsvSource(_Strict):
    """Plain CSV files: one asset per file (named by `asset_pattern`), one asset for all
    (`asset`), or each row's in `asset_column`."""

    kind: Literal["csv"] = "csv"
    glob: str
    delimiter: str = ","
    timestamp_column: str = "timestamp"
    timestamp_format: str | None = None
    timezone: str = "UTC"
    label_column: str | None = None
    drop_columns: list[str] = Field(default_factory=list)
    asset: str | None = Field(None, description="every file of this source is this asset")
    asset_column: str | None = Field(None, description="column naming each row's asset (files with several assets)")
    asset_pattern: str = Field(
        r"^(?P<asset>.+)\.csv$", description="regex on the file name naming its asset, without asset or asset_column",
    )

    @model_validator(mode="after")
    def _one_way_to_name_assets(self) -> "PlainCsvSource":
        if self.asset is not None and self.asset_column is not None:
            raise ValueError(f"give asset ({self.asset!r}) or asset_column ({self.asset_column!r}), not both")
        return self


class GrafanaApiSource(_Strict):
    """Grafana's HTTP API (`POST /api/ds/query`); the token comes from `token_env`."""

    kind: Literal["grafana_api"] = "grafana_api"
    url: str
    asset: str
    queries: list[dict]
    time_from: str = "now-24h"
    time_to: str = "now"
    interval_s: float | None = Field(
        None, gt=0, description="step to ask Grafana for, seconds (default: validate.expected_interval_s)"
    )
    token_env: str = "GRAFANA_TOKEN"
    timeout_s: float = 30.0


class LiveStoreSource(_Strict):
    """The live store's readings and acknowledged alerts (:mod:`components.sources.live_store`)."""

    kind: Literal["live_store"] = "live_store"
    store: str | None = Field(None, description="live store URL; unset: watch.store")
    feedback: bool = Field(True, description="confirmed alerts become labels, false alarms training rows")


Source = Annotated[Union[GrafanaCsvSource, PlainCsvSource, GrafanaApiSource, LiveStoreSource], Field(discriminator="kind")]


class LabelsConfig(_Strict):
    """Ground-truth anomaly ranges: CSV with `asset,start,end` (inclusive, ISO-8601)."""

    path: str


class IngestConfig(_Strict):
    sources: list[Source]
    labels: LabelsConfig | None = None
    duplicate_rule: Literal["mean", "first", "last"] = "mean"
    snake_case_columns: bool = True


class PrepareConfig(_Strict):
    """Resampling, sessions and splits. Unset times follow the sampling interval: in a
    pipeline config ``interval_s`` defaults to ``validate.expected_interval_s`` (whole
    seconds), ``max_gap_s`` to 10 intervals and ``impute_limit_s`` to 5."""

    interval_s: int | None = Field(None, gt=0, description="resampling interval, seconds")
    max_gap_s: int | None = Field(None, gt=0, description="a gap longer than this starts a new session, seconds")
    impute_limit_s: int | None = Field(None, ge=0, description="longest run of missing values filled by interpolation, seconds")
    train_fraction: float = Field(0.5, gt=0, lt=1)
    val_fraction: float = Field(0.2, gt=0, lt=1)
    exclude_labelled_from_fit: bool = Field(
        True, description="drop windows touching labelled anomalies from train/validation"
    )
    drift_tracking: DriftTrackingConfig = DriftTrackingConfig()

    @model_validator(mode="after")
    def _fractions(self) -> "PrepareConfig":
        if self.train_fraction + self.val_fraction >= 1:
            raise ValueError("train_fraction + val_fraction must leave room for a test split")
        return self

    def at_interval(self, interval_s: int) -> "PrepareConfig":
        """This config with ``interval_s`` (if unset) and the times that follow it filled in."""
        interval = self.interval_s or interval_s
        return self.model_copy(update={
            "interval_s": interval,
            "max_gap_s": self.max_gap_s if self.max_gap_s is not None else 10 * interval,
            "impute_limit_s": self.impute_limit_s if self.impute_limit_s is not None else 5 * interval,
        })

    def times(self) -> tuple[int, int, int]:
        """``(interval_s, max_gap_s, impute_limit_s)``; ValueError naming what to set if unset."""
        if self.interval_s is None or self.max_gap_s is None or self.impute_limit_s is None:
            raise ValueError(
                "prepare.interval_s is not set and validate.expected_interval_s is not a whole number of seconds: "
                "set prepare.interval_s (resampling interval, whole seconds)"
            )
        return self.interval_s, self.max_gap_s, self.impute_limit_s


class EvaluateConfig(_Strict):
    alarm_level: Literal["warning", "critical"] = "warning"
    vus_window: int = 100
    injection_seed: int = Field(11, description="seed of the synthetic anomalies injected when the test split has no labels")


class RegisterConfig(_Strict):
    model_name: str = "anomflow-detector"
    promotion_metric: Literal["vus_pr", "vus_roc", "pr_auc", "roc_auc", "f1", "f2"] = "vus_pr"
    top_k_sensors: int = 3
    onnx: bool = Field(True, description="export the served student to ONNX; served with ONNX Runtime where installed")
    input_schema: bool = Field(
        True, description="name the request's columns in the MLflow signature: MLflow then refuses a request missing one, ignores an "
                          "unknown one and reads JSON only; false: outputs only, the model refusing unknown columns itself and text/csv read too",
    )


class MlflowConfig(_Strict):
    tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_root: str = "mlruns/artifacts"
    experiment: str = "anomflow"


class PathsConfig(_Strict):
    artifacts: str = "artifacts"
    models: str = "models"
    thresholds: str = "thresholds"
    reports: str = "reports"

    def artifacts_dir(self) -> Path:
        return Path(self.artifacts)

    def models_dir(self) -> Path:
        return Path(self.models)

    def thresholds_dir(self) -> Path:
        return Path(self.thresholds)

    def reports_dir(self) -> Path:
        return Path(self.reports)


def _models_section() -> type[BaseModel]:
    """``models:``: one optional section per registered detector kind (its settings
    class); the served kind's is always there."""
    fields = {
        kind: (cls.Settings, cls.Settings()) if kind == SERVED_KIND else (cls.Settings | None, None)
        for kind, cls in DETECTORS.items()
    }
    section = create_model("ModelsConfig", __config__=ConfigDict(extra="forbid"), **fields)
    section.__doc__ = (
        "The models the pipeline trains and compares, each with its own settings (its window included); "
        f"a model left out is not trained ({SERVED_KIND}, the served model, always is)."
    )
    return section


ModelsConfig = _models_section()


def _every_model() -> BaseModel:
    return ModelsConfig(**{kind: {} for kind in DETECTORS})


class PipelineConfig(_Strict):
    """The whole pipeline."""

    ingest: IngestConfig
    validate_: ValidationConfig = Field(ValidationConfig(), alias="validate")
    prepare: PrepareConfig = PrepareConfig()
    seed: int = Field(7, description="seed of every model's initialisation, sampling and injected anomalies")
    models: ModelsConfig = Field(default_factory=_every_model)  # type: ignore[valid-type]
    threshold: ThresholdConfig = ThresholdConfig()
    alarm: AlarmConfig = AlarmConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    register_: RegisterConfig = Field(RegisterConfig(), alias="register")
    mlflow: MlflowConfig = MlflowConfig()
    paths: PathsConfig = PathsConfig()
    watch: WatchConfig = WatchConfig()
    dashboard: DashboardConfig = DashboardConfig()
    fleet: FleetConfig = FleetConfig()

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _live_store_sources_default_to_the_watched_store(self) -> "PipelineConfig":
        self.ingest.sources = [
            s.model_copy(update={"store": self.watch.store}) if isinstance(s, LiveStoreSource) and s.store is None else s
            for s in self.ingest.sources
        ]
        return self

    @model_validator(mode="after")
    def _grafana_queries_at_the_sampling_interval(self) -> "PipelineConfig":
        expected = self.validate_.expected_interval_s
        if expected is not None:
            self.ingest.sources = [
                s.model_copy(update={"interval_s": expected}) if isinstance(s, GrafanaApiSource) and s.interval_s is None else s
                for s in self.ingest.sources
            ]
        return self

    @model_validator(mode="after")
    def _prepare_at_the_sampling_interval(self) -> "PipelineConfig":
        expected = self.validate_.expected_interval_s
        interval = self.prepare.interval_s or (int(expected) if expected is not None and float(expected).is_integer() else None)
        if interval is not None:
            self.prepare = self.prepare.at_interval(interval)
        return self

    @field_validator("models", mode="before")
    @classmethod
    def _present_means_trained(cls, value: Any) -> Any:
        """A model's section written without settings (``pca:``) trains it with defaults."""
        if isinstance(value, dict):
            return {kind: {} if settings is None else settings for kind, settings in value.items()}
        return value

    def model_kinds(self) -> list[str]:
        """Every model the pipeline trains, the served one first (the registry's order)."""
        return [kind for kind in DETECTORS if getattr(self.models, kind) is not None]

    def settings_of(self, kind: str) -> DetectorSettings:
        """``models.<kind>``; a ValueError if this config does not train ``kind``."""
        settings = getattr(self.models, detector_class(kind).kind)
        if settings is None:
            raise ValueError(f"the config trains no {kind} (add a `{kind}:` section under `models:`)")
        return settings

    def learns_from(self, kind: str) -> list[str]:
        """The trained models ``kind`` learns from (fitted before it)."""
        return detector_class(kind).learns_from(self.settings_of(kind), self.model_kinds())

    def training_rounds(self) -> tuple[list[str], list[str]]:
        """(the models that learn from no other: they may train concurrently, then those
        that learn from them: the student)."""
        kinds = self.model_kinds()
        return [k for k in kinds if not self.learns_from(k)], [k for k in kinds if self.learns_from(k)]

    def longest_window(self) -> int:
        """Rows of the longest window of the models trained (prepare checks the splits hold one)."""
        return max(self.settings_of(kind).window for kind in self.model_kinds())

    def with_settings(self, kind: str, **changes: Any) -> "PipelineConfig":
        """This config with ``changes`` to ``models.<kind>`` (which must be trained)."""
        settings = self.settings_of(kind).model_copy(update=changes)
        return self.model_copy(update={"models": self.models.model_copy(update={kind: settings})})


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline YAML file; a ValueError names the file, the line of a
    YAML syntax error, or every bad key as written in the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"config file not found: {path}") from None
    except yaml.YAMLError as err:
        raise ValueError(f"config {path} is not valid YAML: {_yaml_problem(err)}") from None
    raw = {} if raw is None else raw  # an empty file: every missing key is named below
    moves = legacy_layout_moves(raw) if isinstance(raw, dict) else []
    if moves:
        raise ValueError(
            f"config {path} has the layout from before every model's settings moved under `models:`; move:\n"
            + "\n".join(f"- {move}" for move in moves)
            + "\n(`anomflow config --config FILE` then prints every setting with its default)"
        )
    try:
        return PipelineConfig.model_validate(raw, context={"config_dir": str(path.parent)})
    except ValidationError as err:
        raise ValueError(f"invalid config {path}:\n{describe_validation_error(err, PipelineConfig, raw)}") from None


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem


def resolved_settings(cfg: PipelineConfig) -> dict:
    """Every setting of ``cfg``, defaults filled in, as plain YAML-ready data keyed as in
    the file (``validate``, ``register``; models not trained left out); loading it again
    gives an equal config."""
    settings = cfg.model_dump(mode="json", by_alias=True)
    settings["models"] = {kind: value for kind, value in settings["models"].items() if value is not None}
    return settings


def resolved_yaml(cfg: PipelineConfig, source: str | Path | None = None) -> str:
    """:func:`resolved_settings` as YAML in the file's order, headed by the file it came
    from if ``source`` is given."""
    header = f"# {source} with every default filled in (anomflow config); edit that file, not this one\n" if source else ""
    return header + yaml.safe_dump(resolved_settings(cfg), sort_keys=False)
