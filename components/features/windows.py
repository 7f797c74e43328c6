"""Session-aware sliding windows: a window never spans two sessions."""

from __future__ import annotations

import numpy as np


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
