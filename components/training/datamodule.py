"""Windows of the prepared splits for Lightning: gathered per batch, never materialised."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from components.features.prepare import PreparedData
from components.features.windows import gather_windows, window_starts
from components.frames import LABEL, SESSION


def fit_window_starts(frame, window: int, stride: int, exclude_labelled: bool) -> np.ndarray:
    """Window starts in ``frame``; with ``exclude_labelled``, none touching a label=1 row."""
    starts = window_starts(frame[SESSION].to_numpy(), window, stride)
    if exclude_labelled and LABEL in frame.columns:
        labelled = np.concatenate([[0], np.cumsum(frame[LABEL].to_numpy(dtype=np.int64))])
        starts = starts[labelled[starts + window] - labelled[starts] == 0]
    return starts


class _GatherWindows:
    """Collate start rows into windows (and, with ``targets``, their per-row targets)."""

    def __init__(self, values: np.ndarray, window: int, targets: np.ndarray | None = None) -> None:
        self.values = values
        self.window = window
        self.targets = targets

    def __call__(self, batch: list[tuple[torch.Tensor]]) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        starts = torch.stack([item[0] for item in batch]).numpy()
        windows = torch.from_numpy(gather_windows(self.values, starts, self.window))
        if self.targets is None:
            return windows
        return windows, torch.from_numpy(gather_windows(self.targets[:, None], starts, self.window)[..., 0])


class WindowDataModule(pl.LightningDataModule):
    """Train and validation windows (scaled), shape (batch, window, n_sensors).

    ``values[name]`` is a (rows, n_sensors) float32 array and ``starts[name]`` the start
    rows of its windows (see :func:`fit_window_starts`), for ``name`` in train / val.
    With ``targets[name]`` (rows,) float32, batches are ``(windows, targets)`` with
    targets of shape (batch, window).
    """

    def __init__(
        self, values: dict[str, np.ndarray], starts: dict[str, np.ndarray], window: int, batch_size: int, seed: int,
        targets: dict[str, np.ndarray] | None = None,
    ) -> None:
        super().__init__()
        for name in ("train", "val"):
            if len(starts[name]) == 0:
                raise ValueError(f"the {name} split has no full window of {window} steps; lower the window or add data")
        self.values, self.starts, self.targets = values, starts, targets
        self.window = window
        self.batch_size = batch_size
        self.seed = seed

    @classmethod
    def from_prepared(cls, prepared: PreparedData, window: int, batch_size: int, stride: int, exclude_labelled: bool, seed: int) -> "WindowDataModule":
        values = {name: prepared.scaler.transform(prepared.splits[name]) for name in ("train", "val")}
        starts = {name: fit_window_starts(prepared.splits[name], window, stride, exclude_labelled) for name in ("train", "val")}
        return cls(values, starts, window, batch_size, seed)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        dataset = TensorDataset(torch.from_numpy(self.starts[name]))
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            dataset, batch_size=self.batch_size, shuffle=shuffle, generator=generator,
            collate_fn=_GatherWindows(self.values[name], self.window, None if self.targets is None else self.targets[name]),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)
