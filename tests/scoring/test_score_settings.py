"""Batch scoring takes the project's store, model, reading options and duplicate rule."""

from pathlib import Path

import pytest
import yaml

from components.sources.export_format import ExportFormat
from components.scoring.score_settings import ScoreSettings


def _project(root, **sections) -> None:
    cfg = {
        "ingest": {"sources": [{"kind": "csv", "glob": "data/*.csv", "delimiter": ";", "timestamp_column": "datetime"}], "duplicate_rule": "last"},
        "validate": {"expected_interval_s": 1, "sensors": {"flow": None}},
        **sections,
    }
    (root / "conf").mkdir()
    (root / "conf" / "pipeline.yaml").write_text(yaml.safe_dump(cfg))


def test_the_project_s_config_sets_store_model_format_and_duplicate_rule(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _project(tmp_path, register={"model_name": "pump-detector"}, mlflow={"tracking_uri": "sqlite:///store/mlflow.db"})
    monkeypatch.chdir(tmp_path)
    settings = ScoreSettings.for_project()
    assert settings == ScoreSettings(
        model_uri="models:/pump-detector@champion", tracking_uri=f"sqlite:///{tmp_path.resolve()}/store/mlflow.db",
        export_format=ExportFormat(delimiter=";", timestamp_column="datetime"), duplicate_rule="last",
        asset_pattern=r"^(?P<asset>.+)\.csv$",
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.plant:5000")
    given = ScoreSettings.for_project("conf/pipeline.yaml", model_uri="models:/pump-detector/3", delimiter=",", timezone="Europe/Berlin")
    assert (given.tracking_uri, given.model_uri) == ("http://mlflow.plant:5000", "models:/pump-detector/3")
    assert given.export_format == ExportFormat(delimiter=",", timestamp_column="datetime", timezone="Europe/Berlin")


def test_outside_a_project_the_defaults_apply_and_a_named_config_must_exist(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = ScoreSettings.for_project()
    assert settings.model_uri == "models:/anomflow-detector@champion" and settings.export_format == ExportFormat()
    assert settings.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db" and settings.duplicate_rule == "mean"
    with pytest.raises(FileNotFoundError, match="config file not found: elsewhere.yaml"):
        ScoreSettings.for_project("elsewhere.yaml")


def test_a_source_that_names_its_asset_names_the_scored_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "pipeline.yaml").write_text(yaml.safe_dump({"ingest": {"sources": [{"kind": "grafana_csv", "glob": "*.csv", "asset": "press-4"}]}}))
    assert ScoreSettings.for_project().asset == "press-4"
    assert ScoreSettings.for_project(asset="press-5").asset == "press-5"
    (tmp_path / "other").mkdir()
    _project(tmp_path / "other")
    assert ScoreSettings.for_project(tmp_path / "other" / "conf" / "pipeline.yaml").asset is None


def test_the_rows_asset_is_found_in_the_export_names_as_ingest_finds_it(tmp_path, monkeypatch):
    """A Grafana project names assets by its files (``pump-1__Process-data-….csv``), and so
    the scored rows of such exports get that asset, not the served model's default."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "pipeline.yaml").write_text(yaml.safe_dump({"ingest": {"sources": [{"kind": "grafana_csv", "glob": "data/*.csv"}]}}))
    settings = ScoreSettings.for_project()
    panels = [Path("exports/pump-1__Process-data-2026-01-09.csv"), Path("pump-1__Electrical-data.csv")]
    assert settings.asset_of(panels) == "pump-1"
    assert settings.asset_of([Path("trend.csv")]) is None
    assert settings.asset_of([*panels, Path("trend.csv")]) == "pump-1"
    with pytest.raises(ValueError, match=r"several assets in the export names \(pump-1, pump-2\).*--asset"):
        settings.asset_of([*panels, Path("pump-2__Process-data.csv")])
    assert ScoreSettings.for_project(asset="pump-9").asset_of(panels) == "pump-9"
    (tmp_path / "conf" / "pipeline.yaml").write_text(yaml.safe_dump({"ingest": {"sources": [
        {"kind": "csv", "glob": "data/*.csv", "asset_column": "machine"}]}}))
    assert ScoreSettings.for_project().asset_of([Path("pump-1.csv")]) is None  # each row names its asset
