"""MSL with every channel drift-tracked by the pipeline's tracker at its shipped defaults:
the drift-tracking on/off ablation on MSL (issue 31).

Usage (from the project root):
    .venv/bin/python benchmarks/msl_tracked.py --data ../shared/datasets/msl [--seeds 7] [--models ...]

MSL's benchmark protocol (:mod:`components.benchmarks.msl`: one model per channel, fit on
the train array's first 80 %, threshold on the rest, test on the test array), with each
channel's columns first replaced by their drift-tracking residuals
(:func:`benchmarks.research_lib.drift_tracking.tracked_channel`, which runs
:class:`components.features.drift.DriftTracker`) at ``prepare.drift_tracking``'s defaults
(depth 100, smoothing 1, multiplier 2): the train array is the tracker's training rows,
the test array continues from its state. Nothing is chosen on MSL's labels. The "off"
side of the ablation is ``anomflow benchmark msl`` (``reports/benchmarks/msl_fast.json``)
at the same seeds.

Writes ``reports/benchmarks/msl_tracked.json`` (``--out``): the MSL report's ``models``
and ``per_channel`` plus the tracking settings.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.research_lib.drift_tracking import tracked_channel  # noqa: E402
from components.benchmarks.msl import run_seed, list_channels, load_channel  # noqa: E402
from components.benchmarks.protocol import TORCH_THREADS, benchmark_config  # noqa: E402
from components.benchmarks.report_io import write_report  # noqa: E402
from components.benchmarks.series_metrics import mean_over_seeds  # noqa: E402
from components.features.drift import DriftTrackingConfig  # noqa: E402

MODELS = ("anomaly_transformer", "omnianomaly", "student", "pca", "iforest", "kmeans_ad", "copod", "ecod")


def run(data: Path, seeds: list[int], models: list[str]) -> dict:
    """The tracked MSL benchmark (module doc); JSON-ready."""
    import torch

    torch.set_num_threads(TORCH_THREADS)
    defaults = DriftTrackingConfig()
    channels = []
    for name in list_channels(data, None):
        raw = load_channel(data, name)
        tracked, _ = tracked_channel(raw, [str(j) for j in range(raw.train.shape[1])], defaults.depth, defaults.smoothing, defaults.multiplier)
        channels.append(tracked)
    started = time.perf_counter()
    runs = [run_seed(benchmark_config("fast", models, seed=seed), channels, 1, seed, lambda m: print(m, flush=True)) for seed in seeds]
    return {
        "protocol": "MSL's (components.benchmarks.msl), every channel drift-tracked first (prepare.drift_tracking defaults)",
        "drift_tracking": defaults.model_dump(),
        "seeds": seeds,
        "dataset": {"path": str(data.resolve()), "channels": [c.name for c in channels]},
        "models": {kind: mean_over_seeds([aggregates for aggregates, _ in runs], kind, seeds) for kind in runs[0][0]},
        "per_channel": {kind: {name: mean_over_seeds([per[kind] for _, per in runs], name, seeds) for name in runs[0][1][kind]} for kind in runs[0][1]},
        "wall_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seeds", default="7")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/msl_tracked.json"))
    args = parser.parse_args()
    report = run(args.data, [int(s) for s in args.seeds.split(",")], args.models.split(","))
    write_report(report, args.out)
    for kind, m in report["models"].items():
        print(f"{kind:20s} VUS-PR {m['vus_pr']:.3f}  F1 {m['f1']:.3f}  alarm events {m['alarm_events_found']}/{m['events']}")


if __name__ == "__main__":
    main()
