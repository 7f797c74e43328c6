"""What the two teacher detectors (Anomaly Transformer, OmniAnomaly) share: settings
that start from a named profile, Lightning fitting
(:func:`components.training.network_fitters.fit_teacher`), causal scoring at the
window's last step, and scoring a benchmark series the way their papers do.

Profiles (``fast``, ``paper``) are the package's ``profiles/<kind>.yaml`` or, with
``profile_file``, a YAML file of the same shape resolved relative to the pipeline config
file. Every field of the profile can also be set in the teacher's section, which
overrides the profile; ``anomflow config`` shows the result.

Paper protocols (:meth:`TeacherDetector.benchmark_scores`):

* Anomaly Transformer (``tiled``): the per-step scores of non-overlapping windows tiling
  the series (rows 0..W−1, W..2W−1, …); a last partial tile is scored with the window
  that ends at the last row, keeping its last steps.
* OmniAnomaly (``last_step``): row t gets the last-step score of the stride-1 window
  ending at t; rows before the first full window take that first window's per-step
  scores.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import yaml
from pydantic import Field, ValidationInfo, model_validator

from components.detectors.base import DetectorSettings, FitContext, NetworkDetector

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
PAPER_SCORE_BATCH = 1024


class TeacherSettings(DetectorSettings):
    """Pipeline settings of a teacher; subclasses add the architecture fields, whose
    values come from ``profile`` unless set."""

    profile_kind: ClassVar[str]
    PIPELINE_FIELDS: ClassVar[tuple[str, ...]] = ("profile", "profile_file", "train_stride", "val_stride", "patience", "num_threads")

    profile: Literal["fast", "paper"] = Field("fast", description="named settings in the profile file; fields set here override it")
    profile_file: str | None = Field(None, description="YAML of profiles, relative to the config file (default: the package's)")
    window: int = Field(gt=1, description="time steps per window")
    train_stride: int = Field(4, ge=1, description="rows between training window starts")
    val_stride: int | None = Field(None, ge=1, description="rows between validation window starts (default: train_stride)")
    patience: int = Field(2, ge=1, description="epochs without a better validation loss before stopping")
    num_threads: int = Field(1, ge=1, description="torch threads (the pipeline trains the teachers concurrently)")

    @model_validator(mode="before")
    @classmethod
    def _from_profile(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        if not set(cls.model_fields) - set(cls.PIPELINE_FIELDS) - set(data):
            return data  # every field given (a resolved config, a saved model): no profile to read
        profile = data.get("profile", "fast")
        path = profile_path(cls.profile_kind, data.get("profile_file"), (info.context or {}).get("config_dir"))
        profiles = yaml.safe_load(path.read_text()) or {}
        if profile not in profiles:
            raise ValueError(f"no {cls.profile_kind} profile {profile!r} in {path}; have {sorted(profiles)}")
        return {**profiles[profile], **data}

    def architecture(self) -> dict:
        """The fields a saved teacher keeps as its hyper-parameters (all but the pipeline's)."""
        return self.model_dump(exclude=set(self.PIPELINE_FIELDS))


def profile_path(kind: str, profile_file: str | None, config_dir: str | Path | None) -> Path:
    """``profile_file`` relative to the config's folder, or the package's profiles."""
    if profile_file is None:
        return PROFILE_DIR / f"{kind}.yaml"
    path = Path(profile_file)
    if not path.is_absolute() and config_dir is not None:
        path = Path(config_dir) / path
    if not path.exists():
        raise ValueError(f"profile_file {path} not found (a relative path is read from the config file's folder)")
    return path


def all_starts(n_rows: int, window: int, stride: int) -> np.ndarray:
    """Window starts every ``stride`` rows of one series of ``n_rows`` rows."""
    from components.features.windows import window_starts

    return window_starts(np.zeros(n_rows, dtype=np.int8), window, stride)


class TeacherDetector(NetworkDetector):
    """A teacher network; subclasses give the per-step scores and reconstruction."""

    Settings: ClassVar[type[TeacherSettings]]
    paper_protocol: ClassVar[Literal["tiled", "last_step"]]

    @classmethod
    def build_network(cls, spec):
        return cls.network_from(cls.Settings.model_validate(spec.hparams), len(spec.sensors))

    @classmethod
    @abstractmethod
    def network_from(cls, settings: TeacherSettings, n_sensors: int):
        """A freshly initialised network of ``settings``' architecture."""

    @classmethod
    @abstractmethod
    def training_module(cls, net, settings: TeacherSettings):
        """The Lightning module that trains ``net`` (imported only to fit)."""

    @classmethod
    def fit(cls, settings: TeacherSettings, data, context: FitContext):
        from components.training.network_fitters import fit_teacher

        net, spec, result = fit_teacher(cls, settings, data, context)
        return cls(spec, net), result

    @abstractmethod
    def per_step_scores(self, windows) -> Any:
        """Anomaly score of every step of windows (batch, window, n_sensors) → (batch, window)."""

    @abstractmethod
    def last_step_reconstruction(self, windows) -> Any:
        """The network's reconstruction of each window's last row, (batch, n_sensors)."""

    def score_windows(self, scaled: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score: the paper's per-step score at the window's last step; per-sensor error:
        the squared reconstruction error of that row."""
        import torch

        from components.features.windows import gather_windows

        windows = torch.from_numpy(gather_windows(scaled, starts, self.window))
        score = self.per_step_scores(windows)[:, -1]
        errors = ((self.last_step_reconstruction(windows) - windows[:, -1, :]) ** 2).double().numpy()
        return score.double().numpy(), errors

    # ---- the papers' protocols ----------------------------------------------------------
    def _per_step_at(self, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
        import torch

        from components.features.windows import gather_windows

        self.model.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(starts), PAPER_SCORE_BATCH):
                windows = torch.from_numpy(gather_windows(values, starts[i : i + PAPER_SCORE_BATCH], self.window))
                out.append(self.per_step_scores(windows).double().numpy())
        return np.concatenate(out)

    def benchmark_scores(self, values: np.ndarray, seed: int) -> np.ndarray:
        """One score per row of ``values`` (scaled, float32), the way the kind's paper
        scores a test series (module docstring); the generator seeded with ``seed``."""
        import torch

        n, window = len(values), self.window
        if n < window:
            raise ValueError(f"{n} rows are fewer than one window of {window}")
        torch.manual_seed(seed)  # OmniAnomaly samples the posterior
        if self.paper_protocol == "last_step":
            per_step = self._per_step_at(values, all_starts(n, window, 1))
            return np.concatenate([per_step[0, : window - 1], per_step[:, -1]])
        starts = all_starts(n, window, window)
        tail = n - (starts[-1] + window)
        if tail:
            starts = np.append(starts, n - window)
        per_step = self._per_step_at(values, starts)
        if not tail:
            return per_step.reshape(-1)
        return np.concatenate([per_step[:-1].reshape(-1), per_step[-1, window - tail :]])
