"""The one interface every anomaly detector of anomflow implements.

A detector kind is one module under :mod:`components.detectors` holding a
:class:`DetectorSettings` subclass (its section under ``models:`` in the pipeline config,
its window included) and a :class:`Detector` subclass, listed once in
:mod:`components.detectors.registry`. Everything else (the stages, batch scoring, the
served pyfunc, ablation, the benchmark harness) uses only this interface:

* :meth:`Detector.fit` — a fitted detector from prepared data (train and validation
  splits, scaled by the prepared scaler), seeded, early-stopping where it trains epochs;
* :meth:`Detector.score` — per-row scores of a sessionised series, causally: row ``t``
  from the ``window`` rows ending at ``t``, NaN for rows with less history in their
  session; with per-sensor contributions (each row sums to 1);
* :meth:`Detector.save` / :func:`components.detectors.registry.load_detector` — plain
  files: ``model.json`` (:class:`~components.models.store.ModelSpec`) and the kind's
  parameter files (a torch state dict loaded with ``weights_only=True``, or numpy
  arrays); nothing pickled.

Modules import torch and the networks lazily, so loading a config (which validates every
model's settings) stays fast and a baseline's process never imports torch.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from components.models.store import SPEC_FILE, ModelSpec

if TYPE_CHECKING:
    import pandas as pd

    from components.features.prepare import PreparedData
    from components.features.scaling import StandardScaler
    from components.training.fit_result import FitResult

SCORING_SEED = 0
SCORE_BATCH = 2048


class DetectorSettings(BaseModel):
    """Settings every detector has; a kind's settings class adds its own."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(30, ge=2, description="rows of history behind one score")
    train_stride: int = Field(2, ge=1, description="rows between training window starts")

    def network_threads(self) -> int | None:
        """torch threads to fit with, or None for a detector without a network."""
        return getattr(self, "num_threads", None)


class NetworkTraining(DetectorSettings):
    """Settings of a network fitted with Lightning (early stopping on validation loss)."""

    max_epochs: int = Field(20, ge=1)
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(3e-3, gt=0)
    patience: int = Field(3, ge=1, description="epochs without a better validation loss before stopping")
    num_threads: int = Field(2, ge=1, description="torch threads")

    def training_params(self) -> dict:
        """The shared training settings as the MLflow run logs them."""
        return self.model_dump(include={"max_epochs", "batch_size", "learning_rate", "patience", "train_stride", "num_threads"})


@dataclass(frozen=True)
class FitContext:
    """What a fit needs beyond its settings and data: ``seed`` (initialisation, sampling);
    ``exclude_labelled`` (drop windows touching a labelled row from train/validation);
    ``logger`` (Lightning's MLflow logger, :class:`~components.registry.tracking.RunParams`
    or None: receives the parameters and per-epoch metrics); ``trained``: fitted detectors
    this one learns from, by kind (the student's teachers); ``progress``: a name to print
    per-epoch progress lines under (None: quiet, as in the benchmarks)."""

    seed: int = 7
    exclude_labelled: bool = True
    logger: Any = None
    trained: dict[str, "Detector"] = field(default_factory=dict)
    progress: str | None = None


@dataclass(frozen=True)
class SeriesScores:
    """``score``: (rows,) higher = more anomalous, NaN without full history.
    ``contributions``: (rows, n_sensors) each sensor's share of the error (rows sum to 1)."""

    score: np.ndarray
    contributions: np.ndarray


class Detector(ABC):
    """A fitted anomaly detector: its :class:`ModelSpec` and its fitted model."""

    kind: ClassVar[str]
    Settings: ClassVar[type[DetectorSettings]]

    def __init__(self, spec: ModelSpec, model: Any) -> None:
        if spec.kind != self.kind:
            raise ValueError(f"{type(self).__name__} holds {self.kind!r} models, not {spec.kind!r}")
        self.spec = spec
        self.model = model

    @property
    def window(self) -> int:
        return self.spec.window

    @property
    def sensors(self) -> list[str]:
        return list(self.spec.sensors)

    # ---- fitting ----------------------------------------------------------------------
    @classmethod
    def learns_from(cls, settings: DetectorSettings, trained: list[str]) -> list[str]:
        """Kinds among ``trained`` that must be fitted before this one (passed to
        :meth:`fit` as ``context.trained``); none by default."""
        return []

    @classmethod
    def run_logger(cls, experiment: str, tracking_uri: str, run_id: str) -> Any:
        """What logs this kind's fit to its MLflow run: parameters only by default."""
        from components.registry.tracking import RunParams

        return RunParams(tracking_uri, run_id)

    @classmethod
    @abstractmethod
    def fit(cls, settings: DetectorSettings, data: "PreparedData", context: FitContext) -> tuple["Detector", "FitResult"]:
        """A fitted detector and its fit history, from ``data``'s train split (validation
        split for early stopping and calibration where the kind uses one)."""

    # ---- scoring ----------------------------------------------------------------------
    @abstractmethod
    def score_windows(self, scaled: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(score (batch,), per-sensor error (batch, n_sensors)) of the windows of ``scaled``
        (rows, n_sensors) starting at ``starts``, i.e. of the rows that end them."""

    def score(self, scaled: np.ndarray, sessions: np.ndarray, batch_size: int = SCORE_BATCH) -> SeriesScores:
        """Score every row of ``scaled`` (rows, n_sensors) given its ``sessions`` ids (rows,).

        Stochastic scores (OmniAnomaly's posterior samples) are drawn from a generator
        seeded with :data:`SCORING_SEED` inside this call, so the same input gives the same
        scores in every process and the caller's random state is left untouched."""
        from components.features.windows import window_starts

        n, f = scaled.shape
        score = np.full(n, np.nan)
        contributions = np.full((n, f), np.nan)
        starts = window_starts(sessions, self.window, 1)
        with self._scoring():
            for i in range(0, len(starts), batch_size):
                chunk = starts[i : i + batch_size]
                rows = chunk + self.window - 1
                score[rows], errors = self.score_windows(scaled, chunk)
                total = errors.sum(axis=1, keepdims=True)
                contributions[rows] = errors / np.where(total > 0, total, 1.0)
        return SeriesScores(score, contributions)

    def _scoring(self):
        """Context of a scoring pass (a network's: inference mode and a seeded generator)."""
        from contextlib import nullcontext

        return nullcontext()

    def score_frame(self, scaler: "StandardScaler", frame: "pd.DataFrame") -> SeriesScores:
        """Score a regular, sessionised frame (columns ``session`` + the scaler's sensors)."""
        from components.frames import SESSION

        return self.score(scaler.transform(frame), frame[SESSION].to_numpy())

    def benchmark_scores(self, values: np.ndarray, seed: int) -> np.ndarray:
        """One score per row of one series ``values`` (rows, n_sensors, scaled), as the
        benchmarks compare models: the served causal score, rows before the first full
        window taking the first window's score. Kinds whose paper scores differently
        override this (the teachers)."""
        scores = self.score(values, np.zeros(len(values), dtype=np.int8)).score
        finite = np.flatnonzero(np.isfinite(scores))
        if finite.size == 0:
            raise ValueError("no row has a full window of history")
        out = scores.copy()
        out[: finite[0]] = scores[finite[0]]
        return out

    # ---- files ------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """``model.json`` and the kind's parameter files in ``directory``, with their
        checksums in ``checksums.json`` (:mod:`components.checksums`), which loading
        verifies. The files are written into an empty folder first, so the checksums
        cover exactly the files this model wrote."""
        import shutil
        import tempfile

        from components.checksums import record_checksums

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".saving-") as scratch:
            written = Path(scratch)
            self._save_parameters(written)
            (written / SPEC_FILE).write_text(json.dumps(asdict(self.spec), indent=2))
            names = sorted(p.name for p in written.iterdir())
            for name in names:
                shutil.move(written / name, directory / name)
        record_checksums(directory, names)

    @abstractmethod
    def _save_parameters(self, directory: Path) -> None:
        """Write the fitted parameters (plain files) into ``directory``."""

    @classmethod
    @abstractmethod
    def _load_parameters(cls, spec: ModelSpec, directory: Path) -> Any:
        """The fitted model of ``spec`` from the files :meth:`_save_parameters` wrote."""

    @classmethod
    def from_files(cls, spec: ModelSpec, directory: Path) -> "Detector":
        return cls(spec, cls._load_parameters(spec, directory))


class NetworkDetector(Detector):
    """A detector whose model is a torch network saved as a state dict (``weights.pt``),
    fitted with Lightning."""

    WEIGHTS_FILE: ClassVar[str] = "weights.pt"

    @classmethod
    def run_logger(cls, experiment: str, tracking_uri: str, run_id: str) -> Any:
        from components.training.fit import EpochStepLogger

        return EpochStepLogger(experiment_name=experiment, tracking_uri=tracking_uri, run_id=run_id)

    @classmethod
    @abstractmethod
    def build_network(cls, spec: ModelSpec):
        """A freshly initialised network for ``spec``."""

    def _scoring(self):
        from contextlib import contextmanager

        import torch

        @contextmanager
        def seeded_inference():
            self.model.eval()
            with torch.inference_mode(), torch.random.fork_rng(devices=[]):
                torch.manual_seed(SCORING_SEED)
                yield

        return seeded_inference()

    def _save_parameters(self, directory: Path) -> None:
        import torch

        torch.save(self.model.state_dict(), directory / self.WEIGHTS_FILE)

    @classmethod
    def _load_parameters(cls, spec: ModelSpec, directory: Path):
        import torch

        net = cls.build_network(spec)
        net.load_state_dict(torch.load(directory / cls.WEIGHTS_FILE, weights_only=True))
        net.eval()
        return net
