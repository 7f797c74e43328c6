"""The cost benchmarks on tiny inputs, so the code cannot rot: `anomflow benchmark scale`,
benchmarks/score_memory.py, benchmarks/retrain_time.py, the README tables and plot. The
real measurements are made by hand (commands in their docstrings) and kept in
reports/benchmarks/; the end-to-end runs on a trained project are marked slow."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from components.benchmarks.environment import environment, run_python_child, run_watched
from components.benchmarks.scale import _slope, plan, run_scale, synthetic_series
from components.cli import app

REPO = Path(__file__).resolve().parents[2]
SKAB_FILE = REPO.parent / "shared" / "datasets" / "skab" / "valve1" / "0.csv"


def _script(name: str):
    """A module of benchmarks/ (scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_environment_names_commit_versions_and_hardware():
    env = environment()
    assert env["git_commit"] and env["versions"]["torch"] != "missing" and env["versions"]["python"]
    assert env["hardware"]["cpu_count"] >= 1 and env["hardware"]["memory_total_mb"] > 0
    assert env["hardware"]["torch_cpu_capability"] in {"DEFAULT", "VSX", "Z VECTOR", "NO AVX", "AVX2", "AVX512", "SVE256"} and env["hardware"]["cpu"]


def test_run_watched_sees_the_childs_peak_memory():
    code = "import time; block = bytearray(150 * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); time.sleep(0.6)"
    watched = run_watched([sys.executable, "-c", code], interval_s=0.05)
    assert watched.returncode == 0
    assert watched.ru_maxrss_mb > 150 and watched.peak_tree_rss_mb > 150
    failed = run_watched([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"])
    assert failed.returncode == 3 and "boom" in failed.output


def test_synthetic_series_and_growth_exponent():
    values = synthetic_series(500, 3)
    assert values.shape == (500, 3) and values.dtype == np.float64 and np.isfinite(values).all()
    assert synthetic_series(500, 3).tobytes() == values.tobytes()  # seeded
    assert _slope([(10, 1.0), (100, 10.0), (1000, 100.0)]) == pytest.approx(1.0)
    assert _slope([(10, 1.0)]) is None


def test_plan_covers_rows_sensors_the_big_run_and_scoring():
    steps = plan(rows=(10, 20), sensors=(3, 5), sensor_rows=30, big_rows=40, score_rows=(50,), models=("student", "lstm_ae"))
    sections = [section for section, _ in steps]
    assert sections.count("training_vs_rows") == 4 and sections.count("training_vs_sensors") == 4
    assert [r for s, r in steps if s == "training_big"] == [
        {"what": "train", "max_steps": 200, "max_val_steps": 50, "threads": 2, "kind": "student", "rows": 40, "sensors": 7}
    ]
    assert [r["rows"] for s, r in steps if s == "scoring_vs_rows"] == [50]


def test_scale_in_process_on_tiny_series():
    report = run_scale(
        isolate=False, rows=(1500, 3000), sensors=(3,), sensor_rows=1500, big_rows=0, score_rows=(1000, 2000),
        max_steps=3, max_val_steps=1, models=("student", "lstm_ae"),
    )
    student = [r for r in report["training_vs_rows"] if r["kind"] == "student"]
    assert [r["rows"] for r in student] == [1500, 3000]
    for result in report["training_vs_rows"] + report["training_vs_sensors"]:
        assert result["train_batches_run"] <= 3 and result["val_batches_run"] <= 1
        assert result["capped"] == (result["train_batches"] > 3 or result["val_batches"] > 1)
        assert result["epoch_s"] > 0 and result["peak_rss_mb"] >= result["rss_after_imports_mb"] > 0
    big = student[1]  # 3000 rows: 1500 train rows, 3 copies (2 injected), a window every 2 rows
    assert big["train_rows"] == 1500 and big["injected_copies"] == 2
    assert big["train_windows"] == pytest.approx(3 * (1500 - 30) / 2 + 3, abs=3)
    assert big["capped"] and big["epoch_s"] > big["train_loop_s"]  # extrapolated to the whole epoch
    lstm = [r for r in report["training_vs_rows"] if r["kind"] == "lstm_ae"][1]
    assert lstm["train_windows"] == pytest.approx((1500 - 30) / 2 + 1, abs=2)  # no injected copies
    assert [r["rows"] for r in report["scoring_vs_rows"]] == [1000, 2000]
    assert all(r["rows_per_s"] > 0 for r in report["scoring_vs_rows"])
    assert report["growth_exponents"]["student_epoch_s_vs_rows"] is not None
    assert report["config"]["isolated"] is False and report["git_commit"] and report["versions"]["torch"]


@pytest.mark.slow  # 20-25 s of a benchmark harness; the default suite keeps its 10 minutes (make test-slow runs it)
def test_scale_command_measures_in_child_processes(tmp_path):
    out = tmp_path / "scale.json"
    args = [
        "benchmark", "scale", "--out", str(out), "--models", "student", "--rows", "1500", "--sensors", "4", "--sensor-rows", "1500",
        "--big-rows", "0", "--score-rows", "2000", "--max-steps", "2", "--max-val-steps", "1",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    report = json.loads(out.read_text())
    assert [r["sensors"] for r in report["training_vs_sensors"]] == [4]
    for measured in report["training_vs_rows"] + report["training_vs_sensors"] + report["scoring_vs_rows"]:
        assert measured["isolated"] and measured["peak_rss_mb"] > 100 and measured["ru_maxrss_mb"] > 100
        assert measured["process_wall_s"] > 0
    assert report["config"]["max_steps"] == 2 and report["wall_s"] > 0 and report["hardware"]["cpu_count"] >= 1


def test_child_failure_is_reported():
    with pytest.raises(RuntimeError, match="child failed"):
        run_python_child("components.benchmarks.scale", {"what": "train", "kind": "nope", "rows": 100, "sensors": 2})


def test_score_memory_export_reads_back_as_the_scorer_reads_it(tmp_path):
    from components.scoring.batch import read_export_chunks
    from components.sources.export_format import ExportFormat

    score_memory = _script("score_memory")
    stamps = pd.date_range("2026-01-05", periods=50, freq="min", tz="UTC")
    validated = pd.DataFrame({"timestamp": stamps, "asset": "pump-1", "a": np.arange(50.0), "b": np.r_[np.nan, np.ones(49)]})
    readings = score_memory.one_asset(validated, ["a", "b"])
    assert not readings.isna().any().any()
    path = tmp_path / "export.csv"
    size = score_memory.write_export(path, 137, readings)
    assert size == path.stat().st_size > 0
    chunks = list(read_export_chunks(path, ExportFormat(delimiter=","), chunk_rows=60))
    whole = pd.concat(chunks, ignore_index=True)
    assert [len(c) for c in chunks] == [60, 60, 17] and list(whole.columns) == ["timestamp", "a", "b", "source_row"]
    assert list(whole["source_row"]) == list(range(2, 139))  # each row's line in the export
    assert (whole["timestamp"].diff().dropna() == pd.Timedelta(minutes=1)).all()
    np.testing.assert_allclose(whole["a"].to_numpy(), np.arange(137) % 50)


def test_retrain_time_skab_config_passes_ingest_validate_and_prepare(tmp_path):
    if not SKAB_FILE.exists():
        pytest.skip(f"SKAB not found at {SKAB_FILE}")
    from components import stages
    from components.config import load_config

    retrain_time = _script("retrain_time")
    config = retrain_time.skab_project(tmp_path / "project", SKAB_FILE)
    cfg = load_config(config)
    assert cfg.paths.artifacts.startswith(str(tmp_path)) and str(tmp_path) in cfg.mlflow.tracking_uri
    stages.run_ingest(cfg)
    summary = stages.run_validate(cfg)
    assert summary["n_rows_out"] > 1000 and set(cfg.validate_.sensors) == set(retrain_time.skab_sensors(SKAB_FILE))
    stages.run_prepare(cfg)
    train = pd.read_parquet(Path(cfg.paths.artifacts) / "prepared" / "train.parquet")
    val = pd.read_parquet(Path(cfg.paths.artifacts) / "prepared" / "val.parquet")
    assert train["label"].sum() == 0 and val["label"].sum() == 0 and len(val) > 100  # both before SKAB's fault


def test_retrain_time_demo_config_points_inside_the_project(tmp_path):
    from components.config import load_config

    retrain_time = _script("retrain_time")
    root = tmp_path / "demo"
    root.mkdir()
    cfg = load_config(retrain_time.demo_project(root, days=1, assets=1))
    for source in cfg.ingest.sources:
        assert source.glob.startswith(str(root)) and list(Path(source.glob).parent.glob(Path(source.glob).name))
    assert cfg.ingest.labels.path.startswith(str(root)) and cfg.paths.models.startswith(str(root))


def test_readme_tables_render_every_cost_report(tmp_path):
    tables = _script("readme_tables")
    scale = {
        "training_vs_rows": [
            {"kind": k, "rows": n, "sensors": 7, "train_windows": n, "epoch_s": n / 1e3, "capped": n > 10**4, "s_per_1000_windows": 1.0,
             "prep_s": 0.1, "post_s": 0.2, "peak_rss_mb": 600.0} for k in ("student", "lstm_ae") for n in (10**4, 10**5)
        ],
        "training_vs_sensors": [
            {"kind": "student", "rows": 10**5, "sensors": s, "train_windows": 10**5, "epoch_s": 5.0 * s, "capped": False,
             "s_per_1000_windows": 0.5, "prep_s": 0.1, "post_s": 0.1, "peak_rss_mb": 700.0} for s in (7, 25)
        ],
        "training_big": [
            {"kind": "student", "rows": 5 * 10**6, "sensors": 7, "train_windows": 7.5e6, "epoch_s": 1500.0, "capped": True,
             "s_per_1000_windows": 0.2, "prep_s": 10.0, "post_s": 30.0, "peak_rss_mb": 1400.0}
        ],
        "scoring_vs_rows": [{"rows": n, "seconds": n / 1e5, "rows_per_s": 1e5, "peak_rss_mb": 500.0} for n in (10**4, 10**5)],
        "growth_exponents": {"student_epoch_s_vs_rows": 1.0}, "config": {"max_steps": 200, "max_val_steps": 50}, "git_commit": "abcdef123",
        "hardware": {"load_average_1_5_15": [3.0, 2.0, 1.0]},
    }
    memory = {
        "rows": 5 * 10**6, "wall_s": 350.0, "rows_per_s": 14_000.0, "marginal_rows_per_s": 15_000.0, "peak_rss_mb": 1016.0, "peak_tree_rss_mb": 1200.0,
        "target_mb": 1500.0, "within_target": True, "export_mb": 330.0, "config": {"chunk_rows": 200_000}, "git_commit": "abcdef123",
        "hardware": {"load_average_1_5_15": [8.0, 7.0, 5.0]},
    }
    retrain = {"runs": {"skab": {
        "wall_s": 120.0, "flow_s": 100.0, "validated_rows": 1147, "peak_rss_mb": 900.0, "peak_tree_rss_mb": 3000.0, "git_commit": "abcdef123",
        "stages": [{"task": "ingest-1a2", "seconds": 1.0, "start_s": 0.5}, {"task": "train-3b4", "seconds": 50.0, "start_s": 2.0}],
        "models": {"student": {"train_s": 40.0}}, "hardware": {"load_average_1_5_15": [4.0, 3.0, 2.0]},
    }}}
    retrain["runs"]["demo"] = {**retrain["runs"]["skab"], "git_commit": "abcdef123+dirty", "changed_files": ["reports/benchmarks/retrain_time.json"]}
    text = "\n\n".join([tables.scale_table(scale), tables.score_memory_table(memory), tables.retrain_table(retrain)])
    assert "5,000,000" in text and "1,016" in text and "1,500" in text and "skab" in text and "| student |" in text
    assert "| abcdef12+reports |" in text  # only an earlier report changed: the code is the commit's
    retrain["runs"]["demo"]["changed_files"].append("components/cli.py")
    assert "| abcdef12+dirty |" in tables.retrain_table(retrain)
    png = tables.plot_costs(scale, tmp_path / "costs.png")
    assert png.stat().st_size > 1000


@pytest.mark.slow
def test_score_memory_end_to_end_on_the_trained_project(trained_project, tmp_path):
    score_memory = _script("score_memory")
    root = trained_project["root"]
    example = json.loads((root / "reports" / "request_example.json").read_text())["dataframe_split"]  # the sensors, as main() takes them
    columns = [c for c in example["columns"] if c not in ("timestamp", "asset")]
    result = score_memory.measure(
        3000, validated_path=root / "artifacts" / "validated.parquet", columns=columns, model_uri="models:/anomflow-detector@champion",
        asset="pump-1", tracking_uri=trained_project["tracking_uri"], baseline_rows=500, progress=lambda m: None,
    )
    assert result["scored_rows"] == 3000 and result["baseline"]["scored_rows"] == 500
    assert 100 < result["peak_rss_mb"] < 1500 and result["within_target"]
    assert math.isfinite(result["wall_s"])


@pytest.mark.slow
def test_retrain_time_on_one_skab_file(tmp_path):
    if not SKAB_FILE.exists():
        pytest.skip(f"SKAB not found at {SKAB_FILE}")
    retrain_time = _script("retrain_time")
    result = retrain_time.measure("skab", skab_file=SKAB_FILE, workdir=tmp_path, progress=lambda m: None)
    assert result["wall_s"] > result["flow_s"] > 0 and result["validated_rows"] > 1000
    tasks = {stage["task"].rsplit("-", 1)[0] for stage in result["stages"]}
    assert {"ingest", "validate", "prepare", "train", "threshold", "evaluate", "register"} <= tasks
    assert set(result["models"]) >= {"student", "lstm_ae"}
