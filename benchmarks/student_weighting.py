"""Would a tail-probability term in the student's score put it ahead of COPOD and ECOD on
MSL, and at what cost on the demo plant? (issue 31, item 4: "its own score weighting").

Usage (from the project root, after ``make demo``):
    .venv/bin/python benchmarks/student_weighting.py --data ../shared/datasets/msl [--seeds 7] [--combinations 'mix 0,gated']

Scores in units of each model's own POT warning level (``(s − m) / (threshold − m)``, ``m``
= min(0, lowest validation score), as the benchmarks' pooled PA-F1 uses), so combining
needs no label; the combinations (:data:`COMBINATIONS`) are fixed here before the run:
``mix w`` = ``(1 − w) · student + w · ecod`` (``mix 0`` is the student, ``mix 1`` ECOD),
``gated`` = ``student + max(0, ecod − 1)``: ECOD counts only beyond its own warning
level, where a reading is rarer than anything the validation rows make likely (the study
behind the student's built-in tail gate, :mod:`components.models.tail_gate`, which is
switched off here so that ``mix 0`` is the student alone). On MSL (its benchmark protocol, :mod:`components.benchmarks.msl`) the
student (distilled from both teachers) and ECOD are fitted per channel and seed, and every
combination is thresholded on its validation rows like any model. On the demo plant the
combination is made from ``make demo``'s ``reports/scores_test.parquet`` with each model's
warning level from ``thresholds/`` (``s / warning``, the served scores' units).

Writes ``reports/benchmarks/student_weighting.json`` (``--out``): per combination, MSL's channel
mean VUS-PR, PR-AUC, ROC-AUC and pooled F1 per seed and their mean; the demo's VUS-PR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.benchmarks.msl import list_channels, load_channel  # noqa: E402
from components.benchmarks.protocol import TORCH_THREADS, benchmark_config, run_channel  # noqa: E402
from components.benchmarks.report_io import write_report  # noqa: E402
from components.benchmarks.series_metrics import VUS_WINDOW, aggregate, evaluate_scores  # noqa: E402

METRICS = ("vus_pr", "pr_auc", "roc_auc", "f1")
TAIL = "ecod"
COMBINATIONS = {
    **{f"mix {w:g}": (lambda w: lambda student, tail: (1 - w) * student + w * tail)(w) for w in (0.0, 0.25, 0.5, 1.0)},
    "gated": lambda student, tail: student + np.maximum(0.0, tail - 1.0),
}
"""Name -> combined score of (student, tail) scores in warning-level units (module doc)."""


def in_units(metrics: dict, arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    """(validation, test) scores of one fitted series in units of its warning level."""
    floor, threshold = metrics["threshold_floor"], metrics["threshold"]
    scale = threshold - floor if threshold > floor else 1.0
    val = arrays["training_scores"][-metrics["val_rows"]:]
    return (val - floor) / scale, (arrays["scores"] - floor) / scale


def msl_combinations(data: Path, seeds: list[int], names: list[str]) -> dict:
    """{seed: {combination: MSL aggregates}} of the combined scores (module doc)."""
    channels = [load_channel(data, name) for name in list_channels(data, None)]
    out: dict = {}
    for seed in seeds:
        configs = benchmark_config("fast", ["anomaly_transformer", "omnianomaly", "student", TAIL], seed=seed)
        student = configs["student"].settings_of("student")  # the student alone: the combinations add the tail themselves
        configs["student"] = configs["student"].with_settings("student", tail_gate=student.tail_gate.model_copy(update={"enabled": False}))
        per_combination: dict[str, tuple[dict, list]] = {name: ({}, []) for name in names}
        for channel in channels:
            teachers = {k: run_channel(k, configs[k], channel, seed=seed)[1]["model"] for k in ("anomaly_transformer", "omnianomaly")}
            student = in_units(*run_channel("student", configs["student"], channel, teachers=teachers, seed=seed, score_train=True))
            tail = in_units(*run_channel(TAIL, configs[TAIL], channel, seed=seed, score_train=True))
            for name in names:
                combine = COMBINATIONS[name]
                metrics, arrays = evaluate_scores(combine(student[0], tail[0]), combine(student[1], tail[1]), channel.labels)
                per_combination[name][0][channel.name] = {**metrics, "train_s": 0.0, "score_s": 0.0, "epochs": 0, "test_rows": len(channel.test)}
                per_combination[name][1].append(arrays)
            print(f"seed {seed} {channel.name} done", flush=True)
        out[str(seed)] = {name: {k: aggregate(*per_combination[name])[k] for k in METRICS} for name in names}
        for name in names:
            print(f"seed {seed} {name}: " + " ".join(f"{k} {out[str(seed)][name][k]:.3f}" for k in METRICS), flush=True)
    return out


def demo_combinations(project: Path, names: list[str]) -> dict:
    """{combination: VUS-PR} on the demo's test rows (module doc)."""
    from components.scoring.metrics import vus_pr

    scores = pd.read_parquet(project / "reports" / "scores_test.parquet")
    scored = scores["score_student"].notna() & scores[f"score_{TAIL}"].notna()

    def units(kind: str) -> np.ndarray:
        warning = json.loads((project / "thresholds" / f"{kind}.json").read_text())["warning"]
        return scores.loc[scored, f"score_{kind}"].to_numpy() / warning

    labels = scores.loc[scored, "label"].to_numpy()
    return {name: vus_pr(labels, COMBINATIONS[name](units("student"), units(TAIL)), VUS_WINDOW) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seeds", default="7")
    parser.add_argument("--combinations", default=",".join(COMBINATIONS), help=f"comma-separated, of {list(COMBINATIONS)}")
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/student_weighting.json"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(TORCH_THREADS)
    names = args.combinations.split(",")
    unknown = [name for name in names if name not in COMBINATIONS]
    if unknown:
        parser.error(f"unknown combination(s) {unknown}; known: {list(COMBINATIONS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    demo = demo_combinations(ROOT, names)
    msl = msl_combinations(args.data, seeds, names)
    report = {
        "tail": TAIL, "combinations": names, "seeds": seeds, "demo_vus_pr": demo, "msl": msl,
        "msl_mean": {name: {k: float(np.mean([msl[str(s)][name][k] for s in seeds])) for k in METRICS} for name in names},
    }
    write_report(report, args.out)
    for name in names:
        print(f"{name}: demo VUS-PR {demo[name]:.3f}, MSL " + " ".join(f"{k} {report['msl_mean'][name][k]:.3f}" for k in METRICS))


if __name__ == "__main__":
    main()
