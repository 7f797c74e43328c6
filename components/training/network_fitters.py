"""How the networks are fitted (the served student, the LSTM autoencoder, the teachers):
Lightning recipes with early stopping on validation loss, seeded; the student distils
from the teachers already trained under ``<models>/`` and is calibrated on the normal
windows of the training and validation splits. :func:`fit_network` is what
:func:`components.training.train.fit_model` calls for every kind but the baselines, so
only processes that fit a network import Lightning."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger

from components.config import PipelineConfig
from components.features.prepare import PreparedData
from components.features.windows import fit_window_starts
from components.frames import LABEL, SESSION
from components.models.student import ComponentErrors
from components.models.store import ModelSpec, build_network, load_network
from components.scoring.series_scores import sensor_error_scale
from components.training.datamodule import WindowDataModule
from components.training.distillation import DistillationSet, distillation_set
from components.training.fit import fit
from components.training.fit_result import FitResult
from components.training.lstm_ae_module import LstmAeModule
from components.training.teacher_profiles import TEACHERS, teacher_config
from components.training.teachers import fit_teacher

# The student's score calibration sees every normal window the pipeline holds out of the
# test: on the training windows alone, a rare pattern the network memorised (MSL's
# command channels that fire a few times) gets an error scale far below its error on
# unseen data, and every later occurrence then swamps the score.
CALIBRATION_SPLITS = ("train", "val")


def _log_params(logger: Logger | None, params: dict) -> None:
    if logger is not None:
        logger.log_hyperparams(params)


def _fit_lstm_ae(cfg: PipelineConfig, prepared: PreparedData, logger: Logger | None) -> tuple[torch.nn.Module, ModelSpec, FitResult]:
    torch.set_num_threads(cfg.train.num_threads)
    pl.seed_everything(cfg.train.seed, workers=True, verbose=False)
    spec = ModelSpec("lstm_ae", prepared.sensors, cfg.prepare.window, cfg.model.model_dump())
    net = build_network(spec)
    data = WindowDataModule.from_prepared(
        prepared, cfg.prepare.window, cfg.train.batch_size, cfg.train.train_stride,
        cfg.prepare.exclude_labelled_from_fit, cfg.train.seed,
    )
    _log_params(logger, {**cfg.model.model_dump(), **cfg.train.model_dump(), "window": cfg.prepare.window, "sensors": ",".join(spec.sensors)})
    result = fit(LstmAeModule(net, cfg.train.learning_rate), data, max_epochs=cfg.train.max_epochs, patience=cfg.train.patience, seed=cfg.train.seed, logger=logger or False)
    train = prepared.splits["train"]
    scale = sensor_error_scale(net, prepared.scaler.transform(train), train["session"].to_numpy(), spec.window, cfg.train.train_stride)
    return net, replace(spec, error_scale=[float(v) for v in scale]), result


def _fit_teacher(cfg: PipelineConfig, prepared: PreparedData, kind: str, logger: Logger | None) -> tuple[torch.nn.Module, ModelSpec, FitResult]:
    torch.set_num_threads(cfg.teachers.num_threads)
    tcfg = teacher_config(kind, cfg.teachers.profile)
    if cfg.teachers.max_epochs is not None:
        tcfg = tcfg.model_copy(update={"max_epochs": min(tcfg.max_epochs, cfg.teachers.max_epochs)})
    pl.seed_everything(cfg.train.seed, workers=True, verbose=False)
    spec = ModelSpec(kind, prepared.sensors, tcfg.window, tcfg.model_dump())
    net = build_network(spec)
    values = {name: prepared.scaler.transform(prepared.splits[name]) for name in ("train", "val")}
    starts = {
        name: fit_window_starts(prepared.splits[name], tcfg.window, cfg.teachers.train_stride, cfg.prepare.exclude_labelled_from_fit)
        for name in ("train", "val")
    }
    _log_params(logger, {**tcfg.model_dump(), "profile": cfg.teachers.profile, "train_stride": cfg.teachers.train_stride, "sensors": ",".join(spec.sensors)})
    result = fit_teacher(kind, tcfg, net, values, starts, seed=cfg.train.seed, patience=cfg.teachers.patience, logger=logger or False)
    return net, spec, result


def _teacher_networks(cfg: PipelineConfig, weights: dict[str, float]) -> dict[str, tuple[torch.nn.Module, ModelSpec]]:
    teachers = {}
    for kind in weights:
        directory = cfg.paths.models_dir() / kind
        if not (directory / "weights.pt").exists():
            raise FileNotFoundError(f"the student distils from {kind} but {directory} has no trained model: run `anomflow train --model {kind}` first")
        teachers[kind] = load_network(directory)
    return teachers


def _fit_student(cfg: PipelineConfig, prepared: PreparedData, logger: Logger | None) -> tuple[torch.nn.Module, ModelSpec, FitResult]:
    from components.models.student import calibrate
    from components.training.student_module import StudentModule

    torch.set_num_threads(cfg.train.num_threads)
    scfg, dcfg = cfg.student, cfg.student.distillation
    weights = cfg.distilling_teachers()
    teachers = _teacher_networks(cfg, weights)
    sets = {
        name: distillation_set(prepared.splits[name], prepared.scaler, teachers, weights, dcfg, copies=copies, seed=cfg.train.seed + 100 * i)
        for i, (name, copies) in enumerate((("train", dcfg.injected_copies), ("val", min(dcfg.injected_copies, 1))))
    }
    starts = {}
    for name, data in sets.items():
        frame = pd.DataFrame({SESSION: data.sessions, LABEL: data.labels})
        starts[name] = fit_window_starts(frame, scfg.window, cfg.train.train_stride, cfg.prepare.exclude_labelled_from_fit)
    pl.seed_everything(cfg.train.seed, workers=True, verbose=False)
    spec = ModelSpec("student", prepared.sensors, scfg.window, scfg.network_hparams())
    net = build_network(spec)
    extras = {name: _student_extras(data, dcfg.clean_targets) for name, data in sets.items()}
    data = WindowDataModule({n: d.values for n, d in sets.items()}, starts, scfg.window, cfg.train.batch_size, cfg.train.seed, extras)
    _log_params(logger, {
        **scfg.model_dump(exclude={"distillation", "score_weights"}), **{f"score_weight_{k}": v for k, v in scfg.score_weights.items()},
        **{f"distil_{k}": v for k, v in dcfg.model_dump(exclude={"teacher_weights"}).items()},
        "distil_teachers": ",".join(f"{t}:{w}" for t, w in weights.items()) or "none",
        **{k: v for k, v in cfg.train.model_dump().items()}, "sensors": ",".join(spec.sensors),
    })
    module = StudentModule(net, cfg.train.learning_rate, scfg.input_noise, dcfg.classification_loss_weight)
    result = fit(module, data, max_epochs=cfg.train.max_epochs, patience=cfg.train.patience, seed=cfg.train.seed, logger=logger or False)
    net.eval()
    errors = [
        part
        for name in CALIBRATION_SPLITS
        for part in _split_component_errors(net, prepared, name, scfg.window, cfg.train.train_stride, cfg.prepare.exclude_labelled_from_fit)
    ]
    score_weights = dict(scfg.score_weights)
    if not teachers:  # an untrained classification head carries no information
        score_weights["classification"] = 0.0
    total = sum(score_weights.values())
    calibration = calibrate(_concat_errors(errors), {k: v / total for k, v in score_weights.items()}, scfg.top_sensors)
    return net, replace(spec, calibration=calibration.as_dict()), result


def _split_component_errors(
    net: torch.nn.Module, prepared: PreparedData, split: str, window: int, stride: int, exclude_labelled: bool, batch: int = 2048,
) -> list[ComponentErrors]:
    """The student's raw score components on the clean windows of one split, in batches."""
    from components.models.student import component_errors_at

    frame = prepared.splits[split]
    values = prepared.scaler.transform(frame)
    starts = fit_window_starts(frame, window, stride, exclude_labelled)
    with torch.inference_mode():
        return [component_errors_at(net, values, starts[i : i + batch], window) for i in range(0, len(starts), batch)]


def _student_extras(data: DistillationSet, clean_targets: bool) -> dict[str, np.ndarray]:
    """Per-row arrays the student's batches carry beside the windows."""
    extras = {}
    if data.targets is not None:
        extras["targets"] = data.targets
    if clean_targets and data.injected.any():
        extras["clean"] = data.clean
    return extras


def _concat_errors(parts: list[ComponentErrors]) -> ComponentErrors:
    return ComponentErrors(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("reconstruction", "forecast", "classification")))


NETWORK_FITTERS = {"student": _fit_student, "lstm_ae": _fit_lstm_ae}


def fit_network(cfg: PipelineConfig, prepared: PreparedData, kind: str, logger: Logger | None = None) -> tuple[torch.nn.Module, ModelSpec, FitResult]:
    """Fit network ``kind`` (the student, the LSTM-AE or a teacher) on ``prepared``; the
    network, its spec and the fit history."""
    if kind in NETWORK_FITTERS:
        return NETWORK_FITTERS[kind](cfg, prepared, logger)
    if kind in TEACHERS:
        return _fit_teacher(cfg, prepared, kind, logger)
    raise ValueError(f"{kind!r} is not a network; networks: {[*NETWORK_FITTERS, *TEACHERS]}")
