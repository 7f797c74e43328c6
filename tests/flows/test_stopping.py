"""SIGTERM or SIGINT stops `anomflow retrain` and `anomflow score` within 10 s: their
child processes and temporary Prefect server stop too, `models/` keeps its models, no
half-written output stays and no MLflow run shows FINISHED or RUNNING under the stopped
retrain (issue 30). Real processes, signals and a temporary Prefect server."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from components.sources.demo_plant import write_demo_plant
from tests.tiny_project import copy_trained_project

STOP_WITHIN_S = 10.0


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _start(root: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_TRACKING"))}
    env.update(PREFECT_HOME=str(root / ".prefect"), PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    return subprocess.Popen(
        [sys.executable, "-m", "components.cli", *args], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait_for(condition, timeout_s: float, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            pytest.fail(f"the command ended before {what}:\n{process.stdout.read()[-3000:]}")
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"no {what} within {timeout_s:.0f} s")


def _stop(process: subprocess.Popen, signum: int) -> tuple[float, str, set[int]]:
    """Send ``signum``; returns the seconds to exit, the output and the processes that ran below it."""
    family = _descendants(process.pid)
    started = time.monotonic()
    process.send_signal(signum)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still running 60 s after {signal.Signals(signum).name}")
    return time.monotonic() - started, output, family


def _fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)], ids=["SIGTERM", "SIGINT"]
)
def test_a_stopped_retrain_stops_its_trainings_and_server_and_keeps_the_models(trained_project, tmp_path, signum):
    root = copy_trained_project(trained_project["root"], tmp_path / "project")
    cfg = yaml.safe_load((root / "conf" / "pipeline.yaml").read_text())
    for kind in ("anomaly_transformer", "omnianomaly", "lstm_ae"):  # long enough to be stopped while training
        cfg["models"][kind].update(max_epochs=200, patience=200)
    (root / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    models_before = _fingerprint(root / "models")

    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{root}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name(cfg["mlflow"]["experiment"])

    def model_runs_started() -> bool:
        """A training process runs and has opened its MLflow run under the running retrain."""
        if not any(" train --model " in _command_line(p) for p in _descendants(process.pid)):
            return False
        running = client.search_runs([experiment.experiment_id], "tags.`anomflow.entry` = 'prefect' and attributes.status = 'RUNNING'")
        return any(client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'") for run in running)

    process = _start(root, "retrain")
    _wait_for(model_runs_started, 240, "model training started", process)
    seconds, output, family = _stop(process, signum)

    assert seconds < STOP_WITHIN_S, output[-2000:]
    assert process.returncode == 130 and f"retrain stopped by {signal.Signals(signum).name}" in output
    time.sleep(0.5)
    left = [_command_line(p) for p in family if _running(p)]
    assert not left, f"still running after the stop: {left}"  # trainings and the temporary Prefect server
    assert _fingerprint(root / "models") == models_before
    assert not [p.name for p in root.iterdir() if p.name.startswith(".models")]

    stopped = client.search_runs([experiment.experiment_id], filter_string="tags.`anomflow.entry` = 'prefect'", order_by=["start_time DESC"])[0]
    assert stopped.info.status == "FAILED"
    children = client.search_runs([experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{stopped.info.run_id}'")
    assert children and {run.info.status for run in children} <= {"FAILED", "KILLED"}


@pytest.mark.slow  # 40 s of scoring 360,000 rows to stop it midway; the retrain stop test keeps the stopping machinery in the default suite
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_score_stops_its_server_and_leaves_no_output(trained_project, tmp_path, signum):
    root = copy_trained_project(trained_project["root"], tmp_path / "project")
    exports = root / "data" / "long"
    write_demo_plant(exports, seed=3, days=250, assets=1)  # 360,000 rows: two chunks of 200,000 to score
    panels = sorted(str(p) for p in exports.glob("pump-1__*.csv"))
    out = tmp_path / "scored.csv"

    process = _start(root, "score", *panels, str(out))
    _wait_for(lambda: out.with_name(out.name + ".partial").exists(), 240, "a scored chunk written", process)
    seconds, output, family = _stop(process, signum)

    assert seconds < STOP_WITHIN_S, output[-2000:]
    assert process.returncode == 130 and f"score stopped by {signal.Signals(signum).name}" in output
    time.sleep(0.5)
    assert not [_command_line(p) for p in family if _running(p)]
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()
