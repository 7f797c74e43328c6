"""Alarms at the event level: a level is raised only after it holds for ``raise_after``
rows and cleared only after ``clear_after`` rows below it (hysteresis), so one excursion
of the score makes one alarm, not a flicker of them.

Per asset, rows in time order, each row's instantaneous level index (0 normal,
1 warning, 2 critical; -1 for a row without a score: insufficient history or a sensor
fault, which neither raises nor clears and keeps the counts where they were). For each
level L: L is *raised* at a row once the last ``raise_after`` scored rows were all at L or
above, and stays raised until ``clear_after`` consecutive scored rows are below L. A row
marked *immediate* (an out-of-range reading, :mod:`components.registry.served_detector`)
raises critical at once. The alarm of a row is the highest raised level. The state
(which levels are raised and the current runs above and below each) is an
:class:`AlarmState`, carried from one chunk of rows to the next by batch scoring, so a
series scored in chunks gets the alarms of the series scored whole.

The rule is set per model on its validation rows (:func:`choose_rule`): the smallest
``raise_after`` whose false-alarm events per asset-day on validation stay within
``alarm.max_false_events_per_day``, and ``clear_after`` equal to it unless configured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from components.scoring.thresholds import LEVELS

RAISE_GRID = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60)
"""``raise_after`` values :func:`choose_rule` tries, in rows."""

SECONDS_PER_DAY = 86_400.0


class AlarmConfig(BaseModel):
    """``alarm:`` how instantaneous levels become alarms (module doc)."""

    model_config = ConfigDict(extra="forbid")

    max_false_events_per_day: float = Field(1.0, gt=0, description="false-alarm events per asset-day allowed on validation rows at the warning level")
    raise_after: int | None = Field(None, ge=1, description="rows a level must hold before it is raised; unset: chosen on validation rows")
    clear_after: int | None = Field(None, ge=1, description="rows below a level before it clears; unset: equal to raise_after")
    max_raise_after: int = Field(60, ge=1, description="largest raise_after tried on validation rows")


@dataclass(frozen=True)
class AlarmRule:
    """``raise_after`` / ``clear_after``: rows (see the module doc)."""

    raise_after: int = 1
    clear_after: int = 1

    @classmethod
    def of(cls, thresholds: dict) -> "AlarmRule":
        """The rule saved in a thresholds dict; rows alarm as their level (1, 1) if none is."""
        saved = thresholds.get("alarm")
        return cls(int(saved["raise_after"]), int(saved["clear_after"])) if saved else cls()


@dataclass
class AlarmState:
    """Per level (warning, critical): raised, and the current runs of scored rows at or
    above it and below it."""

    raised: list[bool] = field(default_factory=lambda: [False, False])
    above: list[int] = field(default_factory=lambda: [0, 0])
    below: list[int] = field(default_factory=lambda: [0, 0])


def _last_true(mask: np.ndarray, before: int) -> np.ndarray:
    """Index of the last True at or before each position of ``mask``; ``before`` (< 0)
    where there is none."""
    return np.maximum.accumulate(np.where(mask, np.arange(len(mask)), before))


def alarm_levels(
    level_index: np.ndarray, rule: AlarmRule, state: AlarmState | None = None, immediate: np.ndarray | None = None,
) -> tuple[np.ndarray, AlarmState]:
    """Alarm level index per row (rows,) int8 of one asset's rows in time order, and the
    state after the last row. ``level_index`` (rows,): 0/1/2, or -1 for a row without a
    score (it shows the alarm of the row before it); ``state``: the state before the first
    row (none raised by default); ``immediate`` (rows,) bool: rows that raise critical at
    once."""
    level_index = np.asarray(level_index)
    state = state or AlarmState()
    scored = level_index >= 0
    levels = level_index[scored]
    urgent = np.zeros(len(levels), dtype=bool) if immediate is None else np.asarray(immediate, dtype=bool)[scored]
    alarm = np.zeros(len(levels), dtype=np.int8)
    after = AlarmState(list(state.raised), list(state.above), list(state.below))
    for k, level in enumerate((1, 2)):
        at = levels >= level
        run_at = np.arange(len(at)) - _last_true(~at, -1 - state.above[k])
        run_below = np.arange(len(at)) - _last_true(at, -1 - state.below[k])
        raise_now = (at & (run_at >= rule.raise_after)) | urgent
        clear_now = ~at & (run_below >= rule.clear_after) & ~urgent
        raised = _last_true(raise_now, -1 if state.raised[k] else -2) > _last_true(clear_now, -2 if state.raised[k] else -1)
        alarm[raised] = level
        if len(at):
            after.raised[k] = bool(raised[-1])
            after.above[k], after.below[k] = (int(run_at[-1]), 0) if at[-1] else (0, int(run_below[-1]))
    before = 2 if state.raised[1] else 1 if state.raised[0] else 0
    position = np.cumsum(scored) - 1  # the scored row each row shows (-1: none yet)
    return np.where(position >= 0, np.concatenate([alarm, [0]])[position], before).astype(np.int8), after


def level_index(scores: np.ndarray, thresholds: dict) -> np.ndarray:
    """(rows,) int8: 0 normal, 1 warning, 2 critical from ``scores`` against the
    thresholds (strictly above, as :func:`~components.scoring.thresholds.classify_levels`);
    -1 for a NaN score."""
    scores = np.asarray(scores, dtype=float)
    index = (scores > thresholds["warning"]).astype(np.int8) + (scores > thresholds["critical"]).astype(np.int8)
    index[np.isnan(scores)] = -1
    return index


def index_of_levels(levels: np.ndarray) -> np.ndarray:
    """(rows,) int8 level index of level names: ``normal`` 0, ``warning`` 1, ``critical``
    2, anything else (no score) -1."""
    index = np.full(len(levels), -1, dtype=np.int8)
    for k, name in enumerate(LEVELS):
        index[np.asarray(levels) == name] = k
    return index


def alarms_by_asset(index: np.ndarray, assets: np.ndarray, rule: AlarmRule, immediate: np.ndarray | None = None) -> np.ndarray:
    """:func:`alarm_levels` of every asset's rows (``assets`` (rows,), rows of an asset in
    time order), each asset starting with no alarm raised."""
    alarm = np.zeros(len(index), dtype=np.int8)
    for asset in dict.fromkeys(assets):
        rows = np.flatnonzero(assets == asset)
        alarm[rows] = alarm_levels(index[rows], rule, immediate=None if immediate is None else immediate[rows])[0]
    return alarm


def raised_events(alarm: np.ndarray, assets: np.ndarray, level: int = 1) -> list[tuple[int, int]]:
    """Alarm events: ``(first, last)`` row of each run of rows at ``level`` or above, per
    asset (a run does not cross from one asset's rows to another's)."""
    on = np.asarray(alarm) >= level
    new_asset = np.concatenate([[True], np.asarray(assets)[1:] != np.asarray(assets)[:-1]])
    starts = np.flatnonzero(on & (new_asset | ~np.concatenate([[False], on[:-1]])))
    ends = np.flatnonzero(on & (np.concatenate([new_asset[1:], [True]]) | ~np.concatenate([on[1:], [False]])))
    return list(zip(starts.tolist(), ends.tolist()))


def asset_days(index: np.ndarray, interval_s: float) -> float:
    """Days of scored rows (``index`` >= 0) at ``interval_s`` seconds a row, all assets."""
    return float((np.asarray(index) >= 0).sum()) * interval_s / SECONDS_PER_DAY


def choose_rule(index: np.ndarray, assets: np.ndarray, interval_s: float, cfg: AlarmConfig) -> tuple[AlarmRule, dict]:
    """The alarm rule of a model from its *validation* rows' level index (rows,) (normal
    operation; -1 for rows not to count, e.g. near a labelled anomaly): ``raise_after``
    the smallest of :data:`RAISE_GRID` (up to ``cfg.max_raise_after``) whose warning-level
    alarm events per asset-day stay within ``cfg.max_false_events_per_day``, or the largest
    tried if none does; ``clear_after`` equal to it. Configured values are kept. Returns
    the rule and what was found (events per day at the rule, whether the target is met)."""
    days = asset_days(index, interval_s)
    if days <= 0:
        raise ValueError("no scored validation rows to choose the alarm rule on")

    def per_day(rule: AlarmRule) -> float:
        return len(raised_events(alarms_by_asset(index, assets, rule), assets)) / days

    candidates = [cfg.raise_after] if cfg.raise_after else [r for r in RAISE_GRID if r <= cfg.max_raise_after] or [cfg.max_raise_after]
    for raise_after in candidates:
        rule = AlarmRule(raise_after, cfg.clear_after or raise_after)
        rate = per_day(rule)
        if rate <= cfg.max_false_events_per_day:
            break
    details = {
        **asdict(rule), "validation_events_per_asset_day": rate, "validation_asset_days": days,
        "max_false_events_per_day": cfg.max_false_events_per_day, "target_met": rate <= cfg.max_false_events_per_day,
        "chosen": "configured" if cfg.raise_after else "validation",
    }
    return rule, details


def alarm_names(alarm: np.ndarray) -> np.ndarray:
    """Level names (rows,) of alarm level indices."""
    return np.asarray(LEVELS)[np.asarray(alarm, dtype=int)]


def event_metrics(labels: np.ndarray, alarm: np.ndarray, assets: np.ndarray, index: np.ndarray, interval_s: float, level: int = 1) -> dict:
    """Event-level quality of alarms at ``level`` or above on a labelled test series
    (rows of each asset in time order): labelled events found (an alarm row inside the
    event), the mean delay (rows from an event's start to its first alarm row, over those
    found), and alarm events touching no labelled row per asset-day of normal scored rows."""
    from components.scoring.metrics import events as labelled_events

    labels = np.asarray(labels).astype(bool)
    on = np.asarray(alarm) >= level
    delays = []
    spans = labelled_events(labels)
    for start, end in spans:
        hits = np.flatnonzero(on[start : end + 1])
        if hits.size:
            delays.append(int(hits[0]))
    false = [1 for first, last in raised_events(alarm, assets, level) if not labels[first : last + 1].any()]
    normal_days = asset_days(np.where(labels, -1, index), interval_s)
    return {
        "alarm_events_found": len(delays),
        "alarm_false_events_per_asset_day": (len(false) / normal_days) if normal_days > 0 else float("nan"),
        "alarm_mean_delay_rows": float(np.mean(delays)) if delays else float("nan"),
        "alarm_false_events": len(false),
    }
