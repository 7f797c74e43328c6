"""Scheduled retraining: the served deployment and prefect.yaml point at real flows."""

import importlib
from pathlib import Path

import pytest
import yaml
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.client.schemas.schedules import CronSchedule

from flows.schedule import DEPLOYMENT_NAME, retrain_deployment

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_serve_deployment_has_the_cron_schedule():
    deployment = retrain_deployment("*/15 * * * *", "conf/pipeline.yaml")
    assert deployment.name == DEPLOYMENT_NAME
    assert deployment.parameters == {"config_path": "conf/pipeline.yaml"}
    assert [s.schedule.cron for s in deployment.schedules] == ["*/15 * * * *"]
    assert deployment.concurrency_limit == 1 and deployment.concurrency_options.collision_strategy == "CANCEL_NEW"


def test_prefect_yaml_entrypoints_and_schedules_are_valid():
    spec = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())
    names = set()
    for deployment in spec["deployments"]:
        module, func = deployment["entrypoint"].split(":")
        flow = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), func)
        assert hasattr(flow, "serve"), f"{deployment['entrypoint']} is not a Prefect flow"
        names.add(flow.name)
        for schedule in deployment.get("schedules", []):
            CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
        if "concurrency_limit" in deployment:
            ConcurrencyLimitConfig(**deployment["concurrency_limit"])
    assert names == {"retrain", "score"}


@pytest.mark.slow  # 45 s: a Prefect server of its own and a scheduled run; the default suite keeps its 10 minutes
def test_served_schedule_runs_without_a_prefect_server_and_stops_the_one_it_started(tmp_path):
    """Prefect's temporary server has no scheduler: without PREFECT_API_URL a served
    deployment never ran. serve_deployments starts a local server with one, so a flow on a
    5 s interval runs; Ctrl-C stops the server with it. (Also the check that Prefect's
    scheduler can insert runs with the pinned SQLAlchemy: with 2.1 it could not.)"""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    mark = tmp_path / "mark"
    code = (
        "from flows.schedule import serve_deployments\n"
        "from tests.flows.scheduled_probe import leave_mark\n"
        f"serve_deployments(leave_mark.to_deployment(name='probe', interval=5, parameters={{'path': {str(mark)!r}}}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serving = subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            # Ctrl-C as in a terminal, even when pytest itself was started in the background
            # (a shell's background job inherits SIGINT ignored); its own group, so that a
            # child left behind can be killed with it
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 150
        while not mark.exists() and serving.poll() is None and time.monotonic() < deadline:
            time.sleep(1)
        assert mark.exists(), log.read_text()[-3000:]
        api_url = log.read_text().split("with a scheduler at ")[1].split()[0]
        assert httpx.get(f"{api_url}/health", timeout=5).status_code == 200
    finally:
        serving.send_signal(signal.SIGINT)
        try:
            serving.wait(timeout=60)
        except subprocess.TimeoutExpired:  # not stopped: fail, without leaving it to run flows for the rest of the session
            os.killpg(serving.pid, signal.SIGKILL)
            raise
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{api_url}/health", timeout=5)
