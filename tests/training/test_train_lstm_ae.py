"""Training is seeded and deterministic, early-stops on validation loss and logs to MLflow."""

import json

import mlflow
import torch

from components.config import PipelineConfig
from components.features.prepare import prepare
from components.sources.demo_plant import generate_plant
from components.training.train import train_lstm_ae
from tests.tiny_project import tiny_config


def _cfg(root, **train) -> PipelineConfig:
    raw = tiny_config()
    raw["train"].update({"max_epochs": 2, **train})
    raw["paths"] = {"artifacts": str(root / "artifacts"), "models": str(root / "models"), "reports": str(root / "reports")}
    raw["mlflow"] = {"tracking_uri": f"sqlite:///{root}/mlruns/mlflow.db", "artifact_root": str(root / "mlruns" / "artifacts"), "experiment": "t"}
    return PipelineConfig.model_validate(raw)


def test_same_seed_same_weights_and_metrics_logged(tmp_path):
    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path)
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared")
    first = train_lstm_ae(cfg, prepared)
    weights = torch.load(first.model_dir / "weights.pt", weights_only=True)
    second = train_lstm_ae(cfg, prepared)
    again = torch.load(second.model_dir / "weights.pt", weights_only=True)
    assert all(torch.equal(weights[k], again[k]) for k in weights)
    assert first.run_ids.child != second.run_ids.child

    client = mlflow.MlflowClient(cfg.mlflow.tracking_uri)
    run = client.get_run(first.run_ids.child)
    assert run.data.tags["mlflow.parentRunId"] == first.run_ids.parent
    assert run.data.params["hidden_size"] == str(cfg.model.hidden_size)
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == first.epochs == 2
    history = json.loads((first.model_dir / "history.json").read_text())
    assert [row["epoch"] for row in history] == [0, 1] and all("train_loss" in row for row in history)
    spec = json.loads((first.model_dir / "model.json").read_text())
    assert len(spec["error_scale"]) == len(spec["sensors"])


def test_early_stopping_stops_before_max_epochs(tmp_path):
    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path, max_epochs=50, patience=1, learning_rate=0.5)  # a step this large cannot keep improving
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared")
    assert train_lstm_ae(cfg, prepared).epochs < 50
