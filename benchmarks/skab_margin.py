"""Can a threshold set on normal recordings alone make the student meet the issue's SKAB
target (F1 >= 0.85, FAR <= 10 %, MAR <= 20 %) on drift-tracked inputs?

Usage (from the project root):
    .venv/bin/python benchmarks/skab_margin.py --data ../shared/datasets/skab [--seeds 7,8,9]

Everything is as in ``benchmarks/skab_tracked.py`` (the leaderboard protocol; every
sensor replaced by its drift-tracking residual), for the student only (its two teachers
trained on each file first), except the threshold. Each file's rows are flagged above the
largest student score on that file's own 400 training rows (the 320 it fitted and the 80
it held out) plus a margin in score units (the student's score is 0 at its median
calibration window and 1 at the 99th percentile). The margin is the smallest of
``MARGINS`` whose pooled FAR is at most the target's 10 % on SKAB's *normal* recordings:
every CSV under ``--data`` without an ``anomaly`` column, cut into pieces of
``--piece-rows`` rows, each run through the same protocol (all their test rows normal).
So no experiment's labels choose the threshold; the drift-tracking settings are
``skab_tracked.py``'s, tuned to SKAB's labels as a whole, as that script says.

Per seed (teachers and student retrained): the chosen margin, the experiments' pooled F1,
FAR and MAR at it, and both FARs and the F1/MAR at every margin of the grid (the others
are shown, not chosen from). Writes reports/benchmarks/skab_margin.json (``--out``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.research_lib.drift_tracking import DEPTH, MULTIPLIER, SMOOTH, tracked_channel  # noqa: E402
from components.benchmarks.protocol import REPO_CONFIG, TORCH_THREADS, benchmark_config, run_channel  # noqa: E402
from components.benchmarks.report_io import json_ready  # noqa: E402
from components.benchmarks.series import Channel  # noqa: E402
from components.detectors.registry import SERVED_KIND  # noqa: E402
from components.benchmarks.skab import (  # noqa: E402
    LABEL_COLUMN, NON_SENSOR, TARGET_F1, TARGET_FAR, TARGET_MAR, TRAIN_ROWS, list_experiments, load_experiment, pooled_rates, sensor_columns,
)

MARGINS = tuple(np.round(np.arange(0.0, 3.01, 0.25), 2))
PIECE_ROWS = 1150  # about one valve1 experiment


def normal_pieces(data: str | Path, piece_rows: int = PIECE_ROWS) -> list[Channel]:
    """Every CSV under ``data`` without an ``anomaly`` column, cut into consecutive pieces
    of ``piece_rows`` rows (a shorter tail is dropped), each split like an experiment:
    first ``TRAIN_ROWS`` rows to train, the rest as normal test rows."""
    if piece_rows <= TRAIN_ROWS:
        raise ValueError(f"--piece-rows must exceed the {TRAIN_ROWS} training rows, got {piece_rows}")
    pieces = []
    for path in sorted(Path(data).glob("*/*.csv")):
        frame = pd.read_csv(path, sep=";")
        if LABEL_COLUMN in frame.columns:
            continue
        values = frame[[c for c in frame.columns if c not in NON_SENSOR]].to_numpy(dtype=float)
        for k in range(len(values) // piece_rows):
            piece = values[k * piece_rows : (k + 1) * piece_rows]
            name = f"{path.relative_to(data).with_suffix('')}@{k * piece_rows}"
            pieces.append(Channel(name, piece[:TRAIN_ROWS], piece[TRAIN_ROWS:], np.zeros(piece_rows - TRAIN_ROWS, dtype=np.int8)))
    if not pieces:
        raise ValueError(f"no normal recording (CSV without an '{LABEL_COLUMN}' column) of more than {piece_rows} rows under {data}")
    return pieces


def teachers_of_the_student() -> list[str]:
    """The models the student learns from in the repository's config (its teachers)."""
    from components.config import load_config

    return load_config(REPO_CONFIG).learns_from(SERVED_KIND)


def student_scores(channel: Channel, configs: dict, seed: int) -> tuple[float, np.ndarray]:
    """(largest score on the channel's training rows, test scores (rows,)) of the student
    trained on ``channel`` after its teachers, all with ``seed``."""
    teachers = {kind: run_channel(kind, configs[kind], channel, seed=seed)[1]["model"] for kind in configs if kind != SERVED_KIND}
    _, arrays = run_channel(SERVED_KIND, configs[SERVED_KIND], channel, teachers=teachers, seed=seed, score_train=True)
    return float(np.max(arrays["training_scores"])), arrays["scores"]


def flags(scored: list[tuple[float, np.ndarray]], margin: float) -> np.ndarray:
    """All channels' test rows flagged above their training maximum + ``margin``, pooled."""
    return np.concatenate([scores > top + margin for top, scores in scored])


def choose_margin(normal: list[tuple[float, np.ndarray]]) -> tuple[float | None, list[float]]:
    """(the smallest margin whose FAR (%) on the normal pieces is within the target's, or
    None; that FAR at every margin)."""
    fars = [100.0 * float(flags(normal, m).mean()) for m in MARGINS]
    return next((float(m) for m, far in zip(MARGINS, fars) if far <= TARGET_FAR), None), fars


def run(data: str | Path, seeds: list[int], *, piece_rows: int = PIECE_ROWS, profile: str = "fast", max_epochs: int | None = None, progress=print) -> dict:
    """The margin study on ``data`` for each of ``seeds`` (module doc); JSON-ready."""
    import torch

    from components.registry.tracking import git_commit

    torch.set_num_threads(TORCH_THREADS)
    data = Path(data)
    experiments = [tracked_channel(load_experiment(p, data), sensor_columns(p))[0] for p in list_experiments(data)]
    normal = [tracked_channel(piece, [])[0] for piece in normal_pieces(data, piece_rows)]
    labels = np.concatenate([e.labels for e in experiments])
    started = time.perf_counter()
    by_seed = {}
    for seed in seeds:
        configs = benchmark_config(profile, [*teachers_of_the_student(), SERVED_KIND], max_epochs=max_epochs, seed=seed)
        scored = [student_scores(e, configs, seed) for e in experiments]
        normal_scored = [student_scores(p, configs, seed) for p in normal]
        margin, normal_fars = choose_margin(normal_scored)
        grid = [{"margin": float(m), "far_normal": far, **{k: pooled_rates(labels, flags(scored, m))[k] for k in ("f1", "far", "mar")}}
                for m, far in zip(MARGINS, normal_fars)]
        by_seed[str(seed)] = {"margin": margin, "chosen": next((g for g in grid if g["margin"] == margin), None), "grid": grid}
        chosen = by_seed[str(seed)]["chosen"]
        progress(f"seed {seed}: margin {margin} -> " + (f"F1 {chosen['f1']:.3f}  FAR {chosen['far']:.1f} %  MAR {chosen['mar']:.1f} %" if chosen else "none keeps the normal FAR within the target"))
    return json_ready({
        "git_commit": git_commit(Path(__file__).resolve().parents[1]),
        "profile": profile,
        "protocol": {
            "train_rows": TRAIN_ROWS,
            "preprocessing": f"drift-tracking residuals: depth {DEPTH}, smoothing {SMOOTH}, multiplier {MULTIPLIER:g}",
            "threshold": "per file: largest student score on its 400 training rows + margin; margin: smallest of the grid "
                         f"with pooled FAR <= {TARGET_FAR:g} % on the normal pieces",
            "target": {"f1": TARGET_F1, "far": TARGET_FAR, "mar": TARGET_MAR},
            "max_epochs_cap": max_epochs,
        },
        "dataset": {"path": str(data.resolve()), "experiments": [e.name for e in experiments], "normal_pieces": [p.name for p in normal], "piece_rows": piece_rows},
        "hardware": {"platform": platform.platform(), "python": platform.python_version()},
        "seeds": by_seed,
        "wall_s": time.perf_counter() - started,
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder laid out like SKAB's data/, with its anomaly-free/ recording")
    parser.add_argument("--seeds", default="7", help="comma-separated seeds, e.g. 7,8,9")
    parser.add_argument("--piece-rows", type=int, default=PIECE_ROWS)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--out", default="reports/benchmarks/skab_margin.json")
    args = parser.parse_args()
    report = run(args.data, [int(s) for s in args.seeds.split(",")], piece_rows=args.piece_rows, max_epochs=args.max_epochs)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
