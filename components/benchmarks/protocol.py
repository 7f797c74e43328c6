"""The protocol every benchmark trains and scores by: one model per series, as in the papers.

Per series (:class:`~components.benchmarks.series.Channel`) and per model
(:func:`run_channel`):

* Scaling: :class:`~components.features.scaling.StandardScaler` fitted on the series'
  training rows only, applied to training and test rows.
* Split: the last 20 % of the training rows (at least one window) are validation, used
  for early stopping (``val_loss``, patience 3) and for the alarm threshold; the rest
  train (:func:`~components.benchmarks.series.training_cut`). Training windows start every
  ``train_stride`` rows (default 1), validation windows every row. Seed 7 by default
  (network initialisation, Lightning, posterior sampling, injected anomalies),
  ``torch.set_num_threads(2)``. ``max_epochs`` is the profile's, optionally capped
  (:func:`benchmark_config`).
* The teachers are trained with their profile's config and score rows as their papers
  do (:mod:`components.benchmarks.paper_scoring`); the pipeline's models (the student,
  LSTM-AE, PCA, Isolation Forest) are fitted by ``anomflow train``'s code with
  ``conf/pipeline.yaml`` and score rows as served, and the student distils from the
  teachers trained on the same series.
* Threshold and metrics: :mod:`components.benchmarks.series_metrics`.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd

from components.benchmarks.paper_scoring import all_starts, score_rows
from components.benchmarks.series import Channel, training_cut
from components.benchmarks.series_metrics import evaluate_scores

PROFILES = ("fast", "paper")
PATIENCE = 3
SEED = 7
TORCH_THREADS = 2
VAL_STRIDE = 1


def run_channel(
    kind: str, cfg, channel: Channel, *, train_stride: int = 1, teachers: dict | None = None, pipeline_cfg=None, seed: int = SEED,
    score_train: bool = False,
) -> tuple[dict, dict]:
    """Train ``kind`` on ``channel`` and score its test rows. Teachers use ``cfg`` (their
    profile) and ``seed``; the pipeline's models use ``pipeline_cfg`` (whose train seed is
    theirs), and the student distils from ``teachers`` ({kind: (net, spec)} trained on
    this channel).

    Returns (metrics dict for the report, pooled arrays: ``labels``, ``scores``, ``pred``,
    ``units`` = scores in threshold units, ``model`` = (net, spec) for teachers, and with
    ``score_train`` ``training_scores`` = the scores of all of the channel's training rows,
    those it fitted on and those it held out, in order)."""
    import torch

    from components.benchmarks.pipeline_models import arrays_as_prepared, fit_and_score
    from components.features.scaling import StandardScaler
    from components.models.store import ModelSpec, build_network
    from components.training.teacher_profiles import TEACHERS
    from components.training.teachers import fit_teacher

    window = model_window(kind, cfg)
    sensors = [f"x{i}" for i in range(channel.train.shape[1])]
    cut = training_cut(channel, window)
    n_val = len(channel.train) - cut
    scaler = StandardScaler.fit(pd.DataFrame(channel.train, columns=sensors), sensors)
    model = None
    if kind in TEACHERS:
        train = scaler.transform(pd.DataFrame(channel.train, columns=sensors))
        test = scaler.transform(pd.DataFrame(channel.test, columns=sensors))
        values = {"train": train[:cut], "val": train[cut:]}
        starts = {"train": all_starts(cut, window, train_stride), "val": all_starts(n_val, window, VAL_STRIDE)}
        torch.manual_seed(seed)
        spec = ModelSpec(kind, sensors, window, hparams=cfg.model_dump())
        net = build_network(spec)
        fitted = fit_teacher(kind, cfg, net, values, starts, seed=seed, patience=PATIENCE)
        val_scores = score_rows(kind, net, cfg, values["val"], seed)
        fit_scores = score_rows(kind, net, cfg, values["train"], seed) if score_train else None
        begin = time.perf_counter()
        scores = score_rows(kind, net, cfg, test, seed)
        score_s = time.perf_counter() - begin
        epochs, best_val_loss, train_s, train_windows = len(fitted.history), fitted.best_val_loss, fitted.seconds, len(starts["train"])
        model = (net, spec)
    else:
        prepared = arrays_as_prepared(channel.train[:cut], channel.train[cut:], channel.test, channel.labels, scaler)
        torch.manual_seed(pipeline_cfg.train.seed)
        result = fit_and_score(kind, pipeline_cfg, prepared, teachers or {}, score_train=score_train)
        val_scores, scores, score_s, fit_scores = result.val, result.test, result.score_s, result.train
        epochs, best_val_loss, train_s, train_windows = result.epochs, result.best_val_loss, result.train_s, None

    metrics, arrays = evaluate_scores(val_scores, scores, channel.labels)
    metrics.update({
        "epochs": epochs,
        "best_val_loss": best_val_loss,
        "train_s": train_s,
        "score_s": score_s,
        "train_rows": cut,
        "train_windows": train_windows,
        "val_rows": n_val,
        "test_rows": len(channel.test),
        "test_anomalous": int(channel.labels.sum()),
        "predicted": int(arrays["pred"].sum()),
    })
    if score_train:
        arrays["training_scores"] = np.concatenate([fit_scores, val_scores])
    return metrics, {**arrays, "model": model}


def benchmark_config(
    profile: str, models: Sequence[str], *, max_epochs: int | None = None, train_stride: int = 1, seed: int = SEED,
) -> dict:
    """Each teacher's profile config (epochs capped at ``max_epochs`` when given) and, for
    the pipeline's models, the repository pipeline config (``conf/pipeline.yaml``) with
    ``seed`` as its train seed and ``train_stride`` in place of its ``train.train_stride``
    (every model of one benchmark trains on windows at the same stride)."""
    from components.benchmarks.pipeline_models import PIPELINE_MODELS, pipeline_config
    from components.training.teacher_profiles import TEACHERS, teacher_config

    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {PROFILES}")
    if max_epochs is not None and max_epochs < 1:
        raise ValueError(f"--max-epochs must be at least 1, got {max_epochs}")
    unknown = [kind for kind in models if kind not in TEACHERS and kind not in PIPELINE_MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; known: {[*TEACHERS, *PIPELINE_MODELS]}")
    if "student" in models and not any(kind in TEACHERS for kind in models):
        raise ValueError("the student distils from the teachers: list at least one of them with it")
    configs = {}
    teachers = [kind for kind in models if kind in TEACHERS]
    for kind in teachers:  # teachers first: the student learns from them
        cfg = teacher_config(kind, profile)
        if max_epochs is not None and max_epochs < cfg.max_epochs:
            cfg = cfg.model_copy(update={"max_epochs": max_epochs})
        configs[kind] = cfg
    for kind in models:
        if kind in PIPELINE_MODELS:
            cfg = pipeline_config(teachers, TORCH_THREADS, seed)
            cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"train_stride": train_stride})})
            if max_epochs is not None and max_epochs < cfg.train.max_epochs:
                cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"max_epochs": max_epochs})})
            configs[kind] = cfg
    return configs


def model_window(kind: str, cfg) -> int:
    """Rows of one window of ``kind`` under its config."""
    if hasattr(cfg, "window"):
        return cfg.window
    return cfg.student.window if kind == "student" else cfg.prepare.window


def config_record(kind: str, cfg) -> dict:
    """What the report records of a model's config."""
    if hasattr(cfg, "window"):
        return cfg.model_dump()
    if kind == "student":
        return {**cfg.student.model_dump(), "train": cfg.train.model_dump()}
    if kind == "lstm_ae":
        return {**cfg.model.model_dump(), "window": cfg.prepare.window, "train": cfg.train.model_dump()}
    return {**cfg.baselines.model_dump(), "window": cfg.prepare.window}
