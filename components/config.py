"""Pipeline configuration: one YAML file (``conf/pipeline.yaml``) validated by pydantic.

The same file feeds the CLI, the Prefect flows and DVC, so a parameter lives in exactly
one place. A project's file may leave out every section with defaults; DVC needs each
tracked section present, so ``dvc.yaml``'s first stage writes the file with every default
filled in (:func:`resolved_settings`) and the later stages read and track that one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from components.config_errors import describe_validation_error
from components.quality.config import ValidationConfig
from components.scoring.thresholds import ThresholdConfig


SERVED_MODEL = "student"


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


Source = Annotated[Union[GrafanaCsvSource, PlainCsvSource, GrafanaApiSource], Field(discriminator="kind")]


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
    window: int = Field(30, ge=2, description="window length, steps")
    exclude_labelled_from_fit: bool = Field(
        True, description="drop windows touching labelled anomalies from train/validation"
    )

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


class LstmAeConfig(_Strict):
    hidden_size: int = 32
    latent_size: int = 16
    num_layers: int = 1


class TrainConfig(_Strict):
    seed: int = 7
    max_epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 3e-3
    patience: int = 3
    train_stride: int = Field(2, ge=1, description="stride between training windows, steps")
    num_threads: int = Field(2, ge=1)


class TeachersConfig(_Strict):
    """Teacher detectors trained beside the served model (profiles in conf/<model>.yaml)."""

    models: list[Literal["anomaly_transformer", "omnianomaly"]] = ["anomaly_transformer", "omnianomaly"]
    profile: Literal["fast", "paper"] = "fast"
    train_stride: int = Field(4, ge=1, description="stride between training windows, steps")
    patience: int = Field(2, ge=1)
    max_epochs: int | None = Field(None, ge=1, description="cap on the profile's epochs (tiny runs)")
    num_threads: int = Field(1, ge=1, description="torch threads per teacher (teachers train concurrently)")


TeacherName = Literal["anomaly_transformer", "omnianomaly"]
ScoreComponent = Literal["reconstruction", "forecast", "classification"]


class DistillationConfig(_Strict):
    """Soft targets for the student's classification head (DESIGN.md §3)."""

    teacher_weights: dict[TeacherName, float] = Field(
        {"anomaly_transformer": 0.5, "omnianomaly": 0.5},
        description="weight of each teacher's rank-normalised score in the soft target; {} trains without distillation",
    )
    injected_copies: int = Field(2, ge=0, description="copies of the training split with injected anomalies")
    events_per_1000: float = Field(3.0, gt=0, description="injected events per 1000 rows")
    magnitude: float = Field(4.0, gt=0, description="injected anomaly size, standard deviations")
    clean_targets: bool = Field(
        True, description="reconstruct/forecast the rows as they were before injection (else the injected rows themselves)",
    )
    classification_loss_weight: float = Field(
        0.1, ge=0,
        description="weight of the classification loss beside the reconstruction and forecast losses "
        "(see components/training/student_module.py for why 0.1)",
    )
    normal_rows: Literal["zero", "teacher_rank"] = Field(
        "teacher_rank",
        description="soft target of rows with neither an injected anomaly nor a label: 0 (they are normal), "
        "or their teachers' rank like every other row",
    )


class StudentConfig(_Strict):
    """The multi-task student, the served model (components/models/student.py)."""

    window: int = Field(30, ge=17, description="rows of history behind one score (15 feed the convolutions)")
    channels: list[int] = [16, 32, 32]
    kernel_size: int = 3
    dilations: list[int] = [1, 2, 4]
    bottleneck: int = 32
    latent: int = 16
    input_noise: float = Field(0.05, ge=0, le=0.5, description="std of the Gaussian denoising noise, scaled units")
    top_sensors: int = Field(
        3, ge=1, description="a window's reconstruction and forecast errors average its k worst (normalised) sensors",
    )
    score_weights: dict[ScoreComponent, float] = {"reconstruction": 0.4, "forecast": 0.3, "classification": 0.3}
    distillation: DistillationConfig = DistillationConfig()

    def network_hparams(self) -> dict:
        return self.model_dump(include={"channels", "kernel_size", "dilations", "bottleneck", "latent"})


class BaselinesConfig(_Strict):
    """Classic detectors in every leaderboard (components/models/baselines.py)."""

    models: list[Literal["pca", "iforest"]] = ["pca", "iforest"]
    pca_variance: float = Field(0.95, gt=0, lt=1, description="variance the PCA components keep")
    iforest_estimators: int = Field(100, ge=1)


class EvaluateConfig(_Strict):
    alarm_level: Literal["warning", "critical"] = "warning"
    vus_window: int = 100
    injection_seed: int = Field(11, description="seed of the synthetic anomalies injected when the test split has no labels")


class RegisterConfig(_Strict):
    model_name: str = "anomflow-detector"
    promotion_metric: Literal["vus_pr", "vus_roc", "pr_auc", "roc_auc", "f1", "f2"] = "vus_pr"
    top_k_sensors: int = 3


class MlflowConfig(_Strict):
    tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    artifact_root: str = "mlruns/artifacts"
    experiment: str = "anomflow"


class PathsConfig(_Strict):
    artifacts: str = "artifacts"
    models: str = "models"
    reports: str = "reports"

    def artifacts_dir(self) -> Path:
        return Path(self.artifacts)

    def models_dir(self) -> Path:
        return Path(self.models)

    def reports_dir(self) -> Path:
        return Path(self.reports)


class PipelineConfig(_Strict):
    """The whole pipeline."""

    ingest: IngestConfig
    validate_: ValidationConfig = Field(ValidationConfig(), alias="validate")
    prepare: PrepareConfig = PrepareConfig()
    model: LstmAeConfig = LstmAeConfig()
    train: TrainConfig = TrainConfig()
    teachers: TeachersConfig = TeachersConfig()
    student: StudentConfig = StudentConfig()
    baselines: BaselinesConfig = BaselinesConfig()
    threshold: ThresholdConfig = ThresholdConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    register_: RegisterConfig = Field(RegisterConfig(), alias="register")
    mlflow: MlflowConfig = MlflowConfig()
    paths: PathsConfig = PathsConfig()

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

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

    def models(self) -> list[str]:
        """Every model the pipeline trains, the served one (the student) first."""
        return [SERVED_MODEL, "lstm_ae", *self.teachers.models, *self.baselines.models]

    def distilling_teachers(self) -> dict[str, float]:
        """Teachers the student learns from (trained by this config, weight > 0)."""
        weights = self.student.distillation.teacher_weights
        return {t: w for t, w in weights.items() if w > 0 and t in self.teachers.models}


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
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as err:
        raise ValueError(f"invalid config {path}:\n{describe_validation_error(err, PipelineConfig, raw)}") from None


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem


def resolved_settings(cfg: PipelineConfig) -> dict:
    """Every setting of ``cfg``, defaults filled in, as plain YAML-ready data keyed as in
    the file (``validate``, ``register``); loading it again gives an equal config."""
    return cfg.model_dump(mode="json", by_alias=True)


def resolved_yaml(cfg: PipelineConfig, source: str | Path | None = None) -> str:
    """:func:`resolved_settings` as YAML in the file's order, headed by the file it came
    from if ``source`` is given."""
    header = f"# {source} with every default filled in (anomflow config); edit that file, not this one\n" if source else ""
    return header + yaml.safe_dump(resolved_settings(cfg), sort_keys=False)
