"""Windows of the prepared splits for Lightning: gathered per batch, never materialised."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from components.features.prepare import PreparedData
from components.features.windows import fit_window_starts, gather_windows


def _gather(array: np.ndarray, starts: np.ndarray, window: int) -> torch.Tensor:
    """Windows of a (rows,) or (rows, n) array: (batch, window) or (batch, window, n)."""
    if array.ndim == 1:
        return torch.from_numpy(gather_windows(array[:, None], starts, window)[..., 0])
    return torch.from_numpy(gather_windows(array, starts, window))


class _GatherWindows:
    """Collate start rows into windows of ``values`` and, with ``extras``, a dict
    ``{"windows": …, name: windows of extras[name]}``."""

    def __init__(self, values: np.ndarray, window: int, extras: dict[str, np.ndarray] | None = None) -> None:
        self.values = values
        self.window = window
        self.extras = extras or {}

    def __call__(self, batch: list[tuple[torch.Tensor]]) -> torch.Tensor | dict[str, torch.Tensor]:
        starts = torch.stack([item[0] for item in batch]).numpy()
        windows = _gather(self.values, starts, self.window)
        if not self.extras:
            return windows
        return {"windows": windows, **{name: _gather(array, starts, self.window) for name, array in self.extras.items()}}


class WindowDataModule(pl.LightningDataModule):
    """Train and validation windows (scaled), shape (batch, window, n_sensors).

    ``values[name]`` is a (rows, n_sensors) float32 array and ``starts[name]`` the start
    rows of its windows (see :func:`fit_window_starts`), for ``name`` in train / val.
    With ``extras[name]`` = {key: array of (rows,) or (rows, n)} (e.g. the student's
    ``targets`` and ``clean`` rows), batches are dicts ``{"windows": …, key: …}`` whose
    entries are the same windows of each array, (batch, window[, n]).
    """

    def __init__(
        self, values: dict[str, np.ndarray], starts: dict[str, np.ndarray], window: int, batch_size: int, seed: int,
        extras: dict[str, dict[str, np.ndarray]] | None = None,
    ) -> None:
        super().__init__()
        for name in ("train", "val"):
            if len(starts[name]) == 0:
                raise ValueError(
                    f"the {name} split has no {window}-row window to fit on (none inside one session, or with "
                    "prepare.exclude_labelled_from_fit none free of labelled rows); lower the window or add data"
                )
        self.values, self.starts, self.extras = values, starts, extras
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
            collate_fn=_GatherWindows(self.values[name], self.window, None if self.extras is None else self.extras[name]),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)
