"""Draw docs/stage-graph.png, the picture of anomflow's stage graph in docs/architecture.md.

Usage (from the project root): .venv/bin/python docs/stage_graph.py [--out docs/stage-graph.png]
Needs only matplotlib. Edit STAGES / EDGES when a stage is added or renamed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

# name -> (x, y, label, what it writes); the main line left to right, models fanned out
STAGES = {
    "sources": (0.0, 2.0, "sources", "Grafana CSV / API,\nplain CSV"),
    "ingest": (1.5, 2.0, "ingest", "artifacts/\nreadings.parquet"),
    "validate": (3.0, 2.0, "validate", "validated.parquet,\nquarantine, GX report"),
    "prepare": (4.5, 2.0, "prepare", "artifacts/prepared/\n(sessions, splits, scaler)"),
    "train": (6.0, 3.2, "train", "models/<model>/\nteachers, lstm_ae, baselines"),
    "distil": (6.0, 0.8, "distil", "models/student/\n(train --model student)"),
    "threshold": (7.5, 2.0, "threshold", "thresholds/\n<model>.json"),
    "evaluate": (9.0, 2.0, "evaluate", "reports/metrics.json,\nleaderboard"),
    "register": (10.5, 2.0, "register", "MLflow: anomflow-detector\n@champion / @challenger"),
    "serve": (10.5, 0.2, "serve / score", "mlflow models serve,\nanomflow score"),
}
EDGES = [
    ("sources", "ingest"), ("ingest", "validate"), ("validate", "prepare"), ("prepare", "train"), ("prepare", "distil"),
    ("train", "distil"), ("train", "threshold"), ("distil", "threshold"), ("threshold", "evaluate"), ("evaluate", "register"),
    ("register", "serve"),
]
W, H = 1.15, 0.5


def draw(out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(14, 4.6))
    for name, (x, y, label, writes) in STAGES.items():
        colour = "#dbe9f6" if name not in ("sources", "serve") else "#eeeeee"
        ax.add_patch(FancyBboxPatch((x - W / 2, y - H / 2), W, H, boxstyle="round,pad=0.04", fc=colour, ec="#34495e", lw=1.2))
        ax.text(x, y, label, ha="center", va="center", fontsize=11, weight="bold")
        ax.text(x, y - H / 2 - 0.12, writes, ha="center", va="top", fontsize=7.5, color="#444444")
    for a, b in EDGES:
        (xa, ya), (xb, yb) = STAGES[a][:2], STAGES[b][:2]
        if xa == xb:  # vertical (train -> distil, register -> serve): start below the upper box's caption
            start, end = (xa, ya - H / 2 - 0.5), (xb, yb + H / 2)
        else:
            start, end = (xa + W / 2, ya), (xb - W / 2, yb)
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="#34495e", lw=1.2, shrinkA=2, shrinkB=2))
    ax.text(6.0 + 0.08, 1.75, "teachers'\nsoft targets", fontsize=7.5, ha="left", va="center", color="#444444")
    ax.set_xlim(-0.8, 11.3)
    ax.set_ylim(-0.7, 3.8)
    ax.axis("off")
    ax.set_title("anomflow: the retrain flow's stages (each an `anomflow` sub-command and a dvc.yaml stage)", fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/stage-graph.png"))
    print(draw(parser.parse_args().out))
