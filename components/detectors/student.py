"""The multi-task student, the served model: settings (``models.student``) and detector.

Network and score calibration: :mod:`components.models.student`. Fitting (distillation
from the teachers, calibration on the normal training and validation windows):
:func:`components.training.network_fitters.fit_student`.

Score of the window ending at a row: α·reconstruction + β·forecast + γ·classification,
each component calibrated on the training and validation windows; rows are encoded once
per scoring batch, not once per window; plus, with ``tail_gate.enabled``, ECOD's tail
score beyond its calibration level (:mod:`components.models.tail_gate`). Contributions:
each sensor's share of the weighted, normalised reconstruction and forecast errors (and
of the tail score, as far as the gate adds to the score).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from components.detectors.base import FitContext, NetworkDetector, NetworkTraining
from components.models.store import ModelSpec

ScoreComponent = Literal["reconstruction", "forecast", "classification"]
RUNTIME_ENV = "ANOMFLOW_RUNTIME"
"""``torch`` scores a registered student with torch even where its ONNX export and onnxruntime are there."""


class DistillationSettings(BaseModel):
    """Soft targets for the student's classification head."""

    model_config = ConfigDict(extra="forbid")

    teacher_weights: dict[str, float] = Field(
        {"anomaly_transformer": 0.5, "omnianomaly": 0.5},
        description="weight of each teacher's rank-normalised score in the soft target; {} trains without distillation",
    )
    injected_copies: int = Field(2, ge=0, description="copies of the training split with injected anomalies")
    events_per_1000: float = Field(3.0, gt=0, description="injected events per 1000 rows")
    magnitude: float = Field(4.0, gt=0, description="injected anomaly size, standard deviations")
    clean_targets: bool = Field(
        True, description="reconstruct/forecast the rows as they were before injection (else the injected rows themselves)",
    )
    classification_loss_weight: float = Field(
        0.1, ge=0,
        description="weight of the classification loss beside the reconstruction and forecast losses "
        "(see components/training/student_module.py for why 0.1)",
    )
    normal_rows: Literal["zero", "teacher_rank"] = Field(
        "teacher_rank",
        description="soft target of rows with neither an injected anomaly nor a label: 0 (they are normal), "
        "or their teachers' rank like every other row",
    )


class TailGateSettings(BaseModel):
    """``models.student.tail_gate``: ECOD's tail score in the student's
    (:mod:`components.models.tail_gate`)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="add ECOD's tail score beyond its calibration level to the student's score")
    quantile: float = Field(0.99, gt=0, lt=1, description="calibration-window quantile that sets each score's level")
    fit_sample: int = Field(20_000, ge=2, description="training rows (at most) the tails are estimated from")


class StudentSettings(NetworkTraining):
    """``models.student``: architecture, score and training settings of the served model."""

    window: int = Field(30, ge=17, description="rows of history behind one score (15 feed the convolutions)")
    channels: list[int] = [16, 32, 32]
    kernel_size: int = 3
    dilations: list[int] = [1, 2, 4]
    bottleneck: int = 32
    latent: int = 16
    input_noise: float = Field(0.05, ge=0, le=0.5, description="std of the Gaussian denoising noise, scaled units")
    top_sensors: int = Field(
        3, ge=1, description="a window's reconstruction and forecast errors average its k worst (normalised) sensors",
    )
    score_weights: dict[ScoreComponent, float] = {"reconstruction": 0.4, "forecast": 0.3, "classification": 0.3}
    distillation: DistillationSettings = DistillationSettings()
    tail_gate: TailGateSettings = TailGateSettings()

    def network_hparams(self) -> dict:
        return self.model_dump(include={"channels", "kernel_size", "dilations", "bottleneck", "latent"})


class StudentDetector(NetworkDetector):
    """The distilled multi-task student (:mod:`components.models.student`)."""

    kind = "student"
    Settings = StudentSettings

    def __init__(self, spec: ModelSpec, model, tail=None, onnx=None) -> None:
        """``model``: the network; ``tail``: the gate's fitted ECOD tails, exactly when
        ``spec.tail_gate`` holds its levels; ``onnx``: an ONNX Runtime session of the
        network (:class:`~components.models.student_onnx.OnnxStudent`) that scores in its
        place, or None (torch)."""
        super().__init__(spec, model)
        if (tail is None) != (spec.tail_gate is None):
            raise ValueError("a student's tail model and its gate levels come together: one is missing")
        self.tail = tail
        self.onnx = onnx

    @classmethod
    def learns_from(cls, settings: StudentSettings, trained: list[str]) -> list[str]:
        """The teachers of ``distillation.teacher_weights`` with weight > 0 that are trained."""
        return [t for t, w in settings.distillation.teacher_weights.items() if w > 0 and t in trained]

    @classmethod
    def build_network(cls, spec: ModelSpec):
        from components.models.student import MtlStudent

        return MtlStudent(len(spec.sensors), **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.hparams.items()})

    @classmethod
    def fit(cls, settings: StudentSettings, data, context: FitContext):
        from components.training.network_fitters import fit_student

        net, tail, spec, result = fit_student(cls, settings, data, context)
        return cls(spec, net, tail), result

    def score_windows(self, scaled: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from components.models.student import ScoreCalibration, component_errors_at, window_scores

        raw = self.onnx.component_errors_at(scaled, starts, self.window) if self.onnx is not None else component_errors_at(self.model, scaled, starts, self.window)
        score, errors = window_scores(raw, ScoreCalibration.from_dict(self.spec.calibration))
        if self.tail is None:
            return score, errors
        from components.models.tail_gate import GateLevels, gated_scores, window_tails

        return gated_scores(score, errors, *window_tails(self.tail, scaled, starts, self.window), GateLevels(**self.spec.tail_gate))

    def _save_parameters(self, directory: Path) -> None:
        super()._save_parameters(directory)
        if self.tail is not None:
            self.tail.save(directory)

    @classmethod
    def from_files(cls, spec: ModelSpec, directory: Path) -> "StudentDetector":
        """The saved student; scoring with ONNX Runtime where the directory holds the
        exported network (a registered bundle: :func:`export_onnx`), onnxruntime is
        installed and ``ANOMFLOW_RUNTIME`` is not ``torch``."""
        from components.models.student_onnx import ONNX_FILE, OnnxStudent, onnx_runtime_available
        from components.models.tail_probability import EcodModel

        model = cls._load_parameters(spec, directory)
        tail = EcodModel.load(directory) if spec.tail_gate is not None else None
        use_onnx = (directory / ONNX_FILE).exists() and os.environ.get(RUNTIME_ENV, "onnx") != "torch" and onnx_runtime_available()
        return cls(spec, model, tail, OnnxStudent(directory / ONNX_FILE, model.receptive_field) if use_onnx else None)

    def export_onnx(self, directory: Path) -> Path:
        """Write the network's span scoring as ONNX into ``directory`` (:mod:`components.models.student_onnx`)."""
        from components.models.student_onnx import ONNX_FILE, export_onnx

        return export_onnx(self.model, self.window, Path(directory) / ONNX_FILE)
