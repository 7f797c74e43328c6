"""Peers side by side: PyOD's detectors on the same splits, in the same benchmark run,
thresholded and evaluated by the same code as the project's own models.

PyOD (with numba, llvmlite and a CPU torch) lives in a virtual environment of its own,
``make peers`` → ``.venv-peers`` (pins: ``benchmarks/peers/requirements.txt``), so none
of it enters the project's environment. ``anomflow benchmark msl|skab --peers
.venv-peers/bin/python`` then, per benchmark:

1. builds, for every series (MSL channel, SKAB file), the splits the pipeline's own models
   (PCA, Isolation Forest, LSTM-AE, student) get: :class:`StandardScaler` fitted on the
   series' whole train array, the last ``validation_rows`` rows of it held out for the
   threshold (MSL: 20 %, at least one window; SKAB: 80 of the 400 fitting rows), the test
   rows, all scaled, float32 (:func:`series_splits`);
2. writes them to one ``.npz`` (:func:`write_inputs`) and runs
   :mod:`components.benchmarks.pyod_worker` with the peers' python ONCE for all series
   (PyOD's imports and numba's compilation are paid once);
3. reads the worker's scores (:func:`read_outputs`): one per window of the pipeline's
   window (``conf/pipeline.yaml`` ``models.lstm_ae.window``) ending at each row; rows before the
   first full window take the first window's score, as the pipeline's models are scored
   (:func:`rows_from_windows`);
4. thresholds and evaluates them with :func:`components.benchmarks.series_metrics.evaluate_scores`,
   exactly like the project's models: POT (warning level) on the validation scores,
   ``pred = score > threshold``, the same metrics; the benchmark then aggregates them
   like its own models (MSL: channel means and pooled F1; SKAB: pooled F1/FAR/MAR).

They join the report's ``models`` (and ``per_channel`` and ``config``) as ``pyod_<name>``
(``pyod_iforest``, ``pyod_pca``, ``pyod_ecod``, ``pyod_copod``, ``pyod_knn``,
``pyod_autoencoder``, ``pyod_lstm``), and the report gets a ``peers`` section: the
python and its virtual environment, the versions (PyOD, numpy, SciPy, scikit-learn,
numba, torch), every detector's class and parameters, the worker's wall time, and any
detector that failed on a series (it is then left out of ``models`` rather than compared
on fewer series).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from components.benchmarks.protocol import SEED, TORCH_THREADS
from components.benchmarks.series import Channel, training_cut
from components.benchmarks.series_metrics import evaluate_scores
from components.benchmarks.pyod_worker import DETECTORS

PREFIX = "pyod_"
WORKER = Path(__file__).resolve().with_name("pyod_worker.py")
REQUIREMENTS = "benchmarks/peers/requirements.txt"
DEFAULT_PYTHON = Path(".venv-peers") / "bin" / "python"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
NOTES = {
    "ecod/copod": "PyOD's ECOD and COPOD re-estimate their empirical CDFs on the training windows plus the batch being "
    "scored, so each split (validation, test) is scored as one batch",
    "lstm": "PyOD's LSTMAD (time-series model) with window_size = window - 1: row t is predicted from the window - 1 rows "
    "before it; it trains on every train row (no stride) for the pipeline's train.max_epochs (capped by --max-epochs) "
    "with its train.batch_size, without early stopping (LSTMAD has none); PyOD's default 50 epochs of batch 32 cost "
    "minutes per MSL channel on 2 cores",
    "left_out": "PyOD's other time-series models do not fit this protocol (fit on training rows, threshold on validation "
    "scores, row t scored from rows up to t): MatrixProfile is transductive (no decision_function on new data); "
    "SpectralResidual learns nothing at fit and z-normalises each channel's scores over the batch it scores; "
    "KShape, SAND and TimeSeriesOD give a row the max over every window covering it, rows after t included; PyOD's "
    "AnomalyTransformer (d_model 512, 3 layers by default) is left to the project's own Anomaly Transformer teacher",
}


class PeersError(ValueError):
    """The peers' worker failed or returned something unusable."""


@dataclass(frozen=True)
class SeriesSplits:
    """One series as the pipeline's models see it: scaled ``train``, ``val``, ``test``
    (rows, features) float32 and the test ``labels``."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    labels: np.ndarray


@dataclass
class PeerRun:
    """What the peers add to a benchmark report, per model name (``pyod_<detector>``):
    per-series ``metrics``, the ``pooled`` arrays of :func:`evaluate_scores` per series,
    and the ``config`` record; ``section`` is the report's ``peers`` section."""

    metrics: dict[str, dict[str, dict]] = field(default_factory=dict)
    pooled: dict[str, list[dict]] = field(default_factory=dict)
    config: dict[str, dict] = field(default_factory=dict)
    section: dict = field(default_factory=dict)


def pipeline_settings() -> dict:
    """The LSTM autoencoder's window and training budget in ``conf/pipeline.yaml``
    (``models.lstm_ae``: ``window``, ``max_epochs``, ``batch_size``), which the peers share."""
    from components.benchmarks.protocol import REPO_CONFIG
    from components.config import load_config

    lstm_ae = load_config(REPO_CONFIG).settings_of("lstm_ae")
    return {"window": lstm_ae.window, "epochs": lstm_ae.max_epochs, "batch_size": lstm_ae.batch_size}


def check_python(python: str | Path) -> Path:
    """``python`` as a Path, or FileNotFoundError telling how to make the peers environment."""
    path = Path(python)
    if not path.is_file():
        raise FileNotFoundError(
            f"peers python not found: {path}. Create the peers environment with `make peers` (PyOD, pinned in "
            f"{REQUIREMENTS}), then pass --peers {DEFAULT_PYTHON}"
        )
    return path


def check_detectors(detectors: Sequence[str] | None) -> list[str]:
    """The detectors to run (default: all of :data:`DETECTORS`); ``pyod_`` prefixes allowed."""
    names = [d.removeprefix(PREFIX) for d in detectors] if detectors else list(DETECTORS)
    unknown = [d for d in names if d not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown peer detector(s) {unknown}; known: {list(DETECTORS)}")
    return list(dict.fromkeys(names))


def series_splits(channel: Channel, window: int) -> SeriesSplits:
    """The scaled train / validation / test rows of ``channel``, cut and scaled as in
    :func:`components.benchmarks.protocol.run_channel` for the pipeline's models."""
    from components.features.scaling import StandardScaler

    sensors = [f"x{i}" for i in range(channel.train.shape[1])]
    cut = training_cut(channel, window)
    if len(channel.test) < window:
        raise ValueError(f"channel {channel.name}: {len(channel.test)} test rows are fewer than one window of {window}")
    scaler = StandardScaler.fit(pd.DataFrame(channel.train, columns=sensors), sensors)

    def scale(values: np.ndarray) -> np.ndarray:
        return scaler.transform(pd.DataFrame(values, columns=sensors))

    return SeriesSplits(channel.name, scale(channel.train[:cut]), scale(channel.train[cut:]), scale(channel.test), channel.labels)


def write_inputs(
    path: str | Path, splits: Sequence[SeriesSplits], *, window: int, train_stride: int, detectors: Sequence[str],
    seed: int = SEED, threads: int = TORCH_THREADS, epochs: int = 30, batch_size: int = 256, fleet: bool = False,
) -> Path:
    """The worker's input ``.npz`` (format: :mod:`components.benchmarks.pyod_worker`)."""
    meta = {
        "window": int(window), "train_stride": int(train_stride), "seed": int(seed), "threads": int(threads),
        "epochs": int(epochs), "batch_size": int(batch_size), "detectors": list(detectors), "series": [s.name for s in splits],
        "fleet": bool(fleet),
    }
    arrays = {}
    for i, s in enumerate(splits):
        arrays[f"train_{i}"], arrays[f"val_{i}"], arrays[f"test_{i}"] = (np.ascontiguousarray(a, dtype=np.float32) for a in (s.train, s.val, s.test))
    path = Path(path)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    return path


def read_outputs(path: str | Path, splits: Sequence[SeriesSplits], *, window: int, detectors: Sequence[str]) -> tuple[dict, dict]:
    """The worker's output: (meta, ``{detector: {series: (val_windows, test_windows)}}``)
    for the detectors that scored every series; the length and finiteness of every array
    is checked (a detector whose scores are not finite is reported as failed there)."""
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        files = set(npz.files)
        scores: dict[str, dict] = {}
        for name in detectors:
            results = meta["results"].get(name, {})
            per_series = {}
            for i, s in enumerate(splits):
                keys = (f"val_{i}_{name}", f"test_{i}_{name}")
                if "error" in results.get(s.name, {}):
                    continue
                if not all(k in files for k in keys):
                    results.setdefault(s.name, {})["error"] = "the worker returned no scores"
                    continue
                val, test = (npz[k].astype(np.float64) for k in keys)
                expected = (len(s.val) - window + 1, len(s.test) - window + 1)
                if (val.shape, test.shape) != ((expected[0],), (expected[1],)):
                    raise PeersError(f"{name} {s.name}: got {val.shape[0]}/{test.shape[0]} validation/test scores, expected {expected[0]}/{expected[1]} (one per window of {window})")
                if not (np.isfinite(val).all() and np.isfinite(test).all()):
                    results.setdefault(s.name, {})["error"] = "non-finite scores"
                    continue
                per_series[s.name] = (val, test)
            if len(per_series) == len(splits):
                scores[name] = per_series
    return meta, scores


def rows_from_windows(window_scores: np.ndarray, window: int) -> np.ndarray:
    """One score per row from one per full window (the window ending at each row from row
    ``window − 1`` on): rows before the first full window take the first window's score,
    as the pipeline's models are scored."""
    window_scores = np.asarray(window_scores, dtype=np.float64)
    if window_scores.ndim != 1 or len(window_scores) == 0:
        raise ValueError(f"need at least one window score, got shape {window_scores.shape}")
    return np.concatenate([np.full(window - 1, window_scores[0]), window_scores])


def run_worker(python: str | Path, source: Path, target: Path, *, threads: int = TORCH_THREADS, progress: Callable[[str], None] | None = None) -> float:
    """Run the worker with the peers' ``python`` (isolated: ``-I``); its progress lines go to
    ``progress``. Returns its wall seconds; PeersError with its last lines if it fails."""
    env = {**os.environ, **{v: str(threads) for v in THREAD_VARIABLES}}
    say = progress or (lambda message: None)
    tail: deque[str] = deque(maxlen=30)
    begin = time.perf_counter()
    with subprocess.Popen(
        [str(python), "-I", str(WORKER), str(source), str(target)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as process:
        for line in process.stdout:
            line = line.rstrip()
            tail.append(line)
            say(f"  pyod {line}")
    if process.returncode != 0 or not target.is_file():
        lines = "\n".join(tail)
        raise PeersError(f"the PyOD worker ({python} {WORKER.name}) failed with exit code {process.returncode}:\n{lines}")
    return time.perf_counter() - begin


def evaluate_peer(name: str, splits: Sequence[SeriesSplits], scores: dict, results: dict, *, window: int) -> tuple[dict, list[dict]]:
    """Per-series metrics (as :func:`~components.benchmarks.protocol.run_channel` reports them) and pooled arrays of
    detector ``name`` from its window scores ``{series: (val, test)}`` and the worker's
    per-series timings ``results``."""
    metrics, pooled = {}, []
    for s in splits:
        val, test = (rows_from_windows(a, window) for a in scores[s.name])
        values, arrays = evaluate_scores(val, test, s.labels)
        timing = results.get(s.name, {})
        values.update({
            "epochs": int(timing.get("epochs", 0)),
            "best_val_loss": None,
            "train_s": float(timing.get("fit_s", float("nan"))),
            "score_s": float(timing.get("test_score_s", float("nan"))),
            "val_score_s": float(timing.get("val_score_s", float("nan"))),
            "train_rows": len(s.train),
            "train_windows": timing.get("train_windows"),
            "val_rows": len(s.val),
            "test_rows": len(s.test),
            "test_anomalous": int(np.asarray(s.labels).sum()),
            "predicted": int(arrays["pred"].sum()),
        })
        metrics[s.name] = values
        pooled.append(arrays)
    return metrics, pooled


def score_peers(
    channels: Sequence[Channel], python: str | Path, *, detectors: Sequence[str] | None = None, window: int | None = None,
    train_stride: int = 1, max_epochs: int | None = None, threads: int = TORCH_THREADS, progress: Callable[[str], None] | None = None,
) -> PeerRun:
    """Run PyOD's ``detectors`` on ``channels`` in the peers environment and evaluate them
    (see the module docstring). ``max_epochs`` caps the pipeline's epochs (deep detectors
    that take a number of epochs)."""
    say = progress or (lambda message: None)
    worker = WorkerRun.start(channels, python, detectors, window, train_stride, max_epochs, threads, say)
    run = PeerRun()
    for name in worker.scored:
        model = PREFIX + name
        run.metrics[model], run.pooled[model] = evaluate_peer(name, worker.splits, worker.scores[name], worker.meta["results"][name], window=worker.window)
        detector = worker.meta["detectors"][name]
        run.config[model] = {
            "library": f"pyod {worker.meta['versions'].get('pyod')}",
            "class": detector["class"],
            "kind": detector["kind"],
            "params": detector["params"],
            "window": worker.window,
            "train_stride": train_stride if detector["kind"] == "windows" else 1,
            "input": "flattened windows (window x sensors), window ending at each row"
            if detector["kind"] == "windows" else "the split's rows; row t scored from the window ending at t",
        }
    run.section = worker.section()
    return run


@dataclass
class WorkerRun:
    """One run of the worker on ``splits`` and what it returned. By default each series
    is cut by :func:`series_splits` and the worker fits one detector per series; with a
    ``splitter`` ((channels, window) → splits) the series are cut by it and the worker fits
    one detector per name for all of them (its ``fleet`` mode, used by the SKAB fleet
    study in ``benchmarks/research_lib/fleet.py``)."""

    python: Path
    names: list[str]
    splits: list[SeriesSplits]
    window: int
    train_stride: int
    epochs: int
    batch_size: int
    threads: int
    meta: dict
    scores: dict
    wall_s: float
    scored: list[str]
    failed: dict

    @classmethod
    def start(
        cls, channels: Sequence[Channel], python: str | Path, detectors: Sequence[str] | None, window: int | None, train_stride: int,
        max_epochs: int | None, threads: int, say: Callable[[str], None], *,
        splitter: Callable[[Sequence[Channel], int], list[SeriesSplits]] | None = None,
    ) -> "WorkerRun":
        python = check_python(python)
        names = check_detectors(detectors)
        if train_stride < 1:
            raise ValueError(f"train stride must be at least 1, got {train_stride}")
        settings = pipeline_settings()
        window = window or settings["window"]
        epochs = settings["epochs"] if max_epochs is None else min(max_epochs, settings["epochs"])
        fleet = splitter is not None
        splits = splitter(channels, window) if fleet else [series_splits(c, window) for c in channels]
        with tempfile.TemporaryDirectory(prefix="anomflow-peers-") as tmp:
            source, target = Path(tmp) / "splits.npz", Path(tmp) / "scores.npz"
            write_inputs(
                source, splits, window=window, train_stride=train_stride, detectors=names, threads=threads,
                epochs=epochs, batch_size=settings["batch_size"], fleet=fleet,
            )
            say(f"peers: PyOD {names} on {len(splits)} series{' (one fit for all)' if fleet else ''} with {python} (one worker process)")
            wall_s = run_worker(python, source, target, threads=threads, progress=say)
            meta, scores = read_outputs(target, splits, window=window, detectors=names)
        failed = {}
        for name in names:
            if name not in scores:
                failed[PREFIX + name] = {k: v["error"] for k, v in meta["results"].get(name, {}).items() if "error" in v}
                say(f"peers: {PREFIX + name} left out, it failed on {sorted(failed[PREFIX + name])}: {next(iter(failed[PREFIX + name].values()), '')}")
        return cls(python, names, splits, window, train_stride, epochs, settings["batch_size"], threads, meta, scores, wall_s,
                   [n for n in names if n in scores], failed)

    def section(self) -> dict:
        """The report's ``peers`` section."""
        return {
            "library": "pyod",
            "versions": self.meta["versions"],
            "python": str(self.python),
            "venv": str(self.python.absolute().parent.parent),
            "requirements": REQUIREMENTS,
            "worker": f"components/benchmarks/{WORKER.name}",
            "detectors": {PREFIX + n: self.meta["detectors"][n]["class"] for n in self.names},
            "failed": self.failed,
            "window": self.window,
            "train_stride": self.train_stride,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "seed": SEED,
            "threads": self.threads,
            "worker_wall_s": self.wall_s,
            "worker_inner_wall_s": self.meta.get("wall_s"),
            "protocol": "the pipeline models' splits and scaling per series, window ending at each row (rows before the first "
            "full window take its score), POT warning threshold on validation scores, the same metrics and aggregates",
            "notes": NOTES,
            "host_python": sys.version.split()[0],
        }
