"""The `anomflow` command: one sub-command per stage, each explained by --help."""

from pathlib import Path

from typer.testing import CliRunner

import flows.schedule  # noqa: F401  Prefect sets up its log handlers on import, on the stderr of that moment: not a CliRunner's, closed after the call
from components.cli import app

STAGES = ["demo-data", "config", "ingest", "validate", "prepare", "train", "threshold", "evaluate", "register", "retrain", "score", "schedule"]


def test_help_lists_every_stage_with_an_explanation():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for stage in STAGES:
        assert stage in result.output
        sub = CliRunner().invoke(app, [stage, "--help"])
        assert sub.exit_code == 0 and len(sub.output.splitlines()) > 3


def test_stage_error_is_reported_without_traceback(tmp_path):
    result = CliRunner().invoke(app, ["ingest", "--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1
    assert "config file not found" in result.output and "Traceback" not in result.output


PARTIAL_CONFIG = """\
ingest:
  sources: [{kind: csv, glob: "data/*.csv", delimiter: ";"}]
validate:
  expected_interval_s: 1
  sensors: {current: {min: 0}}
models:
  student:
    window: 24
"""


def test_config_fills_in_every_default_and_reloads_equal(tmp_path):
    import yaml

    from components.config import PipelineConfig, load_config

    (tmp_path / "pipeline.yaml").write_text(PARTIAL_CONFIG)
    printed = CliRunner().invoke(app, ["config", "--config", str(tmp_path / "pipeline.yaml")])
    assert printed.exit_code == 0
    settings = yaml.safe_load(printed.stdout)
    assert list(settings) == [f.alias or name for name, f in PipelineConfig.model_fields.items()]
    assert settings["models"]["student"]["window"] == 24 and list(settings["models"]) == ["student"] and settings["threshold"] and settings["ingest"]["sources"][0]["delimiter"] == ";"

    out = tmp_path / "artifacts" / "params.yaml"
    written = CliRunner().invoke(app, ["config", "--config", str(tmp_path / "pipeline.yaml"), "--out", str(out)])
    assert written.exit_code == 0 and "config written" in written.output
    assert load_config(out) == load_config(tmp_path / "pipeline.yaml")


def test_config_with_a_misspelt_key_names_it(tmp_path):
    (tmp_path / "pipeline.yaml").write_text(PARTIAL_CONFIG.replace("window", "windw"))
    result = CliRunner().invoke(app, ["config", "--config", str(tmp_path / "pipeline.yaml")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "models.student.windw: unknown key; did you mean `window`?" in result.output


def test_retrain_and_schedule_stop_on_a_bad_config_before_starting_prefect(tmp_path):
    """Pydantic's own words in brackets (``[type=...]``) reach the terminal as written,
    and neither command starts a Prefect server for a config that cannot run."""
    config = tmp_path / "pipeline.yaml"
    config.write_text(PARTIAL_CONFIG.replace("window: 24", "window: [24]"))
    for command in (["retrain"], ["schedule", "--cron", "0 3 * * *"]):
        result = CliRunner().invoke(app, [*command, "--config", str(config)])
        assert result.exit_code == 1, result.output
        assert "models.student.window: Input should be a valid integer" in result.output
        assert "Prefect" not in result.output and "Traceback" not in result.output
    config.write_text(PARTIAL_CONFIG)
    result = CliRunner().invoke(app, ["schedule", "--cron", "at three", "--config", str(config)])
    assert result.exit_code == 1 and "a cron expression has five fields" in result.output


def test_an_unreachable_prefect_server_is_one_line_that_names_it(tmp_path, monkeypatch):
    import socket

    from prefect.settings import PREFECT_API_URL, temporary_settings

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/api"
    (tmp_path / "pipeline.yaml").write_text(PARTIAL_CONFIG)
    monkeypatch.chdir(tmp_path)
    with temporary_settings({PREFECT_API_URL: url}):
        for command in (["retrain", "--config", "pipeline.yaml"], ["schedule", "--config", "pipeline.yaml"]):
            result = CliRunner().invoke(app, command)
            assert result.exit_code == 1, result.output
            assert f"failed: cannot reach the Prefect server at PREFECT_API_URL={url}" in result.output
            assert "unset PREFECT_API_URL" in result.output and "Traceback" not in result.output


def test_an_unreachable_mlflow_server_is_one_line_within_seconds(tmp_path, monkeypatch):
    """MLflow's client alone retries a refused connection for about four minutes."""
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    (tmp_path / "pipeline.yaml").write_text(PARTIAL_CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    for command in (["retrain", "--config", "pipeline.yaml"], ["score", "export.csv", "out.csv", "--config", "pipeline.yaml"]):
        started = time.monotonic()
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 1, result.output
        assert f"failed: cannot reach the MLflow server at {url} (ConnectionError)" in result.output
        assert time.monotonic() - started < 30


def test_stage_errors_print_brackets_as_written(tmp_path):
    """Grafana names a download after its panel, units and all: ``[bar]`` is no markup."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "Pressure [bar]-data-2024-11-25.csv").write_text("time,pressure\n2024-01-01 00:00:00,1\n")
    config = tmp_path / "pipeline.yaml"
    config.write_text(f'ingest:\n  sources: [{{kind: csv, glob: "{tmp_path}/data/*.csv", asset: p1}}]\n')
    result = CliRunner().invoke(app, ["ingest", "--config", str(config)])
    assert result.exit_code == 1
    assert "Pressure [bar]-data-2024-11-25.csv: no timestamp column 'timestamp'" in result.output


def test_too_much_bad_data_stops_validate_with_a_one_line_reason(tmp_path, monkeypatch):
    import pandas as pd

    from tests.tiny_project import make_tiny_project

    root = make_tiny_project(tmp_path)
    monkeypatch.chdir(root)
    assert CliRunner().invoke(app, ["ingest"]).exit_code == 0
    assert CliRunner().invoke(app, ["validate"]).exit_code == 0 and Path("artifacts/validated.parquet").exists()
    readings = pd.read_parquet("artifacts/readings.parquet")
    readings.loc[readings.index[::10], "current"] = 9999.0  # 10 % out of range
    readings.to_parquet("artifacts/readings.parquet", index=False)
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "current" in result.output and "quarantine_tolerance" in result.output
    assert "Traceback" not in result.output
    assert len(pd.read_parquet("artifacts/quarantine.parquet")) >= len(readings) // 10
    # the first run's validated rows went with the stopped run, so prepare cannot use them
    prepare = CliRunner().invoke(app, ["prepare"])
    assert prepare.exit_code == 1 and "`anomflow validate`" in prepare.output and "validated.parquet not found" in prepare.output


def test_score_without_an_output_path_says_how_to_call_it(tmp_path):
    result = CliRunner().invoke(app, ["score", str(tmp_path / "export.csv")])
    assert result.exit_code == 2
    assert "anomflow score EXPORT... OUTPUT" in result.output and "Traceback" not in result.output


def test_the_cli_sends_no_telemetry_and_draws_no_download_bars_unless_the_user_asks():
    """Offline plants: the ephemeral Prefect server's telemetry would log an ERROR line per
    run, and MLflow's artifact bars fill the log of every registration."""
    import os
    import subprocess
    import sys

    keys = ("PREFECT_SERVER_ANALYTICS_ENABLED", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    code = f"import os, components.cli; print(*(os.environ[k] for k in {keys!r}))"
    env = {k: v for k, v in os.environ.items() if k not in keys}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split() == ["false", "false"]
    env[keys[0]] = "true"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split() == ["true", "false"]


def test_demo_data_writes_the_plant_and_refuses_an_empty_one(tmp_path):
    result = CliRunner().invoke(app, ["demo-data", "--out", str(tmp_path / "demo"), "--days", "1", "--assets", "1"])
    assert result.exit_code == 0 and "3 files" in result.output
    assert sorted(p.name.split("-data")[0] for p in (tmp_path / "demo").glob("*.csv")) == ["labels.csv", "pump-1__Electrical", "pump-1__Process"]
    for option in ("--days", "--assets"):
        refused = CliRunner().invoke(app, ["demo-data", "--out", str(tmp_path / "none"), option, "0"])
        assert refused.exit_code == 2 and "greater than or equal to 1" in refused.output and not (tmp_path / "none").exists()


def test_stages_run_out_of_order_name_the_command_that_comes_first(tmp_path, monkeypatch):
    from tests.tiny_project import make_tiny_project

    monkeypatch.chdir(make_tiny_project(tmp_path))
    for stage in ("ingest", "validate", "prepare"):
        assert CliRunner().invoke(app, [stage]).exit_code == 0, stage
    threshold = CliRunner().invoke(app, ["threshold"])
    assert threshold.exit_code == 1 and "models/student/model.json not found: `anomflow train --model student` writes it" in threshold.output
    register = CliRunner().invoke(app, ["register"])
    assert register.exit_code == 1 and "reports/metrics.json not found: `anomflow evaluate` writes it" in register.output
