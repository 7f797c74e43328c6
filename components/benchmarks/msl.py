"""Benchmark the teacher detectors (Anomaly Transformer, OmniAnomaly) and the pipeline's
models (the student, LSTM-AE, PCA, Isolation Forest) on NASA MSL-style data.

Data layout (``shared/datasets/msl``; any folder laid out the same way works, e.g. SMAP
with 25 columns): ``train/<chan>.npy`` and ``test/<chan>.npy`` float arrays of shape
(rows, features), and ``labeled_anomalies.csv`` whose ``anomaly_sequences`` column holds
inclusive ``[start, end]`` row ranges into that channel's test array. The channels are
those listed in the CSV whose train and test files both exist (or a chosen subset).

Protocol, per channel and per model (one model per channel, as in the papers):

* Scaling: :class:`~components.features.scaling.StandardScaler` fitted on the channel's
  train array only, applied to train and test.
* Split: the last 20 % of the train array (at least one window) is validation, used for
  early stopping (``val_loss``, patience 3) and for the alarm threshold; the rest trains.
  Training windows start every ``train_stride`` rows (default 1), validation windows
  every row. Seed 7 (network initialisation, Lightning, posterior sampling, injected
  anomalies), ``torch.set_num_threads(2)``. ``max_epochs`` is the profile's, optionally
  capped. With several ``seeds`` every model of ours is trained and scored once per
  seed (teachers too: the student of seed s distils from the teachers of seed s).
* Test scores, as the papers do:

  - Anomaly Transformer: the per-step scores of non-overlapping windows tiling the
    series (rows 0..W−1, W..2W−1, …); a last partial tile is scored with the window that
    ends at the last row, keeping its last steps.
  - OmniAnomaly: row t gets the last-step score of the stride-1 window ending at t; rows
    before the first full window take that first window's per-step scores.

  Validation rows are scored the same way.
* Threshold: POT on the validation scores, ``set_levels(val, ThresholdConfig())["warning"]``
  (risk 1e-2; never fitted on test data). Alarms: ``pred = score > threshold``.
* Metrics per channel: ``vus_pr`` (TSB-AD, window 100), ``pr_auc``, ``roc_auc``, point
  ``precision``/``recall``/``f1`` at the threshold, and ``pa_f1`` = :func:`best_pa_f1`,
  the best point-adjusted F1 over a grid of *test-optimised* thresholds (inflated; an
  implementation check against the papers' tables only, never a headline).
* Aggregates per model: ``vus_pr``, ``pr_auc``, ``roc_auc`` = mean over channels; ``f1``
  (and ``precision``/``recall``) = point metrics of all channels' predictions pooled;
  ``pa_f1`` = best PA-F1 on the pooled test scores after putting each channel's scores
  in units of its own threshold, so that one multiplier sweeps every channel at once:
  ``s / threshold`` — or, when a channel's validation scores go below 0 (OmniAnomaly's
  −log p can), ``(s − m) / (threshold − m)`` with ``m`` that channel's lowest validation
  score; either way the threshold maps to 1 and the score order is kept.
  ``rows_per_s`` = test rows scored / seconds spent scoring them; ``train_s`` = total
  training seconds, ``epochs`` = total epochs run, ``train_s_per_epoch`` = their ratio.
* Several seeds: every number of a model (aggregate and per channel) is the mean over
  the seeds, with ``<metric>_sd`` (sample standard deviation over seeds) and
  ``<metric>_by_seed`` for the quality metrics, and ``seeds`` = the seeds. On MSL one
  seed's mean VUS-PR moves by a few hundredths with the initialisation alone, so
  comparisons between neural models need more than one seed.

:func:`run_benchmark` returns the report (also what ``--out`` holds) and
:func:`log_to_mlflow` records it: one parent run per benchmark and one nested run per
model, in experiment ``benchmark-<data folder name>``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from components.benchmarks.model_names import ALL_MODELS

LABELS_FILE = "labeled_anomalies.csv"
PROFILES = ("fast", "paper")
VAL_FRACTION = 0.2
PATIENCE = 3
SEED = 7
TORCH_THREADS = 2
VUS_WINDOW = 100
VAL_STRIDE = 1
SCORE_BATCH = 1024
QUALITY_METRICS = ("vus_pr", "pr_auc", "roc_auc", "f1", "pa_f1")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Channel:
    """One channel: raw ``train`` / ``test`` arrays (rows, features) and 0/1 test ``labels``."""

    name: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray


# ----------------------------------------------------------------------------- data


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
    return Channel(name, train, test, anomaly_labels(table.loc[name, "anomaly_sequences"], len(test)))


def validation_rows(n_rows: int, window: int) -> int:
    """Rows at the end of a train array held out for validation: 20 %, at least one window."""
    return max(math.ceil(VAL_FRACTION * n_rows), window)


def training_cut(channel: Channel, window: int) -> int:
    """Index of the first validation row of ``channel.train``: the rows before it fit the
    model, those after it (:func:`validation_rows`) set early stopping and the threshold.
    Raises when fewer than one ``window`` of rows is left to fit on."""
    cut = len(channel.train) - validation_rows(len(channel.train), window)
    if cut < window:
        raise ValueError(
            f"channel {channel.name}: {len(channel.train)} train rows leave {cut} for training after "
            f"{len(channel.train) - cut} validation rows, fewer than one window of {window}"
        )
    return cut


# -------------------------------------------------------------------------- scoring


def _per_step_scores(kind: str, net, cfg, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-step scores (len(starts), window) of the windows of ``values`` at ``starts``."""
    import torch

    from components.features.windows import gather_windows

    if kind == "anomaly_transformer":
        from components.models.anomaly_transformer import anomaly_scores

        def score(windows: torch.Tensor) -> torch.Tensor:
            return anomaly_scores(net, windows, temperature=cfg.temperature)
    elif kind == "omnianomaly":
        from components.models.omnianomaly import anomaly_scores

        def score(windows: torch.Tensor) -> torch.Tensor:
            return anomaly_scores(net, windows, n_samples=cfg.n_samples)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    net.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(starts), SCORE_BATCH):
            windows = torch.from_numpy(gather_windows(values, starts[i : i + SCORE_BATCH], cfg.window))
            out.append(score(windows).double().numpy())
    return np.concatenate(out)


def _all_starts(n_rows: int, window: int, stride: int) -> np.ndarray:
    from components.features.windows import window_starts

    return window_starts(np.zeros(n_rows, dtype=np.int8), window, stride)


def tiled_scores(kind: str, net, cfg, values: np.ndarray) -> np.ndarray:
    """Anomaly Transformer protocol: per-step scores of non-overlapping windows tiling the
    rows; a last partial tile keeps the last steps of the window ending at the last row."""
    n, window = len(values), cfg.window
    if n < window:
        raise ValueError(f"{n} rows are fewer than one window of {window}")
    starts = _all_starts(n, window, window)
    tail = n - (starts[-1] + window)
    if tail:
        starts = np.append(starts, n - window)
    per_step = _per_step_scores(kind, net, cfg, values, starts)
    if not tail:
        return per_step.reshape(-1)
    return np.concatenate([per_step[:-1].reshape(-1), per_step[-1, window - tail :]])


def last_step_scores(kind: str, net, cfg, values: np.ndarray) -> np.ndarray:
    """OmniAnomaly protocol: row t gets the last-step score of the stride-1 window ending at
    t; rows before the first full window take that window's per-step scores."""
    n, window = len(values), cfg.window
    if n < window:
        raise ValueError(f"{n} rows are fewer than one window of {window}")
    per_step = _per_step_scores(kind, net, cfg, values, _all_starts(n, window, 1))
    return np.concatenate([per_step[0, : window - 1], per_step[:, -1]])


def score_rows(kind: str, net, cfg, values: np.ndarray, seed: int = SEED) -> np.ndarray:
    """One score per row of ``values`` (scaled, float32), the way ``kind``'s paper scores."""
    import torch

    torch.manual_seed(seed)  # OmniAnomaly samples the posterior
    if kind == "anomaly_transformer":
        return tiled_scores(kind, net, cfg, values)
    return last_step_scores(kind, net, cfg, values)


# ------------------------------------------------------------------ one channel, one model


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
    from components.training.teachers import TEACHERS, fit_teacher

    window = _window(kind, cfg)
    sensors = [f"x{i}" for i in range(channel.train.shape[1])]
    cut = training_cut(channel, window)
    n_val = len(channel.train) - cut
    scaler = StandardScaler.fit(pd.DataFrame(channel.train, columns=sensors), sensors)
    model = None
    if kind in TEACHERS:
        train = scaler.transform(pd.DataFrame(channel.train, columns=sensors))
        test = scaler.transform(pd.DataFrame(channel.test, columns=sensors))
        values = {"train": train[:cut], "val": train[cut:]}
        starts = {"train": _all_starts(cut, window, train_stride), "val": _all_starts(n_val, window, VAL_STRIDE)}
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


def warning_threshold(val_scores: np.ndarray) -> tuple[float, str]:
    """(the POT warning level of ``val_scores``, the method that set it), the threshold
    every benchmarked model is flagged at."""
    from components.scoring.thresholds import ThresholdConfig, set_levels

    levels = set_levels(val_scores, ThresholdConfig())
    return levels["warning"], levels["details"]["warning"]["method"]


def evaluate_scores(val_scores: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> tuple[dict, dict]:
    """Threshold and metrics of one series, the same for every model (ours and the peers'):
    POT warning level on ``val_scores``, ``pred = scores > threshold``, and the test metrics
    of the module docstring. Returns (metrics, arrays ``labels``, ``scores``, ``pred``,
    ``units`` = scores in threshold units)."""
    from components.scoring.metrics import (
        best_pa_f1,
        point_metrics,
        pr_auc,
        roc_auc,
        vus_pr,
    )

    threshold, method = warning_threshold(val_scores)
    pred = (scores > threshold).astype(np.int8)
    floor = min(0.0, float(np.min(val_scores)))
    scale = threshold - floor
    units = (scores - floor) / (scale if scale > 0 else 1.0)
    metrics = {
        "vus_pr": vus_pr(labels, scores, VUS_WINDOW),
        "pr_auc": pr_auc(labels, scores),
        "roc_auc": roc_auc(labels, scores),
        **{k: v for k, v in point_metrics(labels, pred).items() if k != "f2"},
        "pa_f1": best_pa_f1(labels, scores),
        "threshold": threshold,
        "threshold_method": method,
        "threshold_floor": floor,
    }
    return metrics, {"labels": labels, "scores": scores, "pred": pred, "units": units}


def aggregate(per_channel: dict[str, dict], pooled: list[dict]) -> dict:
    """The model's aggregate numbers (see the module docstring) from its channels."""
    from components.scoring.metrics import best_pa_f1, point_metrics

    rows = list(per_channel.values())
    labels = np.concatenate([p["labels"] for p in pooled])
    pred = np.concatenate([p["pred"] for p in pooled])
    units = np.concatenate([p["units"] for p in pooled])
    point = point_metrics(labels, pred)
    train_s = float(sum(r["train_s"] for r in rows))
    score_s = float(sum(r["score_s"] for r in rows))
    epochs = int(sum(r["epochs"] for r in rows))
    test_rows = int(sum(r["test_rows"] for r in rows))
    return {
        **{m: _nanmean([r[m] for r in rows]) for m in ("vus_pr", "pr_auc", "roc_auc")},
        "f1": point["f1"],
        "precision": point["precision"],
        "recall": point["recall"],
        "pa_f1": best_pa_f1(labels, units),
        "pa_f1_channel_mean": _nanmean([r["pa_f1"] for r in rows]),
        "rows_per_s": test_rows / score_s if score_s > 0 else float("nan"),
        "train_s": train_s,
        "train_s_per_epoch": train_s / epochs if epochs else float("nan"),
        "epochs": epochs,
        "score_s": score_s,
        "test_rows": test_rows,
        "channels": len(rows),
    }


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


# ------------------------------------------------------------------------ the benchmark


def benchmark_config(
    profile: str, models: Sequence[str], *, max_epochs: int | None = None, train_stride: int = 1, seed: int = SEED,
) -> dict:
    """Each teacher's profile config (epochs capped at ``max_epochs`` when given) and, for
    the pipeline's models, the repository pipeline config (``conf/pipeline.yaml``) with
    ``seed`` as its train seed and ``train_stride`` in place of its ``train.train_stride``
    (every model of one benchmark trains on windows at the same stride)."""
    from components.benchmarks.pipeline_models import PIPELINE_MODELS, pipeline_config
    from components.training.teachers import TEACHERS, teacher_config

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


def _window(kind: str, cfg) -> int:
    """Rows of one window of ``kind`` under its config."""
    if hasattr(cfg, "window"):
        return cfg.window
    return cfg.student.window if kind == "student" else cfg.prepare.window


def _config_record(kind: str, cfg) -> dict:
    """What the report records of a model's config."""
    if hasattr(cfg, "window"):
        return cfg.model_dump()
    if kind == "student":
        return {**cfg.student.model_dump(), "train": cfg.train.model_dump()}
    if kind == "lstm_ae":
        return {**cfg.model.model_dump(), "window": cfg.prepare.window, "train": cfg.train.model_dump()}
    return {**cfg.baselines.model_dump(), "window": cfg.prepare.window}


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
    runs = [_run_seed(seed_configs[seed], loaded, train_stride, seed, say if len(seeds) == 1 else (lambda m, s=seed: say(f"seed {s}: {m}"))) for seed in seeds]
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
            **{kind: _config_record(kind, cfg) for kind, cfg in configs.items()},
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
                    "student/lstm_ae/pca/iforest": "as served: the window ending at each row; rows before the first full window take its score",
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
    return _json_ready(report)


def _run_seed(configs: dict, loaded: list[Channel], train_stride: int, seed: int, say: Progress) -> tuple[dict, dict]:
    """Every model of ``configs`` on every channel with one seed: (aggregates per model,
    model → channel → metrics)."""
    per_channel: dict[str, dict] = {kind: {} for kind in configs}
    results: dict[str, dict] = {}
    trained: dict[str, dict] = {channel.name: {} for channel in loaded}  # teachers, for the student
    for kind, cfg in configs.items():
        pooled = []
        for i, channel in enumerate(loaded, 1):
            metrics, arrays = run_channel(
                kind, cfg, channel, train_stride=train_stride, teachers=trained[channel.name], pipeline_cfg=cfg, seed=seed,
            )
            if arrays["model"] is not None and "student" in configs:
                trained[channel.name][kind] = arrays["model"]
            per_channel[kind][channel.name] = metrics
            pooled.append(arrays)
            say(
                f"{kind} {channel.name} ({i}/{len(loaded)}): vus_pr {metrics['vus_pr']:.3f} f1 {metrics['f1']:.3f} "
                f"epochs {metrics['epochs']} train {metrics['train_s']:.1f}s score {metrics['score_s']:.2f}s"
            )
        results[kind] = aggregate(per_channel[kind], pooled)
    return results, per_channel


def mean_over_seeds(runs: list[dict], key: str, seeds: Sequence[int]) -> dict:
    """``runs[i][key]`` (one metrics dict per seed) as one dict: numbers averaged over
    the seeds (NaN-aware), anything else from the first seed; with several seeds, also
    ``<metric>_sd`` (sample standard deviation) and ``<metric>_by_seed`` for the quality
    metrics, and ``seeds``."""
    records = [run[key] for run in runs]
    if len(records) == 1:
        return dict(records[0])
    merged = {}
    for name, first in records[0].items():
        values = [r.get(name) for r in records]
        numeric = isinstance(first, (int, float)) and not isinstance(first, bool)
        merged[name] = _nanmean(values) if numeric else first
        if numeric and name in QUALITY_METRICS:
            finite = [v for v in values if v is not None and np.isfinite(v)]
            merged[f"{name}_sd"] = float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")
            merged[f"{name}_by_seed"] = [None if v is None or not np.isfinite(v) else float(v) for v in values]
    merged["seeds"] = list(seeds)
    return merged


def _json_ready(value):
    """NaN/inf → None, numpy scalars → Python, recursively."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(report: dict, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, allow_nan=False))
    return out


# ----------------------------------------------------------------------------- MLflow


def _flat_params(prefix: str, value, into: dict[str, str]) -> dict[str, str]:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat_params(f"{prefix}.{k}" if prefix else str(k), v, into)
    else:
        into[prefix] = str(value)[:6000]
    return into


def log_to_mlflow(report: dict, report_path: str | Path, tracking_uri: str) -> dict:
    """Record ``report`` in MLflow at ``tracking_uri``: experiment ``benchmark-<dataset
    name>``, one parent run (protocol params, the JSON as an artifact) and one nested run
    per model (its hyper-parameters and aggregate + per-channel metrics).
    Returns ``{"experiment_id", "parent", "models": {kind: run_id}}``."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    artifact_location = None
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        db.parent.mkdir(parents=True, exist_ok=True)
        artifact_location = (db.parent.resolve() / "artifacts").as_uri()
    client = mlflow.MlflowClient(tracking_uri)
    name = f"benchmark-{report['dataset']['name']}"
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name, artifact_location=artifact_location)

    now = int(time.time() * 1000)
    tags = {"mlflow.source.git.commit": report["git_commit"], "anomflow.benchmark": report["dataset"]["name"], "anomflow.profile": report["profile"]}
    parent = client.create_run(experiment_id, run_name=f"{report['dataset']['name']}-{report['profile']}", tags=tags).info.run_id
    protocol = _flat_params("", report["config"]["protocol"], {})
    protocol.update({"profile": report["profile"], "dataset.path": report["dataset"]["path"], "dataset.channels": ",".join(report["dataset"]["channels"])})
    client.log_batch(parent, params=[Param(k, v) for k, v in protocol.items()])
    client.log_artifact(parent, str(report_path))

    runs = {}
    for kind, aggregates in report["models"].items():
        run = client.create_run(experiment_id, run_name=kind, tags={**tags, "mlflow.parentRunId": parent, "anomflow.model": kind}).info.run_id
        params = _flat_params("", report["config"][kind], {})
        params.update({"train_stride": str(report["config"]["protocol"].get("train_stride", 1)), "profile": report["profile"]})
        metrics = [Metric(k, float(v), now, 0) for k, v in aggregates.items() if isinstance(v, (int, float)) and v is not None]
        for chan, values in report["per_channel"][kind].items():
            metrics += [
                Metric(f"{chan}/{k}", float(values[k]), now, 0)
                for k in ("vus_pr", "pr_auc", "roc_auc", "f1", "pa_f1", "epochs", "train_s")
                if values.get(k) is not None
            ]
        client.log_batch(run, params=[Param(k, v) for k, v in params.items()], tags=[RunTag("anomflow.channels", str(len(report["per_channel"][kind])))])
        for i in range(0, len(metrics), 900):
            client.log_batch(run, metrics=metrics[i : i + 900])
        client.set_terminated(run)
        runs[kind] = run
    for kind, aggregates in report["models"].items():
        metrics = [Metric(f"{kind}.{k}", float(aggregates[k]), now, 0) for k in (*QUALITY_METRICS, "rows_per_s", "train_s") if aggregates.get(k) is not None]
        client.log_batch(parent, metrics=metrics)
    client.set_terminated(parent)
    return {"experiment_id": experiment_id, "parent": parent, "models": runs}
