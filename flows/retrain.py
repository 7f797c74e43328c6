"""Prefect ``retrain`` flow: the pipeline's stages as tasks, with retries on I/O and
artifacts (validation summary, leaderboard, link to the MLflow run).

The models train concurrently, each in its own process (``anomflow train --model …``):
torch's thread pool and random generator are process-wide, so separate processes keep
every model's training seeded and deterministic while they share the cores. The student
starts as soon as the teachers it distils from are done.

The set is trained in a folder of its own and installed in ``models/`` only when every
model is trained. If one fails, or the run is stopped (Ctrl-C, SIGTERM), the trainings
still running are stopped (:data:`components.shutdown.CHILDREN`), the set is deleted, its
MLflow runs are marked KILLED, and ``models/`` keeps the set that was there.

With ``fleet.group_by`` other than ``all``, the stages after validation run once per
group of assets, in parallel on Dask (:mod:`flows.fleet`), and a router version of the
served model sends each asset to its group's champion (docs/scaling.md).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from components import stages
from components.config import PipelineConfig, load_config
from components.dvc_record import record_in_dvc
from components.fleet.groups import absolute, assign_groups
from components.fleet.pipeline import split_rows
from components.frames import ASSET
from components.progress import heartbeat
from components.registry.register_fleet import register_fleet_router
from components.registry.tracking import discard_child_runs, failed_on_error, open_parent_run
from components.shutdown import CHILDREN
from components.training.model_folders import install_models, staged_folder
from flows.fleet import train_fleet
from flows.retry import retry_unless_bad_input

ingest_task = task(
    stages.run_ingest, name="ingest", retries=2, retry_delay_seconds=2, retry_condition_fn=retry_unless_bad_input, cache_policy=NO_CACHE,
)
validate_task = task(stages.run_validate, name="validate", cache_policy=NO_CACHE)
prepare_task = task(stages.run_prepare, name="prepare", cache_policy=NO_CACHE)
record_task = task(record_in_dvc, name="record in DVC", cache_policy=NO_CACHE)


@task(name="train", cache_policy=NO_CACHE, task_run_name="train-{kind}")  # the run names the model (per-stage timings)
def train_task(config_path: str, kind: str, concurrent: bool, models_dir: str) -> str:
    """Train one model into ``models_dir`` in a child process (stopped with this one); it
    nests under the recorded parent run. Each line the child prints (its epochs) is logged
    by this task as it arrives, so the terminal and the Prefect UI show it.

    A ``concurrent`` child's idle OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``, unless
    set already): with spinning threads, models training side by side on 2 cores were
    5-40x slower. A model training alone keeps the default, which is faster alone (the
    student's demo epoch: 3.7 s default vs 10.9 s passive, measured).
    """
    cmd = [sys.executable, "-m", "components.cli", "train", "--model", kind, "--config", config_path, "--models-dir", models_dir]
    env = {**({"OMP_WAIT_POLICY": "PASSIVE"} if concurrent else {}), **os.environ, "PYTHONUNBUFFERED": "1"}
    logger = get_run_logger()

    def forward(line: str) -> None:
        if line.strip():
            logger.info(line)
            beat.touch()

    with heartbeat(f"train {kind}: child process") as beat:  # speaks while the child starts up or says nothing
        done = CHILDREN.run(cmd, env=env, name=f"training {kind}", on_line=forward)
    if done.returncode != 0:
        raise RuntimeError(f"training {kind} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return kind

threshold_task = task(stages.run_threshold, name="threshold", cache_policy=NO_CACHE)
evaluate_task = task(stages.run_evaluate, name="evaluate", cache_policy=NO_CACHE)
register_task = task(
    stages.run_register, name="register", retries=2, retry_delay_seconds=2, retry_condition_fn=retry_unless_bad_input, cache_policy=NO_CACHE,
)


def _validation_markdown(summary: dict) -> str:
    lines = [
        "# Validation", "",
        f"run {summary.get('run_name')}; offline summary: {summary.get('summary_page')}; Data Docs: {summary.get('data_docs')}", "",
        f"rows in: {summary.get('n_rows_in')}, quarantined: {summary.get('n_quarantined')}, rows out: {summary.get('n_rows_out')}", "",
        _duplicates_line(summary.get("duplicate_timestamps")), "",
        "| expectation | column | asset | success | unexpected |", "|---|---|---|---|---|",
    ]
    for item in summary.get("expectations", []):
        lines.append(f"| {item.get('type')} | {item.get('column', '')} | {item.get('asset', '')} | {item.get('success')} | {item.get('unexpected_count', '')} |")
    return "\n".join(lines)


def _duplicates_line(duplicates: dict | None) -> str:
    if not duplicates or not duplicates.get("rows_merged"):
        return "repeated time stamps: none"
    return (
        f"repeated time stamps: {duplicates['rows_merged']} rows merged by rule '{duplicates['rule']}', "
        f"{duplicates['conflicting_timestamps']} time stamps with different values"
    )


@flow(name="retrain", log_prints=True)
def retrain(config_path: str = "conf/pipeline.yaml") -> dict:
    """Ingest → validate → prepare → train → threshold → evaluate → register, then the
outputs recorded in ``dvc.lock`` (:mod:`components.dvc_record`)."""
    cfg = load_config(config_path)
    if cfg.fleet.grouped:  # Dask workers read and write the project's files and store wherever they start
        cfg = absolute(cfg, Path.cwd())
    parent = open_parent_run(
        cfg, f"retrain-{flow_run.get_name() or 'local'}",
        {"anomflow.entry": "prefect", "prefect.flow_run_id": str(flow_run.get_id() or "")},
    )
    with failed_on_error(cfg.mlflow, parent):
        if cfg.fleet.grouped:
            return _fleet_stages(cfg, parent)
        return _stages(cfg, config_path, parent)


def _timed(stage: str, call: Callable, *args):
    """``call(*args)`` between a line saying ``stage`` started and one saying how long it took."""
    logger = get_run_logger()
    logger.info(f"{stage} started")
    start = time.perf_counter()
    result = call(*args)
    logger.info(f"{stage} done in {time.perf_counter() - start:.1f} s")
    return result


def _train_set(cfg: PipelineConfig, config_path: str, parent_run_id: str) -> None:
    """Every model, each in its own process, into a folder of their own; installed in
    ``models/`` when all are trained, discarded (runs KILLED) when not."""
    models_dir = cfg.paths.models_dir()
    staged = staged_folder(models_dir)
    staged.mkdir(parents=True)
    first, then = cfg.training_rounds()
    try:
        futures = [train_task.submit(config_path, kind, concurrent=True, models_dir=str(staged)) for kind in first]
        for future in futures:  # the models others learn from (the teachers), and the rest
            future.result()
        for kind in then:  # the models that learn from them (the student), alone
            train_task(config_path, kind, concurrent=False, models_dir=str(staged))
    except BaseException:
        CHILDREN.stop_all()
        shutil.rmtree(staged, ignore_errors=True)
        discard_child_runs(cfg.mlflow, parent_run_id, "the retrain stopped before its models were installed")
        raise
    install_models(staged, models_dir, first + then)


def _stages(cfg: PipelineConfig, config_path: str, parent_run_id: str) -> dict:
    """The stages as Prefect tasks, each model trained in its own process."""
    _timed("ingest", ingest_task, cfg)
    validation = _timed("validate", validate_task, cfg)
    create_markdown_artifact(_validation_markdown(validation), key="validation-summary", description="Great Expectations validation")
    _timed("prepare", prepare_task, cfg)
    _timed("train", _train_set, cfg, config_path, parent_run_id)
    thresholds = _timed("threshold", threshold_task, cfg)
    metrics = _timed("evaluate", evaluate_task, cfg)
    registration = _timed("register", register_task, cfg)
    get_run_logger().info(record_task(cfg, config_path))
    columns = ("vus_pr", "pr_auc", "roc_auc", "f1", "rows_per_s", "train_s")
    table = [{"model": kind, **{c: m.get(c) for c in columns}} for kind, m in metrics.items()]
    create_table_artifact(table, key="leaderboard", description="every model on the test split")
    create_link_artifact(
        f"http://127.0.0.1:5000/#/experiments/{registration['experiment_id']}/runs/{registration['parent_run_id']}",
        link_text="MLflow run (start `mlflow ui` first)", key="mlflow-run",
    )
    return {"metrics": metrics, "thresholds": thresholds, "registration": registration, "validation": validation}


def _fleet_stages(cfg: PipelineConfig, parent_run_id: str) -> dict:
    """``cfg``: with absolute paths (:func:`~components.fleet.groups.absolute`), its store
    created by the fleet's run. Ingest and validate the whole fleet, then one pipeline per group in parallel on
    Dask (:mod:`flows.fleet`), then the router that sends each asset to its group's
    champion. DVC records the single-model pipeline (``dvc.yaml``), not a fleet run."""
    _timed("ingest", ingest_task, cfg)
    validation = _timed("validate", validate_task, cfg)
    create_markdown_artifact(_validation_markdown(validation), key="validation-summary", description="Great Expectations validation")
    assets = sorted(pd.read_parquet(stages.validated_path(cfg), columns=[ASSET])[ASSET].unique().tolist())
    groups = assign_groups(assets, cfg.fleet)
    where = cfg.fleet.dask_address or f"a local cluster of {cfg.fleet.workers} workers"
    get_run_logger().info(f"fleet: {len(assets)} assets in {len(groups)} groups by {cfg.fleet.group_by}, trained on {where}")
    _timed("split rows by group", split_rows, cfg, groups)
    results = _timed("train groups", train_fleet, cfg, groups, parent_run_id)
    registration = _timed("register fleet", register_fleet_router, cfg, results, parent_run_id)
    table = [{"group": g, "assets": len(r.assets), "model": f"{r.model_name}/{r.version}", "alias": r.alias, "vus_pr": r.vus_pr,
              "rows": r.rows, "seconds": round(r.seconds, 1), "peak_rss_mib": round(r.peak_rss_mib)} for g, r in results.items()]
    create_table_artifact(table, key="fleet", description="each group's model")
    return {"registration": registration, "validation": validation, "groups": {g: r.as_dict() for g, r in results.items()}}
