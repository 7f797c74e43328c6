"""SKAB with one model per kind for all experiment files, on drift-tracked inputs: do our
models reach the issue's target (student F1 >= 0.85, FAR <= 10 %, MAR <= 20 %) when they
learn from all the normal rows SKAB gives instead of one file's 400?

Usage (from the project root):
    .venv/bin/python benchmarks/skab_fleet.py --data ../shared/datasets/skab [--seeds 7,8,9]

What differs from the leaderboard protocol (``anomflow benchmark skab``); the split into
each file's first 400 training rows and the rest as test rows, the metrics and the
best-threshold bounds are the same:

* Inputs: every sensor is replaced by its drift-tracking residual
  (:mod:`benchmarks.research_lib.drift_tracking`; ``--depth``-row reference over a
  ``--smooth``-row trailing mean, as in ``benchmarks/skab_tracked.py``), and a value
  joins its reference while its residual stays within the largest residual that sensor
  shows on *any* file's training rows (:func:`~benchmarks.research_lib.drift_tracking.fleet_tolerances`,
  multiplier 1), not 2 × its own file's largest: a temperature swing that some file's
  training rows show is normal everywhere.
* Models: one per kind, trained on every file's training rows at once, each file a
  session, with one threshold, the POT warning level on the 16 × 80 held-out training
  rows pooled (:mod:`benchmarks.research_lib.fleet`). No test row or label sets anything.

Stated, not hidden: depth and smoothing are the settings ``benchmarks/skab_ceiling.py``'s
tracking rule picks on SKAB's labels (see ``skab_tracked.py``); the multiplier 1 is not
tuned. ``--smooth auto`` takes the smoothing from the training rows' spectra instead
(the product's ``drift_tracking.smoothing: auto``), which no label sets. A file's model has seen the training rows of files recorded after it, which the
leaderboard protocol's model per file has not. With ``--peers`` (the python of
``make peers``), PyOD's window detectors are fitted the same way, one per detector for all
files (:func:`benchmarks.research_lib.fleet.score_peers_fleet`; LSTMAD fits one series at a
time and is listed as failed), once, with the peers' seed.

Writes reports/benchmarks/skab_fleet.json (``--out``): ``models`` = each of our models'
numbers averaged over the seeds (with ``*_sd`` and ``*_by_seed``), then the peers' (one
run), ``seeds`` = each seed's, ``peers`` = the peers' versions and settings, the fleet
tolerances and each file's rejected test rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.research_lib.drift_tracking import DEPTH, SMOOTH, fleet_tolerances, smoothing_arg, tracked_channel  # noqa: E402
from benchmarks.research_lib.fleet import fit_fleet  # noqa: E402
from components.detectors.registry import KINDS as ALL_MODELS  # noqa: E402
from components.features.smoothing import spectral_smoothing  # noqa: E402
from components.benchmarks.protocol import TORCH_THREADS, benchmark_config, config_record  # noqa: E402
from components.benchmarks.report_io import json_ready  # noqa: E402
from components.benchmarks.series_metrics import (  # noqa: E402
    VUS_WINDOW, alarm_rows, alarm_totals, mean_over_seeds, series_events, validation_alarm_rule, warning_threshold,
)
from components.benchmarks.skab import (  # noqa: E402
    TARGET_F1, TARGET_FAR, TARGET_MAR, TRAIN_ROWS, list_experiments, load_experiment, pooled_rates, sensor_columns, threshold_bounds,
)


CHOSEN_BY_SPECTRA = ", a width the training rows' spectra chose"


def tracked_fleet(data: Path, depth: int, smooth: int | str) -> tuple[list, list[str], np.ndarray, dict, int]:
    """(tracked experiments, sensor names, fleet tolerances (sensors,), each file's record,
    the smoothing used) of the experiment files under ``data``, which must all have the
    same sensors. ``smooth`` ``"auto"``: the smoothing every file's training rows' spectra
    call for (:func:`components.features.smoothing.spectral_smoothing`; no labels)."""
    files = list_experiments(data)
    sensors = sensor_columns(files[0])
    for path in files[1:]:
        if sensor_columns(path) != sensors:
            raise ValueError(f"{path}: sensors {sensor_columns(path)} differ from {files[0]}'s {sensors}; a fleet needs the same sensors")
    raw = [load_experiment(path, data) for path in files]
    if smooth == "auto":
        smooth = spectral_smoothing({e.name: np.asarray(e.train) for e in raw}, depth)
    tolerance = fleet_tolerances(raw, depth, smooth)
    tracked = [tracked_channel(e, sensors, depth, smooth, 1.0, tolerance) for e in raw]
    return [t[0] for t in tracked], sensors, tolerance, {e.name: t[1]["rejected_rows"] for e, t in zip(raw, tracked)}, smooth


def model_result(scores, experiments: list) -> dict:
    """One fleet model's SKAB numbers: pooled F1/FAR/MAR at its one threshold (``alarm_*``:
    of the event-level alarms, their rule set on the held-out rows), the
    best-threshold bounds, VUS-PR/PR-AUC/ROC-AUC as means over files, and its costs."""
    from components.scoring.metrics import pr_auc, roc_auc, vus_pr

    threshold, method = warning_threshold(scores.held_out)
    labels = [e.labels for e in experiments]
    rankings = {"vus_pr": lambda y, s: vus_pr(y, s, VUS_WINDOW), "pr_auc": pr_auc, "roc_auc": roc_auc}
    rule = validation_alarm_rule(scores.held_out, threshold)
    alarms = [alarm_rows(s, threshold, rule) for s in scores.tests]
    alarm_rates = pooled_rates(np.concatenate(labels), np.concatenate(alarms))
    return {
        **pooled_rates(np.concatenate(labels), np.concatenate(scores.tests) > threshold),
        **{f"alarm_{k}": alarm_rates[k] for k in ("f1", "far", "mar")},
        **alarm_totals([series_events(y, a) for y, a in zip(labels, alarms)]),
        "raise_after": rule.raise_after,
        **threshold_bounds(labels, scores.tests),
        **{m: float(np.nanmean([rank(y, s) for y, s in zip(labels, scores.tests)])) for m, rank in rankings.items()},
        "threshold": threshold,
        "threshold_method": method,
        "held_out_rows": len(scores.held_out),
        "rows_per_s": scores.scored_rows / scores.score_s if scores.score_s > 0 else float("nan"),
        "train_s": scores.train_s,
        "epochs": scores.epochs,
    }


def rates_line(name: str, result: dict) -> str:
    """One model's F1, FAR, MAR and VUS-PR as the script prints them."""
    return f"{name:20s} F1 {result['f1']:.3f}  FAR {result['far']:5.1f} %  MAR {result['mar']:5.1f} %  VUS-PR {result['vus_pr']:.3f}"


def run(
    data: str | Path, seeds: list[int], *, models: list[str] | None = None, profile: str = "fast", max_epochs: int | None = None,
    depth: int = DEPTH, smooth: int | str = SMOOTH, peers: str | Path | None = None, peer_models: list[str] | None = None, progress=print,
) -> dict:
    """The fleet benchmark on ``data`` for each of ``seeds`` (module doc); JSON-ready."""
    import torch

    from components.benchmarks.environment import torch_cpu
    from components.registry.tracking import git_commit

    torch.set_num_threads(TORCH_THREADS)
    data = Path(data)
    setting = smooth
    experiments, sensors, tolerance, rejected, smooth = tracked_fleet(data, depth, smooth)
    chosen_by = "from the training rows' spectra" if setting == "auto" else "as given"
    progress(f"smoothing: {smooth} rows ({chosen_by})")
    started = time.perf_counter()
    peer_results, peer_section = {}, None
    if peers is not None:  # first: a broken peers environment fails before the long part
        from benchmarks.research_lib.fleet import score_peers_fleet

        peer_scores, peer_section = score_peers_fleet(experiments, peers, detectors=peer_models, max_epochs=max_epochs, progress=progress)
        peer_results = {name: model_result(scores, experiments) for name, scores in peer_scores.items()}
        for name, r in peer_results.items():
            progress(rates_line(name, r))
    runs = []
    for seed in seeds:
        configs = benchmark_config(profile, list(models or ALL_MODELS), max_epochs=max_epochs, seed=seed)
        teachers, results = {}, {}
        for kind, cfg in configs.items():
            scores = fit_fleet(kind, cfg, experiments, teachers=teachers, seed=seed)
            if scores.model is not None:
                teachers[kind] = scores.model
            results[kind] = model_result(scores, experiments)
            progress(f"seed {seed} {rates_line(kind, results[kind])}")
        runs.append({"seed": seed, "models": results, "config": {kind: config_record(kind, cfg) for kind, cfg in configs.items()}})
    report = {
        "git_commit": git_commit(Path(__file__).resolve().parents[1]),
        "profile": profile,
        "protocol": {
            "train_rows": TRAIN_ROWS,
            "smoothing": {"setting": setting, "rows": smooth},
            "preprocessing": f"every sensor (trailing mean over {smooth} rows{CHOSEN_BY_SPECTRA if setting == 'auto' else ''}) is replaced by its residual from the mean of its last {depth} "
                             "accepted values; a value is accepted while its |residual| is within the largest that sensor shows on any "
                             "file's training rows (drift tracking after DSPOT, fleet tolerance)",
            "models": "one per kind, trained on every file's training rows (each file a session)",
            "threshold": "POT warning level on every file's held-out training rows (the last 80 of 400) pooled",
            "f1_far_mar": "one binary F1, FAR and MAR (%) over all files' test rows pooled",
            "vus_pr/pr_auc/roc_auc": "mean over files",
            "vus_window": VUS_WINDOW,
            "target": {"f1": TARGET_F1, "far": TARGET_FAR, "mar": TARGET_MAR},
            "max_epochs_cap": max_epochs,
            "torch_threads": TORCH_THREADS,
        },
        "config": runs[0]["config"],
        "dataset": {
            "path": str(data.resolve()),
            "channels": [e.name for e in experiments],
            "rows": {"test": int(sum(len(e.test) for e in experiments)), "test_anomalous": int(sum(int(e.labels.sum()) for e in experiments))},
        },
        "tolerances": dict(zip(sensors, tolerance.tolist())),
        "rejected_rows": rejected,
        "hardware": {**torch_cpu(), "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "models": {**{kind: mean_over_seeds([r["models"] for r in runs], kind, seeds) for kind in runs[0]["models"]}, **peer_results},
        "seeds": {str(r["seed"]): r["models"] for r in runs},
        "wall_s": time.perf_counter() - started,
    }
    if peer_section is not None:
        report["peers"] = peer_section
    return json_ready(report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder laid out like SKAB's data/")
    parser.add_argument("--seeds", default="7,8,9", help="comma-separated seeds")
    parser.add_argument("--models", default=None, help="comma-separated subset of our models (default: all)")
    parser.add_argument("--depth", type=int, default=DEPTH, help="rows in each sensor's reference mean")
    parser.add_argument("--smooth", type=smoothing_arg, default=SMOOTH, help="rows in the trailing mean applied first, or auto (from the training rows' spectra)")
    parser.add_argument("--peers", default=None, help="python of `make peers`' environment (PyOD)")
    parser.add_argument("--peer-models", default=None, help="comma-separated PyOD detectors (default: all)")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--out", default="reports/benchmarks/skab_fleet.json")
    args = parser.parse_args()
    report = run(args.data, [int(s) for s in args.seeds.split(",")], models=args.models.split(",") if args.models else None,
                 max_epochs=args.max_epochs, depth=args.depth, smooth=args.smooth, peers=args.peers,
                 peer_models=args.peer_models.split(",") if args.peer_models else None, progress=lambda m: print(m, flush=True))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    for name, m in report["models"].items():
        print(("" if name.startswith("pyod_") else "mean ") + rates_line(name, m))


if __name__ == "__main__":
    main()
