"""The registered student carries its network as ONNX (checksummed like every served
file) and the served model scores with ONNX Runtime, giving the torch path's scores to
float32 rounding; ``ANOMFLOW_RUNTIME=torch`` keeps torch."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd

from components.registry.tracking import using_tracking_uri


def _served(tracking_uri: str):
    with using_tracking_uri(tracking_uri):
        return mlflow.pyfunc.load_model("models:/anomflow-detector@champion").unwrap_python_model()


def test_the_served_student_scores_with_onnx_runtime_as_with_torch(trained_project, monkeypatch):
    with_onnx = _served(trained_project["tracking_uri"])
    monkeypatch.setenv("ANOMFLOW_RUNTIME", "torch")
    with_torch = _served(trained_project["tracking_uri"])
    assert with_onnx.detector.onnx is not None and with_torch.detector.onnx is None
    bundle = trained_project["root"] / "models" / "student"
    assert "student.onnx" not in json.loads((bundle / "checksums.json").read_text())["files"]  # exported at registration only
    readings = pd.read_parquet(trained_project["root"] / "artifacts" / "validated.parquet")
    request = readings[readings["asset"] == readings["asset"].iloc[0]].head(3000)
    request = request[["timestamp", "asset", *with_onnx.detector.sensors]]
    onnx_scores, torch_scores = with_onnx.predict(None, request), with_torch.predict(None, request)
    scored = torch_scores["score"].notna()
    assert scored.sum() > 2500 and (onnx_scores["score"].notna() == scored).all()
    np.testing.assert_allclose(onnx_scores.loc[scored, "score"].to_numpy(float), torch_scores.loc[scored, "score"].to_numpy(float), rtol=1e-5, atol=1e-5)
    assert (onnx_scores["level"] == torch_scores["level"]).mean() > 0.999  # a level can flip only at a threshold's rounding
