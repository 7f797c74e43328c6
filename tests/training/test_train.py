"""Training is seeded and deterministic, early-stops on validation loss and logs to MLflow."""

import json

import mlflow
import torch

from components.config import PipelineConfig
from components.features.prepare import prepare
from components.sources.demo_plant import generate_plant
from components.models.store import load_network
from components.training.train import train_model
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
    first = train_model(cfg, prepared, "lstm_ae")
    weights = torch.load(first.model_dir / "weights.pt", weights_only=True)
    second = train_model(cfg, prepared, "lstm_ae")
    again = torch.load(second.model_dir / "weights.pt", weights_only=True)
    assert all(torch.equal(weights[k], again[k]) for k in weights)
    assert first.run_ids.child != second.run_ids.child
    assert first.run_ids.parent == second.run_ids.parent  # same prepared data, one open pipeline run

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
    assert train_model(cfg, prepared, "lstm_ae").epochs < 50


def test_teachers_train_through_the_same_stage(tmp_path):
    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path)
    cfg = cfg.model_copy(update={"teachers": cfg.teachers.model_copy(update={"max_epochs": 1, "train_stride": 8})})
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared")
    for kind in ("anomaly_transformer", "omnianomaly"):
        result = train_model(cfg, prepared, kind)
        net, spec = load_network(result.model_dir)
        assert spec.kind == kind and spec.window == 32 and result.epochs == 1
        run = mlflow.MlflowClient(cfg.mlflow.tracking_uri).get_run(result.run_ids.child)
        assert run.data.params["profile"] == "fast"


def test_student_calibration_covers_training_and_validation_windows(tmp_path):
    """Per-sensor error scales are the mean over the train *and* validation windows, so a
    pattern memorised in training cannot set a scale below its held-out error."""
    import numpy as np

    from components.training.network_fitters import _split_component_errors

    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path, max_epochs=1)
    cfg = cfg.model_copy(update={"student": cfg.student.model_copy(update={
        "distillation": cfg.student.distillation.model_copy(update={"teacher_weights": {}}),
    })})
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared")
    net, spec = load_network(train_model(cfg, prepared, "student").model_dir)
    per_split = {
        name: np.concatenate([e.reconstruction for e in _split_component_errors(
            net, prepared, name, spec.window, cfg.train.train_stride, cfg.prepare.exclude_labelled_from_fit)])
        for name in ("train", "val")
    }
    assert len(per_split["val"]) > 0
    expected = np.concatenate([per_split["train"], per_split["val"]]).mean(axis=0)
    np.testing.assert_allclose(spec.calibration["reconstruction_scale"], expected, rtol=1e-6)
    assert not np.allclose(spec.calibration["reconstruction_scale"], per_split["train"].mean(axis=0), rtol=1e-3)


def test_student_distils_through_the_stage_with_its_loss_weight_and_normal_rows_logged(tmp_path):
    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path, max_epochs=1)
    cfg = cfg.model_copy(update={
        "teachers": cfg.teachers.model_copy(update={"max_epochs": 1, "train_stride": 8}),
        "student": cfg.student.model_copy(update={"distillation": cfg.student.distillation.model_copy(update={"normal_rows": "zero"})}),
    })
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared")
    for kind in cfg.distilling_teachers():
        train_model(cfg, prepared, kind)
    result = train_model(cfg, prepared, "student")
    client = mlflow.MlflowClient(cfg.mlflow.tracking_uri)
    run = client.get_run(result.run_ids.child)
    assert run.data.params["distil_normal_rows"] == "zero"
    assert run.data.params["distil_classification_loss_weight"] == str(cfg.student.distillation.classification_loss_weight) == "0.1"
    assert run.data.params["distil_teachers"] == "anomaly_transformer:0.5,omnianomaly:0.5"
    assert len(client.get_metric_history(run.info.run_id, "train_classification")) == 1
