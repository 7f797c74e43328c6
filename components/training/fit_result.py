"""What fitting a model returns, for networks (Lightning, :mod:`components.training.fit`)
and the classic baselines alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FitResult:
    """``history``: one dict of logged metrics per epoch (empty for a baseline);
    ``best_val_loss``: the lowest ``val_loss`` (NaN without one); ``seconds``: wall time
    of the fit."""

    history: list[dict[str, float]]
    best_val_loss: float
    seconds: float
