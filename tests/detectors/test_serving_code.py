"""The served model's code is only what serving imports: a copy of
components/registry/serving_code.py's list loads a saved student bundle and scores it in a
fresh process without Lightning, the training code or the benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.checksums import record_checksums
from components.detectors.base import FitContext
from components.detectors.student import StudentDetector
from components.registry.serving_code import copy_serving_code
from components.scoring.thresholds import ThresholdConfig, save_thresholds, set_levels
from tests.detectors.conftest_data import SENSORS, SMALL_SETTINGS, plant_like, tiny_prepared

FORBIDDEN_MODULES = ("pytorch_lightning", "lightning", "components.training", "components.benchmarks")

SERVE = r"""
import json, sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

copy, bundle, request, out = map(Path, sys.argv[1:5])
import components
import components.registry.served_detector as served

model = served.AnomflowDetector()
model.load_context(SimpleNamespace(artifacts={"bundle": str(bundle)}))
answer = model.predict(None, pd.read_json(request, orient="split"))
loaded = [name for name in sys.modules if name == "components" or name.startswith("components.")]
out.write_text(json.dumps({
    "components_file": components.__file__,
    "module_files": {name: getattr(sys.modules[name], "__file__", None) for name in loaded},
    "modules": sorted(sys.modules),
    "score": answer["score"].tolist(),
    "level": answer["level"].tolist(),
    "top_sensors": answer["top_sensors"].tolist(),
}))
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A saved student bundle as register's build_bundle lays it out: the detector's files,
    scaler.json, thresholds.json and serving.json, all in checksums.json."""
    import torch

    threads = torch.get_num_threads()
    prepared = tiny_prepared()
    try:
        detector, _ = StudentDetector.fit(StudentDetector.Settings(**SMALL_SETTINGS["student"]), prepared, FitContext(seed=1))
    finally:
        torch.set_num_threads(threads)
    out = tmp_path_factory.mktemp("bundle")
    detector.save(out)
    prepared.scaler.save(out / "scaler.json")
    val = detector.score_frame(prepared.scaler, prepared.splits["val"]).score
    save_thresholds(set_levels(val[np.isfinite(val)], ThresholdConfig(method="percentile")), out / "thresholds.json")
    serving = {"interval_s": 60, "interval_tolerance": 0.5, "max_gap_s": 600, "impute_steps": 5, "top_k_sensors": 2}
    (out / "serving.json").write_text(json.dumps(serving))
    record_checksums(out, ["scaler.json", "thresholds.json", "serving.json"])
    return out


@pytest.fixture(scope="module")
def request_frame() -> pd.DataFrame:
    values = plant_like(60, 5)
    values[50, 2] += 8.0
    frame = pd.DataFrame(values, columns=SENSORS)
    frame.insert(0, "asset", "pump-1")
    frame.insert(0, "timestamp", pd.date_range("2024-01-01", periods=len(frame), freq="60s").strftime("%Y-%m-%dT%H:%M:%SZ"))
    return frame


def test_the_copy_holds_only_serving_code(tmp_path):
    copy = copy_serving_code(tmp_path)
    assert copy == tmp_path / "components" and (copy / "registry" / "served_detector.py").is_file()
    assert not (copy / "training").exists() and not (copy / "benchmarks").exists()
    assert not (copy / "cli.py").exists() and not (copy / "stages.py").exists() and not (copy / "config.py").exists()
    assert (copy / "detectors" / "registry.py").is_file()
    assert sorted(p.name for p in (copy / "detectors" / "profiles").glob("*.yaml")) == ["anomaly_transformer.yaml", "omnianomaly.yaml"]
    assert not list(copy.rglob("__pycache__")) and not list(copy.rglob("*.pyc"))


def test_the_copy_loads_and_scores_a_student_bundle_without_training_code(bundle, request_frame, tmp_path):
    copy = copy_serving_code(tmp_path / "code")
    request = tmp_path / "request.json"
    request_frame.to_json(request, orient="split", index=False)
    answer_file = tmp_path / "answer.json"
    run_dir = tmp_path / "run"  # not the repository: `python -c` puts the working directory first on sys.path
    run_dir.mkdir()
    env = {"PYTHONPATH": str(copy.parent), "PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", SERVE, str(copy), str(bundle), str(request), str(answer_file)],
        cwd=run_dir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(answer_file.read_text())

    assert Path(answer["components_file"]).parent == copy  # the copy served, not the repository
    assert all(path is None or Path(path).is_relative_to(copy) for path in answer["module_files"].values()), answer["module_files"]
    for forbidden in FORBIDDEN_MODULES:
        assert not [m for m in answer["modules"] if m == forbidden or m.startswith(forbidden + ".")], forbidden
    assert "components.detectors.student" in answer["modules"]

    window = SMALL_SETTINGS["student"]["window"]
    score = np.array([np.nan if s is None else s for s in answer["score"]], dtype=float)
    assert np.isnan(score[: window - 1]).all() and np.isfinite(score[window - 1 :]).all()
    assert answer["level"][: window - 1] == ["insufficient_history"] * (window - 1)
    assert set(answer["level"][window - 1 :]) <= {"normal", "warning", "critical"}
    assert all(len(top) == 2 and set(top) <= set(SENSORS) for top in answer["top_sensors"][window - 1 :])

    # the same request scored by the repository's own code gives the same answer
    from types import SimpleNamespace

    from components.registry.served_detector import AnomflowDetector

    model = AnomflowDetector()
    model.load_context(SimpleNamespace(artifacts={"bundle": str(bundle)}))
    here = model.predict(None, request_frame)
    np.testing.assert_allclose(score, here["score"].to_numpy(dtype=float), rtol=1e-6, equal_nan=True)
    assert answer["level"] == here["level"].tolist()


def test_the_bundle_is_plain_files(bundle):
    assert {p.suffix for p in bundle.iterdir()} <= {".json", ".pt", ".npz"}
    assert sorted(p.name for p in bundle.iterdir()) == sorted([
        "model.json", StudentDetector.WEIGHTS_FILE, "ecod.json", "ecod.npz",  # the network and its tail gate's tails
        "scaler.json", "thresholds.json", "serving.json", "checksums.json",
    ])
    recorded = json.loads((bundle / "checksums.json").read_text())["files"]
    assert sorted(recorded) == sorted(p.name for p in bundle.iterdir() if p.name != "checksums.json")  # every file verified
