"""benchmarks/serve_latency.py against a real `mlflow models serve` of the trained tiny
project's champion: latencies per request size, throughput under load, what was served."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from tests.benchmarks.test_scale_and_costs import _script

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a benchmark harness (16 s of serving and timing); the default suite keeps its 10 minutes
def test_serve_latency_script_measures_the_served_champion(trained_project, tmp_path):
    root = trained_project["root"]
    out = tmp_path / "serve_latency.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "serve_latency.py"), "--project", str(root), "--rows", "1,40",
         "--requests", "6", "--warmup", "1", "--clients", "2", "--seconds", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert set(report["sizes"]) == {"1", "40"}
    for size in report["sizes"].values():
        assert size["requests"] == 6 and 0 < size["p50_ms"] <= size["p99_ms"] <= size["max_ms"]
    load = report["load"]
    assert load["clients"] == 2 and load["requests"] > 0
    assert load["rows_per_s"] == pytest.approx(load["requests_per_s"] * load["rows_per_request"])
    champion = mlflow.MlflowClient(trained_project["tracking_uri"]).get_model_version_by_alias("anomflow-detector", "champion")
    assert report["model"] == {
        "uri": "models:/anomflow-detector@champion", "name": "anomflow-detector", "alias": "champion",
        "version": int(champion.version), "run_id": champion.run_id,
    }
    assert report["git_commit"] and report["hardware"]["cpu_count"] and report["versions"]["mlflow"]


def test_a_model_that_cannot_be_served_fails_with_the_servers_log(trained_project):
    serve_latency = _script("serve_latency")
    with pytest.raises(RuntimeError, match="exited with code") as failed:
        with serve_latency.served("models:/no-such-model@champion", trained_project["tracking_uri"], startup_s=120):
            pass
    assert "no-such-model" in str(failed.value)
