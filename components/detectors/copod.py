"""COPOD (Li et al., ICDM 2020) on windows, PyOD's best detector on MSL: settings
(``models.copod``) and detector (:mod:`components.models.tail_probability`)."""

from __future__ import annotations

from components.detectors.baseline import WindowBaselineDetector
from components.detectors.tail_probability import TailProbabilitySettings
from components.models.tail_probability import CopodModel


class CopodSettings(TailProbabilitySettings):
    """``models.copod``."""


class CopodDetector(WindowBaselineDetector):
    kind = "copod"
    Settings = CopodSettings
    model_class = CopodModel
