"""The next retrain learns from the operators' verdicts: with the live store as a source,
its readings are training data, an alert acknowledged as confirmed becomes a labelled
fault (left out of the fit, a label in evaluation) and one acknowledged as a false alarm
becomes normal training rows, through the real ingest, validate and prepare stages."""

from __future__ import annotations

import pandas as pd
import yaml

from components.config import load_config
from components.live.replay import replay
from components.live.store import Store
from components.scoring.score_settings import ScoreSettings
from components.stages import run_ingest, run_prepare, run_validate
from tests.tiny_project import make_tiny_project


def _alert(alert_id: int, asset: str, start: str, end: str) -> dict:
    return {"id": alert_id, "asset": asset, "state": "resolved", "level": "warning", "started_at": pd.Timestamp(start),
            "fired_at": pd.Timestamp(start), "ended_at": pd.Timestamp(end), "peak_score": 2.0, "top_sensors": ["flow"],
            "model_version": "anomflow-detector/1"}


def _start_of_a_stretch(live: Store, asset: str, at: float, minutes: int) -> pd.Timestamp:
    """The first time from ``at`` (a fraction of the asset's readings) that starts
    ``minutes`` readings a minute apart (the demo plant has stops)."""
    times = pd.to_datetime([t for (t,) in live.execute("SELECT ts FROM readings WHERE asset = ? ORDER BY ts", (asset,))], utc=True)
    for i in range(int(len(times) * at), len(times) - minutes):
        if times[i + minutes - 1] - times[i] == pd.Timedelta(minutes=minutes - 1):
            return times[i]
    raise AssertionError(f"no stretch of {minutes} readings for {asset}")


def test_acknowledged_alerts_become_labels_and_normal_training_rows(tmp_path, monkeypatch):
    root = make_tiny_project(tmp_path / "project")
    monkeypatch.chdir(root)
    store_url = f"sqlite:///{root}/live/live.db"
    with Store(store_url) as live:
        live.init()
        replay(sorted((root / "data" / "demo").glob("pump-*.csv")), live, ScoreSettings.for_project("conf/pipeline.yaml"))
        confirmed_start = _start_of_a_stretch(live, "pump-1", 0.9, 41)  # in the test split
        false_start = _start_of_a_stretch(live, "pump-2", 0.8, 31)  # in the test split's time: moved to train
        live.commit_batch(0, [], [], {}, [
            _alert(1, "pump-1", confirmed_start, confirmed_start + pd.Timedelta(minutes=40)),
            _alert(2, "pump-2", false_start, false_start + pd.Timedelta(minutes=30)),
            _alert(3, "pump-1", false_start, false_start + pd.Timedelta(minutes=30)),  # not acknowledged: nothing
        ], [], [])
        live.acknowledge(1, "confirmed", "ana")
        live.acknowledge(2, "false_alarm", "ana")
        readings = live.execute("SELECT count(*) FROM readings")[0][0]
    cfg_dict = yaml.safe_load((root / "conf" / "pipeline.yaml").read_text())
    cfg_dict["ingest"] = {"sources": [{"kind": "live_store"}]}
    cfg_dict["watch"] = {"store": store_url}
    (root / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(cfg_dict))
    cfg = load_config("conf/pipeline.yaml")

    assert run_ingest(cfg)["rows"] == readings
    run_validate(cfg)
    run_prepare(cfg)
    splits = {name: pd.read_parquet(root / "artifacts" / "prepared" / f"{name}.parquet") for name in ("train", "val", "test")}
    test = splits["test"]
    labelled = test[test["label"] == 1]
    assert set(labelled["asset"]) == {"pump-1"} and len(labelled) == 41  # 40 minutes, both ends included
    assert labelled["timestamp"].min() == confirmed_start
    moved = splits["train"][splits["train"]["session"].str.contains("~normal")]
    assert set(moved["asset"]) == {"pump-2"} and len(moved) == 31
    assert moved["timestamp"].min() == false_start
    assert not (test["asset"].eq("pump-2") & test["timestamp"].between(false_start, false_start + pd.Timedelta(minutes=30))).any()
    assert (test["asset"].eq("pump-1") & test["timestamp"].between(false_start, false_start + pd.Timedelta(minutes=30))).sum() == 31
    assert "normal_feedback" not in splits["train"].columns
