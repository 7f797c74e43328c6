"""ECOD (Li et al., TKDE 2022) on windows: settings (``models.ecod``) and detector
(:mod:`components.models.tail_probability`)."""

from __future__ import annotations

from components.detectors.baseline import WindowBaselineDetector
from components.detectors.tail_probability import TailProbabilitySettings
from components.models.tail_probability import EcodModel


class EcodSettings(TailProbabilitySettings):
    """``models.ecod``."""


class EcodDetector(WindowBaselineDetector):
    kind = "ecod"
    Settings = EcodSettings
    model_class = EcodModel
