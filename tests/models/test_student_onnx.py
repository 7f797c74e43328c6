"""The student exported to ONNX scores as torch does: the same raw components to float32
rounding (1e-5) for any span and any set of windows, through ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from components.models.student import MtlStudent, component_errors_at
from components.models.student_onnx import OnnxStudent, export_onnx

WINDOW = 30


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(4)
    model = MtlStudent(5, channels=(8, 16, 16), bottleneck=16, latent=8).eval()
    path = export_onnx(model, WINDOW, tmp_path_factory.mktemp("onnx") / "student.onnx")
    return model, OnnxStudent(path, model.receptive_field)


@pytest.mark.parametrize("starts", [np.arange(0, 971), np.array([0]), np.array([3, 4, 50, 51, 52, 600]), np.arange(200, 260, 7)])
def test_onnx_runtime_gives_torch_s_components(exported, starts):
    model, onnx = exported
    values = np.random.default_rng(1).standard_normal((1000, 5)) * 3
    expected, got = component_errors_at(model, values, starts, WINDOW), onnx.component_errors_at(values, starts, WINDOW)
    for component in ("reconstruction", "forecast", "classification"):
        np.testing.assert_allclose(getattr(got, component), getattr(expected, component), rtol=1e-5, atol=1e-5)
        assert getattr(got, component).shape[0] == len(starts) and getattr(got, component).dtype == np.float64
