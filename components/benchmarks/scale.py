"""How training and scoring cost grow with rows and sensors (issue 5, "speed and scale").

Every measurement runs in a fresh child process (``python -m components.benchmarks.scale
REQUEST RESULT``), so its peak RSS (``ru_maxrss`` read by the child, and the parent's
``wait4`` value) is its own and includes the interpreter and imports
(``rss_after_imports_mb`` says how much of it that is).

**Training** (``student`` and, for contrast, ``lstm_ae``): a synthetic export of ``rows``
rows × ``sensors`` sensors (smooth periodic signals plus noise, one session) is split
like the pipeline (``prepare.train_fraction`` / ``val_fraction`` of conf/pipeline.yaml,
the rest is the test split) and trained by the pipeline's own
:func:`components.training.train.fit_model` with conf/pipeline.yaml's parameters for ONE
epoch (``train.max_epochs = 1``). So the student's training set includes its
``injected_copies`` copies with injected anomalies, windows every ``train_stride`` rows,
and the calibration pass after training; it trains *without teachers*
(``teacher_weights: {}``, no soft targets: the teachers' scoring of the training set is
a cost of the teachers, measured by ``anomflow benchmark speed``).

Large sets are not trained for a whole epoch: at most ``max_steps`` optimisation steps
(batches) and ``max_val_steps`` validation batches run (Lightning's
``limit_train_batches`` / ``limit_val_batches``), and the epoch time is extrapolated
linearly from the measured steady-state seconds per batch (the first batch, which
carries the warm-up, counted once): ``epoch_s = first_batch_s + s_per_batch × (full − 1)
+ val_s × full_val / ran_val`` (``capped: true`` marks these; the data preparation and the
post-training pass, ``prep_s`` and ``post_s``, always run in full and are measured).
The cap is applied by adding the limits and a timing callback to the Trainer the
pipeline's ``fit`` builds, in the child process only.

**Scoring** (``student``): :meth:`components.detectors.base.Detector.score` on
``rows`` rows × 7 sensors, the code path of evaluate and serving (row ``t`` from the
window ending at ``t``); the whole series is in memory (unlike ``anomflow score``, which
streams: benchmarks/score_memory.py), by a student fitted for one epoch on noise first
(speed does not depend on the fit; ``rss_after_fit_mb`` is the peak before scoring).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from components.benchmarks.environment import (
    environment,
    run_python_child,
    self_peak_rss_mb,
)
from components.detectors.registry import SERVED_KIND

SEED = 0
TRAINED = ("student", "lstm_ae")  # the default models of the training curves
SCORING_FIT_WINDOWS = 512
DEFAULTS = {
    "rows": (10**4, 10**5, 10**6), "sensors": (7, 25, 55, 100), "sensor_rows": 10**5, "base_sensors": 7,
    "big_rows": 5 * 10**6, "score_rows": (10**4, 10**5, 10**6, 10**7), "max_steps": 200, "max_val_steps": 50,
    "models": TRAINED, "threads": 2,
}


def synthetic_series(rows: int, sensors: int, seed: int = SEED, dtype=np.float64) -> np.ndarray:
    """(rows, sensors): sine waves of different periods and phases plus 10 % noise,
    built column by column (no float64 temporary of the whole array)."""
    rng = np.random.default_rng(seed)
    out = np.empty((rows, sensors), dtype=dtype)
    t = np.arange(rows, dtype=np.float64)
    for k in range(sensors):
        period = 40.0 + 17.0 * (k % 11)
        out[:, k] = 10.0 * (k + 1) + np.sin(2 * np.pi * t / period + k) + 0.1 * rng.standard_normal(rows)
    return out


def synthetic_prepared(rows: int, sensors: int, train_fraction: float, val_fraction: float, seed: int = SEED):
    """The prepared splits of a ``rows``-row export, cut like the prepare stage (train,
    validation, test in time order; one session; scaler fitted on train)."""
    from components.benchmarks.protocol import arrays_as_prepared
    from components.features.scaling import StandardScaler

    values = synthetic_series(rows, sensors, seed)
    n_train, n_val = int(rows * train_fraction), int(rows * val_fraction)
    train, val, test = values[:n_train], values[n_train : n_train + n_val], values[n_train + n_val :]
    names = [f"s{k}" for k in range(sensors)]
    mean, std = train.mean(axis=0), train.std(axis=0)
    scaler = StandardScaler(tuple(names), tuple(map(float, mean)), tuple(map(float, np.where(std > 0, std, 1.0))))
    return arrays_as_prepared(train, val, test, np.zeros(len(test), dtype=np.int8), scaler)


class EpochTimer:
    """Lightning callback: wall time of the fit, of the training loop and of validation,
    and the batches each ran (a plain object with the hooks, added to the Trainer)."""

    def __init__(self) -> None:
        import pytorch_lightning as pl

        class Timer(pl.Callback):
            def __init__(inner) -> None:
                inner.t = {}
                inner.train_batches = inner.val_batches = 0
                inner.windows = {}

            def on_fit_start(inner, trainer, module) -> None:
                inner.t["fit_start"] = time.perf_counter()

            def on_train_epoch_start(inner, trainer, module) -> None:
                inner.t.setdefault("train_start", time.perf_counter())
                data = trainer.datamodule
                starts, batch = getattr(data, "starts", None), getattr(data, "batch_size", None)
                if starts is not None and batch:
                    inner.windows = {name: len(starts[name]) for name in ("train", "val")}
                    inner.batch_size = batch

            def on_train_batch_end(inner, trainer, module, outputs, batch, batch_idx) -> None:
                inner.train_batches += 1
                inner.t.setdefault("first_batch_end", time.perf_counter())

            def on_validation_epoch_start(inner, trainer, module) -> None:
                inner.t.setdefault("val_start", time.perf_counter())

            def on_validation_batch_end(inner, trainer, module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
                inner.val_batches += 1

            def on_validation_epoch_end(inner, trainer, module) -> None:
                inner.t.setdefault("val_end", time.perf_counter())

            def on_fit_end(inner, trainer, module) -> None:
                inner.t["fit_end"] = time.perf_counter()

        self.callback = Timer()


@contextlib.contextmanager
def instrumented_trainer(callback, max_steps: int | None, max_val_steps: int | None):
    """Every Trainer built inside gets ``callback`` and, when given, the batch limits."""
    import pytorch_lightning as pl

    original = pl.Trainer.__init__

    @functools.wraps(original)
    def init(self, *args, **kwargs):
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), callback]
        if max_steps:
            kwargs["limit_train_batches"] = max_steps
        if max_val_steps:
            kwargs["limit_val_batches"] = max_val_steps
        original(self, *args, **kwargs)

    pl.Trainer.__init__ = init
    try:
        yield
    finally:
        pl.Trainer.__init__ = original


def measure_training(kind: str, rows: int, sensors: int, *, max_steps: int | None, max_val_steps: int | None, threads: int = 2, seed: int = SEED) -> dict:
    """One epoch (capped, extrapolated) of ``fit_model(cfg, prepared, kind)``; see the module docstring."""
    from components.detectors.registry import detector_class

    if "max_epochs" not in detector_class(kind).Settings.model_fields:
        raise ValueError(f"{kind} is not trained in epochs; measured: models that are, such as {TRAINED}")
    from components.benchmarks.protocol import REPO_CONFIG
    from components.config import load_config
    from components.training import network_fitters  # noqa: F401  (Lightning: counted in rss_after_imports_mb)
    from components.training.train import fit_model

    rss_imports = self_peak_rss_mb()
    cfg = load_config(REPO_CONFIG).model_copy(update={"seed": seed})
    settings = cfg.settings_of(kind)
    begin = time.perf_counter()
    prepared = synthetic_prepared(rows, sensors, cfg.prepare.train_fraction, cfg.prepare.val_fraction, seed)
    data_s = time.perf_counter() - begin
    timer = EpochTimer().callback
    with tempfile.TemporaryDirectory() as models:
        changes = {"max_epochs": 1, "patience": 1, "num_threads": threads}
        if hasattr(settings, "distillation"):  # the student, without teachers
            changes["distillation"] = settings.distillation.model_copy(update={"teacher_weights": {}})
        cfg = cfg.with_settings(kind, **changes).model_copy(update={"paths": cfg.paths.model_copy(update={"models": models})})
        begin = time.perf_counter()
        with instrumented_trainer(timer, max_steps, max_val_steps):
            fit_model(cfg, prepared, kind, trained={})
        end = time.perf_counter()
    t = timer.t
    batch = getattr(timer, "batch_size", settings.batch_size)
    windows = timer.windows or {"train": None, "val": None}
    full = {name: math.ceil(n / batch) if n is not None else None for name, n in windows.items()}
    train_loop_s = t["val_start"] - t["train_start"]
    val_s = t["val_end"] - t["val_start"]
    first_s = t["first_batch_end"] - t["train_start"]  # includes the loader's and the optimiser's warm-up
    ran = timer.train_batches
    per_batch = (train_loop_s - first_s) / (ran - 1) if ran > 1 else train_loop_s  # steady state
    per_val_batch = val_s / max(timer.val_batches, 1)
    capped = bool(full["train"] and ran < full["train"]) or bool(full["val"] and timer.val_batches < full["val"])
    if capped and full["train"]:
        epoch_s = first_s + per_batch * (full["train"] - 1) + per_val_batch * full["val"]
    else:
        epoch_s = train_loop_s + val_s
    return {
        "kind": kind, "rows": rows, "sensors": sensors, "train_rows": len(prepared.splits["train"]), "val_rows": len(prepared.splits["val"]),
        "train_windows": windows["train"], "val_windows": windows["val"], "batch_size": batch,
        "train_batches": full["train"], "train_batches_run": timer.train_batches, "val_batches": full["val"], "val_batches_run": timer.val_batches,
        "capped": capped, "train_loop_s": train_loop_s, "first_batch_s": first_s, "val_s": val_s, "s_per_batch": per_batch,
        "s_per_1000_windows": 1000 * per_batch / batch, "epoch_s": epoch_s,
        "prep_s": t["fit_start"] - begin, "post_s": end - t["fit_end"], "data_s": data_s,
        "fit_model_s": end - begin, "rss_after_imports_mb": rss_imports, "peak_rss_mb": self_peak_rss_mb(),
        "injected_copies": settings.distillation.injected_copies if hasattr(settings, "distillation") else 0,
        "train_stride": settings.train_stride, "threads": threads,
    }


def measure_scoring(rows: int, sensors: int = 7, threads: int = 2) -> dict:
    """Seconds and rows/s of the served model (the student) scoring ``rows`` rows through
    :meth:`~components.detectors.base.Detector.score`, fitted first for one epoch on
    :data:`SCORING_FIT_WINDOWS` windows of noise (:func:`components.benchmarks.speed.fitted_detector`:
    speed does not depend on the fit); ``rss_after_fit_mb`` is the peak before scoring."""
    import torch

    from components.benchmarks.protocol import REPO_CONFIG
    from components.benchmarks.speed import fitted_detector, time_scoring
    from components.config import load_config
    from components.detectors.registry import SERVED_KIND

    rss_imports = self_peak_rss_mb()
    cfg = load_config(REPO_CONFIG)
    cfg = cfg.with_settings(SERVED_KIND, **{k: v for k, v in {"max_epochs": 1, "num_threads": threads}.items() if hasattr(cfg.settings_of(SERVED_KIND), k)})
    detector, _ = fitted_detector(SERVED_KIND, cfg, sensors, SCORING_FIT_WINDOWS)
    rss_fit = self_peak_rss_mb()
    torch.set_num_threads(threads)
    values = synthetic_series(rows, sensors, dtype=np.float32)
    values = (values - values.mean(axis=0)) / values.std(axis=0)
    seconds = time_scoring(detector, values)
    return {
        "kind": SERVED_KIND, "rows": rows, "sensors": sensors, "seconds": seconds, "rows_per_s": rows / seconds,
        "rss_after_imports_mb": rss_imports, "rss_after_fit_mb": rss_fit, "peak_rss_mb": self_peak_rss_mb(), "threads": threads,
    }


def _measure(request: dict) -> dict:
    if request["what"] == "train":
        return measure_training(
            request["kind"], request["rows"], request["sensors"], max_steps=request.get("max_steps"),
            max_val_steps=request.get("max_val_steps"), threads=request.get("threads", 2),
        )
    return measure_scoring(request["rows"], request["sensors"], request.get("threads", 2))


def _in_child(request: dict) -> dict:
    result = run_python_child("components.benchmarks.scale", request)
    result["isolated"] = True
    return result


def _in_process(request: dict) -> dict:
    result = _measure(request)
    result["isolated"] = False  # peak_rss_mb is this process's, not the measurement's
    return result


def plan(
    *, rows=DEFAULTS["rows"], sensors=DEFAULTS["sensors"], sensor_rows=DEFAULTS["sensor_rows"], base_sensors=DEFAULTS["base_sensors"],
    big_rows=DEFAULTS["big_rows"], score_rows=DEFAULTS["score_rows"], max_steps=DEFAULTS["max_steps"],
    max_val_steps=DEFAULTS["max_val_steps"], models=DEFAULTS["models"], threads=DEFAULTS["threads"],
) -> list[tuple[str, dict]]:
    """(section, request) of every measurement, in run order."""
    train = {"what": "train", "max_steps": max_steps, "max_val_steps": max_val_steps, "threads": threads}
    out = []
    for kind in models:
        out += [("training_vs_rows", {**train, "kind": kind, "rows": n, "sensors": base_sensors}) for n in rows]
        out += [("training_vs_sensors", {**train, "kind": kind, "rows": sensor_rows, "sensors": s}) for s in sensors]
    if big_rows:
        out.append(("training_big", {**train, "kind": SERVED_KIND, "rows": big_rows, "sensors": base_sensors}))
    out += [("scoring_vs_rows", {"what": "score", "rows": n, "sensors": base_sensors, "threads": threads}) for n in score_rows]
    return out


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares exponent b of y ∝ x^b (log-log), or None with < 2 distinct x."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len({p[0] for p in pts}) < 2:
        return None
    return float(np.polyfit([p[0] for p in pts], [p[1] for p in pts], 1)[0])


def run_scale(*, isolate: bool = True, progress=None, **options) -> dict:
    """Every measurement of :func:`plan` (each in a child process unless ``isolate`` is
    False: for tests, peak RSS then meaningless); returns the report."""
    say = progress or (lambda message: None)
    env = environment()
    report: dict = {"training_vs_rows": [], "training_vs_sensors": [], "training_big": [], "scoring_vs_rows": []}
    steps = plan(**options)
    for i, (section, request) in enumerate(steps, 1):
        result = (_in_child if isolate else _in_process)(request)
        report[section].append(result)
        if request["what"] == "train":
            say(
                f"[{i}/{len(steps)}] train {result['kind']} {result['rows']:,} rows × {result['sensors']} sensors: "
                f"{result['epoch_s']:.1f} s/epoch{' (extrapolated)' if result['capped'] else ''}, "
                f"prep {result['prep_s']:.1f} s, post {result['post_s']:.1f} s, peak RSS {result['peak_rss_mb']:,.0f} MiB"
            )
        else:
            say(f"[{i}/{len(steps)}] score student {result['rows']:,} rows: {result['seconds']:.2f} s, peak RSS {result['peak_rss_mb']:,.0f} MiB")
    growth = {}
    for kind in options.get("models", DEFAULTS["models"]):
        by_rows = [(r["rows"], r["epoch_s"]) for r in report["training_vs_rows"] + report["training_big"] if r["kind"] == kind]
        by_sensors = [(r["sensors"], r["epoch_s"]) for r in report["training_vs_sensors"] if r["kind"] == kind]
        growth[f"{kind}_epoch_s_vs_rows"] = _slope(by_rows)
        growth[f"{kind}_epoch_s_vs_sensors"] = _slope(by_sensors)
    growth["student_scoring_s_vs_rows"] = _slope([(r["rows"], r["seconds"]) for r in report["scoring_vs_rows"]])
    report["growth_exponents"] = growth
    config = {**DEFAULTS, **options}
    report["config"] = {
        **{k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}, "isolated": isolate, "seed": SEED,
        "pipeline_config": "conf/pipeline.yaml (train.max_epochs=1, patience=1; student without teachers)",
        "epoch": "one epoch; above max_steps training / max_val_steps validation batches, extrapolated from the measured seconds per batch",
    }
    report.update(env)
    return report


def main(argv: list[str]) -> None:
    """Child entry: ``python -m components.benchmarks.scale REQUEST.json RESULT.json``."""
    request = json.loads(Path(argv[0]).read_text())
    Path(argv[1]).write_text(json.dumps(_measure(request)))


if __name__ == "__main__":
    main(sys.argv[1:])
