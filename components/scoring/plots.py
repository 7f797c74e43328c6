"""Report plots (PNG): a score timeline per model with its levels and the faults, the served
model's per-sensor contributions over time, loss curves, the leaderboard."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.frames import ASSET, LABEL, TIMESTAMP  # noqa: E402


def plot_score_timeline(scored: pd.DataFrame, thresholds: dict, path: str | Path, model: str) -> None:
    """One panel per asset: ``model``'s score on a linear axis with its warning and
    critical levels, labelled (or injected) faults shaded. The axis shows up to 1.5 times
    the critical level or the 99.5th percentile of the scores, whichever is higher; rows
    above it are drawn on its top edge as triangles and counted in the panel title."""
    assets = sorted(scored[ASSET].unique())
    finite = scored["score"].to_numpy()[np.isfinite(scored["score"].to_numpy())]
    top = max(1.5 * thresholds["critical"], float(np.quantile(finite, 0.995)) if finite.size else 1.0)
    bottom = min(0.0, float(finite.min())) if finite.size else 0.0
    fig, axes = plt.subplots(len(assets), 1, figsize=(12, 2.6 * len(assets)), sharex=False, squeeze=False)
    for ax, asset in zip(axes[:, 0], assets):
        part = scored[scored[ASSET] == asset]
        score = part["score"].to_numpy()
        ax.plot(part[TIMESTAMP], np.minimum(score, top), lw=0.6, color="tab:blue", label="score")
        above = score > top
        ax.scatter(part[TIMESTAMP][above], np.full(above.sum(), top), marker="^", s=10, color="tab:blue", clip_on=False)
        ax.axhline(thresholds["warning"], color="orange", ls="--", lw=1, label=f"warning {thresholds['warning']:.3g}")
        ax.axhline(thresholds["critical"], color="red", ls="--", lw=1, label=f"critical {thresholds['critical']:.3g}")
        if LABEL in part.columns:
            ax.fill_between(
                part[TIMESTAMP], 0, 1, where=part[LABEL].to_numpy() > 0, color="red", alpha=0.15,
                transform=ax.get_xaxis_transform(), label="fault (labelled)",
            )
        ax.set_ylim(bottom, top)
        ax.set_title(f"{asset}: {model}" + (f" ({int(above.sum())} rows above the axis)" if above.any() else ""), fontsize=9)
        ax.set_ylabel("score")
    axes[0, 0].legend(loc="upper left", fontsize=7, ncols=4)
    axes[-1, 0].set_xlabel("time (UTC)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_contributions(frame: pd.DataFrame, contributions: np.ndarray, sensors: list[str], path: str | Path, bins: int = 240) -> None:
    """Per-sensor contribution heat map over time, one panel per asset: each sensor's
    mean share of the served score (0-1) in ``bins`` equal time bins of the asset's test
    rows. ``frame``: timestamp and asset per row (rows,); ``contributions``: (rows, n_sensors)."""
    assets = sorted(frame[ASSET].unique())
    fig, axes = plt.subplots(len(assets), 1, figsize=(12, 0.35 * len(sensors) * len(assets) + 1.5), squeeze=False, layout="constrained")
    image = None
    for ax, asset in zip(axes[:, 0], assets):
        rows = np.flatnonzero(frame[ASSET].to_numpy() == asset)
        times = pd.to_datetime(frame[TIMESTAMP].to_numpy()[rows])
        edges = np.linspace(0, len(rows), min(bins, len(rows)) + 1).astype(int)
        shares = np.array([np.nanmean(contributions[rows[a:b]], axis=0) if np.isfinite(contributions[rows[a:b]]).any() else np.full(len(sensors), np.nan) for a, b in zip(edges[:-1], edges[1:])])
        extent = (matplotlib.dates.date2num(times[0]), matplotlib.dates.date2num(times[-1]), len(sensors) - 0.5, -0.5)
        image = ax.imshow(shares.T, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0, vmax=1, extent=extent)
        ax.xaxis_date()
        ax.set_yticks(range(len(sensors)), sensors, fontsize=7)
        ax.set_title(f"{asset}: each sensor's share of the served model's score", fontsize=9)
    axes[-1, 0].set_xlabel("time (UTC)")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="share of the score", fraction=0.02)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_loss_curves(history: list[dict], path: str | Path) -> None:
    """Training and validation loss per epoch on a linear axis (the teachers' losses can
    be negative: the Anomaly Transformer's minimax term, OmniAnomaly's negative ELBO)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = np.array([row["epoch"] for row in history])
    for key in ("train_loss", "val_loss"):
        ax.plot(epochs, [row.get(key, np.nan) for row in history], marker="o", label=key)
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_leaderboard(board: pd.DataFrame, path: str | Path) -> None:
    """Per model: ranking quality (VUS-PR) and point F1 at the alarm level; the share of
    fault events its alarms found; their mean delay (rows); scoring speed (rows/s, log).
    A metric that is undefined (None: no event was alarmed, or the test split's labelled
    rows all fell in the rows no model scores) draws no bar."""
    numbers = ["vus_pr", "f1", "events", "alarm_events_found", "alarm_mean_delay_rows", "rows_per_s"]
    board = board.assign(**{c: pd.to_numeric(board[c], errors="coerce") for c in numbers})  # an undefined metric: NaN, no bar
    board = board.sort_values("vus_pr", ascending=True)
    delays = board["alarm_mean_delay_rows"]
    fig, (quality, found, delay, speed) = plt.subplots(1, 4, figsize=(14, 0.5 * len(board) + 1.8), sharey=True)
    y = np.arange(len(board))
    quality.barh(y - 0.2, board["vus_pr"], height=0.4, label="VUS-PR")
    quality.barh(y + 0.2, board["f1"], height=0.4, label="F1 (alarm level)")
    quality.set_yticks(y, board["model"])
    quality.set_xlabel("test split")
    quality.legend(fontsize=7)
    events = board["events"].replace(0, np.nan)
    found.barh(y, board["alarm_events_found"] / events, color="tab:green")
    found.set_xlim(0, 1)
    found.set_xlabel("fault events alarmed (share)")
    delay.barh(y, delays, color="tab:orange")
    delay.set_xlabel("mean alarm delay (rows)")
    speed.barh(y, board["rows_per_s"], color="tab:gray")
    speed.set_xscale("log")
    speed.set_xlabel("scoring rows/s (log)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
