"""`anomflow score` on exports a plant really produces, damaged or not, and on a damaged
model: nothing hides an alarm (issue 30)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from components.cli import app
from tests.tiny_project import copy_trained_project


def _export(trained_project, rows: int = 300) -> pd.DataFrame:
    prepared = pd.read_parquet(trained_project["root"] / "artifacts" / "prepared" / "test.parquet")
    first = prepared[prepared["asset"] == prepared["asset"].iloc[0]]
    export = first.drop(columns=["session", "label", "asset"]).head(rows).reset_index(drop=True)
    return export.assign(timestamp=export["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _score(trained_project, monkeypatch, *args: str):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_project["tracking_uri"])
    return CliRunner().invoke(app, ["score", *args, "--asset", "pump-1"])


def _window(trained_project) -> int:
    return json.loads((trained_project["root"] / "models" / "student" / "model.json").read_text())["window"]


def test_an_infinite_reading_in_an_export_is_critical_and_hides_no_row(trained_project, tmp_path, monkeypatch):
    export = _export(trained_project).astype({"current": "object"})
    export.loc[100, "current"] = "Infinity"
    export.to_csv(tmp_path / "export.csv", index=False)
    result = _score(trained_project, monkeypatch, str(tmp_path / "export.csv"), str(tmp_path / "scored.parquet"), "--delimiter", ",")
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert scored.loc[100, "level"] == "critical" and scored.loc[100, "top_sensors"].startswith("current")
    assert (scored["level"] == "insufficient_history").sum() == _window(trained_project) - 1  # the start only


def test_a_dead_sensor_is_reported_in_the_output_and_the_summary(trained_project, tmp_path, monkeypatch):
    export = _export(trained_project).assign(voltage=np.nan)
    export.to_csv(tmp_path / "export.csv", index=False)
    result = _score(trained_project, monkeypatch, str(tmp_path / "export.csv"), str(tmp_path / "scored.csv"), "--delimiter", ",")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert (scored["level"] == "sensor_fault").all() and (scored["missing_sensors"] == "voltage").all()
    assert "'sensor_fault': 300" in result.output
    assert re.search(r"sensor faults.*voltage: 300 rows", result.output.replace("\n", " "))


def test_a_semicolon_export_with_decimal_commas_scores_as_the_same_numbers_with_points(trained_project, tmp_path, monkeypatch):
    export = _export(trained_project)
    export.to_csv(tmp_path / "points.csv", index=False, sep=";")
    export.to_csv(tmp_path / "commas.csv", index=False, sep=";", decimal=",")
    assert re.search(r";\d+,\d+", (tmp_path / "commas.csv").read_text().splitlines()[1])  # really decimal commas
    for name in ("points", "commas"):
        result = _score(trained_project, monkeypatch, str(tmp_path / f"{name}.csv"), str(tmp_path / f"{name}.parquet"), "--delimiter", ";")
        assert result.exit_code == 0, result.output
    points, commas = pd.read_parquet(tmp_path / "points.parquet"), pd.read_parquet(tmp_path / "commas.parquet")
    pd.testing.assert_frame_equal(points, commas)
    assert (commas["level"] != "critical").mean() > 0.5  # read as 0.809, not 809


def test_one_export_out_of_time_order_is_named_by_file_and_line(trained_project, tmp_path, monkeypatch):
    export = _export(trained_project)
    export.loc[[150, 151]] = export.loc[[151, 150]].to_numpy()
    export.to_csv(tmp_path / "export.csv", index=False)
    result = _score(trained_project, monkeypatch, str(tmp_path / "export.csv"), str(tmp_path / "scored.parquet"), "--delimiter", ",")
    assert result.exit_code == 1
    assert f"{tmp_path / 'export.csv'}: line 153: time" in result.output.replace("\n", "") and "row 15" not in result.output


def test_a_champion_with_changed_weights_is_refused_naming_the_file(trained_project, tmp_path, monkeypatch):
    root = copy_trained_project(trained_project["root"], tmp_path / "project")
    weights = [p for p in (root / "mlruns").rglob("weights.pt")]
    assert weights
    for path in weights:
        content = bytearray(path.read_bytes())
        content[len(content) // 2] ^= 0xFF
        path.write_bytes(bytes(content))
    _export(trained_project).to_csv(tmp_path / "export.csv", index=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlruns/mlflow.db")
    result = CliRunner().invoke(app, ["score", str(tmp_path / "export.csv"), str(tmp_path / "scored.parquet"), "--asset", "pump-1", "--delimiter", ","])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.search(r"score failed: \S+/weights\.pt: content differs from its checksum", result.output.replace("\n", ""))
    assert not (tmp_path / "scored.parquet").exists()


@pytest.mark.parametrize("cell", ["Infinity", "1e308"])
def test_an_infinite_reading_in_a_request_gets_a_level_not_silence(trained_project, monkeypatch, cell):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_project["tracking_uri"])
    model = mlflow.pyfunc.load_model("models:/anomflow-detector@champion")
    example = json.loads((trained_project["root"] / "reports" / "request_example.json").read_text())["dataframe_split"]
    request = pd.DataFrame(example["data"], columns=example["columns"]).astype({"current": "object"})
    request.loc[100, "current"] = cell
    out = model.predict(request)
    assert out.loc[100, "level"] == "critical"
    assert out["score"].iloc[_window(trained_project) - 1 :].notna().all()
