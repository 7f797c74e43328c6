"""What the classic window baselines (PCA, Isolation Forest) share: fitted on the
flattened training windows every ``train_stride`` rows, scored per window by their numpy
models (:mod:`components.models.baselines`), saved as JSON + ``.npz`` (no pickle). No
torch, no Lightning: a baseline's process imports neither."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

import numpy as np

from components.detectors.base import Detector, DetectorSettings, FitContext
from components.models.store import ModelSpec


class WindowBaselineDetector(Detector):
    """A baseline model of :mod:`components.models.baselines` behind the interface."""

    model_class: ClassVar[type]

    @classmethod
    def model_params(cls, settings: DetectorSettings) -> dict:
        """The model class's keyword arguments from ``settings``."""
        return settings.model_dump(exclude={"window", "train_stride"})

    @classmethod
    def fit(cls, settings: DetectorSettings, data, context: FitContext):
        from components.features.windows import fit_window_starts, gather_windows
        from components.training.fit_result import FitResult

        hparams = cls.model_params(settings)
        spec = ModelSpec(cls.kind, list(data.sensors), settings.window, hparams)
        train = data.splits["train"]
        starts = fit_window_starts(train, spec.window, settings.train_stride, context.exclude_labelled)
        if context.logger is not None:
            context.logger.log_hyperparams({**hparams, "window": spec.window, "train_stride": settings.train_stride, "sensors": ",".join(spec.sensors)})
        start = time.perf_counter()
        model = cls.model_class(**hparams).fit(gather_windows(data.scaler.transform(train), starts, spec.window), seed=context.seed)
        return cls(spec, model), FitResult([], float("nan"), time.perf_counter() - start)

    def score_windows(self, scaled: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from components.features.windows import gather_windows

        return self.model.score_windows(gather_windows(scaled, starts, self.window))

    def _save_parameters(self, directory: Path) -> None:
        self.model.save(directory)

    @classmethod
    def _load_parameters(cls, spec: ModelSpec, directory: Path):
        return cls.model_class.load(directory)
