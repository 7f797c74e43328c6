"""Benchmark the teacher detectors (Anomaly Transformer, OmniAnomaly) and the pipeline's
models (the student, LSTM-AE, PCA, Isolation Forest) on NASA MSL-style data.

Data layout (``shared/datasets/msl``; any folder laid out the same way works, e.g. SMAP
with 25 columns): ``train/<chan>.npy`` and ``test/<chan>.npy`` float arrays of shape
(rows, features), and ``labeled_anomalies.csv`` whose ``anomaly_sequences`` column holds
inclusive ``[start, end]`` row ranges into that channel's test array. The channels are
those listed in the CSV whose train and test files both exist (or a chosen subset).

Every model is trained and scored on every channel by the shared protocol
(:mod:`components.benchmarks.protocol`: one model per channel, as in the papers) and
judged by :mod:`components.benchmarks.series_metrics` (POT threshold on validation
scores, per-channel and pooled metrics). With several ``seeds`` every model of ours is
trained and scored once per seed (teachers too: the student of seed s distils from the
teachers of seed s) and the report holds the means.

:func:`run_benchmark` returns the report (also what ``--out`` holds) and
:func:`~components.benchmarks.report_io.log_to_mlflow` records it: one parent run per
benchmark and one nested run per model, in experiment ``benchmark-<data folder name>``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from components.detectors.registry import KINDS as ALL_MODELS
from components.benchmarks.protocol import (
    PATIENCE,
    SEED,
    TORCH_THREADS,
    VAL_STRIDE,
    benchmark_config,
    config_record,
    run_channel,
)
from components.benchmarks.report_io import json_ready
from components.benchmarks.series import VAL_FRACTION, Channel, Progress
from components.benchmarks.series_metrics import VUS_WINDOW, aggregate, mean_over_seeds

LABELS_FILE = "labeled_anomalies.csv"


def _check_folder(data: Path) -> Path:
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(
            f"benchmark data folder not found: {data} (expected train/<chan>.npy, test/<chan>.npy and {LABELS_FILE}, laid out like shared/datasets/msl)"
        )
    if not (data / LABELS_FILE).is_file():
        raise FileNotFoundError(f"no {LABELS_FILE} in the benchmark data folder {data}")
    return data


def _label_table(data: Path) -> pd.DataFrame:
    table = pd.read_csv(data / LABELS_FILE)
    missing = {"chan_id", "anomaly_sequences"} - set(table.columns)
    if missing:
        raise ValueError(f"{data / LABELS_FILE} lacks the column(s) {sorted(missing)}")
    return table.drop_duplicates("chan_id", keep="first")


def list_channels(data: str | Path, channels: Sequence[str] | None = None) -> list[str]:
    """Channels of ``data`` listed in ``labeled_anomalies.csv`` whose train and test files
    exist, in the CSV's order; with ``channels``, exactly those (error if one is missing)."""
    data = _check_folder(Path(data))
    available = [
        str(c) for c in _label_table(data)["chan_id"]
        if (data / "train" / f"{c}.npy").is_file() and (data / "test" / f"{c}.npy").is_file()
    ]
    if channels:
        unknown = [c for c in channels if c not in available]
        if unknown:
            raise ValueError(f"channel(s) {unknown} not in {data} (listed in {LABELS_FILE} with train and test files: {available})")
        return list(dict.fromkeys(channels))
    if not available:
        raise ValueError(f"no channel of {data / LABELS_FILE} has both train/<chan>.npy and test/<chan>.npy in {data}")
    return available


def anomaly_labels(sequences: str | list, n_rows: int) -> np.ndarray:
    """0/1 int8 labels (n_rows,) from inclusive ``[[start, end], …]`` ranges (a JSON string or list)."""
    ranges = json.loads(sequences) if isinstance(sequences, str) else sequences
    labels = np.zeros(n_rows, dtype=np.int8)
    for start, end in ranges:
        labels[max(int(start), 0) : min(int(end), n_rows - 1) + 1] = 1
    return labels


def load_channel(data: str | Path, name: str) -> Channel:
    """Arrays and test labels of channel ``name``."""
    data = _check_folder(Path(data))
    table = _label_table(data).set_index("chan_id")
    train = np.load(data / "train" / f"{name}.npy").astype(np.float64)
    test = np.load(data / "test" / f"{name}.npy").astype(np.float64)
    if train.ndim == 1:
        train, test = train[:, None], test[:, None]
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"channel {name}: train has {train.shape[1]} columns, test {test.shape[1]}")
    for split, values in (("train", train), ("test", test)):
        if not np.isfinite(values).all():
            row, col = np.argwhere(~np.isfinite(values))[0]
            raise ValueError(f"{data / split / f'{name}.npy'}: row {row}, column {col} is {values[row, col]} (every value must be finite)")
    return Channel(name, train, test, anomaly_labels(table.loc[name, "anomaly_sequences"], len(test)))


def run_benchmark(
    data: str | Path,
    profile: str = "fast",
    *,
    models: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    max_epochs: int | None = None,
    train_stride: int = 1,
    progress: Progress | None = None,
    peers: str | Path | None = None,
    peer_models: Sequence[str] | None = None,
    seeds: Sequence[int] = (SEED,),
) -> dict:
    """Run the protocol of this module on ``data``; returns the report (JSON-ready, NaN
    as None): ``git_commit``, ``profile``, ``config``, ``dataset``, ``hardware``,
    ``models`` (aggregates per model) and ``per_channel`` (model → channel → metrics),
    means over ``seeds`` when there are several (see the module docstring).
    With ``peers`` (the python of ``make peers``' environment), PyOD's ``peer_models``
    (default: all) run on the same splits and join the report as ``pyod_<name>``, with a
    ``peers`` section (:mod:`components.benchmarks.peers`)."""
    import torch

    from components.benchmarks.environment import torch_cpu
    from components.registry.tracking import git_commit
    from components.scoring.thresholds import ThresholdConfig

    if train_stride < 1:
        raise ValueError(f"--train-stride must be at least 1, got {train_stride}")
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if not seeds:
        raise ValueError("--seeds needs at least one seed")
    say = progress or (lambda message: None)
    data = Path(data)
    names = list_channels(data, channels)
    seed_configs = {seed: benchmark_config(profile, list(models or ALL_MODELS), max_epochs=max_epochs, train_stride=train_stride, seed=seed) for seed in seeds}
    if peers is not None:
        from components.benchmarks.peers import (
            check_detectors,
            check_python,
            score_peers,
        )

        check_python(peers)
        check_detectors(peer_models)
    torch.set_num_threads(TORCH_THREADS)

    loaded = [load_channel(data, name) for name in names]
    peer_run = None
    if peers is not None:  # first: a broken peers environment fails before the long part
        peer_run = score_peers(loaded, peers, detectors=peer_models, train_stride=train_stride, max_epochs=max_epochs, progress=say)
    started = time.perf_counter()
    runs = [run_seed(seed_configs[seed], loaded, train_stride, seed, say if len(seeds) == 1 else (lambda m, s=seed: say(f"seed {s}: {m}"))) for seed in seeds]
    results = {kind: mean_over_seeds([aggregates for aggregates, _ in runs], kind, seeds) for kind in runs[0][0]}
    per_channel = {
        kind: {name: mean_over_seeds([channels[kind] for _, channels in runs], name, seeds) for name in runs[0][1][kind]}
        for kind in runs[0][1]
    }
    configs = seed_configs[seeds[0]]
    if peer_run is not None:
        for kind, metrics in peer_run.metrics.items():
            per_channel[kind] = metrics
            results[kind] = aggregate(metrics, peer_run.pooled[kind])

    report = {
        "git_commit": git_commit(Path(__file__).resolve().parents[2]),
        "profile": profile,
        "config": {
            **{kind: config_record(kind, cfg) for kind, cfg in configs.items()},
            **(peer_run.config if peer_run is not None else {}),
            "protocol": {
                "scaler": "standard, fitted on each channel's train array",
                "val_fraction": VAL_FRACTION,
                "val_rows": "last ceil(val_fraction * train rows) rows of the train array, at least one window",
                "early_stopping": {"monitor": "val_loss", "patience": PATIENCE},
                "max_epochs_cap": max_epochs,
                "train_stride": train_stride,
                "val_stride": VAL_STRIDE,
                "seed": seeds[0] if len(seeds) == 1 else seeds,
                "torch_threads": TORCH_THREADS,
                "test_scoring": {
                    "anomaly_transformer": "per-step scores of non-overlapping windows tiling the series; last partial tile from the window ending at the last row",
                    "omnianomaly": "last-step score of the stride-1 window ending at each row; rows before the first full window take its per-step scores",
                    "student/lstm_ae/baselines": "as served: the window ending at each row; rows before the first full window take its score",
                },
                "pipeline_models": "fitted by anomflow train's code with conf/pipeline.yaml (epochs and patience from its train section; "
                "training windows every train_stride rows, as for the teachers, where anomflow train uses the config's train.train_stride); "
                "the student distils from the teachers trained on the same channel",
                "threshold": {"source": "validation scores", "level": "warning", **ThresholdConfig().model_dump()},
                "pred": "score > threshold",
                "vus_window": VUS_WINDOW,
                "aggregates": {
                    "vus_pr/pr_auc/roc_auc": "mean over channels",
                    "f1": "point F1 of all channels' predictions pooled",
                    "pa_f1": "best point-adjusted F1 (test-optimised grid) on pooled scores in threshold units: "
                    "(s - m) / (threshold - m), m = min(0, lowest validation score) per channel",
                },
            },
        },
        "dataset": {
            "path": str(data.resolve()),
            "name": data.resolve().name,
            "channels": names,
            "features": sorted({c.train.shape[1] for c in loaded}),
            "rows": {
                "train": int(sum(len(c.train) for c in loaded)),
                "test": int(sum(len(c.test) for c in loaded)),
                "test_anomalous": int(sum(int(c.labels.sum()) for c in loaded)),
            },
        },
        "hardware": {
            **torch_cpu(),
            "cpu_count": os.cpu_count(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "platform": platform.platform(),
            "processor": platform.machine(),
            "python": platform.python_version(),
        },
        "models": results,
        "per_channel": per_channel,
        "wall_s": time.perf_counter() - started,
    }
    if peer_run is not None:
        report["peers"] = peer_run.section
    return json_ready(report)


def run_seed(configs: dict, loaded: list[Channel], train_stride: int, seed: int, say: Progress) -> tuple[dict, dict]:
    """Every model of ``configs`` on every channel with one seed: (aggregates per model,
    model → channel → metrics)."""
    per_channel: dict[str, dict] = {kind: {} for kind in configs}
    results: dict[str, dict] = {}
    trained: dict[str, dict] = {channel.name: {} for channel in loaded}  # teachers, for the student
    for kind, cfg in configs.items():
        pooled = []
        for i, channel in enumerate(loaded, 1):
            metrics, arrays = run_channel(
                kind, cfg, channel, teachers=trained[channel.name], seed=seed,
            )
            if any(kind in later.learns_from(k) for k, later in configs.items()):  # a teacher of a model still to train
                trained[channel.name][kind] = arrays["model"]
            per_channel[kind][channel.name] = metrics
            pooled.append(arrays)
            say(
                f"{kind} {channel.name} ({i}/{len(loaded)}): vus_pr {metrics['vus_pr']:.3f} f1 {metrics['f1']:.3f} "
                f"epochs {metrics['epochs']} train {metrics['train_s']:.1f}s score {metrics['score_s']:.2f}s"
            )
        results[kind] = aggregate(per_channel[kind], pooled)
    return results, per_channel
