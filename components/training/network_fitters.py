"""How the networks are fitted (the served student, the LSTM autoencoder, the teachers):
Lightning recipes with early stopping on validation loss, seeded. The student distils
from the fitted teachers it is given and is calibrated on the normal windows of the
training and validation splits. The detectors' ``fit`` (:mod:`components.detectors`)
call these, so only a process that fits a network imports Lightning."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch

from components.detectors.base import FitContext
from components.features.prepare import PreparedData
from components.features.windows import fit_window_starts, gather_windows, window_starts
from components.frames import LABEL, SESSION
from components.models.store import ModelSpec
from components.models.student import ComponentErrors
from components.training.datamodule import WindowDataModule
from components.training.distillation import DistillationSet, distillation_set
from components.training.fit import fit
from components.training.fit_result import FitResult

if TYPE_CHECKING:
    from components.detectors.lstm_ae import LstmAeSettings
    from components.models.tail_probability import EcodModel
    from components.detectors.student import StudentSettings
    from components.detectors.teacher import TeacherSettings

# The student's score calibration sees every normal window the pipeline holds out of the
# test: on the training windows alone, a rare pattern the network memorised (MSL's
# command channels that fire a few times) gets an error scale far below its error on
# unseen data, and every later occurrence then swamps the score.
CALIBRATION_SPLITS = ("train", "val")


LOGGED_NAMES = {"lr": "learning_rate"}
"""Settings logged under another name, so that every model's runs share one naming scheme
(the teachers' profiles say ``lr``, the other networks ``learning_rate``)."""


def _log_params(context: FitContext, params: dict) -> None:
    if context.logger is not None:
        context.logger.log_hyperparams({LOGGED_NAMES.get(k, k): v for k, v in params.items()})


def sensor_error_scale(
    model: torch.nn.Module, scaled: np.ndarray, sessions: np.ndarray, window: int, stride: int = 1, batch_size: int = 4096
) -> np.ndarray:
    """Each sensor's mean squared reconstruction error on the given (training) windows,
    (n_sensors,), floored so that a perfectly reconstructed sensor cannot divide by 0."""
    starts = window_starts(sessions, window, stride)
    model.eval()
    with torch.inference_mode():
        total = sum(
            model.step_errors(torch.from_numpy(gather_windows(scaled, starts[i : i + batch_size], window))).mean(dim=1).double().numpy().sum(axis=0)
            for i in range(0, len(starts), batch_size)
        )
    scale = np.asarray(total) / max(len(starts), 1)
    return np.maximum(scale, 1e-6 * max(float(scale.max()), 1e-12))


def fit_lstm_ae(detector, settings: "LstmAeSettings", data: PreparedData, context: FitContext) -> tuple[torch.nn.Module, ModelSpec, FitResult]:
    from components.training.lstm_ae_module import LstmAeModule

    torch.set_num_threads(settings.num_threads)
    pl.seed_everything(context.seed, workers=True, verbose=False)
    spec = ModelSpec(detector.kind, data.sensors, settings.window, settings.network_hparams())
    net = detector.build_network(spec)
    datamodule = WindowDataModule.from_prepared(
        data, settings.window, settings.batch_size, settings.train_stride, context.exclude_labelled, context.seed,
    )
    _log_params(context, {**settings.network_hparams(), **settings.training_params(), "seed": context.seed, "window": settings.window, "sensors": ",".join(spec.sensors)})
    result = fit(LstmAeModule(net, settings.learning_rate), datamodule, max_epochs=settings.max_epochs, patience=settings.patience, seed=context.seed, logger=context.logger or False, progress=context.progress)
    train = data.splits["train"]
    scale = sensor_error_scale(net, data.scaler.transform(train), train[SESSION].to_numpy(), spec.window, settings.train_stride)
    return net, replace(spec, error_scale=[float(v) for v in scale]), result


def fit_teacher(detector, settings: "TeacherSettings", data: PreparedData, context: FitContext) -> tuple[torch.nn.Module, ModelSpec, FitResult]:
    """Train a teacher on windows of the train split every ``train_stride`` rows,
    early-stopping on validation windows every ``val_stride`` rows (default the same)."""
    torch.set_num_threads(settings.num_threads)
    pl.seed_everything(context.seed, workers=True, verbose=False)
    spec = ModelSpec(detector.kind, data.sensors, settings.window, settings.architecture())
    net = detector.build_network(spec)
    values = {name: data.scaler.transform(data.splits[name]) for name in ("train", "val")}
    strides = {"train": settings.train_stride, "val": settings.val_stride or settings.train_stride}
    starts = {name: fit_window_starts(data.splits[name], settings.window, strides[name], context.exclude_labelled) for name in ("train", "val")}
    _log_params(context, {**settings.model_dump(exclude={"profile_file"}), "seed": context.seed, "sensors": ",".join(spec.sensors)})
    datamodule = WindowDataModule(values, starts, settings.window, settings.batch_size, context.seed)
    module = detector.training_module(net, settings)
    result = fit(module, datamodule, max_epochs=settings.max_epochs, patience=settings.patience, seed=context.seed, logger=context.logger or False, progress=context.progress)
    return net, spec, result


def fit_student(
    detector, settings: "StudentSettings", data: PreparedData, context: FitContext,
) -> tuple[torch.nn.Module, "EcodModel | None", ModelSpec, FitResult]:
    """(network, tail-gate model or None, spec with calibration and gate levels, fit history)."""
    from components.models.student import calibrate
    from components.training.student_module import StudentModule

    torch.set_num_threads(settings.num_threads)
    dcfg = settings.distillation
    teachers = context.trained
    weights = {t: w for t, w in dcfg.teacher_weights.items() if t in teachers}
    sets = {}
    for i, (name, copies) in enumerate((("train", dcfg.injected_copies), ("val", min(dcfg.injected_copies, 1)))):
        with _announced(context, f"{detector.kind}: distillation targets from {', '.join(teachers) or 'no teacher'} on the {name} split and {copies} injected copies"):
            sets[name] = distillation_set(data.splits[name], data.scaler, teachers, weights, dcfg, copies=copies, seed=context.seed + 100 * i)
    starts = {}
    for name, made in sets.items():
        frame = pd.DataFrame({SESSION: made.sessions, LABEL: made.labels})
        starts[name] = fit_window_starts(frame, settings.window, settings.train_stride, context.exclude_labelled)
    pl.seed_everything(context.seed, workers=True, verbose=False)
    spec = ModelSpec(detector.kind, data.sensors, settings.window, settings.network_hparams())
    net = detector.build_network(spec)
    extras = {name: _student_extras(made, dcfg.clean_targets) for name, made in sets.items()}
    datamodule = WindowDataModule({n: d.values for n, d in sets.items()}, starts, settings.window, settings.batch_size, context.seed, extras)
    _log_params(context, {
        **settings.model_dump(exclude={"distillation", "score_weights", "tail_gate"}), **{f"score_weight_{k}": v for k, v in settings.score_weights.items()},
        **{f"distil_{k}": v for k, v in dcfg.model_dump(exclude={"teacher_weights"}).items()},
        **{f"tail_gate_{k}": v for k, v in settings.tail_gate.model_dump().items()},
        "distil_teachers": ",".join(f"{t}:{w}" for t, w in weights.items()) or "none",
        "seed": context.seed, "sensors": ",".join(spec.sensors),
    })
    module = StudentModule(net, settings.learning_rate, settings.input_noise, dcfg.classification_loss_weight)
    result = fit(module, datamodule, max_epochs=settings.max_epochs, patience=settings.patience, seed=context.seed, logger=context.logger or False, progress=context.progress)
    net.eval()
    windows = {name: _calibration_windows(data, name, settings.window, settings.train_stride, context.exclude_labelled) for name in CALIBRATION_SPLITS}
    with _announced(context, f"{detector.kind}: calibrating its score on the {' and '.join(CALIBRATION_SPLITS)} windows"):
        errors = _concat_errors([part for values, found in windows.values() for part in _component_errors(net, values, found, settings.window)])
    score_weights = dict(settings.score_weights)
    if not teachers:  # an untrained classification head carries no information
        score_weights["classification"] = 0.0
    total = sum(score_weights.values())
    calibration = calibrate(errors, {k: v / total for k, v in score_weights.items()}, settings.top_sensors)
    spec = replace(spec, calibration=calibration.as_dict())
    if not settings.tail_gate.enabled:
        return net, None, spec, result
    tail, levels = _fit_tail_gate(settings, data, windows, calibration, errors, context)
    return net, tail, replace(spec, tail_gate=levels.as_dict()), result


def _fit_tail_gate(settings: "StudentSettings", data: PreparedData, windows: dict, calibration, errors: ComponentErrors, context: FitContext):
    """The gate's ECOD tails (fitted on the training rows, labelled rows left out with
    ``exclude_labelled``) and its levels on the calibration ``windows``."""
    from components.models.student import window_scores
    from components.models.tail_gate import GateLevels, fit_tail, window_tails

    gate = settings.tail_gate
    with _announced(context, "student: fitting the tail gate on the training rows"):
        train = data.splits["train"]
        rows = data.scaler.transform(train)
        if context.exclude_labelled and LABEL in train.columns:
            rows = rows[train[LABEL].to_numpy() == 0]
        tail = fit_tail(rows, settings.window, context.seed, gate.fit_sample)
        tail_scores = np.concatenate([window_tails(tail, values, found, settings.window)[0] for values, found in windows.values()])
    return tail, GateLevels.from_scores(tail_scores, window_scores(errors, calibration)[0], gate.quantile)


def _announced(context: FitContext, message: str):
    """:func:`~components.training.progress.heartbeat` lines for ``message`` when the fit
    reports progress, else nothing."""
    from contextlib import nullcontext

    from components.progress import heartbeat

    return heartbeat(message) if context.progress else nullcontext()


def _calibration_windows(data: PreparedData, split: str, window: int, stride: int, exclude_labelled: bool) -> tuple[np.ndarray, np.ndarray]:
    """(scaled values (rows, n_sensors), window starts) of one split's clean windows."""
    frame = data.splits[split]
    return data.scaler.transform(frame), fit_window_starts(frame, window, stride, exclude_labelled)


def _component_errors(net: torch.nn.Module, values: np.ndarray, starts: np.ndarray, window: int, batch: int = 2048) -> list[ComponentErrors]:
    """The student's raw score components on the windows of ``values`` at ``starts``, in batches."""
    from components.models.student import component_errors_at

    with torch.inference_mode():
        return [component_errors_at(net, values, starts[i : i + batch], window) for i in range(0, len(starts), batch)]


def _student_extras(made: DistillationSet, clean_targets: bool) -> dict[str, np.ndarray]:
    """Per-row arrays the student's batches carry beside the windows."""
    extras = {}
    if made.targets is not None:
        extras["targets"] = made.targets
    if clean_targets and made.injected.any():
        extras["clean"] = made.clean
    return extras


def _concat_errors(parts: list[ComponentErrors]) -> ComponentErrors:
    return ComponentErrors(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("reconstruction", "forecast", "classification")))
