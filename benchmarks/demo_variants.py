"""`make demo`'s retrain under several seeds and settings: how much of the demo's
leaderboard is the seed, and what drift tracking, DSPOT thresholds and the event-level
alarm rule change.

Usage (from the project root, after ``make demo`` has written ``data/demo``):
    .venv/bin/python benchmarks/demo_variants.py [--variants default,drift_tracking] [--seeds 7,8,9]

Each run copies ``conf/`` and ``data/demo`` into a scratch project, applies the variant's
settings to ``conf/pipeline.yaml`` (:data:`VARIANTS`) and the seed, and runs
``anomflow retrain`` there (its own SQLite MLflow, ephemeral Prefect), one run at a time.
From each run it keeps every model's test metrics (``reports/metrics.json``) and, from
``reports/scores_test.parquet``, the false-alarm events per asset-day of the *point*
levels (each row alarming at its own level, rule 1/1) beside those of the alarm rule that
the run chose on its validation rows, which is the alarm-logic-off/on ablation. No
setting is chosen on test rows: the variants are fixed here before the runs.

Writes ``reports/benchmarks/demo_variants.json`` (``--out``): ``runs`` = {"<variant>
seed <n>": {variant, seed, overrides, wall_s, models: {kind: metrics}}}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.benchmarks.report_io import write_report  # noqa: E402
from components.scoring.alarms import AlarmRule, alarms_by_asset, event_metrics, index_of_levels  # noqa: E402

VARIANTS: dict[str, dict] = {
    "default": {},
    "drift_tracking": {"prepare": {"drift_tracking": {"enabled": True}}},
    "dspot": {"threshold": {"method": "dspot"}},
    "no_tail_gate": {"models": {"student": {"tail_gate": {"enabled": False}}}},
}
"""Variant name -> settings merged into ``conf/pipeline.yaml`` (nested sections)."""

KEPT = ("vus_pr", "pr_auc", "roc_auc", "f1", "events", "events_detected", "alarm_events_found",
        "alarm_false_events_per_asset_day", "alarm_mean_delay_rows", "raise_after", "clear_after", "train_s")


def merged(base: dict, overrides: dict) -> dict:
    """``base`` with ``overrides`` merged in, section by section (a new dict)."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def point_false_events(scores: pd.DataFrame, kind: str, interval_s: float) -> float:
    """False-alarm events per asset-day of ``kind``'s instantaneous levels (rule 1/1) on
    the normal test rows of ``scores`` (scores_test.parquet: rows of each asset in time order)."""
    index = index_of_levels(scores[f"level_{kind}"].to_numpy())
    assets = scores["asset"].to_numpy()
    alarm = alarms_by_asset(index, assets, AlarmRule(1, 1))
    return event_metrics(scores["label"].to_numpy(), alarm, assets, index, interval_s)["alarm_false_events_per_asset_day"]


def run_variant(name: str, seed: int, anomflow: Path) -> dict:
    """One retrain of the demo under variant ``name`` and ``seed``; its record."""
    config = yaml.safe_load((ROOT / "conf" / "pipeline.yaml").read_text())
    overrides = VARIANTS[name]
    config = merged(config, {**overrides, "seed": seed})
    with tempfile.TemporaryDirectory(prefix=f"demo-{name}-{seed}-") as scratch:
        project = Path(scratch)
        shutil.copytree(ROOT / "conf", project / "conf")
        shutil.copytree(ROOT / "data" / "demo", project / "data" / "demo")
        (project / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        env = {**os.environ, "PATH": f"{anomflow.parent}{os.pathsep}{os.environ['PATH']}"}
        started = time.perf_counter()
        done = subprocess.run([str(anomflow), "retrain", "--config", "conf/pipeline.yaml"], cwd=project, env=env,
                              capture_output=True, text=True)
        wall_s = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"variant {name} seed {seed}: retrain exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        metrics = json.loads((project / "reports" / "metrics.json").read_text())
        scores = pd.read_parquet(project / "reports" / "scores_test.parquet")
    interval_s = float(config["prepare"]["interval_s"])
    models = {
        kind: {**{k: values.get(k) for k in KEPT}, "point_false_events_per_asset_day": point_false_events(scores, kind, interval_s)}
        for kind, values in metrics.items()
    }
    return {"variant": name, "seed": seed, "overrides": overrides, "wall_s": wall_s, "models": models}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {list(VARIANTS)}")
    parser.add_argument("--seeds", default="7,8,9")
    parser.add_argument("--anomflow", default=str(ROOT / ".venv" / "bin" / "anomflow"))
    parser.add_argument("--out", default="reports/benchmarks/demo_variants.json")
    args = parser.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    if not (ROOT / "data" / "demo").is_dir():
        parser.error("data/demo not found: run `make demo` (or `anomflow demo-data --out data/demo`) first")
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {"runs": {}}  # runs of other variants are kept
    import torch

    from components.registry.tracking import git_commit

    for name in names:
        for seed in (int(s) for s in args.seeds.split(",")):
            record = {**run_variant(name, seed, Path(args.anomflow)), "git_commit": git_commit(ROOT)}
            report["runs"][f"{name} seed {seed}"] = record
            student = record["models"].get("student", {})
            print(f"{name} seed {seed}: {record['wall_s']:.0f} s, student VUS-PR {student.get('vus_pr', float('nan')):.3f}", flush=True)
            report.update({
                "what": "make demo's retrain (conf/pipeline.yaml, demo plant) under each variant's settings and seed; test split",
                "git_commit": git_commit(ROOT),
                "hardware": {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(), "torch": torch.__version__},
                "variants": VARIANTS,
            })
            write_report(report, out)


if __name__ == "__main__":
    main()
