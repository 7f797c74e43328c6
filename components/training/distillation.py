"""Distillation data for the student (docs/architecture.md §3).

For one split: the scaled rows plus ``copies`` copies with seeded synthetic anomalies
(:mod:`components.features.injection`); every teacher scores every row causally (the
window ending at the row, as in serving); each teacher's scores are rank-normalised to
[0, 1] over all rows of the set, and the weighted mean over the teachers that scored a
row is that row's soft target (NaN where none did, e.g. too little history).

Option ``normal_rows: zero`` (the default ``teacher_rank`` is docs/architecture.md's): rows with
neither an injected anomaly nor an anomaly label get target 0 instead of their rank. The
split is normal data, so ranks among its rows only say which normal row a teacher finds
least typical; as targets they are uniform on [0, 1] and train the head to answer ≈ 0.5
on every normal window (demo plant: calibration-window probabilities 0.12–0.80, median
0.54). Measured against ``teacher_rank`` with the same teachers and seeds, both at
classification loss weight 1.0 (the default before commit a37c15e): demo plant
0.394 → 0.482 VUS-PR (distilling from both teachers then beats no distillation, 0.425),
but MSL (27 channels, benchmark protocol, seeds 7/8/9) 0.377, 0.311, 0.347 against
0.366 (same harness, seed 7) and 0.355, 0.383 (the three-seed benchmark run of commit
d58abdd); channels S-2, T-5, P-10 and P-11 collapse with seed 8. So it is not the default.

Measured and not adopted (same teachers and seed, loss weight 1.0; demo 0.394 and MSL
seed 7 0.366 as shipped then): targets calibrated to probabilities by isotonic regression
of "injected or labelled" on the combined rank (demo 0.351: the teachers separate injected
rows so weakly that every target came out below 0.13); teacher weights scaled by each
teacher's ROC-AUC − 0.5 on the set's injected anomalies (demo 0.393, MSL 0.360). The
Anomaly Transformer (fast profile) scored ROC-AUC ≤ 0.5 on the demo's injected anomalies
and 0.51–0.52 on MSL's, so that weighting all but dropped it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from components.detectors.base import Detector
from components.detectors.student import DistillationSettings
from components.features.injection import inject_anomalies
from components.features.scaling import StandardScaler
from components.frames import LABEL, SESSION


@dataclass(frozen=True)
class DistillationSet:
    """``values`` (rows, n_sensors) float32 scaled; ``clean`` the same rows before
    injection (the split's rows repeated per copy); ``sessions`` (rows,) ids, each copy's
    sessions distinct; ``labels`` (rows,) the split's own labels repeated per copy (0 if
    unlabelled); ``injected`` (rows,) 1 on injected anomalies; ``targets`` (rows,) float32
    soft targets in [0, 1] or NaN, or None without teachers."""

    values: np.ndarray
    clean: np.ndarray
    sessions: np.ndarray
    labels: np.ndarray
    injected: np.ndarray
    targets: np.ndarray | None


def rank_normalise(scores: np.ndarray) -> np.ndarray:
    """Scores (rows,) → ranks in [0, 1] (ties averaged); NaN stays NaN."""
    out = np.full(len(scores), np.nan)
    finite = np.isfinite(scores)
    n = int(finite.sum())
    if n == 1:
        out[finite] = 0.5
    elif n > 1:
        out[finite] = (rankdata(scores[finite]) - 1) / (n - 1)
    return out


def combine_targets(ranked: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted mean of rank-normalised teacher scores over the teachers with a value."""
    stacked = np.stack([ranked[t] for t in weights])
    w = np.asarray([weights[t] for t in weights])[:, None] * np.isfinite(stacked)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(total > 0, np.nansum(stacked * w, axis=0) / np.where(total > 0, total, 1), np.nan)


def distillation_set(
    frame: pd.DataFrame, scaler: StandardScaler, teachers: dict[str, Detector],
    weights: dict[str, float], dcfg: DistillationSettings, *, copies: int, seed: int,
) -> DistillationSet:
    """The split ``frame`` (sessionised, ``session`` + sensors [+ ``label``]) and its
    injected copies, with teacher soft targets when ``teachers`` is not empty."""
    base = scaler.transform(frame).astype(np.float32)
    sessions = frame[SESSION].astype(str).to_numpy()
    labels = frame[LABEL].to_numpy(dtype=np.int8) if LABEL in frame.columns else np.zeros(len(frame), np.int8)
    values, session_ids, injected = [base], [sessions], [np.zeros(len(frame), np.int8)]
    for copy in range(1, copies + 1):
        made = inject_anomalies(base, sessions, seed=seed + copy, events_per_1000=dcfg.events_per_1000, magnitude=dcfg.magnitude)
        values.append(made.values.astype(np.float32))
        session_ids.append(np.char.add(sessions, f"~injected{copy}"))
        injected.append(made.labels.astype(np.int8))
    all_values, all_sessions = np.concatenate(values), np.concatenate(session_ids)
    targets = None
    if teachers:
        ranked = {name: rank_normalise(teacher.score(all_values, all_sessions).score) for name, teacher in teachers.items()}
        targets = combine_targets(ranked, {t: weights[t] for t in teachers}).astype(np.float32)
    all_labels, all_injected = np.tile(labels, copies + 1), np.concatenate(injected)
    if targets is not None and dcfg.normal_rows == "zero":
        targets[(all_injected == 0) & (all_labels == 0) & np.isfinite(targets)] = 0.0
    return DistillationSet(all_values, np.tile(base, (copies + 1, 1)), all_sessions, all_labels, all_injected, targets)
