"""The one map from a model kind (its name in the config, on disk and in reports) to its
detector class. The order is the pipeline's: the served model first, then the others as
the leaderboard lists them."""

from __future__ import annotations

import json
from pathlib import Path

from components.checksums import verify_checksums
from components.detectors.anomaly_transformer import AnomalyTransformerDetector
from components.detectors.base import Detector
from components.detectors.copod import CopodDetector
from components.detectors.ecod import EcodDetector
from components.detectors.iforest import IsolationForestDetector
from components.detectors.kmeans_ad import KMeansAdDetector
from components.detectors.lstm_ae import LstmAeDetector
from components.detectors.omnianomaly import OmniAnomalyDetector
from components.detectors.pca import PcaDetector
from components.detectors.student import StudentDetector
from components.models.store import SPEC_FILE, ModelSpec

DETECTORS: dict[str, type[Detector]] = {
    cls.kind: cls
    for cls in (
        StudentDetector, LstmAeDetector, AnomalyTransformerDetector, OmniAnomalyDetector, PcaDetector, IsolationForestDetector,
        KMeansAdDetector, CopodDetector, EcodDetector,
    )
}
KINDS: tuple[str, ...] = tuple(DETECTORS)
SERVED_KIND: str = StudentDetector.kind


def detector_class(kind: str) -> type[Detector]:
    """The class of ``kind``; a ValueError naming the known kinds otherwise."""
    try:
        return DETECTORS[kind]
    except KeyError:
        raise ValueError(f"unknown model {kind!r}; choose one of {list(KINDS)}") from None


def load_detector(directory: str | Path) -> Detector:
    """The fitted detector saved in ``directory`` by :meth:`Detector.save`, once every
    file's checksum is verified (a :class:`~components.checksums.ChecksumError` naming
    the first file that differs)."""
    directory = Path(directory)
    spec_file = directory / SPEC_FILE
    if not spec_file.exists():
        raise FileNotFoundError(f"{directory} holds no saved model (missing {SPEC_FILE})")
    verify_checksums(directory, required=[SPEC_FILE])
    spec = ModelSpec(**json.loads(spec_file.read_text()))
    return detector_class(spec.kind).from_files(spec, directory)
