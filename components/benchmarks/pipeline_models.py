"""The pipeline's own models (student, LSTM-AE, PCA, Isolation Forest) on benchmark
arrays, fitted by the same code and parameters as ``anomflow train`` (the repository's
``conf/pipeline.yaml``) and scored the way the pipeline serves: row ``t`` from the window
ending at ``t``. Rows before the first full window take the first window's score.

The student distils from teachers the benchmark already trained on the same arrays.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from components.config import PipelineConfig, load_config
from components.features.prepare import PreparedData
from components.features.scaling import StandardScaler
from components.frames import LABEL, SESSION
from components.models.store import ModelSpec, save_network

PIPELINE_MODELS = ("student", "lstm_ae", "pca", "iforest")
REPO_CONFIG = Path(__file__).resolve().parents[2] / "conf" / "pipeline.yaml"


@dataclass(frozen=True)
class Fitted:
    """Scores of one fitted model: ``val`` and ``test`` (rows,), plus its fit and scoring
    costs; ``train`` (rows,): the training split's own scores, when asked for."""

    val: np.ndarray
    test: np.ndarray
    epochs: int
    best_val_loss: float
    train_s: float
    score_s: float
    train: np.ndarray | None = None


def arrays_as_prepared(train: np.ndarray, val: np.ndarray, test: np.ndarray, test_labels: np.ndarray, scaler: StandardScaler) -> PreparedData:
    """Raw arrays (rows, features) as one-session splits with columns x0, x1, …"""
    sensors = list(scaler.sensors)

    def frame(values: np.ndarray, labels: np.ndarray | None = None) -> pd.DataFrame:
        out = pd.DataFrame(values, columns=sensors)
        out.insert(0, SESSION, "series")
        if labels is not None:
            out[LABEL] = labels
        return out

    return PreparedData({"train": frame(train), "val": frame(val), "test": frame(test, test_labels)}, scaler, sensors)


def pipeline_config(teachers: list[str], threads: int, seed: int) -> PipelineConfig:
    """The repository's pipeline config with the benchmark's teachers, threads and seed."""
    cfg = load_config(REPO_CONFIG)
    return cfg.model_copy(update={
        "train": cfg.train.model_copy(update={"num_threads": threads, "seed": seed}),
        "teachers": cfg.teachers.model_copy(update={"models": teachers}),
    })


def _fill_history(scores: np.ndarray) -> np.ndarray:
    finite = np.flatnonzero(np.isfinite(scores))
    if finite.size == 0:
        raise ValueError("no row has a full window of history")
    out = scores.copy()
    out[: finite[0]] = scores[finite[0]]
    return out


def fit_network(kind: str, cfg: PipelineConfig, prepared: PreparedData, teachers: dict[str, tuple[object, ModelSpec]]) -> tuple[object, ModelSpec, object]:
    """(net, spec, fit result) of ``kind`` fitted on ``prepared`` (train, early stopping on
    val) by the pipeline's own training code; the student distils from ``teachers``."""
    from components.training.train import fit_model

    if kind not in PIPELINE_MODELS:
        raise ValueError(f"unknown pipeline model {kind!r}; known: {PIPELINE_MODELS}")
    with tempfile.TemporaryDirectory() as models:
        cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"models": models})})
        for name, (net, spec) in teachers.items():
            save_network(net, spec, Path(models) / name)
        return fit_model(cfg, prepared, kind)


def fit_and_score(
    kind: str, cfg: PipelineConfig, prepared: PreparedData, teachers: dict[str, tuple[object, ModelSpec]], *, score_train: bool = False,
) -> Fitted:
    """Fit ``kind`` on ``prepared`` (train, early stopping on val) and score val and test
    (and the training split itself with ``score_train``)."""
    from components.scoring.series_scores import score_series

    net, spec, result = fit_network(kind, cfg, prepared, teachers)
    scores = {}
    seconds = 0.0
    for split in ("train", "val", "test") if score_train else ("val", "test"):
        frame = prepared.splits[split]
        begin = time.perf_counter()
        scores[split] = _fill_history(score_series(net, spec, prepared.scaler.transform(frame), frame[SESSION].to_numpy()).score)
        seconds = time.perf_counter() - begin  # the test split's, the last one
    return Fitted(scores["val"], scores["test"], len(result.history), result.best_val_loss, result.seconds, seconds, scores.get("train"))
