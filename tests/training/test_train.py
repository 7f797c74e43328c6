"""Training is seeded and deterministic, early-stops on validation loss and logs to MLflow."""

import json

import mlflow
import torch

from components.config import PipelineConfig
from components.features.prepare import prepare
from components.sources.demo_plant import generate_plant
from components.detectors.registry import load_detector
from components.training.train import train_model
from tests.tiny_project import tiny_config


NETWORKS = ("student", "lstm_ae")
TEACHERS = ("anomaly_transformer", "omnianomaly")


def _cfg(root, **train) -> PipelineConfig:
    """The tiny config; ``train`` changes the networks' (student, lstm_ae) training settings."""
    raw = tiny_config()
    for kind in NETWORKS:
        raw["models"][kind].update({"max_epochs": 2, **train})
    raw["paths"] = {"artifacts": str(root / "artifacts"), "models": str(root / "models"),
                    "thresholds": str(root / "thresholds"), "reports": str(root / "reports")}
    raw["mlflow"] = {"tracking_uri": f"sqlite:///{root}/mlruns/mlflow.db", "artifact_root": str(root / "mlruns" / "artifacts"), "experiment": "t"}
    return PipelineConfig.model_validate(raw)


def test_same_seed_same_weights_and_metrics_logged(tmp_path):
    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path)
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared", cfg.longest_window())
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
    assert run.data.params["hidden_size"] == str(cfg.settings_of("lstm_ae").hidden_size)
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == first.epochs == 2
    history = json.loads((first.model_dir / "history.json").read_text())
    assert [row["epoch"] for row in history] == [0, 1] and all("train_loss" in row for row in history)
    spec = json.loads((first.model_dir / "model.json").read_text())
    assert len(spec["error_scale"]) == len(spec["sensors"])


def test_early_stopping_stops_before_max_epochs(tmp_path):
    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path, max_epochs=50, patience=1, learning_rate=0.5)  # a step this large cannot keep improving
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared", cfg.longest_window())
    assert train_model(cfg, prepared, "lstm_ae").epochs < 50


def test_teachers_train_through_the_same_stage(tmp_path):
    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path)
    for kind in TEACHERS:
        cfg = cfg.with_settings(kind, max_epochs=1, train_stride=8)
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared", cfg.longest_window())
    for kind in ("anomaly_transformer", "omnianomaly"):
        result = train_model(cfg, prepared, kind)
        spec = load_detector(result.model_dir).spec
        assert spec.kind == kind and spec.window == 32 and result.epochs == 1
        run = mlflow.MlflowClient(cfg.mlflow.tracking_uri).get_run(result.run_ids.child)
        assert run.data.params["profile"] == "fast"


def test_student_calibration_and_tail_gate_cover_training_and_validation_windows(tmp_path):
    """Per-sensor error scales are the mean over the train *and* validation windows, so a
    pattern memorised in training cannot set a scale below its held-out error; the tail
    gate's levels are the quantiles of the tail and (ungated) student scores on the same
    windows, its tails the training rows'."""
    import numpy as np

    from components.models.student import ScoreCalibration, window_scores
    from components.models.tail_gate import window_tails
    from components.training.network_fitters import _calibration_windows, _component_errors, _concat_errors

    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path, max_epochs=1)
    student = cfg.settings_of("student")
    cfg = cfg.with_settings("student", distillation=student.distillation.model_copy(update={"teacher_weights": {}}))
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared", cfg.longest_window())
    detector = load_detector(train_model(cfg, prepared, "student").model_dir)
    net, spec = detector.model, detector.spec
    windows = {
        name: _calibration_windows(prepared, name, spec.window, student.train_stride, cfg.prepare.exclude_labelled_from_fit)
        for name in ("train", "val")
    }
    errors = {name: _concat_errors(_component_errors(net, values, starts, spec.window)) for name, (values, starts) in windows.items()}
    assert len(errors["val"].reconstruction) > 0
    expected = np.concatenate([errors["train"].reconstruction, errors["val"].reconstruction]).mean(axis=0)
    np.testing.assert_allclose(spec.calibration["reconstruction_scale"], expected, rtol=1e-6)
    assert not np.allclose(spec.calibration["reconstruction_scale"], errors["train"].reconstruction.mean(axis=0), rtol=1e-3)

    student_scores = window_scores(_concat_errors(list(errors.values())), ScoreCalibration.from_dict(spec.calibration))[0]
    tail_scores = np.concatenate([window_tails(detector.tail, values, starts, spec.window)[0] for values, starts in windows.values()])
    gate = spec.tail_gate
    assert gate["quantile"] == student.tail_gate.quantile == 0.99
    np.testing.assert_allclose(gate["tail_level"], np.quantile(tail_scores, 0.99), rtol=1e-9)
    np.testing.assert_allclose(gate["student_level"], np.quantile(student_scores, 0.99), rtol=1e-5)
    assert gate["student_floor"] == min(0.0, float(student_scores.min())) or np.isclose(gate["student_floor"], student_scores.min(), rtol=1e-5)
    train = prepared.splits["train"]
    assert len(detector.tail.sorted_) == min(student.tail_gate.fit_sample, int((train["label"] == 0).sum()))


def test_student_distils_through_the_stage_with_its_loss_weight_and_normal_rows_logged(tmp_path):
    readings, _ = generate_plant(seed=3, days=2, assets=1)
    cfg = _cfg(tmp_path, max_epochs=1)
    for kind in TEACHERS:
        cfg = cfg.with_settings(kind, max_epochs=1, train_stride=8)
    cfg = cfg.with_settings("student", distillation=cfg.settings_of("student").distillation.model_copy(update={"normal_rows": "zero"}))
    prepared = prepare(readings, cfg.prepare, tmp_path / "prepared", cfg.longest_window())
    assert cfg.learns_from("student") == list(TEACHERS)
    for kind in cfg.learns_from("student"):
        train_model(cfg, prepared, kind)
    result = train_model(cfg, prepared, "student")
    client = mlflow.MlflowClient(cfg.mlflow.tracking_uri)
    run = client.get_run(result.run_ids.child)
    assert run.data.params["distil_normal_rows"] == "zero"
    assert run.data.params["distil_classification_loss_weight"] == str(cfg.settings_of("student").distillation.classification_loss_weight) == "0.1"
    assert run.data.params["distil_teachers"] == "anomaly_transformer:0.5,omnianomaly:0.5"
    assert len(client.get_metric_history(run.info.run_id, "train_classification")) == 1
