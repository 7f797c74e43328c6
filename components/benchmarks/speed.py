"""How fast every model trains and scores on this machine, measured in one run.

* **Scoring throughput** (rows/s): each model scores a synthetic series of
  ``n_sensors`` standard-normal sensors through :func:`score_series`, the code path of
  the evaluate stage and of serving (row ``t`` from the window ending at ``t``). Slow
  models score as many rows as fit in ``budget_s`` (measured on a probe first), so a
  paper-sized Anomaly Transformer does not take hours; ``rows`` says how many.
* **Training time per epoch**: one epoch over ``train_windows`` windows (fewer for the
  paper profiles, ``paper_train_windows``), reported as seconds per 1000 windows.
* **Growth**: the student's scoring time for 10^4 … ``max_rows`` rows.

Weights are freshly initialised (speed does not depend on them); the student gets a
calibration fitted on its own scores, the baselines are fitted on the series.
"""

from __future__ import annotations

import platform
import time
from dataclasses import replace

import numpy as np

from components.models.store import ModelSpec, build_network

SEED = 0
PROFILED = ("anomaly_transformer", "omnianomaly")


def _specs(n_sensors: int, profiles: list[str]) -> dict[str, tuple[ModelSpec, str | None]]:
    """Name → (spec, teacher profile or None) of every model measured."""
    from components.config import LstmAeConfig, StudentConfig
    from components.training.teacher_profiles import teacher_config

    sensors = [f"s{i}" for i in range(n_sensors)]
    student = StudentConfig()
    specs = {
        "student": (ModelSpec("student", sensors, student.window, student.network_hparams()), None),
        "lstm_ae": (ModelSpec("lstm_ae", sensors, 30, LstmAeConfig(hidden_size=64).model_dump()), None),
        "pca": (ModelSpec("pca", sensors, 30, {"variance": 0.95}), None),
        "iforest": (ModelSpec("iforest", sensors, 30, {"n_estimators": 100}), None),
    }
    for kind in PROFILED:
        for profile in profiles:
            cfg = teacher_config(kind, profile)
            specs[f"{kind}_{profile}"] = (ModelSpec(kind, sensors, cfg.window, cfg.model_dump()), profile)
    return specs


def _ready_model(spec: ModelSpec, values: np.ndarray):
    """A scoring-ready model for ``spec``: networks initialised, baselines and the
    student's calibration fitted on ``values``."""
    import torch

    from components.features.windows import gather_windows

    torch.manual_seed(SEED)
    model = build_network(spec)
    starts = np.arange(0, min(len(values), 20_000) - spec.window, 4)
    if spec.kind in ("pca", "iforest"):
        model.fit(gather_windows(values, starts, spec.window), seed=SEED)
    if spec.kind == "student":
        from components.config import StudentConfig
        from components.models.student import calibrate, component_errors_at

        model.eval()
        with torch.inference_mode():
            errors = component_errors_at(model, values, starts, spec.window)
        defaults = StudentConfig()
        spec = replace(spec, calibration=calibrate(errors, defaults.score_weights, defaults.top_sensors).as_dict())
    return model, spec


def _time_scoring(model, spec: ModelSpec, values: np.ndarray) -> float:
    from components.scoring.series_scores import score_series

    sessions = np.zeros(len(values), dtype=np.int8)
    begin = time.perf_counter()
    score_series(model, spec, values, sessions)
    return time.perf_counter() - begin


def scoring_throughput(model, spec: ModelSpec, values: np.ndarray, budget_s: float) -> dict:
    """Rows/s of scoring a prefix of ``values`` sized to take about ``budget_s``."""
    probe = min(len(values), spec.window + 2047)
    rate = probe / _time_scoring(model, spec, values[:probe])
    rows = int(min(len(values), max(probe, rate * budget_s)))
    seconds = _time_scoring(model, spec, values[:rows])
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def epoch_seconds(spec: ModelSpec, profile: str | None, values: np.ndarray, windows: int) -> dict:
    """Seconds of one training epoch over ``windows`` windows (plus a 64-window validation)."""
    import pytorch_lightning as pl

    from components.training.datamodule import WindowDataModule
    from components.training.fit import fit

    starts = np.arange(windows, dtype=np.int64) % (len(values) - spec.window)
    data = {"train": values, "val": values}
    pl.seed_everything(SEED, verbose=False)
    net = build_network(spec)
    if spec.kind in PROFILED:
        from components.training.teacher_profiles import teacher_config
        from components.training.teachers import teacher_module

        cfg = teacher_config(spec.kind, profile)
        module, batch = teacher_module(spec.kind, net, cfg), cfg.batch_size
    elif spec.kind == "student":
        from components.training.student_module import StudentModule

        module, batch = StudentModule(net, 3e-3, 0.05, 1.0), 256
    else:
        from components.training.lstm_ae_module import LstmAeModule

        module, batch = LstmAeModule(net, 3e-3), 256
    datamodule = WindowDataModule(data, {"train": starts, "val": starts[:64]}, spec.window, batch, SEED)
    seconds = fit(module, datamodule, max_epochs=1, patience=1, seed=SEED).seconds
    return {"windows": windows, "seconds": seconds, "s_per_1000_windows": 1000 * seconds / windows}


def run_speed(
    *, n_sensors: int = 7, rows: int = 200_000, budget_s: float = 10.0, profiles: tuple[str, ...] = ("fast", "paper"),
    train_windows: int = 4096, paper_train_windows: int = 256, growth: tuple[int, ...] = (10**4, 10**5, 10**6),
    threads: int = 2, progress=None,
) -> dict:
    """Measure everything in this module's docstring; returns the report."""
    import torch

    from components.benchmarks.environment import hardware
    from components.registry.tracking import git_commit

    machine = {**hardware(), "python": platform.python_version()}  # the load before we add ours
    say = progress or (lambda message: None)
    torch.set_num_threads(threads)
    values = np.random.default_rng(SEED).standard_normal((max(rows, *growth), n_sensors)).astype(np.float32)
    report: dict = {"scoring": {}, "training": {}, "growth": {}}
    for name, (spec, profile) in _specs(n_sensors, list(profiles)).items():
        model, ready = _ready_model(spec, values)
        report["scoring"][name] = scoring_throughput(model, ready, values[:rows], budget_s)
        say(f"score {name}: {report['scoring'][name]['rows_per_s']:,.0f} rows/s")
        if spec.kind not in ("pca", "iforest"):
            windows = paper_train_windows if profile == "paper" else train_windows
            report["training"][name] = epoch_seconds(spec, profile, values, windows)
            say(f"train {name}: {report['training'][name]['s_per_1000_windows']:.2f} s per 1000 windows")
    student, ready = _ready_model(_specs(n_sensors, [])["student"][0], values)
    for n in growth:
        seconds = _time_scoring(student, ready, values[:n])
        report["growth"][str(n)] = {"seconds": seconds, "rows_per_s": n / seconds}
        say(f"student {n:,} rows: {seconds:.2f} s")
    student_rate = report["scoring"]["student"]["rows_per_s"]
    report["student_speedup"] = {name: student_rate / r["rows_per_s"] for name, r in report["scoring"].items() if name != "student"}
    report["config"] = {
        "n_sensors": n_sensors, "rows": rows, "budget_s": budget_s, "profiles": list(profiles), "train_windows": train_windows,
        "paper_train_windows": paper_train_windows, "growth": list(growth), "torch_threads": threads, "seed": SEED,
    }
    report["git_commit"] = git_commit()
    report["hardware"] = machine
    return report
