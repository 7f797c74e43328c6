"""The student's scoring network as ONNX, run by ONNX Runtime (issue: cheaper scoring on CPU).

What is exported is exactly what :func:`components.models.student.component_errors_at`
computes in torch: the rows of a span encoded once, each window's bottleneck features
gathered, decoded by the BiLSTM and heads, and its raw score components (per-sensor mean
squared reconstruction and forecast errors, mean anomaly probability). Inputs ``rows``
(span rows, n_sensors) float32 and ``index`` (windows, steps) int64, both with dynamic
first axes (any span, any number of windows); outputs ``reconstruction`` and ``forecast``
(windows, n_sensors) and ``classification`` (windows,), float32. Calibration, the tail
gate and contributions stay in NumPy, shared with the torch path, so the two differ only
by the runtimes' float32 rounding (tests check 1e-5).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from components.models.student import ComponentErrors, MtlStudent

ONNX_FILE = "student.onnx"
OPSET = 18


class _SpanErrors(nn.Module):
    """``component_errors_at`` as one module (module doc)."""

    def __init__(self, model: MtlStudent) -> None:
        super().__init__()
        self.model = model

    def forward(self, rows: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features = self.model.encode_rows(rows.unsqueeze(0))[0]
        targets = rows[index + self.model.receptive_field - 1]
        out = self.model.decode(features[index])
        reconstruction = ((out.reconstruction - targets) ** 2).mean(dim=1)
        forecast = ((out.forecast - targets[:, 1:]) ** 2).mean(dim=1)
        return reconstruction, forecast, torch.sigmoid(out.logits).mean(dim=1)


def export_onnx(model: MtlStudent, window: int, path: Path) -> Path:
    """Write the student's span scoring (module doc) to ``path``."""
    model = model.eval()
    steps = window - model.receptive_field + 1
    rows = torch.zeros(window + 3, model.n_features)
    index = torch.arange(4)[:, None] + torch.arange(steps)[None, :]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's notes on LSTMs and its own deprecation
        torch.onnx.export(
            _SpanErrors(model), (rows, index), str(path), input_names=["rows", "index"],
            output_names=["reconstruction", "forecast", "classification"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"rows": {0: "span"}, "index": {0: "windows"}, "reconstruction": {0: "windows"},
                          "forecast": {0: "windows"}, "classification": {0: "windows"}},
        )
    return path


class OnnxStudent:
    """An ONNX Runtime session of an exported student, scoring as
    :func:`~components.models.student.component_errors_at` does."""

    def __init__(self, path: Path, receptive_field: int, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.receptive_field = receptive_field

    def component_errors_at(self, values: np.ndarray, starts: np.ndarray, window: int) -> ComponentErrors:
        first = int(starts[0])
        rows = np.ascontiguousarray(values[first : int(starts[-1]) + window], dtype=np.float32)
        steps = window - self.receptive_field + 1
        index = (starts - first).astype(np.int64)[:, None] + np.arange(steps, dtype=np.int64)[None, :]
        reconstruction, forecast, classification = self.session.run(None, {"rows": rows, "index": index})
        return ComponentErrors(reconstruction.astype(np.float64), forecast.astype(np.float64), classification.astype(np.float64))


def onnx_runtime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
