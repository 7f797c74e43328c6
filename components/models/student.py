"""The multi-task student (docs/architecture.md §3): the small, fast model anomflow serves.

Architecture, per window ``x`` of shape (batch, window, n_sensors):

- **Multi-scale dilated CNN encoder.** Three causal, unpadded ("valid") convolutions
  (kernel 3, dilations 1, 2, 4; channels 16 → 32 → 32; GELU). A window of ``window``
  rows yields ``steps = window − 14`` feature steps (receptive field 15 rows), each
  computed from real rows only, never from padding. The three scales are concatenated
  (16 + 32 + 32 = 80 channels per step, cropped to the last ``steps``) and projected to
  a 32-d bottleneck.
- **BiLSTM** (one layer, 8 units per direction) over the ``steps`` → a 16-d latent.
- **Heads** (linear, per step):
  - *reconstruction* of the clean last ``steps`` rows from the 16-d latent, (batch, steps, n);
  - *next-step forecast*: the forward direction's state at step ``s`` (which has seen
    rows ``≤ s`` only) predicts row ``s + 1``, (batch, steps − 1, n);
  - *anomaly classification*: one logit per step from the 16-d latent, (batch, steps).

Because the convolutions never see padding, a row's bottleneck features depend only on
its 15 most recent rows, not on where a window starts: :func:`encode_rows` computes them
once per row of a series and :meth:`MtlStudent.decode` runs only the BiLSTM and heads
per window, which is what makes causal per-row scoring fast (tested equal to
``forward`` on gathered windows).

The window score of row ``t`` (the window ending at ``t``) combines three components,
each normalised on the normal data held out of the test (:class:`ScoreCalibration`,
fitted by the train stage on the training and validation windows) so the weights α, β,
γ mean what they say: reconstruction error (each sensor's squared error divided by its
mean on those windows, averaged over steps, then over the window's ``top_sensors`` worst
sensors), forecast error (same, over the window's forecast steps) and the
classification probability averaged over the window's steps.

Deviation in the normalisation: each component is normalised on a log scale, 0 at its
calibration median and 1 at its 99th percentile of ``log(component)``. Squared errors
are heavy-tailed, so on a linear scale one component far beyond its calibration range
(a forecast error 100× its 99th percentile, say) outweighs the other two whatever the
weights say; on the log scale each component moves the score by orders of magnitude,
and the weights keep their meaning at the extremes too. Each window's reconstruction
and forecast errors average its ``top_sensors`` (3) worst sensors, so a fault on one
sensor of many (MSL has 55 per channel) is not diluted by the quiet ones; that helps only
once the log scale stops one component dominating. Measured against the linear scale
and all-sensor mean (commit 9a6e4bb), full runs: MSL (27 channels, seeds 7/8/9, fast
profile) 0.351 ± 0.016 → 0.367 ± 0.015 VUS-PR (the LSTM-AE: 0.374 ± 0.005); demo plant
(`make demo`) 0.368 → 0.406; SKAB 0.799 → 0.766 (its worst sensors are two drifting
temperatures).

Measured and not adopted: a reconstruction decoded from one 16-d window code (the
BiLSTM's final states, the LSTM-AE's kind of bottleneck) scored 0.378 on MSL, but on the
demo it reconstructed the pumps' start/stop transients poorly (reconstruction component
0.502 → 0.347, score 0.303, below the LSTM-AE's 0.344). Training for 60 epochs instead
of 30 left MSL unchanged (0.351, cached teachers). With the log scale and worst-3 mean
(cached seed-7 teachers, same seed, 27 channels; 0.373 as shipped): classification
targets set to 1 on injected rows 0.373, input noise 0.1 instead of 0.05 0.369.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

COMPONENTS = ("reconstruction", "forecast", "classification")


class CausalConv1d(nn.Module):
    """Unpadded dilated convolution on (batch, steps, channels): output step ``j`` is
    computed from input steps ``j, j + d, …, j + (k−1)·d`` and aligned with the last of
    them, so (batch, steps, in) → (batch, steps − (k−1)·d, out).

    Same maths and parameters as ``nn.Conv1d(in, out, k, dilation=d)`` on (batch, in,
    steps), computed as one matmul for all ``k`` taps plus shifted adds: ATen's dilated
    CPU convolution is ~10× slower for these small channel counts (measured on 2 cores).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels))
        reference = nn.Conv1d(in_channels, out_channels, kernel_size)  # PyTorch's default init
        with torch.no_grad():
            self.weight.copy_(reference.weight)
            self.bias.copy_(reference.bias)

    @property
    def lost_steps(self) -> int:
        return (self.kernel_size - 1) * self.dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, _ = x.shape
        out_steps = steps - self.lost_steps
        out_channels = self.weight.shape[0]
        kernel = self.weight.permute(1, 2, 0).reshape(self.weight.shape[1], -1)  # (in, k·out)
        taps = torch.mm(x.reshape(batch * steps, -1), kernel).view(batch, steps, self.kernel_size, out_channels)
        y = taps[:, self.lost_steps :, -1] + self.bias
        for k in range(self.kernel_size - 1):
            y += taps[:, k * self.dilation : k * self.dilation + out_steps, k]
        return y


@dataclass(frozen=True)
class StudentOutput:
    reconstruction: torch.Tensor  # (batch, steps, n_sensors): the last ``steps`` rows
    forecast: torch.Tensor  # (batch, steps - 1, n_sensors): prediction of steps 1 … steps-1
    logits: torch.Tensor  # (batch, steps)


class MtlStudent(nn.Module):
    """Dilated-CNN + BiLSTM encoder with reconstruction, forecast and classification heads."""

    def __init__(
        self, n_features: int, channels: tuple[int, ...] = (16, 32, 32), kernel_size: int = 3,
        dilations: tuple[int, ...] = (1, 2, 4), bottleneck: int = 32, latent: int = 16,
    ) -> None:
        super().__init__()
        if len(channels) != len(dilations):
            raise ValueError(f"channels {channels} and dilations {dilations} must have the same length")
        if latent % 2:
            raise ValueError(f"latent must be even (two LSTM directions), got {latent}")
        self.n_features = n_features
        ins = (n_features, *channels[:-1])
        self.convs = nn.ModuleList(CausalConv1d(i, o, kernel_size, d) for i, o, d in zip(ins, channels, dilations))
        self.to_bottleneck = nn.Linear(sum(channels), bottleneck)  # applied per scale, see forward
        self.lstm = nn.LSTM(bottleneck, latent // 2, batch_first=True, bidirectional=True)
        self.reconstruct = nn.Linear(latent, n_features)
        self.forecast = nn.Linear(latent // 2, n_features)
        self.classify = nn.Linear(latent, 1)

    @property
    def receptive_field(self) -> int:
        """Rows behind one bottleneck step (15 for kernel 3, dilations 1/2/4)."""
        return 1 + sum(conv.lost_steps for conv in self.convs)

    def encode_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Bottleneck features (batch, steps − receptive_field + 1, bottleneck) of rows
        (batch, steps, n_sensors); feature ``j`` belongs to row ``j + receptive_field − 1``."""
        h, scales = x, []
        for conv in self.convs:
            h = F.gelu(conv(h))
            scales.append(h)
        steps = h.shape[1]
        # the bottleneck of the concatenated scales, without materialising the concatenation
        pieces = torch.split(self.to_bottleneck.weight, [s.shape[-1] for s in scales], dim=1)
        bottleneck = self.to_bottleneck.bias + sum(torch.matmul(s[:, -steps:], w.t()) for s, w in zip(scales, pieces))
        return F.gelu(bottleneck)

    def decode(self, features: torch.Tensor) -> StudentOutput:
        """Heads from bottleneck features (batch, steps, bottleneck) of one window."""
        latent, _ = self.lstm(features)  # (batch, steps, latent)
        forward_state = latent[:, :-1, : latent.shape[-1] // 2]  # causal half, steps 0 … steps-2
        return StudentOutput(self.reconstruct(latent), self.forecast(forward_state), self.classify(latent).squeeze(-1))

    def forward(self, x: torch.Tensor) -> StudentOutput:
        """Windows (batch, window, n_sensors) with window > receptive_field."""
        return self.decode(self.encode_rows(x))


@dataclass(frozen=True)
class ComponentErrors:
    """Per-window raw components: per-sensor mean squared errors (batch, n_sensors) of
    reconstruction and forecast, and the anomaly probability averaged over the window's
    steps (batch,)."""

    reconstruction: np.ndarray
    forecast: np.ndarray
    classification: np.ndarray


def _component_errors(out: StudentOutput, targets: torch.Tensor) -> ComponentErrors:
    return ComponentErrors(
        ((out.reconstruction - targets) ** 2).mean(dim=1).double().numpy(),
        ((out.forecast - targets[:, 1:]) ** 2).mean(dim=1).double().numpy(),
        torch.sigmoid(out.logits).mean(dim=1).double().numpy(),
    )


@torch.no_grad()
def component_errors(model: MtlStudent, windows: torch.Tensor) -> ComponentErrors:
    """Raw score components of windows (batch, window, n_sensors), no calibration."""
    return _component_errors(model(windows), windows[:, model.receptive_field - 1 :])


@torch.no_grad()
def component_errors_at(model: MtlStudent, values: np.ndarray, starts: np.ndarray, window: int) -> ComponentErrors:
    """:func:`component_errors` of the windows of ``values`` (rows, n_sensors) starting
    at ``starts`` (sorted), encoding each row of their span once instead of per window."""
    first = int(starts[0])
    rows = torch.from_numpy(np.ascontiguousarray(values[first : int(starts[-1]) + window], dtype=np.float32))
    features = model.encode_rows(rows.unsqueeze(0))[0]  # feature j belongs to row first + j + rf − 1
    steps = window - model.receptive_field + 1
    index = torch.from_numpy(starts - first)[:, None] + torch.arange(steps)[None, :]
    targets = rows[index + model.receptive_field - 1]
    return _component_errors(model.decode(features[index]), targets)


@dataclass(frozen=True)
class ScoreCalibration:
    """How raw components become one score, all fitted on calibration windows (the train
    stage uses the training and validation splits' windows).

    ``reconstruction_scale`` / ``forecast_scale`` (n_sensors,): each sensor's mean squared
    error; ``top_sensors``: how many of a window's worst normalised sensors its
    reconstruction and forecast components average; ``location`` / ``spread`` per
    component, on its log (squared errors and probabilities are positive and
    heavy-tailed): the median and the 99th-percentile minus median of ``log(component)``
    on calibration windows, so a normalised component is 0 at the typical calibration
    window and 1 at its 99th percentile; ``floor``: the smallest component value taken
    before the log; ``weights``: α, β, γ; ``log_scale``: False only for calibrations
    stored before the log scale (see :meth:`from_dict`), whose location and spread are
    of the component itself.
    """

    reconstruction_scale: list[float]
    forecast_scale: list[float]
    top_sensors: int
    location: dict[str, float]
    spread: dict[str, float]
    floor: float
    weights: dict[str, float]
    log_scale: bool = True

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict) -> "ScoreCalibration":
        """The calibration stored in a model spec. Students logged before the log-scale
        normalisation (commit d58abdd) stored neither ``top_sensors`` nor ``floor``; they
        are scored as they were trained to be, on the linear scale and averaged over all
        sensors, so a registry's older champion still loads and scores in-process (the
        promotion gate compares against it)."""
        if "top_sensors" in stored:
            return cls(**stored)
        return cls(**stored, top_sensors=len(stored["reconstruction_scale"]), floor=0.0, log_scale=False)


def _per_sensor(errors: np.ndarray, scale: list[float]) -> np.ndarray:
    return errors / np.asarray(scale)


def worst_sensors_mean(per_sensor: np.ndarray, k: int) -> np.ndarray:
    """Mean of the ``k`` largest values of each row of (batch, n_sensors) → (batch,)
    (all sensors when there are at most ``k``)."""
    n = per_sensor.shape[1]
    if k >= n:
        return per_sensor.mean(axis=1)
    return np.partition(per_sensor, n - k, axis=1)[:, n - k :].mean(axis=1)


def raw_components(errors: ComponentErrors, reconstruction_scale: list[float], forecast_scale: list[float], top_sensors: int) -> dict[str, np.ndarray]:
    """Each component as one number per window (batch,) before the log, location and spread."""
    return {
        "reconstruction": worst_sensors_mean(_per_sensor(errors.reconstruction, reconstruction_scale), top_sensors),
        "forecast": worst_sensors_mean(_per_sensor(errors.forecast, forecast_scale), top_sensors),
        "classification": errors.classification,
    }


def calibrate(errors: ComponentErrors, weights: dict[str, float], top_sensors: int, floor: float = 1e-6) -> ScoreCalibration:
    """Fit the calibration on the component errors of calibration windows (normal data
    outside the test split)."""
    unknown = set(weights) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown score components {sorted(unknown)}; known: {COMPONENTS}")
    if top_sensors < 1:
        raise ValueError(f"top_sensors must be at least 1, got {top_sensors}")

    def scale(e: np.ndarray) -> list[float]:
        mean = e.mean(axis=0)
        return [float(v) for v in np.maximum(mean, floor * max(float(mean.max()), floor))]

    rec_scale, fc_scale = scale(errors.reconstruction), scale(errors.forecast)
    logs = {k: _log(v, floor) for k, v in raw_components(errors, rec_scale, fc_scale, top_sensors).items()}
    location = {k: float(np.median(v)) for k, v in logs.items()}
    spread = {k: float(max(np.quantile(v, 0.99) - location[k], floor)) for k, v in logs.items()}
    return ScoreCalibration(rec_scale, fc_scale, top_sensors, location, spread, floor, {k: float(weights.get(k, 0.0)) for k in COMPONENTS})


def _log(component: np.ndarray, floor: float) -> np.ndarray:
    return np.log(np.maximum(component, floor))


def window_scores(errors: ComponentErrors, calibration: ScoreCalibration) -> tuple[np.ndarray, np.ndarray]:
    """(score (batch,), per-sensor contribution weights (batch, n_sensors)) of windows.

    score = Σ_c w_c · (log component_c − location_c) / spread_c (the component itself in
    place of its log for a calibration stored before the log scale); a sensor's contribution
    is its share of the weighted reconstruction and forecast errors, each divided by the
    sensor's calibration mean (and, before the log scale, by the component's spread;
    classification has no per-sensor part).
    """
    raw = raw_components(errors, calibration.reconstruction_scale, calibration.forecast_scale, calibration.top_sensors)
    w, loc, spread = calibration.weights, calibration.location, calibration.spread
    scaled = {c: _log(raw[c], calibration.floor) if calibration.log_scale else raw[c] for c in COMPONENTS}
    score = sum(w[c] * (scaled[c] - loc[c]) / spread[c] for c in COMPONENTS)
    divisor = {c: 1.0 if calibration.log_scale else spread[c] for c in ("reconstruction", "forecast")}
    per_sensor = (
        w["reconstruction"] * _per_sensor(errors.reconstruction, calibration.reconstruction_scale) / divisor["reconstruction"]
        + w["forecast"] * _per_sensor(errors.forecast, calibration.forecast_scale) / divisor["forecast"]
    )
    return np.asarray(score, dtype=float), per_sensor
