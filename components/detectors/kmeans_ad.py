"""Window k-means (KMeansAD, as in TSB-AD): settings (``models.kmeans_ad``) and detector.
Score: distance of the z-normalised window to its nearest k-means centre; contributions:
each sensor's share of the squared distance (:mod:`components.models.window_kmeans`)."""

from __future__ import annotations

from pydantic import Field

from components.detectors.base import DetectorSettings
from components.detectors.baseline import WindowBaselineDetector
from components.models.window_kmeans import WindowKMeansModel


class KMeansAdSettings(DetectorSettings):
    """``models.kmeans_ad``; TSB-AD's multivariate choice is 10 clusters."""

    n_clusters: int = Field(10, ge=1, description="k-means centres")
    fit_sample: int = Field(50_000, ge=1, description="training windows the centres are fitted on, at most (drawn with the seed)")


class KMeansAdDetector(WindowBaselineDetector):
    kind = "kmeans_ad"
    Settings = KMeansAdSettings
    model_class = WindowKMeansModel
