"""Fleet training per group (docs/scaling.md): the real `retrain` flow with
``fleet.group_by`` a column of an asset table, its groups trained on a temporary local
Dask cluster of two workers; each group registered and promoted on its own; batch
scoring, the served model and the live watcher route each asset to its group's champion."""

from __future__ import annotations

import os

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from components.live.champion import Champion
from components.live.store import Store
from components.live.watcher import Watcher
from components.registry.fleet_router import FLEET_TAG, KIND_TAG, ROUTER_KIND, FleetRouter
from components.registry.tracking import using_tracking_uri
from components.scoring.batch import score_export
from components.sources.demo_plant import write_demo_plant
from tests.tiny_project import retrained, tiny_config

NAME = "anomflow-detector"
LINES = {"pump-1": "line-a", "pump-2": "line-a", "pump-3": "line-b"}


@pytest.fixture(scope="module")
def fleet_project(tmp_path_factory, prefect_server) -> dict:
    """Three pumps on two lines, a model per line (the student alone, and PCA beside it),
    trained by one `retrain` run on two local Dask workers."""
    root = tmp_path_factory.mktemp("fleet")
    cfg = tiny_config()
    cfg["models"] = {"student": {**cfg["models"]["student"], "max_epochs": 2}, "pca": cfg["models"]["pca"]}
    cfg["fleet"] = {"group_by": "line", "asset_table": "conf/assets.csv", "workers": 2}
    (root / "conf").mkdir()
    (root / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (root / "conf" / "assets.csv").write_text("asset,line\n" + "".join(f"{a},{line}\n" for a, line in LINES.items()))
    write_demo_plant(root / "data" / "demo", seed=7, days=3, assets=3)
    return {"root": root, "result": retrained(root), "uri": f"sqlite:///{root}/mlruns/mlflow.db"}


def _readings(root) -> pd.DataFrame:
    """The fleet's validated readings as a client sends them: time stamp, asset, sensors."""
    sensors = list(tiny_config()["validate"]["sensors"])
    return pd.read_parquet(root / "artifacts" / "validated.parquet", columns=["timestamp", "asset", *sensors])


def test_each_group_trains_on_its_own_worker_and_is_registered_and_promoted_on_its_own(fleet_project):
    groups = fleet_project["result"]["groups"]
    assert {g: r["assets"] for g, r in groups.items()} == {"line-a": ["pump-1", "pump-2"], "line-b": ["pump-3"]}
    workers = {r["worker"] for r in groups.values()}
    assert len(workers) == 2 and f":{os.getpid()}" not in "".join(workers)  # two Dask worker processes, not this one
    a, b = groups["line-a"], groups["line-b"]
    assert max(a["started_at"], b["started_at"]) < min(a["ended_at"], b["ended_at"])  # in parallel
    per_asset = _readings(fleet_project["root"])["asset"].value_counts()
    assert a["rows"] == per_asset["pump-1"] + per_asset["pump-2"] and b["rows"] == per_asset["pump-3"]
    for result in groups.values():  # every stage timed, and the worker's memory read after it gave freed memory back
        assert list(result["stage_s"]) == ["prepare", "train", "threshold", "evaluate", "register"]
        assert 0 < sum(result["stage_s"].values()) <= result["seconds"] and 0 < result["rss_mib"] <= result["peak_rss_mib"]

    client = mlflow.MlflowClient(fleet_project["uri"])
    fleet_run = client.get_model_version_by_alias(NAME, "champion").run_id
    for group, result in groups.items():
        model = client.get_registered_model(f"{NAME}-{group}")
        assert {k: str(v) for k, v in model.aliases.items()} == {"champion": "1"} and model.tags[FLEET_TAG] == NAME
        version = client.get_model_version(f"{NAME}-{group}", "1")
        assert version.tags["promotion.reason"] == "no champion yet"
        run = client.get_run(version.run_id)  # the group's student run, under the group's run, under the fleet's
        group_run = client.get_run(run.data.tags["mlflow.parentRunId"])
        assert group_run.data.tags["anomflow.group"] == group
        assert group_run.data.tags["mlflow.parentRunId"] == fleet_run
    router = client.get_model_version_by_alias(NAME, "champion")
    assert router.tags[KIND_TAG] == ROUTER_KIND and "2 groups" in router.tags["promotion.reason"]
    assert (fleet_project["root"] / "models" / "groups" / "line-b" / "student").is_dir()


def test_the_served_model_routes_each_asset_to_its_groups_champion(fleet_project):
    readings = _readings(fleet_project["root"]).groupby("asset").head(300).sort_values(["timestamp", "asset"]).reset_index(drop=True)
    with using_tracking_uri(fleet_project["uri"]):
        served = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
        members = {g: mlflow.pyfunc.load_model(f"models:/{NAME}-{g}@champion") for g in ("line-a", "line-b")}
    assert isinstance(served.unwrap_python_model(), FleetRouter)
    sensors = members["line-a"].metadata.get_input_schema().input_names()
    assert served.metadata.get_input_schema().input_names() == sensors and sensors[:2] == ["timestamp", "asset"]  # the groups' columns
    answer = served.predict(readings)
    for asset, line in LINES.items():
        rows = (readings["asset"] == asset).to_numpy()
        alone = members[line].predict(readings[rows].reset_index(drop=True))
        pd.testing.assert_frame_equal(answer[rows].reset_index(drop=True), alone)
    assert answer["score"].notna().sum() > 600


def test_batch_scoring_routes_an_export_to_its_assets_group(fleet_project, tmp_path):
    root = fleet_project["root"]
    export = sorted((root / "data" / "demo").glob("pump-3__Process-*.csv"))[0]
    electrical = sorted((root / "data" / "demo").glob("pump-3__Electrical-*.csv"))[0]
    out = score_export([electrical, export], tmp_path / "scored.parquet", f"models:/{NAME}@champion", asset="pump-3", tracking_uri=fleet_project["uri"])
    scored = pd.read_parquet(out["output"])
    readings = _readings(root)
    pump3 = readings[readings["asset"] == "pump-3"].reset_index(drop=True)
    with using_tracking_uri(fleet_project["uri"]):
        alone = mlflow.pyfunc.load_model(f"models:/{NAME}-line-b@champion").predict(pump3)
    joined = scored.assign(timestamp=scored["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).merge(alone, on="timestamp", suffixes=("", "_b"))
    assert len(joined) > 0.9 * len(pump3)
    np.testing.assert_allclose(joined["score"].to_numpy(float), joined["score_b"].to_numpy(float), rtol=1e-6, atol=1e-6, equal_nan=True)


def test_the_watcher_routes_each_asset_and_follows_a_groups_new_champion(fleet_project, tmp_path):
    uri = fleet_project["uri"]
    champion = Champion(f"models:/{NAME}@champion", uri)
    model = champion.load_current()
    assert model.version == f"{NAME}/1[{NAME}-line-a/1,{NAME}-line-b/1]" == champion.resolve()
    readings = _readings(fleet_project["root"])
    readings = readings[readings["asset"].isin(["pump-1", "pump-3"])].groupby("asset").head(120).sort_values(["timestamp", "asset"])
    sensors = model.served.sensors
    stranger = readings[readings["asset"] == "pump-1"].head(5).assign(asset="fan-9")  # in the store, in no group
    with Store(f"sqlite:///{tmp_path}/live.db") as store:
        store.init()
        watcher = Watcher(store, model)
        watcher.restore()
        for batch in (readings, stranger):
            store.insert_readings([(r["asset"], r["timestamp"], {s: float(r[s]) for s in sensors}) for _, r in batch.iterrows()])
            while watcher.process_batch():
                pass
        got = pd.DataFrame(store.execute("SELECT asset, score, model_version FROM scores ORDER BY reading_id"), columns=["asset", "score", "model_version"])
        assert dict(got.groupby("asset")["model_version"].unique().map(list)) == {"pump-1": [f"{NAME}-line-a/1"], "pump-3": [f"{NAME}-line-b/1"]}
        expected = model.served.predict(None, readings[["timestamp", "asset", *sensors]].reset_index(drop=True))
        np.testing.assert_allclose(got["score"].to_numpy(float), expected["score"].to_numpy(float), rtol=1e-6, atol=1e-9, equal_nan=True)
        assert set(store.model()["groups"]) == {"line-a", "line-b"}
        refused = store.execute("SELECT asset, reason FROM quarantine")  # kept, with the router's reason, and the rest scored
        assert len(refused) == len(stranger) and all(a == "fan-9" and "['fan-9'] belong to no group" in why for a, why in refused)

    client = mlflow.MlflowClient(uri)  # line-b gets a new champion: the router is followed through it
    copy = client.copy_model_version(f"models:/{NAME}-line-b/1", f"{NAME}-line-b")
    client.set_registered_model_alias(f"{NAME}-line-b", "champion", copy.version)
    newer = champion.newer(model.version)
    assert newer is not None and newer.version == f"{NAME}/1[{NAME}-line-a/1,{NAME}-line-b/{copy.version}]"
    assert newer.version_of("pump-3") == f"{NAME}-line-b/{copy.version}" and newer.version_of("pump-1") == f"{NAME}-line-a/1"


@pytest.mark.slow  # the HTTP layer is the single model's (tests/registry/test_serving.py); routing is tested above through the pyfunc
def test_mlflow_models_serve_answers_with_each_assets_group_model_and_refuses_strangers(fleet_project, tmp_path):
    import subprocess
    import sys

    import requests

    from components.child_server import wait_until_answering
    from tests.servers import free_port

    port, uri = free_port(), fleet_project["uri"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{NAME}@champion", "--env-manager", "local",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with open(tmp_path / "serve.log") as output:
            wait_until_answering(proc, f"{url}/ping", output, 120, "mlflow models serve")
        readings = _readings(fleet_project["root"]).groupby("asset").head(60).sort_values(["timestamp", "asset"]).reset_index(drop=True)
        body = readings.assign(timestamp=readings["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        answer = requests.post(f"{url}/invocations", json={"dataframe_split": body.to_dict(orient="split", index=False)}, timeout=60)
        assert answer.status_code == 200, answer.text[:500]
        served = pd.DataFrame(answer.json()["predictions"])
        with using_tracking_uri(uri):
            for asset, line in LINES.items():
                rows = (readings["asset"] == asset).to_numpy()
                alone = mlflow.pyfunc.load_model(f"models:/{NAME}-{line}@champion").predict(readings[rows].reset_index(drop=True))
                np.testing.assert_allclose(served[rows]["score"].to_numpy(float), alone["score"].to_numpy(float), rtol=1e-6, atol=1e-9, equal_nan=True)
                assert served[rows]["level"].tolist() == alone["level"].tolist()
        stranger = body[body["asset"] == "pump-1"].assign(asset="fan-9")
        refused = requests.post(f"{url}/invocations", json={"dataframe_split": stranger.to_dict(orient="split", index=False)}, timeout=60)
        assert refused.status_code == 400 and "['fan-9'] belong to no group" in refused.json()["message"]
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
