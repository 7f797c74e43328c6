"""Report plots (PNG): score timeline with thresholds and labels, loss curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.frames import ASSET, LABEL, TIMESTAMP  # noqa: E402


def plot_score_timeline(scored: pd.DataFrame, thresholds: dict, path: str | Path) -> None:
    """One panel per asset: score (log scale), warning/critical lines, labelled ranges shaded."""
    assets = sorted(scored[ASSET].unique())
    fig, axes = plt.subplots(len(assets), 1, figsize=(12, 2.6 * len(assets)), sharex=False, squeeze=False)
    for ax, asset in zip(axes[:, 0], assets):
        part = scored[scored[ASSET] == asset]
        ax.plot(part[TIMESTAMP], part["score"], lw=0.6, color="tab:blue", label="score")
        ax.axhline(thresholds["warning"], color="orange", ls="--", lw=1, label="warning")
        ax.axhline(thresholds["critical"], color="red", ls="--", lw=1, label="critical")
        if LABEL in part.columns:
            ax.fill_between(
                part[TIMESTAMP], 0, 1, where=part[LABEL].to_numpy() > 0, color="red", alpha=0.15,
                transform=ax.get_xaxis_transform(), label="labelled anomaly",
            )
        ax.set_yscale("log")
        ax.set_title(asset, fontsize=9)
        ax.set_ylabel("score")
    axes[0, 0].legend(loc="upper left", fontsize=7, ncols=4)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_loss_curves(history: list[dict], path: str | Path) -> None:
    """Training and validation loss per epoch."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.array([row["epoch"] for row in history])
    for key in ("train_loss", "val_loss"):
        ax.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (scaled units²)")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
