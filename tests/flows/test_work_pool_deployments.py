"""prefect.yaml end to end, as its header tells a user: `prefect deploy --all` against a
Prefect server (the session's), a process work pool, a worker that runs a `score`
deployment run with the tiny project's champion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


REPO_ROOT = Path(__file__).resolve().parents[2]


def _prefect(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def _read(api_url: str, what: str) -> list:
    """``read_deployments`` or ``read_flow_runs`` of the server at ``api_url``."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        return getattr(client, f"read_{what}")()


@pytest.mark.slow  # 33 s: deployments, a worker and a flow run in subprocesses; the default suite keeps its 10 minutes
def test_deploy_all_then_a_worker_runs_a_score_deployment_run(prefect_server, trained_project, tmp_path, monkeypatch):
    root = trained_project["root"]
    export = next((root / "data" / "demo").glob("pump-1__Electrical-*.csv"))
    process = next((root / "data" / "demo").glob("pump-1__Process-*.csv"))
    out = tmp_path / "scored.parquet"
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))  # the CLI's profile
    api_url = prefect_server
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(
        PREFECT_API_URL=api_url,
        PREFECT_LOGGING_LEVEL="INFO",  # the worker's log says what became of the run (make sets WARNING)
        ANOMFLOW_PROJECT_DIR=str(REPO_ROOT),
        MLFLOW_TRACKING_URI=trained_project["tracking_uri"], PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
    )
    _prefect(["work-pool", "create", "anomflow-pool", "--type", "process"], env)
    _prefect(["--no-prompt", "deploy", "--all"], env)
    deployments = {d.name: d for d in _read(api_url, "deployments")}
    assert set(deployments) == {"anomflow-retrain", "anomflow-score"}
    retrain = deployments["anomflow-retrain"]
    assert [s.schedule.cron for s in retrain.schedules] == ["0 3 * * *"] and retrain.work_pool_name == "anomflow-pool"
    limit = retrain.global_concurrency_limit  # prefect.yaml's concurrency_limit, as the server keeps it
    assert limit.limit == 1 and retrain.concurrency_options.collision_strategy == "CANCEL_NEW"
    # with its scheduled runs: none may reach the worker below (at 03:00 it would retrain this repository)
    _prefect(["deployment", "delete", "retrain/anomflow-retrain"], env)

    _prefect([
        "deployment", "run", "score/anomflow-score", "-p", f"input_paths={[str(export), str(process)]!r}".replace("'", '"'),
        "-p", f"output_path={out}", "-p", "asset=pump-1", "-p", f"config_path={root / 'conf' / 'pipeline.yaml'}",
    ], env)
    worker = _prefect(["worker", "start", "--pool", "anomflow-pool", "--run-once"], env)
    ours = {d.id for d in deployments.values()}  # the session's server also holds other tests' flow runs
    runs = [r for r in _read(api_url, "flow_runs") if r.deployment_id in ours]
    assert [(r.deployment_id, r.state.is_completed()) for r in runs] == [(deployments["anomflow-score"].id, True)], worker[-3000:]
    scored = pd.read_parquet(out)
    assert len(scored) > 0 and set(scored["asset"]) == {"pump-1"} and scored["score"].notna().any()
