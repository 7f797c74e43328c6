"""One model per kind trained on the training rows of many recordings of one machine at
once, each recording a session, the way ``anomflow train`` learns from a plant's sessions.

Per model kind, on ``channels`` (recordings with the same sensors, each split into
training rows and test rows as a :class:`~components.benchmarks.series.Channel`):

* every recording's training rows are cut as :func:`~components.benchmarks.series.training_cut`
  cuts one series: the first ones fit the model, the last 20 % (at least one window) are
  held out for early stopping and the threshold; windows never span two recordings;
* one scaler is fitted on all training rows;
* every recording is scored as one series from its first row, so its held-out and test
  rows are scored with their real history; row ``t`` gets the score each model's own
  protocol gives it (:func:`~components.benchmarks.paper_scoring.score_rows` for the teachers, the
  window ending at ``t`` for the pipeline's models);
* one threshold for all recordings: the POT warning level on all held-out rows' scores
  pooled (:func:`~components.benchmarks.series_metrics.evaluate_scores`), so no test row or label
  sets anything.

Compared with a model per recording this sees more normal operation (SKAB: 16 × 400 rows
instead of 400) and sets its threshold on 16 × 80 held-out rows instead of 80; it also
uses recordings made after a test recording's own, which a per-file protocol does not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from components.benchmarks.paper_scoring import score_rows
from components.benchmarks.protocol import PATIENCE, model_window
from components.benchmarks.series import Channel, training_cut


@dataclass(frozen=True)
class FleetScores:
    """One fleet model's scores: ``held_out`` (rows,) of every recording's held-out
    training rows, in recording order; ``tests``: each recording's test scores (rows,);
    ``score_s`` seconds spent scoring ``scored_rows`` rows; ``model`` = (net, spec) for a
    teacher (what the student distils from), else None."""

    held_out: np.ndarray
    tests: list[np.ndarray]
    train_s: float
    score_s: float
    scored_rows: int
    epochs: int
    model: tuple | None


def sensor_count(channels: list[Channel]) -> int:
    """The number of sensors every one of ``channels`` has; ValueError when they differ."""
    widths = {c.train.shape[1] for c in channels}
    if len(widths) != 1:
        raise ValueError(f"recordings differ in their number of sensors: {sorted(widths)}")
    return widths.pop()


def fit_fleet(kind: str, cfg, channels: list[Channel], *, teachers: dict | None = None, seed: int) -> FleetScores:
    """Fit one ``kind`` model on all ``channels``' training rows and score every recording
    (module doc). Teachers use ``cfg`` (their profile), the pipeline's models the pipeline
    config ``cfg`` and, for the student, ``teachers`` ({kind: (net, spec)}) fitted on the
    same fleet."""
    import torch

    from components.benchmarks.pipeline_models import _fill_history, fit_network
    from components.features.prepare import PreparedData
    from components.features.scaling import StandardScaler
    from components.features.windows import window_starts
    from components.frames import SESSION
    from components.models.store import ModelSpec, build_network
    from components.scoring.series_scores import score_series
    from components.training.teacher_profiles import TEACHERS
    from components.training.teachers import fit_teacher

    window = model_window(kind, cfg)
    sensors = [f"x{i}" for i in range(sensor_count(channels))]
    cuts = [training_cut(c, window) for c in channels]
    scaler = StandardScaler.fit(pd.DataFrame(np.concatenate([c.train for c in channels]), columns=sensors), sensors)

    def sessions(part: str) -> pd.DataFrame:
        pieces = [c.train[:cut] if part == "train" else c.train[cut:] for c, cut in zip(channels, cuts)]
        frame = pd.DataFrame(np.concatenate(pieces), columns=sensors)
        frame.insert(0, SESSION, np.repeat([c.name for c in channels], [len(p) for p in pieces]))
        return frame

    frames = {part: sessions(part) for part in ("train", "val")}
    series = [scaler.transform(pd.DataFrame(np.concatenate([c.train, c.test]), columns=sensors)) for c in channels]
    model = None
    if kind in TEACHERS:
        values = {part: scaler.transform(frame) for part, frame in frames.items()}
        starts = {part: window_starts(frame[SESSION].to_numpy(), window, 1) for part, frame in frames.items()}
        torch.manual_seed(seed)
        spec = ModelSpec(kind, sensors, window, hparams=cfg.model_dump())
        net = build_network(spec)
        fitted = fit_teacher(kind, cfg, net, values, starts, seed=seed, patience=PATIENCE)
        train_s, epochs, model = fitted.seconds, len(fitted.history), (net, spec)
        begin = time.perf_counter()
        scored = [score_rows(kind, net, cfg, values, seed) for values in series]
    else:
        empty = frames["val"].iloc[:0]
        torch.manual_seed(cfg.train.seed)
        net, spec, result = fit_network(kind, cfg, PreparedData({**frames, "test": empty}, scaler, sensors), teachers or {})
        train_s, epochs = result.seconds, len(result.history)
        begin = time.perf_counter()
        scored = [_fill_history(score_series(net, spec, values, np.zeros(len(values), dtype=np.int8)).score) for values in series]
    score_s = time.perf_counter() - begin
    held_out = np.concatenate([s[cut : len(c.train)] for s, c, cut in zip(scored, channels, cuts)])
    tests = [s[len(c.train) :] for s, c in zip(scored, channels)]
    return FleetScores(held_out, tests, train_s, score_s, sum(len(s) for s in scored), epochs, model)

