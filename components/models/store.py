"""What a saved model's ``model.json`` holds (:class:`ModelSpec`); the detectors
(:mod:`components.detectors`) write it beside their parameter files and read it back."""

from __future__ import annotations

from dataclasses import dataclass, field

SPEC_FILE = "model.json"


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a fitted model and feed it.

    ``kind``: the detector kind (:mod:`components.detectors.registry`); ``sensors``: the
    column order it was fitted on; ``window``: rows per window; ``hparams``: the keyword
    arguments of the kind's network or model; ``error_scale`` (n_sensors,): the
    per-sensor training error that normalises reconstruction scores (lstm_ae);
    ``calibration``: the student's :class:`~components.models.student.ScoreCalibration`
    as a dict; ``tail_gate``: the student's :class:`~components.models.tail_gate.GateLevels`
    as a dict (None: no gate, as in students saved before it).
    """

    kind: str
    sensors: list[str]
    window: int
    hparams: dict = field(default_factory=dict)
    error_scale: list[float] | None = None
    calibration: dict | None = None
    tail_gate: dict | None = None
