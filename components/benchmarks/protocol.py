"""The protocol every benchmark trains and scores by: one model per series, as in the papers.

Per series (:class:`~components.benchmarks.series.Channel`) and per model
(:func:`run_channel`), through the detector interface (:mod:`components.detectors`):

* Scaling: :class:`~components.features.scaling.StandardScaler` fitted on the series'
  training rows only, applied to training and test rows.
* Split: the last 20 % of the training rows (at least one window) are validation, used
  for early stopping (``val_loss``) and for the alarm threshold; the rest train
  (:func:`~components.benchmarks.series.training_cut`). Training windows start every
  ``train_stride`` rows (default 1) for every model; the teachers' validation windows
  every row, with patience 3. Seed 7 by default (network initialisation, Lightning,
  posterior sampling, injected anomalies), ``torch.set_num_threads(2)``. ``max_epochs``
  is each model's, optionally capped (:func:`benchmark_config`).
* Settings: the repository's ``conf/pipeline.yaml`` ``models:`` sections, the teachers
  at the benchmark's profile; each model fitted by its detector, the student distilling
  from the teachers trained on the same series. Rows are scored by
  :meth:`~components.detectors.base.Detector.benchmark_scores`: the teachers as their
  papers score, the others as served.
* Threshold and metrics: :mod:`components.benchmarks.series_metrics`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from components.benchmarks.series import Channel, training_cut
from components.benchmarks.series_metrics import evaluate_scores

PROFILES = ("fast", "paper")
PATIENCE = 3
SEED = 7
TORCH_THREADS = 2
VAL_STRIDE = 1
REPO_CONFIG = Path(__file__).resolve().parents[2] / "conf" / "pipeline.yaml"


def arrays_as_prepared(train: np.ndarray, val: np.ndarray, test: np.ndarray, test_labels: np.ndarray, scaler):
    """Raw arrays (rows, features) as one-session prepared splits with columns x0, x1, …"""
    from components.features.prepare import PreparedData
    from components.frames import LABEL, SESSION

    sensors = list(scaler.sensors)

    def frame(values: np.ndarray, labels: np.ndarray | None = None) -> pd.DataFrame:
        out = pd.DataFrame(values, columns=sensors)
        out.insert(0, SESSION, "series")
        if labels is not None:
            out[LABEL] = labels
        return out

    return PreparedData({"train": frame(train), "val": frame(val), "test": frame(test, test_labels)}, scaler, sensors)


def run_channel(
    kind: str, cfg, channel: Channel, *, teachers: dict | None = None, seed: int | None = None, score_train: bool = False,
) -> tuple[dict, dict]:
    """Train ``kind`` with its settings in the benchmark config ``cfg``
    (:func:`benchmark_config`) on ``channel`` and score its test rows; the student learns
    from ``teachers`` ({kind: fitted detector} trained on this channel). ``seed``
    (default ``cfg.seed``) seeds fitting and scoring.

    Returns (metrics dict for the report, pooled arrays: ``labels``, ``scores``, ``pred``,
    ``units`` = scores in threshold units, ``model`` = the fitted detector, and with
    ``score_train`` ``training_scores`` = the scores of all of the channel's training rows,
    those it fitted on and those it held out, in order)."""
    import torch

    from components.features.scaling import StandardScaler
    from components.training.train import fit_model

    seed = cfg.seed if seed is None else seed
    cfg = cfg.model_copy(update={"seed": seed})
    settings = cfg.settings_of(kind)
    sensors = [f"x{i}" for i in range(channel.train.shape[1])]
    cut = training_cut(channel, settings.window)
    n_val = len(channel.train) - cut
    scaler = StandardScaler.fit(pd.DataFrame(channel.train, columns=sensors), sensors)
    prepared = arrays_as_prepared(channel.train[:cut], channel.train[cut:], channel.test, channel.labels, scaler)
    torch.manual_seed(seed)
    detector, fitted = fit_model(cfg, prepared, kind, trained={k: v for k, v in (teachers or {}).items() if k in cfg.learns_from(kind)})
    values = {name: scaler.transform(prepared.splits[name]) for name in ("train", "val", "test")}
    val_scores = detector.benchmark_scores(values["val"], seed)
    fit_scores = detector.benchmark_scores(values["train"], seed) if score_train else None
    begin = time.perf_counter()
    scores = detector.benchmark_scores(values["test"], seed)
    score_s = time.perf_counter() - begin

    metrics, arrays = evaluate_scores(val_scores, scores, channel.labels)
    metrics.update({
        "epochs": len(fitted.history),
        "best_val_loss": fitted.best_val_loss,
        "train_s": fitted.seconds,
        "score_s": score_s,
        "train_rows": cut,
        "train_windows": int(len(np.arange(0, cut - settings.window + 1, settings.train_stride))) if fitted.history else None,
        "val_rows": n_val,
        "test_rows": len(channel.test),
        "test_anomalous": int(channel.labels.sum()),
        "predicted": int(arrays["pred"].sum()),
    })
    if score_train:
        arrays["training_scores"] = np.concatenate([fit_scores, val_scores])
    return metrics, {**arrays, "model": detector}


def benchmark_config(
    profile: str, models: Sequence[str], *, max_epochs: int | None = None, train_stride: int = 1, seed: int = SEED,
    threads: int = TORCH_THREADS,
) -> dict:
    """{kind: the benchmark's pipeline config}, in training order (the models others learn
    from first, then the rest as listed): the repository config (``conf/pipeline.yaml``) training only ``models``,
    the teachers at ``profile`` with validation windows every row and patience
    :data:`PATIENCE`, every model with ``train_stride``, ``threads`` torch threads and
    ``seed``, epochs capped at ``max_epochs`` when given."""
    from components.config import load_config
    from components.detectors.registry import KINDS, detector_class
    from components.detectors.teacher import TeacherDetector

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {PROFILES}")
    if max_epochs is not None and max_epochs < 1:
        raise ValueError(f"--max-epochs must be at least 1, got {max_epochs}")
    unknown = [kind for kind in models if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; known: {list(KINDS)}")
    repo = load_config(REPO_CONFIG)
    sections = {}
    for kind in models:
        is_teacher = issubclass(detector_class(kind), TeacherDetector)
        settings = repo.settings_of(kind).model_dump() if getattr(repo.models, kind) is not None else {}
        if is_teacher:
            settings = {"profile": profile, "val_stride": VAL_STRIDE, "patience": PATIENCE}
        settings["train_stride"] = train_stride
        if "num_threads" in detector_class(kind).Settings.model_fields:
            settings["num_threads"] = threads
        sections[kind] = settings
    cfg = load_config_from(repo, sections, seed)
    if max_epochs is not None:
        for kind in models:
            if getattr(cfg.settings_of(kind), "max_epochs", 0) > max_epochs:
                cfg = cfg.with_settings(kind, max_epochs=max_epochs)
    missing = [kind for kind in models if detector_class(kind).learns_from(cfg.settings_of(kind), list(KINDS)) and not cfg.learns_from(kind)]
    if missing:
        raise ValueError(f"{', '.join(missing)} learns from other models (the teachers): list at least one of them with it")
    taught = {teacher for kind in models for teacher in cfg.learns_from(kind)}
    return {kind: cfg for kind in [k for k in models if k in taught] + [k for k in models if k not in taught]}


def load_config_from(repo, sections: dict[str, dict], seed: int):
    """``repo`` (a pipeline config) with ``models:`` replaced by ``sections`` and ``seed``."""
    from components.config import PipelineConfig, resolved_settings

    settings = resolved_settings(repo)
    settings.update({"models": sections, "seed": seed})
    return PipelineConfig.model_validate(settings)


def config_record(kind: str, cfg) -> dict:
    """What the report records of a model's settings."""
    return {**cfg.settings_of(kind).model_dump(), "seed": cfg.seed}
