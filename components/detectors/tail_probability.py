"""What COPOD and ECOD (:mod:`components.detectors.copod`, :mod:`components.detectors.ecod`)
share: their settings. Score: the window's summed empirical tail outlyingness;
contributions: each sensor's share of it (:mod:`components.models.tail_probability`)."""

from __future__ import annotations

from pydantic import Field

from components.detectors.base import DetectorSettings


class TailProbabilitySettings(DetectorSettings):
    """The training rows that end a training window (every row with ``train_stride: 1``)
    set each sensor's distribution."""

    fit_sample: int = Field(20_000, ge=2, description="training rows kept per sensor, at most (drawn with the seed)")
