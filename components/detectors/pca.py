"""PCA reconstruction of the flattened window: settings (``models.pca``) and detector.
Score: the mean squared residual after projecting on the leading components and back;
contributions: each sensor's mean squared residual over the window."""

from __future__ import annotations

from pydantic import Field

from components.detectors.base import DetectorSettings
from components.detectors.baseline import WindowBaselineDetector
from components.models.baselines import PcaModel


class PcaSettings(DetectorSettings):
    """``models.pca``."""

    variance: float = Field(0.95, gt=0, lt=1, description="variance the PCA components keep")


class PcaDetector(WindowBaselineDetector):
    kind = "pca"
    Settings = PcaSettings
    model_class = PcaModel
