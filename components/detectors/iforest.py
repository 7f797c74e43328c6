"""Isolation Forest (Liu, Ting & Zhou, ICDM 2008) on flattened windows: settings
(``models.iforest``) and detector. Score: −``score_samples`` of the forest; contributions:
the squared deviation of the window's last row from each sensor's training mean."""

from __future__ import annotations

from pydantic import Field

from components.detectors.base import DetectorSettings
from components.detectors.baseline import WindowBaselineDetector
from components.models.baselines import IsolationForestModel


class IsolationForestSettings(DetectorSettings):
    """``models.iforest``."""

    n_estimators: int = Field(100, ge=1, description="trees")


class IsolationForestDetector(WindowBaselineDetector):
    kind = "iforest"
    Settings = IsolationForestSettings
    model_class = IsolationForestModel
