"""Teacher detectors (Anomaly Transformer, OmniAnomaly): their Lightning recipes behind
one interface, so the pipeline and the benchmarks train them the same way (their
settings and profiles: :mod:`components.training.teacher_profiles`)."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
from pydantic import BaseModel
from pytorch_lightning.loggers import Logger
from torch import nn

from components.training.datamodule import WindowDataModule
from components.training.fit import fit
from components.training.fit_result import FitResult


def teacher_module(kind: str, net: nn.Module, cfg: BaseModel) -> pl.LightningModule:
    if kind == "anomaly_transformer":
        from components.training.anomaly_transformer_module import AnomalyTransformerModule

        return AnomalyTransformerModule(net, cfg)
    from components.training.omnianomaly_module import OmniAnomalyModule

    return OmniAnomalyModule(net, cfg)


def fit_teacher(
    kind: str, cfg: BaseModel, net: nn.Module, values: dict[str, np.ndarray], starts: dict[str, np.ndarray],
    *, seed: int, patience: int, logger: Logger | bool = False,
) -> FitResult:
    """Train ``net`` (built from ``cfg``) on windows of ``values['train']`` starting at
    ``starts['train']``, early-stopping on ``values['val']``; ``cfg.max_epochs`` at most."""
    data = WindowDataModule(values, starts, cfg.window, cfg.batch_size, seed)
    return fit(teacher_module(kind, net, cfg), data, max_epochs=cfg.max_epochs, patience=patience, seed=seed, logger=logger)
