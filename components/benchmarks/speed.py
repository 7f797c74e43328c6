"""How fast every model trains and scores on this machine, measured in one run, through
the detector interface only (:mod:`components.detectors`).

Every model kind of the registry is measured, the teachers once per requested profile
(``anomaly_transformer_fast``, ``omnianomaly_paper``, …), each with its settings in the
benchmark config (:func:`components.benchmarks.protocol.benchmark_config`: the
repository's ``models:`` sections, training windows every row, ``max_epochs`` 1):

* **Training time per epoch**: the detector's ``fit`` (one epoch) on a synthetic prepared
  data set of ``n_sensors`` standard-normal sensors whose train split holds about
  ``train_windows`` windows (``paper_train_windows`` for the paper profiles) and whose
  validation split holds :data:`VAL_WINDOWS`; the fit's seconds (the Lightning epoch, its
  validation included) are reported per 1000 of the training windows the epoch actually
  ran (the student's include its injected copies). Kinds fitted without epochs (the
  window baselines) report no per-epoch figure. The student is fitted without teachers.
* **Scoring throughput** (rows/s): the fitted detector's
  :meth:`~components.detectors.base.Detector.score` of a synthetic standard-normal series,
  the code path of the evaluate stage and of serving (row ``t`` from the window ending at
  ``t``). Slow models score as many rows as fit in ``budget_s`` (measured on a probe
  first), so a paper-sized Anomaly Transformer does not take hours; ``rows`` says how many.
* **Growth**: the student's scoring time for 10^4 … ``max_rows`` rows.

Speed does not depend on how well a model fitted, so one epoch on noise is enough.
"""

from __future__ import annotations

import platform
import time

import numpy as np

SEED = 0
VAL_WINDOWS = 64


def measured_models(profiles: list[str], *, threads: int = 2) -> dict[str, tuple[str, object, str | None]]:
    """Name → (kind, benchmark config, teacher profile or None) of every model measured:
    every registered kind, the teachers (kinds with profiles) once per profile."""
    from components.benchmarks.protocol import benchmark_config
    from components.detectors.registry import KINDS, detector_class

    def profiled(kind: str) -> bool:
        return "profile" in detector_class(kind).Settings.model_fields

    base = benchmark_config(profiles[0] if profiles else "fast", list(KINDS), max_epochs=1, seed=SEED, threads=threads)
    by_profile = {profile: benchmark_config(profile, list(KINDS), max_epochs=1, seed=SEED, threads=threads) for profile in profiles}
    out = {}
    for kind in KINDS:
        if profiled(kind):
            out.update({f"{kind}_{profile}": (kind, configs[kind], profile) for profile, configs in by_profile.items()})
        else:
            out[kind] = (kind, base[kind], None)
    return out


def synthetic_prepared(n_sensors: int, train_rows: int, val_rows: int, seed: int = SEED):
    """Prepared splits of standard-normal sensors (one session, identity scaling): train,
    validation and a one-row test split."""
    from components.benchmarks.protocol import arrays_as_prepared
    from components.features.scaling import StandardScaler

    rng = np.random.default_rng(seed)
    values = rng.standard_normal((train_rows + val_rows + 1, n_sensors)).astype(np.float32)
    sensors = tuple(f"s{i}" for i in range(n_sensors))
    scaler = StandardScaler(sensors, (0.0,) * n_sensors, (1.0,) * n_sensors)
    train, val, test = values[:train_rows], values[train_rows:-1], values[-1:]
    return arrays_as_prepared(train, val, test, np.zeros(1, dtype=np.int8), scaler)


def fitted_detector(kind: str, cfg, n_sensors: int, windows: int, *, val_windows: int = VAL_WINDOWS, seed: int = SEED) -> tuple:
    """(detector, training record) of ``kind`` fitted with its settings in ``cfg`` (one
    epoch where it trains epochs) on :func:`synthetic_prepared` data whose train split
    holds ``windows`` windows (at the kind's ``train_stride``). The record: the fit's
    ``seconds``, the training ``windows`` the epoch ran and ``s_per_1000_windows``, or
    None for a kind fitted without epochs; ``fit_s`` = the whole fit call."""
    import torch

    from components.benchmarks.scale import EpochTimer, instrumented_trainer
    from components.training.train import fit_model

    settings = cfg.settings_of(kind)
    rows = (windows - 1) * settings.train_stride + settings.window
    prepared = synthetic_prepared(n_sensors, rows, val_windows + settings.window - 1, seed)
    timer = EpochTimer().callback
    torch.manual_seed(seed)
    begin = time.perf_counter()
    with instrumented_trainer(timer, None, None):
        detector, fitted = fit_model(cfg.model_copy(update={"seed": seed}), prepared, kind, trained={})
    fit_s = time.perf_counter() - begin
    if not fitted.history:  # fitted without epochs: no per-epoch figure
        return detector, None
    ran = timer.windows.get("train") or windows
    return detector, {
        "windows": ran, "seconds": fitted.seconds, "s_per_1000_windows": 1000 * fitted.seconds / ran, "fit_s": fit_s,
        "val_windows": timer.windows.get("val"), "batch_size": getattr(timer, "batch_size", None),
    }


def time_scoring(detector, values: np.ndarray) -> float:
    """Seconds of ``detector.score`` on ``values`` (rows, n_sensors) as one session."""
    sessions = np.zeros(len(values), dtype=np.int8)
    begin = time.perf_counter()
    detector.score(values, sessions)
    return time.perf_counter() - begin


def scoring_throughput(detector, values: np.ndarray, budget_s: float) -> dict:
    """Rows/s of scoring a prefix of ``values`` sized to take about ``budget_s``."""
    probe = min(len(values), detector.window + 2047)
    rate = probe / time_scoring(detector, values[:probe])
    rows = int(min(len(values), max(probe, rate * budget_s)))
    seconds = time_scoring(detector, values[:rows])
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}


def run_speed(
    *, n_sensors: int = 7, rows: int = 200_000, budget_s: float = 10.0, profiles: tuple[str, ...] = ("fast", "paper"),
    train_windows: int = 4096, paper_train_windows: int = 256, growth: tuple[int, ...] = (10**4, 10**5, 10**6),
    threads: int = 2, progress=None,
) -> dict:
    """Measure everything in this module's docstring; returns the report."""
    import torch

    from components.benchmarks.environment import hardware
    from components.detectors.registry import SERVED_KIND
    from components.registry.tracking import git_commit

    machine = {**hardware(), "python": platform.python_version()}  # the load before we add ours
    say = progress or (lambda message: None)
    torch.set_num_threads(threads)
    values = np.random.default_rng(SEED).standard_normal((max(rows, *growth), n_sensors)).astype(np.float32)
    report: dict = {"scoring": {}, "training": {}, "growth": {}}
    fitted = {}
    for name, (kind, cfg, profile) in measured_models(list(profiles), threads=threads).items():
        windows = paper_train_windows if profile == "paper" else train_windows
        detector, training = fitted_detector(kind, cfg, n_sensors, windows)
        torch.set_num_threads(threads)  # a fit sets its own
        if training is not None:
            report["training"][name] = training
            say(f"train {name}: {training['s_per_1000_windows']:.2f} s per 1000 windows")
        report["scoring"][name] = scoring_throughput(detector, values[:rows], budget_s)
        say(f"score {name}: {report['scoring'][name]['rows_per_s']:,.0f} rows/s")
        fitted[name] = detector
    served = fitted[SERVED_KIND]
    for n in growth:
        seconds = time_scoring(served, values[:n])
        report["growth"][str(n)] = {"seconds": seconds, "rows_per_s": n / seconds}
        say(f"{SERVED_KIND} {n:,} rows: {seconds:.2f} s")
    served_rate = report["scoring"][SERVED_KIND]["rows_per_s"]
    report["student_speedup"] = {name: served_rate / r["rows_per_s"] for name, r in report["scoring"].items() if name != SERVED_KIND}
    report["config"] = {
        "n_sensors": n_sensors, "rows": rows, "budget_s": budget_s, "profiles": list(profiles), "train_windows": train_windows,
        "paper_train_windows": paper_train_windows, "val_windows": VAL_WINDOWS, "growth": list(growth), "torch_threads": threads,
        "seed": SEED, "training": "one epoch of each detector's fit on standard-normal data (benchmark config, max_epochs 1, "
        "train_stride 1, no teachers for the student); seconds per 1000 training windows the epoch ran",
    }
    report["git_commit"] = git_commit()
    report["hardware"] = machine
    return report
