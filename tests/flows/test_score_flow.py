"""The `score` flow batch-scores an export with the champion."""

import json
import os

import numpy as np
import pandas as pd
import pytest

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


def test_streamed_scoring_equals_one_piece_and_names_original_lines(trained_project, tmp_path):
    from components.scoring.batch import score_export

    prepared = pd.read_parquet(trained_project["root"] / "artifacts" / "prepared" / "test.parquet")
    export = prepared[prepared["asset"] == prepared["asset"].iloc[0]].drop(columns=["session", "label", "asset"]).head(700)
    csv = tmp_path / "export.csv"
    export.assign(timestamp=export["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    uri = "models:/anomflow-detector@champion"
    os.environ["MLFLOW_TRACKING_URI"] = trained_project["tracking_uri"]
    try:
        whole = score_export(csv, tmp_path / "whole.parquet", uri, asset="pump-1", delimiter=",", chunk_rows=10_000)
        streamed = score_export(csv, tmp_path / "streamed.parquet", uri, asset="pump-1", delimiter=",", chunk_rows=97)
        as_csv = score_export(csv, tmp_path / "streamed.csv", uri, asset="pump-1", delimiter=",", chunk_rows=97)
        lines = csv.read_text().splitlines()
        lines[250] = lines[250].replace(lines[250].split(",")[1], "broken", 1)
        bad = tmp_path / "bad.csv"
        bad.write_text("\n".join(lines) + "\n")
        with pytest.raises(ValueError, match=r"bad\.csv.*line 251"):
            score_export(bad, tmp_path / "bad.parquet", uri, asset="pump-1", delimiter=",", chunk_rows=97)
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert whole["rows"] == streamed["rows"] == as_csv["rows"] == 700
    a, b = pd.read_parquet(tmp_path / "whole.parquet"), pd.read_parquet(tmp_path / "streamed.parquet")
    pd.testing.assert_frame_equal(a, b)
    c = pd.read_csv(tmp_path / "streamed.csv")
    np.testing.assert_allclose(c["score"].to_numpy(), a["score"].to_numpy(), rtol=1e-6, equal_nan=True)  # CSV text round trip
    assert whole["levels"] == streamed["levels"]
