"""The `score` flow batch-scores an export with the champion."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from components.sources.export_format import ExportFormat
from flows.score import score

PLAIN = ExportFormat(delimiter=",")


def test_score_flow_writes_scored_rows(trained_project, tmp_path):
    prepared = pd.read_parquet(trained_project["root"] / "artifacts" / "prepared" / "test.parquet")
    export = prepared[prepared["asset"] == prepared["asset"].iloc[0]].drop(columns=["session", "label", "asset"]).head(300)
    csv = tmp_path / "export.csv"
    export.assign(timestamp=export["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    os.environ["MLFLOW_TRACKING_URI"] = trained_project["tracking_uri"]
    try:
        summary = score([str(csv)], str(tmp_path / "scored.parquet"), asset="pump-1", delimiter=",")
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == summary["rows"] == 300
    assert {"timestamp", "asset", "score", "level", "alarm", "top_sensors"} <= set(scored.columns)
    assert scored["timestamp"].dt.tz is not None and scored["timestamp"].tolist() == export["timestamp"].tolist()
    window = json.loads((trained_project["root"] / "models" / "student" / "model.json").read_text())["window"]
    assert scored["score"].notna().sum() == 300 - (window - 1)  # the served student needs a full window


def test_streamed_scoring_equals_one_piece_and_names_original_lines(trained_project, tmp_path, monkeypatch, capsys):
    from components.scoring.batch import score_export

    prepared = pd.read_parquet(trained_project["root"] / "artifacts" / "prepared" / "test.parquet")
    export = prepared[prepared["asset"] == prepared["asset"].iloc[0]].drop(columns=["session", "label", "asset"]).head(700)
    csv = tmp_path / "export.csv"
    export.assign(timestamp=export["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    uri = "models:/anomflow-detector@champion"
    os.environ["MLFLOW_TRACKING_URI"] = trained_project["tracking_uri"]
    try:
        whole = score_export([csv], tmp_path / "whole.parquet", uri, asset="pump-1", fmt=PLAIN, chunk_rows=10_000)
        capsys.readouterr()
        monkeypatch.setattr("components.scoring.batch.HEARTBEAT_S", 0.0)  # a progress line after every chunk
        streamed = score_export([csv], tmp_path / "streamed.parquet", uri, asset="pump-1", fmt=PLAIN, chunk_rows=97)
        progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("score: ")]
        assert len(progress) >= 7 and " rows scored in " in progress[0] and progress[-1].startswith("score: 700 rows scored in ")
        # a first chunk shorter than the window has no score at all, yet the file keeps one float column
        short_first = score_export([csv], tmp_path / "short_first.parquet", uri, asset="pump-1", fmt=PLAIN, chunk_rows=10)
        as_csv = score_export([csv], tmp_path / "streamed.csv", uri, asset="pump-1", fmt=PLAIN, chunk_rows=97)
        lines = csv.read_text().splitlines()
        lines[250] = lines[250].replace(lines[250].split(",")[1], "broken", 1)
        bad = tmp_path / "bad.csv"
        bad.write_text("\n".join(lines) + "\n")
        # a run that fails at line 251, after two chunks were scored, leaves the earlier output as it was
        earlier = (tmp_path / "whole.parquet").read_bytes()
        with pytest.raises(ValueError, match=r"bad\.csv.*line 251"):
            score_export([bad], tmp_path / "whole.parquet", uri, asset="pump-1", fmt=PLAIN, chunk_rows=97)
        assert (tmp_path / "whole.parquet").read_bytes() == earlier and not list(tmp_path.glob("*.partial"))
        header_only = tmp_path / "header_only.csv"
        header_only.write_text(lines[0] + "\n")
        with pytest.raises(ValueError, match=r"header_only\.csv: no data rows to score"):
            score_export([csv, header_only], tmp_path / "none.parquet", uri, asset="pump-1", fmt=PLAIN)
        assert not (tmp_path / "none.parquet").exists()
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert whole["rows"] == streamed["rows"] == as_csv["rows"] == 700
    assert whole["alarm_events"] == streamed["alarm_events"] == short_first["alarm_events"]  # alarm states carried across chunks
    a, b = pd.read_parquet(tmp_path / "whole.parquet"), pd.read_parquet(tmp_path / "streamed.parquet")
    # the networks score in float32, and a matrix product's rounding may depend on how many
    # windows one call holds (seen with AVX-512 kernels): equal to float32 rounding, not bit for bit
    float32_rounding = {"check_exact": False, "rtol": 1e-5, "atol": 1e-6}
    pd.testing.assert_frame_equal(a, b, **float32_rounding)
    assert short_first["rows"] == 700 and a["score"].dtype == np.float64
    pd.testing.assert_frame_equal(a, pd.read_parquet(tmp_path / "short_first.parquet"), **float32_rounding)
    c = pd.read_csv(tmp_path / "streamed.csv")
    np.testing.assert_allclose(c["score"].to_numpy(), a["score"].to_numpy(), rtol=1e-6, equal_nan=True)  # CSV text round trip
    assert whole["levels"] == streamed["levels"]


def _demo_exports(root, asset: str) -> dict[str, object]:
    return {panel: next((root / "data" / "demo").glob(f"{asset}__{panel}-*.csv")) for panel in ("Electrical", "Process")}


def _ingested_and_their_scores(root, tmp_path, asset: str = "pump-1") -> tuple[pd.DataFrame, pd.DataFrame]:
    """An asset's ingested readings (the model's sensors) and the champion's scores of them."""
    from components.scoring.batch import score_export

    readings = pd.read_parquet(root / "artifacts" / "readings.parquet")
    sensors = json.loads((root / "models" / "student" / "model.json").read_text())["sensors"]
    ingested = readings[readings["asset"] == asset][["timestamp", *sensors]].reset_index(drop=True)
    csv = tmp_path / f"ingested-{asset}.csv"
    ingested.assign(timestamp=ingested["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    out = tmp_path / f"reference-{asset}.parquet"
    score_export([csv], out, "models:/anomflow-detector@champion", asset=asset, fmt=PLAIN)
    return ingested, pd.read_parquet(out)


def _assert_same_scores(scored: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(scored) == len(expected) > 1000
    assert scored["score"].notna().sum() > 0.9 * len(scored)
    # float32 network: ONNX Runtime's rounding depends on the span of rows scored together (chunks), ~1e-7 on unit-scale scores
    np.testing.assert_allclose(scored["score"].to_numpy(), expected["score"].to_numpy(), rtol=1e-5, atol=1e-6, equal_nan=True)
    assert (scored["level"] == expected["level"]).all()


def test_cli_scores_one_asset_s_panel_exports_as_ingest_joins_them(trained_project, tmp_path, monkeypatch):
    """The demo's Grafana exports, one per panel (formatted with units, and raw epoch-ms),
    scored together in the project (its config names the MLflow store) give the scores of
    the ingested readings, which ingest joined."""
    from typer.testing import CliRunner

    from components.cli import app

    root = trained_project["root"]
    panels = _demo_exports(root, "pump-1")
    out = tmp_path / "scored.parquet"
    monkeypatch.chdir(root)
    result = CliRunner().invoke(app, ["score", str(panels["Electrical"]), str(panels["Process"]), str(out)])
    assert result.exit_code == 0, result.output
    assert " rows of pump-1 with " in result.output  # the asset, as ingest names it, from the file names
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_project["tracking_uri"])
    scored = pd.read_parquet(out)
    assert set(scored["asset"]) == {"pump-1"}
    _assert_same_scores(scored, _ingested_and_their_scores(root, tmp_path)[1])


def test_cli_reads_exports_as_the_project_s_csv_source_does(trained_project, tmp_path, monkeypatch):
    """In a project whose source is plain CSV laid out like SKAB's (';', a `datetime`
    column in local time, a label column and a dropped column), `anomflow score FILE OUT`
    needs no reading options: it reads the file as that source does."""
    import yaml
    from typer.testing import CliRunner

    from components.cli import app

    root = trained_project["root"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_project["tracking_uri"])
    ingested, expected = _ingested_and_their_scores(root, tmp_path)
    local = ingested["timestamp"].dt.tz_convert("Europe/Berlin").dt.strftime("%d.%m.%Y %H:%M:%S")
    skab_like = ingested.drop(columns=["timestamp"]).assign(anomaly=0, changepoint=0)
    skab_like.insert(0, "datetime", local)
    export = tmp_path / "pump-1.csv"
    skab_like.to_csv(export, sep=";", index=False)
    cfg = yaml.safe_load((root / "conf" / "pipeline.yaml").read_text())
    cfg["ingest"]["sources"] = [{
        "kind": "csv", "glob": "data/plant/*.csv", "delimiter": ";", "timestamp_column": "datetime",
        "timestamp_format": "%d.%m.%Y %H:%M:%S", "timezone": "Europe/Berlin", "label_column": "anomaly",
        "drop_columns": ["changepoint"],
    }]
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump(cfg))

    out = tmp_path / "scored.parquet"
    result = CliRunner().invoke(app, ["score", str(export), str(out), "--asset", "pump-1", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"scored {len(expected):,} rows" in result.output
    assert "left out: ['anomaly']" in result.output  # the label is not scored; the dropped column is not read
    _assert_same_scores(pd.read_parquet(out), expected)


def test_a_long_export_of_two_assets_scores_each_as_its_own(trained_project, tmp_path, monkeypatch):
    """A historian's long export (rows of both pumps interleaved by time, an asset column)
    in a project whose source names that column: each pump's rows get the scores that
    pump's own export gets."""
    import yaml
    from typer.testing import CliRunner

    from components.cli import app

    root = trained_project["root"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_project["tracking_uri"])
    parts = {asset: _ingested_and_their_scores(root, tmp_path, asset) for asset in ("pump-1", "pump-2")}
    long = pd.concat([ingested.assign(machine=asset) for asset, (ingested, _) in parts.items()]).sort_values("timestamp", kind="stable")
    export = tmp_path / "historian.csv"
    long.assign(timestamp=long["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(export, index=False)
    cfg = yaml.safe_load((root / "conf" / "pipeline.yaml").read_text())
    cfg["ingest"]["sources"] = [{"kind": "csv", "glob": "data/historian/*.csv", "asset_column": "machine"}]
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump(cfg))

    out = tmp_path / "scored.parquet"
    result = CliRunner().invoke(app, ["score", str(export), str(out), "--config", str(config)])
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(out)
    for asset, (_, expected) in parts.items():
        _assert_same_scores(scored[scored["asset"] == asset].reset_index(drop=True), expected)
    one_name = CliRunner().invoke(app, ["score", str(export), str(out), "--config", str(config), "--asset", "pump-1"])
    assert one_name.exit_code == 1 and "score them one file at a time, without an asset name for every row" in one_name.output


def test_cli_names_the_export_and_missing_sensors_in_one_line(trained_project, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from components.cli import app

    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_project["tracking_uri"])
    process = _demo_exports(trained_project["root"], "pump-1")["Process"]
    result = CliRunner().invoke(app, ["score", str(process), str(tmp_path / "scored.parquet")])
    assert result.exit_code == 1
    assert "score failed:" in result.output and process.name in result.output
    assert "no column(s) ['current', 'voltage', 'power_factor', 'motor_temperature']" in result.output
    assert "Traceback" not in result.output


def test_cli_outside_a_project_names_the_store_it_looked_in(tmp_path, monkeypatch, prefect_server):
    from typer.testing import CliRunner

    from components.cli import app

    export = tmp_path / "export.csv"
    export.write_text("timestamp,flow\n2026-01-05T00:00:00Z,1.0\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["score", str(export), "out.parquet"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "anomflow-detector" in result.output
    assert f"(MLflow store sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db)" in result.output
