"""The live path end to end on the trained tiny project, as a user runs it: `anomflow db
init`, `replay` of a pump's exports, `watch` with the registered champion, `alerts
list/ack`; a watcher killed with SIGKILL mid-stream and restarted scores every reading
exactly once and notifies nothing twice; a new @champion is picked up without a restart,
and one that fails to load leaves the old one scoring."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from components.cli import app
from components.live.champion import Champion, ChampionFollower
from components.live.store import Store
from components.live.watcher import Watcher, run_watcher
from components.registry.tracking import using_tracking_uri
from components.scoring.batch import join_on_time
from components.sources.export_format import ExportFormat
from tests.live.helpers import wait_until
from tests.live.test_alerts import _Receiver
from tests.tiny_project import copy_trained_project

ANOMFLOW = [sys.executable, "-m", "components.cli"]


def _cli(root: Path, tracking_uri: str, *args: str) -> str:
    """Run `anomflow ARGS` in-process (typer's runner) in ``root``; its output."""
    previous = Path.cwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(app, list(args), env={"MLFLOW_TRACKING_URI": tracking_uri, "COLUMNS": "200"})
    finally:
        os.chdir(previous)
    assert result.exit_code == 0, result.output
    return result.output


def _exports(root: Path) -> list[Path]:
    return sorted((root / "data" / "demo").glob("pump-1__*.csv"))


def _joined(exports: list[Path]) -> pd.DataFrame:
    """pump-1's readings, its exports joined on time (the demo plant has stops: fewer than a day's minutes)."""
    frame = pd.concat(join_on_time(exports, ExportFormat()), ignore_index=True)
    return frame.drop(columns=[c for c in ("also_from",) if c in frame]).assign(asset="pump-1")


def _batch_scores(tracking_uri: str, exports: list[Path]) -> pd.DataFrame:
    """The champion's scores of the joined exports in one piece (what `anomflow score` gives)."""
    with using_tracking_uri(tracking_uri):
        return mlflow.pyfunc.load_model("models:/anomflow-detector@champion").predict(_joined(exports))


@pytest.fixture
def project(trained_project, tmp_path) -> tuple[Path, str]:
    """A copy of the trained project (its registry is changed by some tests)."""
    root = copy_trained_project(trained_project["root"], tmp_path / "project")
    return root, f"sqlite:///{root}/mlruns/mlflow.db"


def test_replay_then_a_watcher_killed_mid_stream_scores_each_reading_once_as_batch_scoring_does(project):
    """db init, replay, watch (killed with SIGKILL mid-stream), watch --once, alerts list / ack."""
    root, tracking = project
    store = f"sqlite:///{root}/live/live.db"
    receiver = _Receiver()
    cfg = yaml.safe_load((root / "conf" / "pipeline.yaml").read_text())
    cfg["watch"] = {"store": store, "batch_readings": 20, "poll_s": 0.2, "http_port": 0, "notify": {"webhook_url": receiver.url}}
    (root / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(cfg))
    assert "live store ready" in _cli(root, tracking, "db", "init", "--store", store)
    readings = len(_joined(_exports(root)))
    assert f"replayed {readings:,} readings" in _cli(root, tracking, "replay", *map(str, _exports(root)))
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking}
    watcher = subprocess.Popen([*ANOMFLOW, "watch"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while _count(store, "scores") < 2000:
            assert watcher.poll() is None and time.monotonic() < deadline, watcher.stdout.read() if watcher.poll() is not None else "slow"
            time.sleep(0.05)
    finally:
        watcher.send_signal(signal.SIGKILL)
        watcher.wait(10)
    before = _count(store, "scores")
    assert before < readings  # killed mid-stream
    watched = _cli(root, tracking, "watch", "--once")
    assert f"{readings - before:,} readings scored, 0 quarantined" in watched
    with Store(store) as live:
        got = pd.DataFrame(live.execute("SELECT reading_id, score, alarm, model_version FROM scores ORDER BY reading_id"),
                           columns=["reading_id", "score", "alarm", "model_version"])
        keys = [k for (k,) in live.execute("SELECT dedupe_key FROM notifications WHERE delivered_at IS NOT NULL")]
        undelivered = live.execute("SELECT count(*) FROM notifications WHERE delivered_at IS NULL")[0][0]
        alerts = live.alerts()
    assert got["reading_id"].tolist() == list(range(1, readings + 1))
    expected = _batch_scores(tracking, _exports(root))
    np.testing.assert_allclose(got["score"].to_numpy(float), expected["score"].to_numpy(float), rtol=1e-5, atol=1e-6, equal_nan=True)
    assert got["alarm"].tolist() == expected["alarm"].tolist() and set(got["model_version"]) == {"anomflow-detector/1"}
    posted = [body["dedupe_key"] for _, body in receiver.posts]
    assert undelivered == 0 and sorted(posted) == sorted(keys) and len(set(posted)) == len(posted)
    receiver.server.shutdown()
    listed = json.loads(_cli(root, tracking, "alerts", "list", "--json"))
    assert [a["id"] for a in listed] == [a["id"] for a in alerts] and alerts, "the demo's faults raise alerts"
    acked = _cli(root, tracking, "alerts", "ack", str(alerts[0]["id"]), "--confirmed", "--by", "ana")
    assert "acknowledged as confirmed by ana" in acked
    with Store(store) as live:
        assert live.alert(alerts[0]["id"])["ack"] == "confirmed"


def test_replay_since_the_test_split_writes_only_the_test_days(project):
    root, tracking = project
    store = f"sqlite:///{root}/live/test-days.db"
    start = pd.read_parquet(root / "artifacts" / "prepared" / "test.parquet", columns=["timestamp"])["timestamp"].min()
    expected = int((_joined(_exports(root))["timestamp"] >= start).sum())
    assert f"replayed {expected:,} readings" in _cli(root, tracking, "replay", *map(str, _exports(root)), "--into", store, "--since", "test-split")
    with Store(store) as live:
        assert pd.Timestamp(live.execute("SELECT min(ts) FROM readings")[0][0]) >= start


def _count(store: str, table: str) -> int:
    try:
        with Store(store) as live:
            return live.execute(f"SELECT count(*) FROM {table}")[0][0]
    except Exception:  # not created yet
        return 0


def test_a_new_champion_is_picked_up_without_a_restart_and_a_broken_one_is_refused(project, caplog):
    root, tracking = project
    client = MlflowClient(tracking)
    first = client.get_model_version_by_alias("anomflow-detector", "champion")
    store_url = f"sqlite:///{root}/live/live.db"
    with Store(store_url) as live:
        live.init()
    exports = _exports(root)
    champion = Champion("models:/anomflow-detector@champion", tracking)
    model = champion.load_current()
    watcher = Watcher(Store(store_url), model, batch_readings=500)
    stop = threading.Event()
    follower = ChampionFollower(champion, model.version, 0.2, stop)
    follower.start()
    thread = threading.Thread(target=run_watcher, args=(watcher,), kwargs={"once": False, "poll_s": 0.1, "stop": stop, "follower": follower})
    thread.start()
    caplog.set_level(logging.INFO, logger="anomflow.watch")
    try:
        frame = _joined(exports)
        sensors = [c for c in frame.columns if c not in ("timestamp", "asset")]
        rows = [("pump-1", r.timestamp, {s: getattr(r, s) for s in sensors}) for r in frame.itertuples()]
        with Store(store_url) as writer:
            writer.insert_readings(rows[:2000])
            wait_until(lambda: _count(store_url, "scores") == 2000, 60)
            with using_tracking_uri(tracking):  # the source, a logged model's models:/ URI, resolves in the global store
                second = client.create_model_version("anomflow-detector", first.source, run_id=first.run_id)
            client.set_registered_model_alias("anomflow-detector", "champion", second.version)
            wait_until(lambda: any("now scoring with anomflow-detector/2" in r.getMessage() for r in caplog.records), 60)
            writer.insert_readings(rows[2000:4000])
            wait_until(lambda: _count(store_url, "scores") == 4000, 60)
            broken = client.create_model_version("anomflow-detector", str(root / "no-such-model"))
            client.set_registered_model_alias("anomflow-detector", "champion", broken.version)
            wait_until(lambda: any(f"new model anomflow-detector/{broken.version} failed to load" in r.getMessage() for r in caplog.records), 60)
            writer.insert_readings(rows[4000:])
            wait_until(lambda: _count(store_url, "scores") == len(rows), 60)
            versions = [v for (v,) in writer.execute("SELECT model_version FROM scores ORDER BY reading_id")]
    finally:
        stop.set()
        thread.join(30)
    assert versions == ["anomflow-detector/1"] * 2000 + ["anomflow-detector/2"] * (len(rows) - 2000)
    assert sum("failed to load" in r.getMessage() for r in caplog.records) == 1  # said once, not every check
