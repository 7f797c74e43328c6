"""One model per kind trained on the training rows of many recordings of one machine at
once, each recording a session, the way ``anomflow train`` learns from a plant's sessions.

Per model kind, on ``channels`` (recordings with the same sensors, each split into
training rows and test rows as a :class:`~components.benchmarks.series.Channel`):

* every recording's training rows are cut as :func:`~components.benchmarks.series.training_cut`
  cuts one series: the first ones fit the model, the last 20 % (at least one window) are
  held out for early stopping and the threshold; windows never span two recordings;
* one scaler is fitted on all training rows;
* every recording is scored as one series from its first row, so its held-out and test
  rows are scored with their real history; row ``t`` gets the score each model's
  :meth:`~components.detectors.base.Detector.benchmark_scores` gives it (the teachers as
  their papers score, the others as served);
* one threshold for all recordings: the POT warning level on all held-out rows' scores
  pooled (:func:`~components.benchmarks.series_metrics.evaluate_scores`), so no test row or label
  sets anything.

Compared with a model per recording this sees more normal operation (SKAB: 16 × 400 rows
instead of 400) and sets its threshold on 16 × 80 held-out rows instead of 80; it also
uses recordings made after a test recording's own, which a per-file protocol does not.

With ``make peers``' python, :func:`score_peers_fleet` fits PyOD's window detectors the same
way (one per detector for all recordings, :func:`fleet_splits`) in the peers' worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from components.benchmarks.protocol import TORCH_THREADS
from components.benchmarks.series import Channel, training_cut


@dataclass(frozen=True)
class FleetScores:
    """One fleet model's scores: ``held_out`` (rows,) of every recording's held-out
    training rows, in recording order; ``tests``: each recording's test scores (rows,);
    ``score_s`` seconds spent scoring ``scored_rows`` rows; ``model``: the fitted detector
    (what a model that learns from it, the student, is given), None for a peer."""

    held_out: np.ndarray
    tests: list[np.ndarray]
    train_s: float
    score_s: float
    scored_rows: int
    epochs: int
    model: object | None


def sensor_count(channels: Sequence[Channel]) -> int:
    """The number of sensors every one of ``channels`` has; ValueError when they differ."""
    widths = {c.train.shape[1] for c in channels}
    if len(widths) != 1:
        raise ValueError(f"recordings differ in their number of sensors: {sorted(widths)}")
    return widths.pop()


def fit_fleet(kind: str, cfg, channels: list[Channel], *, teachers: dict | None = None, seed: int) -> FleetScores:
    """Fit one ``kind`` detector with its settings in the benchmark config ``cfg``
    (:func:`components.benchmarks.protocol.benchmark_config`) on all ``channels``' training
    rows and score every recording (module doc); a model that learns from others gets them
    from ``teachers`` ({kind: fitted detector} fitted on the same fleet)."""
    import torch

    from components.features.prepare import PreparedData
    from components.features.scaling import StandardScaler
    from components.frames import SESSION
    from components.training.train import fit_model

    cfg = cfg.model_copy(update={"seed": seed})
    window = cfg.settings_of(kind).window
    sensors = [f"x{i}" for i in range(sensor_count(channels))]
    cuts = [training_cut(c, window) for c in channels]
    scaler = StandardScaler.fit(pd.DataFrame(np.concatenate([c.train for c in channels]), columns=sensors), sensors)

    def sessions(part: str) -> pd.DataFrame:
        pieces = [c.train[:cut] if part == "train" else c.train[cut:] for c, cut in zip(channels, cuts)]
        frame = pd.DataFrame(np.concatenate(pieces), columns=sensors)
        frame.insert(0, SESSION, np.repeat([c.name for c in channels], [len(p) for p in pieces]))
        return frame

    frames = {part: sessions(part) for part in ("train", "val")}
    prepared = PreparedData({**frames, "test": frames["val"].iloc[:0]}, scaler, sensors)
    series = [scaler.transform(pd.DataFrame(np.concatenate([c.train, c.test]), columns=sensors)) for c in channels]
    torch.manual_seed(seed)
    detector, fitted = fit_model(cfg, prepared, kind, trained={k: v for k, v in (teachers or {}).items() if k in cfg.learns_from(kind)})
    begin = time.perf_counter()
    scored = [detector.benchmark_scores(values, seed) for values in series]
    score_s = time.perf_counter() - begin
    held_out = np.concatenate([s[cut : len(c.train)] for s, c, cut in zip(scored, channels, cuts)])
    tests = [s[len(c.train) :] for s, c in zip(scored, channels)]
    return FleetScores(held_out, tests, fitted.seconds, score_s, sum(len(s) for s in scored), len(fitted.history), detector)


def fleet_splits(channels: Sequence[Channel], window: int):
    """The splits of :func:`fit_fleet` for the PyOD worker's ``fleet`` mode
    (:class:`components.benchmarks.peers.SeriesSplits`): one scaler on every channel's
    training rows; per channel its fitting rows as ``train``, and its held-out rows and
    its test rows each preceded by the ``window − 1`` rows before them, so that the
    worker's one score per full window is one score per held-out or test row, each from
    its real history."""
    from components.benchmarks.peers import SeriesSplits
    from components.features.scaling import StandardScaler

    sensors = [f"x{i}" for i in range(sensor_count(channels))]
    scaler = StandardScaler.fit(pd.DataFrame(np.concatenate([c.train for c in channels]), columns=sensors), sensors)
    out = []
    for c in channels:
        cut = training_cut(c, window)
        rows = scaler.transform(pd.DataFrame(np.concatenate([c.train, c.test]), columns=sensors))
        out.append(SeriesSplits(c.name, rows[:cut], rows[cut - window + 1 : len(c.train)], rows[len(c.train) - window + 1 :], c.labels))
    return out


def score_peers_fleet(
    channels: Sequence[Channel], python: str | Path, *, detectors: Sequence[str] | None = None, window: int | None = None,
    max_epochs: int | None = None, threads: int = TORCH_THREADS, progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, FleetScores], dict]:
    """PyOD's ``detectors`` the way :func:`fit_fleet` trains our models: one detector per
    name on every channel's fitting rows (:func:`fleet_splits`), scoring each channel's
    held-out and test rows. Returns ({``pyod_<name>``: its scores}, the report's ``peers``
    section); series detectors (LSTMAD) fit one series at a time, so they fail here and
    are listed as failed."""
    from components.benchmarks.peers import PREFIX, WorkerRun

    say = progress or (lambda message: None)
    worker = WorkerRun.start(channels, python, detectors, window, 1, max_epochs, threads, say, splitter=fleet_splits)
    scored = {}
    for name in worker.scored:
        results = [worker.meta["results"][name][s.name] for s in worker.splits]
        val, test = zip(*(worker.scores[name][s.name] for s in worker.splits))
        score_s = sum(r["val_score_s"] + r["test_score_s"] for r in results)
        rows = sum(len(v) + len(t) for v, t in zip(val, test))
        scored[PREFIX + name] = FleetScores(np.concatenate(val), list(test), results[0]["fit_s"], score_s, rows, results[0]["epochs"], None)
    return scored, {**worker.section(), "protocol": "one detector per name fitted on every series' fitting rows (fleet_splits), "
                    "each series' held-out and test rows scored from their real history; thresholded like our fleet models"}
