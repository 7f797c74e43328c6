"""Benchmark every model on SKAB (Skoltech Anomaly Benchmark) with its public leaderboard
protocol for outlier detection.

Data layout (``shared/datasets/skab``; SKAB's ``data/`` folder has more experiment
folders and works the same): ``<folder>/<n>.csv``, ``;``-separated, a ``datetime``
column, sensor columns, and per-row ``anomaly`` (0/1) and ``changepoint`` columns.
Files without an ``anomaly`` column (``anomaly-free/``) are not experiments.

Protocol, per experiment file and per model:

* Fit on the file's first 400 rows (anomaly-free by construction of the benchmark);
  score the remaining rows. Inside those 400 rows the last 80 are held out for early
  stopping and the alarm threshold, so the threshold comes from training rows only
  (POT, warning level: :mod:`components.benchmarks.series_metrics`; training and
  scoring: :mod:`components.benchmarks.protocol`). Scaling is fitted on the 400 rows.
* One binary F1 over the predictions of all files pooled, with FAR (% of normal rows
  flagged) and MAR (% of anomalous rows missed), as the SKAB leaderboard reports them;
  VUS-PR, PR-AUC and ROC-AUC are means over files (scores of different files are not on
  one scale). ``f1_best_threshold`` (with its FAR and MAR) sets each file's threshold on
  its own test rows, ``f1_best_threshold_far10`` does so among the thresholds that keep
  the file's FAR within the issue's 10 %: upper bounds of what a model's scores allow,
  which tell a poor ranking from a poor threshold; never results. ``rows_per_s`` = scored rows / scoring
  seconds; ``train_s`` = total fit time.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from components.detectors.registry import KINDS as ALL_MODELS
from components.benchmarks.protocol import SEED, TORCH_THREADS, benchmark_config, config_record, run_channel
from components.benchmarks.report_io import json_ready
from components.benchmarks.series import Channel, Progress
from components.benchmarks.series_metrics import VUS_WINDOW

TRAIN_ROWS = 400
LABEL_COLUMN = "anomaly"
NON_SENSOR = ("datetime", "anomaly", "changepoint")


def list_experiments(data: str | Path) -> list[Path]:
    """Every ``<folder>/<file>.csv`` under ``data`` with an ``anomaly`` column, sorted."""
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"benchmark data folder not found: {data} (expected <folder>/<n>.csv files laid out like SKAB's data/)")
    found = []
    for path in sorted(data.glob("*/*.csv"), key=lambda p: (p.parent.name, _natural(p.stem))):
        header = path.open(encoding="utf-8").readline().strip().split(";")
        if LABEL_COLUMN in header:
            found.append(path)
    if not found:
        raise ValueError(f"no experiment file (CSV with an '{LABEL_COLUMN}' column) under {data}")
    return found


def _natural(stem: str) -> tuple:
    return (0, int(stem), "") if stem.isdigit() else (1, 0, stem)


def sensor_columns(path: Path) -> list[str]:
    """The sensor columns of an experiment file, in file order."""
    return [c for c in pd.read_csv(path, sep=";", nrows=0).columns if c not in NON_SENSOR]


@dataclass(frozen=True)
class Preprocessing:
    """A transform of each experiment applied before any model (ours or the peers') sees
    it. ``apply(experiment, sensor names)`` returns the transformed experiment and a
    JSON-ready record of what it did to that file; the report keeps ``description`` under
    ``config.protocol.preprocessing`` and the records under ``preprocessing``."""

    description: str
    apply: Callable[[Channel, list[str]], tuple[Channel, dict]]


def load_experiment(path: Path, data: Path) -> Channel:
    """One experiment as a :class:`Channel`: first 400 rows train, the rest test. A
    missing or non-numeric sensor value, or a label other than 0/1, is an error naming
    the file, its line (the header is line 1) and the column."""
    frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    sensors = [c for c in frame.columns if c not in NON_SENSOR]
    values = np.column_stack([_numbers(path, frame, column) for column in sensors])
    if not np.isfinite(values).all():
        row, col = np.argwhere(~np.isfinite(values))[0]
        raise ValueError(f"{path}: line {row + 2}, column '{sensors[col]}': {frame[sensors[col]].iloc[row]!r} is not a finite number")
    if len(frame) <= TRAIN_ROWS:
        raise ValueError(f"{path}: {len(frame)} rows, need more than the {TRAIN_ROWS} training rows")
    labels = _numbers(path, frame, LABEL_COLUMN)
    not_binary = np.flatnonzero(~np.isin(labels, (0.0, 1.0)))
    if len(not_binary):
        row = int(not_binary[0])
        raise ValueError(f"{path}: line {row + 2}, column '{LABEL_COLUMN}': {frame[LABEL_COLUMN].iloc[row]!r} is not 0 or 1")
    name = str(path.relative_to(data).with_suffix(""))
    return Channel(name, values[:TRAIN_ROWS], values[TRAIN_ROWS:], labels[TRAIN_ROWS:].astype(np.int8))


def _numbers(path: Path, frame: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` of ``frame`` (read as text) as float64 (rows,); an empty or non-numeric
    cell is an error naming the file, line and column."""
    numbers = pd.to_numeric(frame[column].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(numbers))
    if len(bad):
        row = int(bad[0])
        raise ValueError(f"{path}: line {row + 2}, column '{column}': {frame[column].iloc[row]!r} is not a number")
    return numbers


def pooled_rates(labels: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Pooled binary F1, FAR and MAR (both in %)."""
    from components.scoring.metrics import point_metrics

    labels, pred = labels.astype(bool), pred.astype(bool)
    normal, anomalous = (~labels).sum(), labels.sum()
    return {
        **point_metrics(labels.astype(int), pred.astype(int)),
        "far": float(100.0 * (pred & ~labels).sum() / normal) if normal else float("nan"),
        "mar": float(100.0 * (~pred & labels).sum() / anomalous) if anomalous else float("nan"),
    }


TARGET_FAR = 10.0
"""The issue's false-alarm target, %: the constrained upper bound keeps every file under it."""
TARGET_F1 = 0.85
"""The issue's F1 target for the student (with FAR ≤ :data:`TARGET_FAR` and MAR ≤ :data:`TARGET_MAR`)."""
TARGET_MAR = 20.0
"""The issue's missed-alarm target, %."""


def best_threshold_pred(labels: np.ndarray, scores: np.ndarray, max_far: float | None = None) -> np.ndarray:
    """(rows,) bool: ``scores >= t`` at the threshold ``t`` that maximises F1 on these very
    ``labels``, among the thresholds that flag at most ``max_far`` % of the normal rows
    (any, when None). Nothing is flagged when ``labels`` has no anomaly or no threshold
    qualifies. Chosen on test labels, so an upper bound of what the scores allow, never a
    result."""
    labels, scores = np.asarray(labels).astype(bool), np.asarray(scores, dtype=float)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0:
        return np.zeros(len(labels), dtype=bool)
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # last row of each distinct score, descending
    tp = np.cumsum(labels[order])[last]
    fp = last + 1 - tp
    f1 = 2 * tp / (tp + fp + positives)
    if max_far is not None:
        f1 = np.where(100.0 * fp / max(negatives, 1) <= max_far, f1, -1.0)
    best = int(np.argmax(f1))
    return scores >= ranked[last[best]] if f1[best] >= 0 else np.zeros(len(labels), dtype=bool)


def threshold_bounds(labels: list[np.ndarray], scores: list[np.ndarray]) -> dict[str, float]:
    """Pooled F1/FAR/MAR over files with each file's threshold from
    :func:`best_threshold_pred`: ``*_best_threshold`` (free) and ``*_best_threshold_far10``
    (each file's FAR within :data:`TARGET_FAR`). Upper bounds, never results."""
    pooled = np.concatenate(labels)
    bounds = {}
    for suffix, max_far in (("best_threshold", None), ("best_threshold_far10", TARGET_FAR)):
        rates = pooled_rates(pooled, np.concatenate([best_threshold_pred(y, s, max_far) for y, s in zip(labels, scores)]))
        bounds.update({f"{k}_{suffix}": rates[k] for k in ("f1", "far", "mar")})
    return bounds


def aggregate_files(rows: list[dict], arrays: list[dict]) -> dict:
    """One model's SKAB aggregates from its per-file metrics and per-file test ``arrays``
    (``labels``, ``scores``, ``pred`` at the training-set threshold). Two upper bounds,
    from :func:`best_threshold_pred` with each file's threshold chosen on its own test
    rows, which tell a poor ranking from a poor threshold: ``*_best_threshold`` (pooled
    F1/FAR/MAR at each file's best F1) and ``*_best_threshold_far10`` (the same among the
    thresholds that keep each file's FAR within :data:`TARGET_FAR`)."""
    from components.benchmarks.series_metrics import alarm_totals

    score_s = sum(r["score_s"] for r in rows)
    labels = np.concatenate([a["labels"] for a in arrays])
    return {
        **pooled_rates(labels, np.concatenate([a["pred"] for a in arrays])),
        **{f"alarm_{k}": v for k, v in pooled_rates(labels, np.concatenate([a["alarm"] for a in arrays])).items() if k in ("f1", "far", "mar")},
        **alarm_totals(rows),
        **threshold_bounds([a["labels"] for a in arrays], [a["scores"] for a in arrays]),
        **{m: float(np.nanmean([r[m] for r in rows])) for m in ("vus_pr", "pr_auc", "roc_auc")},
        "rows_per_s": sum(r["test_rows"] for r in rows) / score_s if score_s > 0 else float("nan"),
        "train_s": float(sum(r["train_s"] for r in rows)),
        "epochs": int(sum(r["epochs"] for r in rows)),
        "files": len(rows),
    }


def run_benchmark(
    data: str | Path, profile: str = "fast", *, models: Sequence[str] | None = None,
    max_epochs: int | None = None, progress: Progress | None = None,
    peers: str | Path | None = None, peer_models: Sequence[str] | None = None,
    preprocess: Preprocessing | None = None,
) -> dict:
    """The SKAB protocol on ``data``; returns the report (JSON-ready). With ``peers`` (the
    python of ``make peers``' environment), PyOD's ``peer_models`` (default: all) run on the
    same splits and join the report as ``pyod_<name>`` (:mod:`components.benchmarks.peers`).
    With ``preprocess``, every model sees each experiment as it transforms it."""
    import torch

    from components.benchmarks.environment import torch_cpu
    from components.registry.tracking import git_commit

    say = progress or (lambda message: None)
    data = Path(data)
    files = list_experiments(data)
    experiments = [load_experiment(path, data) for path in files]
    records = {}
    if preprocess is not None:
        for i, path in enumerate(files):
            experiments[i], records[experiments[i].name] = preprocess.apply(experiments[i], sensor_columns(path))
    configs = benchmark_config(profile, list(models or ALL_MODELS), max_epochs=max_epochs)
    peer_run = None
    if peers is not None:  # first: a broken peers environment fails before the long part
        from components.benchmarks.peers import score_peers

        peer_run = score_peers(experiments, peers, detectors=peer_models, max_epochs=max_epochs, progress=say)
    torch.set_num_threads(TORCH_THREADS)
    started = time.perf_counter()
    per_file: dict[str, dict] = {kind: {} for kind in configs}
    trained: dict[str, dict] = {e.name: {} for e in experiments}
    results = {}
    for kind, cfg in configs.items():
        file_arrays = []
        for i, experiment in enumerate(experiments, 1):
            metrics, arrays = run_channel(kind, cfg, experiment, teachers=trained[experiment.name])
            if any(kind in later.learns_from(k) for k, later in configs.items()):  # a teacher of a model still to train
                trained[experiment.name][kind] = arrays["model"]
            per_file[kind][experiment.name] = {**metrics, **pooled_rates(arrays["labels"], arrays["pred"])}
            file_arrays.append({k: arrays[k] for k in ("labels", "scores", "pred", "alarm")})
            say(f"{kind} {experiment.name} ({i}/{len(experiments)}): f1 {per_file[kind][experiment.name]['f1']:.3f} vus_pr {metrics['vus_pr']:.3f}")
        results[kind] = aggregate_files(list(per_file[kind].values()), file_arrays)
    if peer_run is not None:
        for kind, metrics in peer_run.metrics.items():
            pooled = peer_run.pooled[kind]
            per_file[kind] = {name: {**values, **pooled_rates(arrays["labels"], arrays["pred"])} for (name, values), arrays in zip(metrics.items(), pooled)}
            results[kind] = aggregate_files(list(per_file[kind].values()), pooled)
    report = {
        "git_commit": git_commit(Path(__file__).resolve().parents[2]),
        "profile": profile,
        "config": {
            **{kind: config_record(kind, cfg) for kind, cfg in configs.items()},
            **(peer_run.config if peer_run is not None else {}),
            "protocol": {
                "train_rows": TRAIN_ROWS,
                "threshold": "POT warning level on the scores of the last 80 of the 400 training rows (held out from fitting)",
                "f1_far_mar": "one binary F1, FAR and MAR (%) over all files' test rows pooled",
                "best_threshold": "f1/far/mar_best_threshold: the same with each file's threshold chosen on its own test rows for its best F1; "
                                  "*_best_threshold_far10: the same among thresholds that keep each file's FAR within 10 %: upper bounds, not results",
                "vus_pr/pr_auc/roc_auc": "mean over files",
                "vus_window": VUS_WINDOW,
                "seed": SEED,
                "torch_threads": TORCH_THREADS,
                "max_epochs_cap": max_epochs,
                "preprocessing": preprocess.description if preprocess is not None else None,
            },
        },
        "dataset": {
            "path": str(data.resolve()),
            "name": data.resolve().name,
            "channels": [e.name for e in experiments],
            "features": sorted({e.train.shape[1] for e in experiments}),
            "rows": {"test": int(sum(len(e.test) for e in experiments)), "test_anomalous": int(sum(int(e.labels.sum()) for e in experiments))},
        },
        "hardware": {**torch_cpu(), "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "models": results,
        "per_channel": per_file,
        "wall_s": time.perf_counter() - started,
    }
    if peer_run is not None:
        report["peers"] = peer_run.section
    if preprocess is not None:
        report["preprocessing"] = records
    return json_ready(report)
