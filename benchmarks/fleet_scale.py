"""Fleet training on Dask, a model per asset, on 1 and on 2 local workers in one run.

Usage (from the project root):
    .venv/bin/python benchmarks/fleet_scale.py [--assets 100] [--days 14] [--workers 1 2] [--max-epochs 5]

One demo plant of ``--assets`` pumps over ``--days`` days (a reading a minute) is written
once. For each worker count, a fresh project reads it: the repository's config with
``fleet.group_by: asset``, the student alone (no teachers or baselines, so each group's
cost is one network's training plus the pipeline around it; ``--max-epochs``, one thread)
and a fresh SQLite MLflow store; one ``retrain`` run (in a child process, as `anomflow
retrain` runs it) trains the groups on a temporary local Dask cluster of that many workers.

Measured per worker count: the whole run's wall time; the groups' stage (first group
started to last group ended), which is what Dask parallelises; each group's wall time
and its stages' mean; each worker's peak resident memory, and its resident memory after its first and its last
group (freed memory given back), whose difference over the groups between is the growth per model. Parallel efficiency = T(1) / (n · T(n)) on the groups'
stage. Writes reports/benchmarks/fleet_scale.json (``--out``) with the git commit and
hardware, and the projection for N machines (:func:`projection`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.benchmarks.environment import environment  # noqa: E402
from components.benchmarks.report_io import write_report  # noqa: E402


def project(root: Path, data: Path, workers: int, max_epochs: int) -> Path:
    """A project at ``root`` reading the plant at ``data``: a model per asset, the student alone."""
    cfg = yaml.safe_load((ROOT / "conf" / "pipeline.yaml").read_text())
    student = {**cfg["models"]["student"], "max_epochs": max_epochs, "num_threads": 1}
    cfg["models"] = {"student": student}
    cfg["fleet"] = {"group_by": "asset", "workers": workers, "threads_per_worker": 1}
    for source in cfg["ingest"]["sources"]:
        source["glob"] = str(data / Path(source["glob"]).name)
    cfg["ingest"]["labels"]["path"] = str(data / "labels.csv")
    (root / "conf").mkdir(parents=True)
    (root / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root


def run_once(root: Path) -> dict:
    """One ``retrain`` run in a child process at ``root``: its wall time and the groups' results."""
    out = root / "result.json"
    code = (
        "import json, sys; from flows.retrain import retrain\n"
        "if __name__ == '__main__':\n"
        f"    r = retrain(config_path='conf/pipeline.yaml'); json.dump(r['groups'], open({str(out)!r}, 'w'))\n"
    )
    (root / "run.py").write_text(code)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_LOGGING_LEVEL": "WARNING", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    env.pop("PREFECT_API_URL", None)  # an ephemeral server of its own, as `make demo` has
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "run.py"], cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"retrain failed in {root}:\n{done.stderr[-4000:]}")
    groups = json.loads(out.read_text())
    first, last = min(g["started_at"] for g in groups.values()), max(g["ended_at"] for g in groups.values())
    workers: dict[str, float] = {}
    resident: dict[str, list[float]] = {}  # each worker's resident memory after each of its groups, in order
    for g in sorted(groups.values(), key=lambda g: g["ended_at"]):
        workers[g["worker"]] = max(workers.get(g["worker"], 0.0), g["peak_rss_mib"])
        resident.setdefault(g["worker"], []).append(g["rss_mib"])
    seconds = sorted(g["seconds"] for g in groups.values())
    stages = {stage: sum(g["stage_s"][stage] for g in groups.values()) / len(groups) for stage in next(iter(groups.values()))["stage_s"]}
    return {
        "run_s": wall, "groups_s": last - first, "groups": len(groups),
        "group_s_mean": sum(seconds) / len(seconds), "group_s_p50": seconds[len(seconds) // 2], "group_s_max": seconds[-1],
        "group_s_sum": sum(seconds), "stage_s_mean": stages, "rows_per_group_mean": sum(g["rows"] for g in groups.values()) / len(groups),
        "worker_peak_rss_mib": sorted(workers.values()), "outside_groups_s": wall - (last - first),
        "worker_rss_after_groups_mib": [{"first": r[0], "last": r[-1], "groups": len(r)} for r in resident.values()],
    }


def projection(runs: dict[int, dict], fleet_sizes: tuple[int, ...], workers_per_machine: int = 2) -> dict:
    """Wall time of the groups' stage for each of ``fleet_sizes`` models on N machines of
    ``workers_per_machine`` workers each: ``ceil(models / (N·w)) · c``, where ``c`` is a
    group's measured wall time with ``w`` workers sharing a machine (the busiest run's
    mean; it includes their contention for memory bandwidth), plus nothing for the
    scheduler (its cost per task is milliseconds against tens of seconds). The fixed
    costs outside the groups (ingest and validation of the whole fleet, the router's
    registration, the cluster's start) stay on one machine and are added as measured;
    they grow with the fleet's rows, which this leaves out."""
    busiest = max(runs)
    per_group, fixed = runs[busiest]["group_s_mean"], runs[busiest]["outside_groups_s"]
    sizes = {}
    for models in fleet_sizes:
        sizes[str(models)] = {str(machines): math.ceil(models / (machines * workers_per_machine)) * per_group for machines in (1, 2, 4, 8, 16)}
    return {"per_group_s": per_group, "fixed_s": fixed, "workers_per_machine": workers_per_machine, "groups_s": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--max-epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/fleet_scale.json"))
    parser.add_argument("--reproject", action="store_true", help="only recompute the projection of the report at --out from its runs")
    args = parser.parse_args()
    if args.reproject:
        report = json.loads(args.out.read_text())
        runs = {int(w): r for w, r in report["runs"].items()}
        report["projection"] = projection(runs, _fleet_sizes(report["assets"]))
        write_report(report, args.out)
        return
    from components.sources.demo_plant import write_demo_plant

    with tempfile.TemporaryDirectory(prefix="anomflow-fleet-") as tmp:
        data = Path(tmp) / "plant"
        began = time.perf_counter()
        write_demo_plant(data, seed=7, days=args.days, assets=args.assets)
        print(f"plant: {args.assets} pumps x {args.days:g} days written in {time.perf_counter() - began:.0f} s", flush=True)
        runs = {}
        for workers in args.workers:
            runs[workers] = run_once(project(Path(tmp) / f"workers-{workers}", data, workers, args.max_epochs))
            r = runs[workers]
            print(f"{workers} worker(s): run {r['run_s']:.0f} s, groups {r['groups_s']:.0f} s ({r['groups']} groups, "
                  f"{r['group_s_mean']:.1f} s each), worker peak {max(r['worker_peak_rss_mib']):.0f} MiB", flush=True)
    base = min(runs)
    efficiency = {str(w): runs[base]["groups_s"] * base / (w * r["groups_s"]) for w, r in runs.items()}
    report = {
        **environment(), "assets": args.assets, "days": args.days, "max_epochs": args.max_epochs, "models": ["student"],
        "runs": {str(w): r for w, r in runs.items()}, "parallel_efficiency": efficiency,
        "projection": projection(runs, _fleet_sizes(args.assets)),
    }
    write_report(report, args.out)
    print("parallel efficiency on the groups' stage: " + ", ".join(f"{w} workers {e:.0%}" for w, e in efficiency.items()))


def _fleet_sizes(measured: int) -> tuple[int, ...]:
    """The fleet sizes projected: the one measured, 100 and 1,000 models."""
    return tuple(sorted({measured, 100, 1000}))


if __name__ == "__main__":
    main()
