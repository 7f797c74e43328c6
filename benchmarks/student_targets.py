"""What the student learns from, on MSL: its teachers' targets alone against targets that
add the strongest baselines' scores (issue 31, item 4).

Usage (from the project root):
    .venv/bin/python benchmarks/student_targets.py --data ../shared/datasets/msl [--seeds 7,8,9]

MSL's benchmark protocol (:mod:`components.benchmarks.msl`: per channel, fit on the train
array's first 80 %, threshold on the rest, test on the test array). Per seed and channel
the teachers and the baselines named in the variants are fitted once; every student
variant then distils from them with the repository's student settings and only
``distillation.teacher_weights`` changed. No test row or label chooses anything: the
variants are fixed here, before the run.

Writes reports/benchmarks/student_targets_msl.json (``--out``): per variant the channel
mean VUS-PR, PR-AUC, ROC-AUC and pooled F1 per seed, and their means.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.benchmarks.msl import list_channels, load_channel  # noqa: E402
from components.benchmarks.protocol import benchmark_config, run_channel  # noqa: E402
from components.benchmarks.series_metrics import aggregate  # noqa: E402

TEACHERS = {"anomaly_transformer": 0.5, "omnianomaly": 0.5}
VARIANTS: dict[str, dict[str, float]] = {
    "teachers": TEACHERS,
    "teachers+copod": {"anomaly_transformer": 0.25, "omnianomaly": 0.25, "copod": 0.5},
    "teachers+copod+kmeans_ad": {"anomaly_transformer": 0.2, "omnianomaly": 0.2, "copod": 0.3, "kmeans_ad": 0.3},
    "copod": {"copod": 1.0},
}
METRICS = ("vus_pr", "pr_auc", "roc_auc", "f1")


def run(data: Path, seeds: list[int], variants: dict[str, dict[str, float]]) -> dict:
    sources = sorted({kind for weights in variants.values() for kind in weights})
    channels = [load_channel(data, name) for name in list_channels(data, None)]
    report: dict = {"variants": variants, "seeds": seeds, "channels": [c.name for c in channels], "per_seed": {}}
    for seed in seeds:
        configs = benchmark_config("fast", [*sources, "student"], seed=seed)
        fitted: dict[str, dict] = {c.name: {} for c in channels}
        for kind in sources:
            for channel in channels:
                _, arrays = run_channel(kind, configs[kind], channel, seed=seed)
                fitted[channel.name][kind] = arrays["model"]
        results = {}
        for name, weights in variants.items():
            cfg = configs["student"]
            cfg = cfg.with_settings("student", distillation=cfg.settings_of("student").distillation.model_copy(update={"teacher_weights": weights}))
            per_channel, pooled, start = {}, [], time.perf_counter()
            for channel in channels:
                metrics, arrays = run_channel("student", cfg, channel, teachers=fitted[channel.name], seed=seed)
                per_channel[channel.name] = metrics
                pooled.append(arrays)
            results[name] = {**{k: v for k, v in aggregate(per_channel, pooled).items() if k in METRICS}, "wall_s": time.perf_counter() - start}
            print(f"seed {seed} {name}: " + " ".join(f"{k} {results[name][k]:.3f}" for k in METRICS), flush=True)
        report["per_seed"][seed] = results
    report["mean"] = {
        name: {k: float(np.mean([report["per_seed"][s][name][k] for s in seeds])) for k in METRICS} for name in variants
    }
    report["std_vus_pr"] = {name: float(np.std([report["per_seed"][s][name]["vus_pr"] for s in seeds])) for name in variants}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seeds", default="7")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names of VARIANTS")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/student_targets_msl.json"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    chosen = {name: VARIANTS[name] for name in args.variants.split(",")}
    report = run(args.data, [int(s) for s in args.seeds.split(",")], chosen)
    args.out.write_text(json.dumps(report, indent=2))
    for name, values in report["mean"].items():
        print(f"{name}: " + " ".join(f"{k} {v:.3f}" for k, v in values.items()) + f" (vus_pr sd {report['std_vus_pr'][name]:.3f})")


if __name__ == "__main__":
    main()
