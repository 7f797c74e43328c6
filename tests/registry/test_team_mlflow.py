"""A team MLflow (docs/scaling.md): ``mlflow server`` on a real PostgreSQL with proxied
artifacts, and retrains registering into it at the same moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import mlflow
import pytest

from components.registry.promotion import CHAMPION, served_metric
from components.registry.promotion_lock import lock_name
from components.registry.tracking import using_tracking_uri
from tests.live.helpers import readings, served_model, write_bundle
from tests.servers import MlflowServer

NAME = "anomflow-detector"
VARIANCES = (0.5, 0.9, 0.99)
"""The PCA variance each concurrent retrain's model keeps: three models of different quality."""


@pytest.fixture
def team_server(postgres_url, tmp_path):
    server = MlflowServer(postgres_url, tmp_path / "mlflow")
    yield server
    server.stop()


def _labelled_frame():
    frame = readings(rows=500, faults=((120, 150, 5.0), (300, 330, 3.0), (420, 440, 8.0)))
    frame["label"] = 0
    for start, end in ((120, 150), (300, 330), (420, 440)):
        frame.loc[start : end - 1, "label"] = 1
    return frame


def test_concurrent_registrations_on_a_team_server_keep_every_version_and_the_best_champion(team_server, tmp_path):
    frame = _labelled_frame()
    frame.to_parquet(tmp_path / "frame.parquet")
    bundles = [write_bundle(served_model(variance=v), tmp_path / f"variance-{v}") for v in VARIANCES]
    mlflow.MlflowClient(team_server.url).create_experiment("team")
    env = {**os.environ, "MLFLOW_TRACKING_URI": team_server.url, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    start_at = time.time() + 12  # every process imported and waiting: they register together
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.registry.concurrent_registration", str(bundle), str(tmp_path / "frame.parquet"), NAME, str(start_at)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for bundle in bundles
    ]
    outcomes = [p.communicate(timeout=240) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-2000:] for _, err in outcomes]
    decisions = [json.loads(out.strip().splitlines()[-1]) for out, _ in outcomes]
    assert time.time() > start_at

    client = mlflow.MlflowClient(team_server.url)
    versions = client.search_model_versions(f"name = '{NAME}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]  # none lost
    assert sorted(d["version"] for d in decisions) == ["1", "2", "3"]
    assert {v.run_id for v in versions} == {d["run_id"] for d in decisions}
    with using_tracking_uri(team_server.url):  # every version's metric, recomputed through the server
        value = {v.version: served_metric(f"models:/{NAME}/{v.version}", frame, "vus_pr", 20) for v in versions}
    assert len(set(value.values())) == len(VARIANCES), value  # models of different quality
    champion = client.get_model_version_by_alias(NAME, CHAMPION).version
    assert value[champion] == max(value.values()), (champion, value, decisions)

    # the decisions happened one after the other: each compared with the champion the one before it left
    assert sum(d["champion_version"] is None for d in decisions) == 1, decisions
    held = next(d["version"] for d in decisions if d["champion_version"] is None)
    remaining = [d for d in decisions if d["champion_version"] is not None]
    while remaining:  # steps that kept the champion first: a step that replaced it ends its turn
        compared = [d for d in remaining if d["champion_version"] == held]
        step = next((d for d in compared if d["alias"] != CHAMPION), compared[0] if compared else None)
        assert step is not None, f"a decision compared with a champion that no longer held: {decisions}"
        assert step["champion_value"] == pytest.approx(value[held], rel=1e-6)
        if step["alias"] == CHAMPION:
            held = step["version"]
        remaining.remove(step)
    assert held == champion
    for v in versions:
        assert client.get_model_version(NAME, v.version).tags["promotion.reason"]

    # the lock is given back, and the models' files went through the server to its artifact store
    assert not client.search_registered_models(f"name = '{lock_name(NAME)}'")
    assert len(list(team_server.artifacts.rglob("MLmodel"))) == len(VARIANCES)


@pytest.mark.slow
def test_a_retrain_logs_and_registers_through_a_team_server(team_server, prefect_server, tmp_path, monkeypatch):
    """The whole `retrain` flow with ``MLFLOW_TRACKING_URI`` naming the team server: runs,
    datasets and the registered champion live on the server, its files in the server's
    artifact store and none in the project."""
    from flows.retrain import retrain
    from tests.tiny_project import make_tiny_project

    root = make_tiny_project(tmp_path / "project")
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team_server.url)
    result = retrain(config_path="conf/pipeline.yaml")
    assert result["registration"]["tracking_uri"] == team_server.url and result["registration"]["alias"] == CHAMPION

    client = mlflow.MlflowClient(team_server.url)
    parent = client.get_run(result["registration"]["parent_run_id"])
    assert parent.info.status == "FINISHED" and parent.info.artifact_uri.startswith("mlflow-artifacts:")
    assert {i.dataset.name for i in parent.inputs.dataset_inputs} == {"train split", "val split", "test split"}
    with using_tracking_uri(team_server.url):
        model = mlflow.pyfunc.load_model(f"models:/{NAME}@{CHAMPION}")
    example = json.loads((root / "reports" / "request_example.json").read_text())["dataframe_split"]
    import pandas as pd

    answer = model.predict(pd.DataFrame(example["data"], columns=example["columns"]))
    assert answer["score"].notna().any()
    assert list(team_server.artifacts.rglob("student.onnx"))
    assert not list((root / "mlruns").rglob("MLmodel"))  # nothing written beside the project
