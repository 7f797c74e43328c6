"""The `anomflow` command: one sub-command per stage, each explained by --help."""

from typer.testing import CliRunner

from components.cli import app

STAGES = ["demo-data", "ingest", "validate", "prepare", "train", "threshold", "evaluate", "register", "retrain", "score", "schedule"]


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
