"""The `score` flow batch-scores an export with the champion."""

import json
import os

import pandas as pd

from flows.score import score


def test_score_flow_writes_scored_rows(trained_project, tmp_path):
    prepared = pd.read_parquet(trained_project["root"] / "artifacts" / "prepared" / "test.parquet")
    export = prepared[prepared["asset"] == prepared["asset"].iloc[0]].drop(columns=["session", "label", "asset"]).head(300)
    csv = tmp_path / "export.csv"
    export.assign(timestamp=export["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    os.environ["MLFLOW_TRACKING_URI"] = trained_project["tracking_uri"]
    try:
        summary = score(str(csv), str(tmp_path / "scored.parquet"), asset="pump-1", delimiter=",")
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == summary["rows"] == 300
    assert {"timestamp", "asset", "score", "level", "top_sensors"} <= set(scored.columns)
    window = json.loads((trained_project["root"] / "models" / "student" / "model.json").read_text())["window"]
    assert scored["score"].notna().sum() == 300 - (window - 1)  # the served student needs a full window
