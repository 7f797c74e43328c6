"""Each pipeline stage as a function of the config that reads its inputs from, and
writes its outputs to, the files of docs/architecture.md §2. The CLI (and so DVC) and the Prefect
flows call these same functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from components.config import PipelineConfig
from components.detectors.registry import SERVED_KIND

if TYPE_CHECKING:
    from components.features.prepare import PreparedData

READINGS = "readings.parquet"
VALIDATED = "validated.parquet"
QUARANTINE = "quarantine.parquet"
PREPARED = "prepared"


def readings_path(cfg: PipelineConfig) -> Path:
    return cfg.paths.artifacts_dir() / READINGS


def validated_path(cfg: PipelineConfig) -> Path:
    return cfg.paths.artifacts_dir() / VALIDATED


def prepared_dir(cfg: PipelineConfig) -> Path:
    return cfg.paths.artifacts_dir() / PREPARED


def model_dir(cfg: PipelineConfig, kind: str = SERVED_KIND) -> Path:
    return cfg.paths.models_dir() / kind


def thresholds_path(cfg: PipelineConfig, kind: str = SERVED_KIND) -> Path:
    """``<thresholds>/<kind>.json``: the model's alarm levels (the threshold stage writes them)."""
    return cfg.paths.thresholds_dir() / f"{kind}.json"


def stage_input(path: Path, written_by: str) -> Path:
    """``path``, or FileNotFoundError saying which stage writes it."""
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: `anomflow {written_by}` writes it (run it first, or see why it stopped)")
    return path


def _trained(cfg: PipelineConfig) -> None:
    """FileNotFoundError naming the first model of the config that is not trained."""
    from components.models.store import SPEC_FILE

    for kind in cfg.model_kinds():
        stage_input(model_dir(cfg, kind) / SPEC_FILE, f"train --model {kind}")


def _one_model(cfg: PipelineConfig) -> None:
    """ValueError if ``cfg`` trains a model per group: its groups' stages run in ``anomflow
    retrain`` (:mod:`flows.fleet`), each on its own folders, not on the fleet's."""
    if cfg.fleet.grouped:
        raise ValueError(
            f"fleet.group_by is {cfg.fleet.group_by!r}: a model per group is trained by `anomflow retrain` (each group's stages on "
            "its own folders); the stage commands and dvc.yaml run the one-model pipeline (fleet.group_by: all)"
        )


def _prepared(cfg: PipelineConfig) -> "PreparedData":
    from components.features.prepare import PreparedData

    _one_model(cfg)
    return PreparedData.load(stage_input(prepared_dir(cfg), "prepare"))


def run_ingest(cfg: PipelineConfig) -> dict:
    from components.sources.ingest import ingest

    readings = ingest(cfg.ingest)
    out = readings_path(cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    readings.to_parquet(out, index=False)
    return {"rows": len(readings), "assets": sorted(readings["asset"].unique().tolist()), "path": str(out)}


def run_validate(cfg: PipelineConfig) -> dict:
    from components.quality.validate import validate_readings

    readings = pd.read_parquet(stage_input(readings_path(cfg), "ingest"))
    validated_path(cfg).unlink(missing_ok=True)  # a run that stops leaves no earlier run's rows for prepare
    outcome = validate_readings(
        readings, cfg.validate_, reports_dir=cfg.paths.reports_dir() / "validation",
        quarantine_path=cfg.paths.artifacts_dir() / QUARANTINE,
    )
    outcome.clean.to_parquet(validated_path(cfg), index=False)
    return outcome.summary


def run_prepare(cfg: PipelineConfig) -> dict:
    from components.features.prepare import prepare

    _one_model(cfg)
    prepare(pd.read_parquet(stage_input(validated_path(cfg), "validate")), cfg.prepare, prepared_dir(cfg), cfg.longest_window())
    return json.loads((prepared_dir(cfg) / "summary.json").read_text())


def run_train(cfg: PipelineConfig, kind: str = SERVED_KIND, parent_run_id: str | None = None) -> dict:
    from components.training.train import train_model

    result = train_model(cfg, _prepared(cfg), kind, parent_run_id)
    return {"model": kind, "epochs": result.epochs, "best_val_loss": result.best_val_loss, "train_s": result.train_s, "run_id": result.run_ids.child}


def run_train_all(cfg: PipelineConfig) -> list[dict]:
    """Every model of the config, one after the other, those others learn from first."""
    first, then = cfg.training_rounds()
    return [run_train(cfg, kind) for kind in first + then]


def run_threshold(cfg: PipelineConfig) -> dict:
    """Alarm levels for every trained model, from validation scores."""
    from components.progress import heartbeat
    from components.scoring.threshold_stage import set_thresholds

    prepared = _prepared(cfg)
    _trained(cfg)
    levels = {}
    for kind in cfg.model_kinds():
        with heartbeat(f"threshold {kind}: scoring the validation split"):
            levels[kind] = set_thresholds(cfg, prepared, model_dir(cfg, kind), thresholds_path(cfg, kind))
        rule = levels[kind].get("alarm") or {}
        print(f"threshold {kind}: warning {levels[kind]['warning']:.4g}, critical {levels[kind]['critical']:.4g}, "
              f"alarm after {rule.get('raise_after', 1)} rows", flush=True)
    return levels


def run_evaluate(cfg: PipelineConfig) -> dict:
    from components.scoring.evaluate import evaluate_models

    return evaluate_models(cfg, _prepared(cfg))


def run_register(cfg: PipelineConfig) -> dict:
    from components.registry.register import register_model
    from components.scoring.evaluate import METRICS_FILE

    prepared = _prepared(cfg)
    stage_input(cfg.paths.reports_dir() / METRICS_FILE, "evaluate")
    return register_model(cfg, prepared, prepared_dir(cfg), pd.read_parquet(stage_input(validated_path(cfg), "validate")))


def run_ablation(cfg: PipelineConfig) -> list[dict]:
    """The student without distillation, with each teacher alone and with all (needs trained teachers)."""
    from components.training.ablation import run_ablation as ablate

    return ablate(cfg, _prepared(cfg)).to_dict(orient="records")
