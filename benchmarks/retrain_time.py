"""Wall time of the whole `retrain` flow (ingest → validate → prepare → train → threshold →
evaluate → register) on the demo plant and on one SKAB file.

Usage (from the project root):
    PATH=.venv/bin:$PATH .venv/bin/python benchmarks/retrain_time.py --dataset skab   # ~2-4 min
    PATH=.venv/bin:$PATH .venv/bin/python benchmarks/retrain_time.py --dataset demo   # ~9 min, both cores

Each run builds a fresh project in a temporary directory: ``conf/pipeline.yaml`` generated
from the repository's (every path absolute inside the temporary project: ingest globs,
labels, artifacts, models, reports, the MLflow store), any teacher ``profile_file`` it
names (the default profiles ship with the package), and the data:

* ``demo``: the seeded demo plant (`anomflow demo-data`: 3 pumps × 14 days at 1 min),
  the repository's config unchanged but for the paths;
* ``skab``: one SKAB experiment (default ``valve1/0.csv``, ~1,150 rows at 1 s) read by
  the plain-CSV source (``;``, ``datetime``, label column ``anomaly``, ``changepoint``
  dropped), validate at ``expected_interval_s: 1`` with every sensor declared (no
  ranges), prepare at ``interval_s: 1``, ``max_gap_s: 10``, ``impute_limit_s: 5`` and
  ``train_fraction: 0.35``, ``val_fraction: 0.15`` (SKAB's faults start about halfway
  through a file; train and validation must lie before them); every model parameter as
  in the repository's config.

Then it runs the real CLI, `anomflow retrain --config conf/pipeline.yaml`, as a child
process with the temporary project as working directory, an ephemeral Prefect API and a
fresh ``PREFECT_HOME`` (so the Prefect database is new, as on a fresh clone, and can be
read afterwards): ``wall_s`` is the process (interpreter, imports, temporary Prefect
server, flow); ``flow_s`` the flow run as Prefect recorded it; ``stages`` every task run
(start and end relative to the flow's start: the models train concurrently, so their
seconds overlap) and ``models`` each model's fit time (``fit_summary.json``). Peak RSS:
the largest process (``ru_maxrss``) and the sampled sum over the process tree (the
training children run concurrently). Writes (merges into) reports/benchmarks/retrain_time.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from components.benchmarks.environment import environment, run_watched
from components.sources.ingest import snake_case

REPO = Path(__file__).resolve().parents[1]
SKAB_DEFAULT = Path("../shared/datasets/skab/valve1/0.csv")  # beside the project, as in the README
SKAB_NON_SENSORS = ("datetime", "anomaly", "changepoint")


def _absolute_paths(cfg: dict, root: Path) -> dict:
    """``cfg`` with every output path and the MLflow store inside ``root``."""
    cfg["paths"] = {name: str(root / name) for name in ("artifacts", "models", "reports")}
    cfg["mlflow"] = {**cfg.get("mlflow", {}), "tracking_uri": f"sqlite:///{root / 'mlruns' / 'mlflow.db'}", "artifact_root": str(root / "mlruns" / "artifacts")}
    return cfg


def _project(root: Path, cfg: dict, repo_conf: Path) -> Path:
    (root / "conf").mkdir(parents=True, exist_ok=True)
    (root / "mlruns").mkdir(exist_ok=True)
    for section in (cfg.get("models") or {}).values():  # teacher profiles ship with the package; a profile_file of the config's travels with it
        profile_file = (section or {}).get("profile_file")
        if profile_file and not Path(profile_file).is_absolute():
            (root / "conf" / profile_file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo_conf / profile_file, root / "conf" / profile_file)
    path = root / "conf" / "pipeline.yaml"
    path.write_text(yaml.safe_dump(_absolute_paths(cfg, root), sort_keys=False))
    return path


def demo_project(root: Path, *, repo_conf: Path = REPO / "conf", days: int = 14, assets: int = 3, seed: int = 7) -> Path:
    """The demo plant under ``root/data/demo`` and the repository's config pointed at it."""
    from components.sources.demo_plant import write_demo_plant

    data = root / "data" / "demo"
    write_demo_plant(data, seed=seed, days=days, assets=assets)
    cfg = yaml.safe_load((repo_conf / "pipeline.yaml").read_text())
    for source in cfg["ingest"]["sources"]:
        source["glob"] = str(data / Path(source["glob"]).name)
    if cfg["ingest"].get("labels"):
        cfg["ingest"]["labels"]["path"] = str(data / "labels.csv")
    return _project(root, cfg, repo_conf)


def skab_sensors(path: Path) -> list[str]:
    """The snake_case sensor names of a SKAB file (what ingest makes of its header)."""
    with path.open() as handle:
        header = handle.readline().strip().split(";")
    return [snake_case(name) for name in header if name.strip() not in SKAB_NON_SENSORS]


def skab_config(repo_cfg: dict, data_dir: Path, sensors: list[str]) -> dict:
    """The repository's config for SKAB files in ``data_dir``: plain-CSV source, 1 s interval."""
    cfg = dict(repo_cfg)
    cfg["ingest"] = {
        "sources": [{
            "kind": "csv", "glob": str(data_dir / "*.csv"), "delimiter": ";", "timestamp_column": "datetime",
            "timestamp_format": "%Y-%m-%d %H:%M:%S", "timezone": "UTC", "label_column": "anomaly", "drop_columns": ["changepoint"],
        }],
        "duplicate_rule": repo_cfg["ingest"].get("duplicate_rule", "mean"),
    }
    cfg["validate"] = {
        "expected_interval_s": 1, "interval_tolerance": 0.5, "quarantine_tolerance": 0.02, "sensors": {name: {} for name in sensors},
    }
    # SKAB's faults start about halfway through a file: train and validation (thresholds)
    # must lie in the anomaly-free first half (train ≈ the leaderboard's first 400 rows)
    cfg["prepare"] = {**repo_cfg["prepare"], "interval_s": 1, "max_gap_s": 10, "impute_limit_s": 5, "train_fraction": 0.35, "val_fraction": 0.15}
    return cfg


def skab_project(root: Path, skab_file: Path, *, repo_conf: Path = REPO / "conf") -> Path:
    """One SKAB file (as ``data/skab/<folder>-<name>.csv``: the asset is ``<folder>-<name>``)
    and the SKAB config."""
    data = root / "data" / "skab"
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy2(skab_file, data / f"{skab_file.parent.name}-{skab_file.name}")
    cfg = skab_config(yaml.safe_load((repo_conf / "pipeline.yaml").read_text()), data, skab_sensors(skab_file))
    return _project(root, cfg, repo_conf)


def _seconds(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(str(value)).timestamp()


def prefect_timings(database: Path) -> dict:
    """The last ``retrain`` flow run and its task runs from a Prefect SQLite database."""
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        flow_run = db.execute(
            "SELECT fr.id, fr.name, fr.start_time, fr.end_time, fr.state_type FROM flow_run fr JOIN flow f ON fr.flow_id = f.id "
            "WHERE f.name = 'retrain' ORDER BY fr.start_time DESC LIMIT 1"
        ).fetchone()
        if flow_run is None:
            return {"flow_s": None, "stages": []}
        tasks = db.execute(
            "SELECT name, task_key, start_time, end_time, state_type FROM task_run WHERE flow_run_id = ? ORDER BY start_time",
            (flow_run["id"],),
        ).fetchall()
    origin = _seconds(flow_run["start_time"])
    stages = []
    for task in tasks:
        start, end = _seconds(task["start_time"]), _seconds(task["end_time"])
        stages.append({
            "task": task["name"], "state": task["state_type"],
            "start_s": None if start is None else start - origin, "end_s": None if end is None else end - origin,
            "seconds": None if start is None or end is None else end - start,
        })
    end = _seconds(flow_run["end_time"])
    return {"flow_run": flow_run["name"], "flow_state": flow_run["state_type"], "flow_s": None if end is None else end - origin, "stages": stages}


def _model_fits(models_dir: Path) -> dict:
    fits = {}
    for summary in sorted(models_dir.glob("*/fit_summary.json")):
        fits[summary.parent.name] = json.loads(summary.read_text())
    return fits


def run_retrain(root: Path, config: Path, *, anomflow: Path | None = None, timeout_s: float | None = None, cmd: list[str] | None = None) -> dict:
    """Run `anomflow retrain` in ``root`` (ephemeral Prefect, fresh PREFECT_HOME) and measure it."""
    anomflow = anomflow or Path(sys.executable).parent / "anomflow"
    home = root / "prefect_home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL=os.environ.get("PREFECT_LOGGING_LEVEL", "INFO"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for name in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    watched = run_watched(cmd or [str(anomflow), "retrain", "--config", str(config)], env=env, cwd=root, timeout_s=timeout_s)
    if watched.returncode != 0:
        raise RuntimeError(f"anomflow retrain failed (exit {watched.returncode}):\n{watched.output[-4000:]}")
    cfg = yaml.safe_load(config.read_text())
    database = home / "prefect.db"
    timings = prefect_timings(database) if database.exists() else {"flow_s": None, "stages": []}
    metrics_path = Path(cfg["paths"]["reports"]) / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    readings = Path(cfg["paths"]["artifacts"]) / "validated.parquet"
    rows = None
    if readings.exists():
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(readings).metadata.num_rows
    return {
        "wall_s": watched.wall_s, **timings, "models": _model_fits(Path(cfg["paths"]["models"])),
        "validated_rows": rows, "peak_rss_mb": watched.ru_maxrss_mb, "peak_tree_rss_mb": watched.peak_tree_rss_mb,
        "vus_pr": {kind: m.get("vus_pr") for kind, m in metrics.items()} if isinstance(metrics, dict) else {},
    }


def measure(dataset: str, *, skab_file: Path = SKAB_DEFAULT, workdir: Path | None = None, keep: bool = False, progress=print, **kwargs) -> dict:
    """Build the ``dataset`` project in a temporary directory and time its retrain."""
    root = Path(tempfile.mkdtemp(prefix=f"retrain_{dataset}_", dir=workdir))
    try:
        begin = time.perf_counter()
        config = demo_project(root) if dataset == "demo" else skab_project(root, skab_file)
        setup_s = time.perf_counter() - begin
        progress(f"{dataset}: project in {root} ({setup_s:.0f} s); running anomflow retrain…")
        result = run_retrain(root, config, **kwargs)
        result["setup_s"] = setup_s
        result["config"] = yaml.safe_load(config.read_text())
        if dataset == "skab":
            result["skab_file"] = str(skab_file)
        progress(f"{dataset}: {result['wall_s']:.0f} s wall, flow {result['flow_s'] or float('nan'):.0f} s")
        return result
    finally:
        if keep:
            progress(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("skab", "demo", "both"), default="skab")
    parser.add_argument("--skab-file", type=Path, default=SKAB_DEFAULT)
    parser.add_argument("--out", type=Path, default=Path("reports/benchmarks/retrain_time.json"))
    parser.add_argument("--workdir", type=Path, default=None, help="parent of the temporary project (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()
    report = json.loads(args.out.read_text()) if args.out.exists() else {}
    report.setdefault("runs", {})
    for dataset in (("skab", "demo") if args.dataset == "both" else (args.dataset,)):
        env = environment()
        result = measure(dataset, skab_file=args.skab_file, workdir=args.workdir, keep=args.keep)
        env["hardware"]["load_average_at_end"] = list(os.getloadavg())
        report["runs"][dataset] = {**result, **env, "measured_at": datetime.now().astimezone().isoformat(timespec="seconds")}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps({name: {k: run.get(k) for k in ("wall_s", "flow_s", "peak_rss_mb")} for name, run in report["runs"].items()}, indent=2))


if __name__ == "__main__":
    main()
