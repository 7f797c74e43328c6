"""Session-aware sliding windows: a window never spans two sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.frames import LABEL, SESSION


def window_starts(sessions: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """Start row of every full window of ``window`` rows lying inside one session.

    ``sessions`` is a 1-d array of session ids, one per row, with each session's rows
    contiguous. Within a session, starts are 0, stride, 2·stride, … from the session's
    first row. Returns int64 indices into the rows.
    """
    sessions = np.asarray(sessions)
    n = len(sessions)
    if n < window:
        return np.zeros(0, dtype=np.int64)
    boundaries = np.flatnonzero(sessions[1:] != sessions[:-1]) + 1
    run_starts = np.concatenate([[0], boundaries])
    run_ends = np.concatenate([boundaries, [n]])
    starts = [np.arange(s, e - window + 1, stride) for s, e in zip(run_starts, run_ends) if e - s >= window]
    return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, dtype=np.int64)


def window_ends(sessions: np.ndarray, window: int) -> np.ndarray:
    """Boolean mask of rows that end a full window (enough history in their session)."""
    ends = np.zeros(len(sessions), dtype=bool)
    ends[window_starts(sessions, window, 1) + window - 1] = True
    return ends


def gather_windows(values: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Stack windows: ``values`` (rows, features) → (len(starts), window, features)."""
    return values[starts[:, None] + np.arange(window)[None, :]]


def fit_window_starts(frame: pd.DataFrame, window: int, stride: int, exclude_labelled: bool) -> np.ndarray:
    """Window starts in ``frame`` (a prepared split); with ``exclude_labelled``, none
    touching a label=1 row."""
    starts = window_starts(frame[SESSION].to_numpy(), window, stride)
    if exclude_labelled and LABEL in frame.columns:
        labelled = np.concatenate([[0], np.cumsum(frame[LABEL].to_numpy(dtype=np.int64))])
        starts = starts[labelled[starts + window] - labelled[starts] == 0]
    return starts


def no_fit_window_reason(frame: pd.DataFrame, name: str, window: int, exclude_labelled: bool) -> str:
    """Why the ``name`` split (train or val), in which :func:`fit_window_starts` finds no
    window, has none, and what to change."""
    span = "prepare.train_fraction and val_fraction cut each asset's time span, first reading to last"
    if frame.empty:
        return (
            f"the {name} split holds no rows: {span}, so a long pause in the recordings can leave a split's part of "
            "the span empty; move the fractions, or leave out the recordings on one side of the pause"
        )
    longest = int(frame[SESSION].value_counts().max())
    sessions = frame[SESSION].nunique()
    rows = f"{len(frame):,} rows in {sessions} session{'s' * (sessions != 1)}, the longest {longest:,} rows"
    if longest >= window and exclude_labelled and LABEL in frame.columns:
        return (
            f"the {name} split has no {window}-row window free of labelled anomalies ({rows}, "
            f"{int(frame[LABEL].sum()):,} of them labelled), and the models fit, stop early and set their thresholds on "
            f"such windows: move the split so that the {name} split holds normal rows ({span}), or fit on "
            "labelled rows too with prepare.exclude_labelled_from_fit: false"
        )
    return (
        f"the {name} split has no {window}-row window inside one session ({rows}): lower the models' window (models.<model>.window), raise "
        "prepare.max_gap_s (a longer gap starts a new session) or add data"
    )
