"""What the student learns from, on MSL or SKAB: its teachers' targets alone against
targets that add the strongest baselines' scores on that dataset (issue 31, item 4).

Usage (from the project root):
    .venv/bin/python benchmarks/student_targets.py --data ../shared/datasets/msl [--seeds 7,8,9]
    .venv/bin/python benchmarks/student_targets.py --dataset skab --data ../shared/datasets/skab --seeds 7,8,9

Each dataset's per-series benchmark protocol (MSL, :mod:`components.benchmarks.msl`: per
channel, fit on the train array's first 80 %, threshold on the rest, test on the test
array; SKAB, :mod:`components.benchmarks.skab`: per file, the same on its first 400
rows). Per seed and series the teachers and the baselines named in the variants are
fitted once; every student variant then distils from them with the repository's student
settings and only ``distillation.teacher_weights`` changed. No test row or label chooses
anything: the variants are fixed here, before the run, each dataset's from its own
leaderboard (MSL: COPOD and K-means; SKAB: PCA and ECOD, its two best baselines).

Writes reports/benchmarks/student_targets_<dataset>.json (``--out``): per variant the
series-mean VUS-PR, PR-AUC, ROC-AUC and the pooled F1, FAR and MAR (%) per seed, and their
means.
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
from components.benchmarks.skab import list_experiments, load_experiment, pooled_rates  # noqa: E402

TEACHERS = {"anomaly_transformer": 0.5, "omnianomaly": 0.5}
VARIANTS: dict[str, dict[str, dict[str, float]]] = {
    "msl": {
        "teachers": TEACHERS,
        "teachers+copod": {"anomaly_transformer": 0.25, "omnianomaly": 0.25, "copod": 0.5},
        "teachers+copod+kmeans_ad": {"anomaly_transformer": 0.2, "omnianomaly": 0.2, "copod": 0.3, "kmeans_ad": 0.3},
        "copod": {"copod": 1.0},
    },
    "skab": {
        "teachers": TEACHERS,
        "teachers+pca": {"anomaly_transformer": 0.25, "omnianomaly": 0.25, "pca": 0.5},
        "teachers+pca+ecod": {"anomaly_transformer": 0.2, "omnianomaly": 0.2, "pca": 0.3, "ecod": 0.3},
        "pca": {"pca": 1.0},
    },
}
METRICS = ("vus_pr", "pr_auc", "roc_auc", "f1", "far", "mar")


def load_series(dataset: str, data: Path) -> list:
    """Every series of ``dataset`` (``msl`` channels or ``skab`` experiment files) under ``data``."""
    if dataset == "msl":
        return [load_channel(data, name) for name in list_channels(data, None)]
    return [load_experiment(path, data) for path in list_experiments(data)]


def run(data: Path, seeds: list[int], variants: dict[str, dict[str, float]], dataset: str = "msl", max_epochs: int | None = None) -> dict:
    sources = sorted({kind for weights in variants.values() for kind in weights})
    channels = load_series(dataset, data)
    report: dict = {"dataset": dataset, "variants": variants, "seeds": seeds, "channels": [c.name for c in channels], "per_seed": {}}
    for seed in seeds:
        configs = benchmark_config("fast", [*sources, "student"], seed=seed, max_epochs=max_epochs)
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
            rates = pooled_rates(np.concatenate([a["labels"] for a in pooled]), np.concatenate([a["pred"] for a in pooled]))
            results[name] = {**{k: v for k, v in {**aggregate(per_channel, pooled), "far": rates["far"], "mar": rates["mar"]}.items() if k in METRICS},
                             "wall_s": time.perf_counter() - start}
            print(f"seed {seed} {name}: " + " ".join(f"{k} {results[name][k]:.3f}" for k in METRICS), flush=True)
        report["per_seed"][seed] = results
    report["mean"] = {
        name: {k: float(np.mean([report["per_seed"][s][name][k] for s in seeds])) for k in METRICS} for name in variants
    }
    report["std_vus_pr"] = {name: float(np.std([report["per_seed"][s][name]["vus_pr"] for s in seeds])) for name in variants}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(VARIANTS), default="msl")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seeds", default="7")
    parser.add_argument("--variants", default=None, help="comma-separated names of the dataset's VARIANTS (default: all)")
    parser.add_argument("--max-epochs", type=int, default=None, help="cap every network's epochs (for a quick check)")
    parser.add_argument("--out", type=Path, default=None, help="default: reports/benchmarks/student_targets_<dataset>.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    variants = VARIANTS[args.dataset]
    chosen = {name: variants[name] for name in args.variants.split(",")} if args.variants else variants
    report = run(args.data, [int(s) for s in args.seeds.split(",")], chosen, args.dataset, args.max_epochs)
    out = args.out or Path(f"reports/benchmarks/student_targets_{args.dataset}.json")
    out.write_text(json.dumps(report, indent=2))
    for name, values in report["mean"].items():
        print(f"{name}: " + " ".join(f"{k} {v:.3f}" for k, v in values.items()) + f" (vus_pr sd {report['std_vus_pr'][name]:.3f})")


if __name__ == "__main__":
    main()
