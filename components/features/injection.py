"""Seeded synthetic anomalies injected into a standard-scaled multivariate series.

Used to make training copies with known anomalies (for teachers to score) and to
evaluate models on data that has no labels. Magnitudes are in scaled units, i.e.
standard deviations of the normal data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

INJECTION_KINDS = ("spike", "level_shift", "drift", "stuck", "noise_burst", "correlation_break")

_MIN_GAP = 5  # normal rows kept between two events
_TRIES_PER_EVENT = 50  # placement attempts per wanted event before giving up (crowded series)

_Change = tuple[tuple[int, ...], np.ndarray]  # (sensor columns, their new values on the event rows)


@dataclass(frozen=True)
class InjectedEvent:
    """One injected anomaly: rows ``start:end`` (end exclusive) of the sensor columns ``sensors``."""

    kind: str
    start: int
    end: int
    sensors: tuple[int, ...]


@dataclass(frozen=True)
class Injected:
    """``values`` (rows, n_sensors) float32 copy with anomalies; ``labels`` (rows,) int8,
    1 inside events; ``events`` sorted by start."""

    values: np.ndarray
    labels: np.ndarray
    events: list[InjectedEvent]


def inject_anomalies(
    values: np.ndarray,
    sessions: np.ndarray,
    *,
    seed: int,
    events_per_1000: float = 3.0,
    kinds: Sequence[str] = INJECTION_KINDS,
    magnitude: float = 4.0,
    min_length: int = 5,
    max_length: int = 40,
    margin: int = 30,
) -> Injected:
    """Inject ≈ ``rows·events_per_1000/1000`` anomalies into a copy of ``values``.

    ``values`` is (rows, n_sensors), standard-scaled; ``sessions`` is (rows,) session
    ids with each session's rows contiguous. Events lie inside one session, start at
    least ``margin`` rows after its first row, never overlap and keep at least 5
    normal rows between them. Only sessions with ≥ ``margin + min_length`` rows hold
    events; if any does and ``events_per_1000 > 0`` at least one event is made (fewer
    than asked when the series is too crowded). Kinds cycle through ``kinds`` from a
    seeded offset. Events last ``min_length..max_length`` rows, except spikes (1–3
    rows). ``magnitude`` is in standard deviations. The same ``seed`` gives the same
    output; ``values`` is never modified.
    """
    values = np.asarray(values)
    sessions = np.asarray(sessions)
    _validate(values, sessions, kinds, events_per_1000, magnitude, min_length, max_length, margin)
    rng = np.random.default_rng(seed)
    original = values.astype(np.float64)
    out = original.copy()
    occupied = np.zeros(len(values), dtype=bool)

    firsts, ends = _session_runs(sessions)
    usable = ends - firsts >= margin + min_length
    firsts, ends = firsts[usable], ends[usable]
    wanted = max(round(len(values) * events_per_1000 / 1000), 1) if usable.any() and events_per_1000 > 0 else 0
    room = int((ends - firsts).max()) - margin if wanted else 0  # most rows one event can get
    offset = int(rng.integers(len(kinds)))
    placements: dict[int, np.ndarray] = {}  # event length → cumulative count of valid starts per session
    events: list[InjectedEvent] = []
    for _ in range(_TRIES_PER_EVENT * wanted):
        if len(events) == wanted:
            break
        kind = kinds[(offset + len(events)) % len(kinds)]
        low, high = (1, min(3, room)) if kind == "spike" else (min_length, min(max_length, room))
        length = int(rng.integers(low, high + 1))
        if length not in placements:
            placements[length] = np.cumsum(np.maximum(0, ends - length - firsts - margin + 1))
        i, pick = _draw_start(placements[length], rng)
        first, end_of_session = int(firsts[i]), int(ends[i])
        start = first + margin + pick
        end = start + length
        if occupied[max(start - _MIN_GAP, 0) : end + _MIN_GAP].any():
            continue
        occupied[start:end] = True
        session = original[first:end_of_session]
        sensors, replacement = _INJECTORS[kind](session, start - first, end - first, magnitude, rng)
        out[start:end, sensors] = replacement
        events.append(InjectedEvent(kind, start, end, sensors))

    events.sort(key=lambda event: event.start)
    return Injected(out.astype(np.float32), occupied.astype(np.int8), events)


def _validate(
    values: np.ndarray,
    sessions: np.ndarray,
    kinds: Sequence[str],
    events_per_1000: float,
    magnitude: float,
    min_length: int,
    max_length: int,
    margin: int,
) -> None:
    if values.ndim != 2:
        raise ValueError(f"values must be 2-d (rows, n_sensors), got shape {values.shape}")
    if values.shape[1] == 0:
        raise ValueError("values must have at least one sensor column")
    if sessions.shape != (values.shape[0],):
        raise ValueError(f"sessions must be 1-d with one id per row ({values.shape[0]}), got shape {sessions.shape}")
    if not kinds:
        raise ValueError("kinds must not be empty")
    unknown = sorted(set(kinds) - set(INJECTION_KINDS))
    if unknown:
        raise ValueError(f"unknown injection kinds {unknown}; choose from {list(INJECTION_KINDS)}")
    if magnitude <= 0:
        raise ValueError(f"magnitude must be > 0, got {magnitude}")
    if events_per_1000 < 0:
        raise ValueError(f"events_per_1000 must be >= 0, got {events_per_1000}")
    if min_length < 1:
        raise ValueError(f"min_length must be >= 1, got {min_length}")
    if min_length > max_length:
        raise ValueError(f"min_length ({min_length}) must not exceed max_length ({max_length})")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")


def _session_runs(sessions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row and end row (exclusive) of each session, as two int64 arrays."""
    boundaries = np.flatnonzero(sessions[1:] != sessions[:-1]) + 1
    firsts = np.concatenate([[0], boundaries]).astype(np.int64)
    ends = np.concatenate([boundaries, [len(sessions)]]).astype(np.int64)
    return firsts, ends


def _draw_start(cumulative: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Uniform draw over all valid starts, given their cumulative count per session:
    returns (session index, offset of the start among that session's valid starts)."""
    pick = int(rng.integers(cumulative[-1]))
    i = int(np.searchsorted(cumulative, pick, side="right"))
    return i, pick - (int(cumulative[i - 1]) if i else 0)


def _pick_sensors(n_sensors: int, most: int, rng: np.random.Generator) -> tuple[int, ...]:
    """1..``most`` distinct sensor columns, sorted."""
    count = int(rng.integers(1, min(most, n_sensors) + 1))
    return tuple(sorted(int(c) for c in rng.choice(n_sensors, size=count, replace=False)))


def _signs(count: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size=count)


def _spike(session: np.ndarray, start: int, end: int, magnitude: float, rng: np.random.Generator) -> _Change:
    """Add ±magnitude·U(1, 1.5) to 1 sensor on the (1–3) event rows."""
    sensors = _pick_sensors(session.shape[1], 1, rng)
    return sensors, session[start:end, sensors] + _signs(1, rng) * magnitude * rng.uniform(1.0, 1.5)


def _level_shift(session: np.ndarray, start: int, end: int, magnitude: float, rng: np.random.Generator) -> _Change:
    """Add a constant ±magnitude·U(0.5, 1) offset to each of 1–2 sensors."""
    sensors = _pick_sensors(session.shape[1], 2, rng)
    offsets = _signs(len(sensors), rng) * magnitude * rng.uniform(0.5, 1.0, size=len(sensors))
    return sensors, session[start:end, sensors] + offsets


def _drift(session: np.ndarray, start: int, end: int, magnitude: float, rng: np.random.Generator) -> _Change:
    """Add a linear ramp reaching ±magnitude on the last event row, on 1–2 sensors."""
    sensors = _pick_sensors(session.shape[1], 2, rng)
    ramp = np.arange(1, end - start + 1)[:, None] / (end - start)
    return sensors, session[start:end, sensors] + ramp * _signs(len(sensors), rng) * magnitude


def _stuck(session: np.ndarray, start: int, end: int, magnitude: float, rng: np.random.Generator) -> _Change:
    """Hold 1 sensor at its value on the event's first row."""
    sensors = _pick_sensors(session.shape[1], 1, rng)
    return sensors, np.broadcast_to(session[start, sensors], (end - start, 1))


def _noise_burst(session: np.ndarray, start: int, end: int, magnitude: float, rng: np.random.Generator) -> _Change:
    """Add Gaussian noise of std magnitude/2 to 1–2 sensors."""
    sensors = _pick_sensors(session.shape[1], 2, rng)
    return sensors, session[start:end, sensors] + rng.normal(0.0, magnitude / 2, size=(end - start, len(sensors)))


def _correlation_break(
    session: np.ndarray, start: int, end: int, magnitude: float, rng: np.random.Generator
) -> _Change:
    """Replace 1 sensor's segment with its own values from a non-overlapping place in the
    same session; reverse the segment in time if the session has no room for that."""
    sensors = _pick_sensors(session.shape[1], 1, rng)
    length = end - start
    before = max(0, start - length + 1)  # donor starts 0 .. start-length
    after = max(0, len(session) - length - end + 1)  # donor starts end .. len(session)-length
    if before + after == 0:
        return sensors, session[start:end, sensors][::-1]
    pick = int(rng.integers(before + after))
    donor = pick if pick < before else end + pick - before
    return sensors, session[donor : donor + length, sensors]


_INJECTORS: dict[str, Callable[[np.ndarray, int, int, float, np.random.Generator], _Change]] = {
    "spike": _spike,
    "level_shift": _level_shift,
    "drift": _drift,
    "stuck": _stuck,
    "noise_burst": _noise_burst,
    "correlation_break": _correlation_break,
}
