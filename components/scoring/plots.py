"""Report plots (PNG): score timeline with thresholds and labels, loss curves, leaderboard."""

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
        ax.set_yscale("symlog", linthresh=1.0)  # calibrated scores can be negative
        ax.set_title(asset, fontsize=9)
        ax.set_ylabel("score")
    axes[0, 0].legend(loc="upper left", fontsize=7, ncols=4)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_loss_curves(history: list[dict], path: str | Path) -> None:
    """Training and validation loss per epoch (networks; the baselines have none)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.array([row["epoch"] for row in history])
    for key in ("train_loss", "val_loss"):
        ax.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_leaderboard(board: pd.DataFrame, path: str | Path) -> None:
    """Quality (VUS-PR, PR-AUC) beside scoring speed (rows/s, log scale) for every model."""
    board = board.sort_values("vus_pr", ascending=True)
    fig, (quality, speed) = plt.subplots(1, 2, figsize=(10, 0.5 * len(board) + 1.5), sharey=True)
    y = np.arange(len(board))
    quality.barh(y - 0.2, board["vus_pr"], height=0.4, label="VUS-PR")
    quality.barh(y + 0.2, board["pr_auc"], height=0.4, label="PR-AUC")
    quality.set_yticks(y, board["model"])
    quality.set_xlabel("test split")
    quality.legend(fontsize=7)
    speed.barh(y, board["rows_per_s"], color="tab:gray")
    speed.set_xscale("log")
    speed.set_xlabel("scoring rows/s (log)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
