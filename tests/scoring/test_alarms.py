"""Event-level alarms: the vectorised hysteresis against a row-by-row state machine,
chunked scoring against whole, and the rule chosen on validation rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.scoring.alarms import (
    AlarmConfig, AlarmRule, AlarmState, alarm_levels, alarms_by_asset, choose_rule, event_metrics, level_index, raised_events,
)


def reference(levels: list[int], rule: AlarmRule, immediate: list[bool]) -> list[int]:
    """The rule as an operator reads it, one row at a time."""
    raised, above, below, out = [False, False], [0, 0], [0, 0], []
    for level, urgent in zip(levels, immediate):
        if level >= 0:
            for k, threshold in enumerate((1, 2)):
                if level >= threshold:
                    above[k], below[k] = above[k] + 1, 0
                    raised[k] = raised[k] or above[k] >= rule.raise_after
                else:
                    above[k], below[k] = 0, below[k] + 1
                    raised[k] = raised[k] and below[k] < rule.clear_after
                raised[k] = raised[k] or urgent
        out.append(2 if raised[1] else 1 if raised[0] else 0)
    return out


rows = st.lists(st.sampled_from([-1, 0, 0, 0, 1, 1, 2]), max_size=80)


@settings(max_examples=300, deadline=None)
@given(rows=rows, raise_after=st.integers(1, 5), clear_after=st.integers(1, 5), urgent_at=st.lists(st.integers(0, 79), max_size=3))
def test_the_vectorised_rule_is_the_row_by_row_state_machine(rows, raise_after, clear_after, urgent_at):
    levels = rows
    immediate = [i in urgent_at and levels[i] == 2 for i in range(len(levels))]
    rule = AlarmRule(raise_after, clear_after)
    got, _ = alarm_levels(np.array(levels, dtype=int), rule, immediate=np.array(immediate, dtype=bool))
    assert got.tolist() == reference(levels, rule, immediate)


@settings(max_examples=200, deadline=None)
@given(rows=rows, raise_after=st.integers(1, 5), clear_after=st.integers(1, 5), cuts=st.lists(st.integers(0, 80), max_size=4))
def test_chunks_carrying_the_state_alarm_as_the_whole_series(rows, raise_after, clear_after, cuts):
    levels = np.array(rows, dtype=int)
    rule = AlarmRule(raise_after, clear_after)
    whole, _ = alarm_levels(levels, rule)
    state, parts = AlarmState(), []
    bounds = sorted({0, len(levels), *[c for c in cuts if c <= len(levels)]})
    for a, b in zip(bounds[:-1], bounds[1:]):
        part, state = alarm_levels(levels[a:b], rule, state)
        parts.append(part)
    assert np.concatenate(parts or [np.zeros(0, dtype=np.int8)]).tolist() == whole.tolist()


def test_a_blip_shorter_than_raise_after_raises_nothing_and_an_alarm_outlasts_a_short_dip():
    rule = AlarmRule(raise_after=3, clear_after=4)
    levels = np.array([0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0])
    alarm, state = alarm_levels(levels, rule)
    assert alarm.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    assert state.raised == [False, False] and state.below[0] == 5


def test_an_out_of_range_row_raises_critical_at_once():
    alarm, _ = alarm_levels(np.array([0, 0, 2, 0, 0]), AlarmRule(5, 2), immediate=np.array([0, 0, 1, 0, 0], dtype=bool))
    assert alarm.tolist() == [0, 0, 2, 2, 0]


def test_rows_without_a_score_hold_the_alarm_and_the_counts():
    alarm, _ = alarm_levels(np.array([1, -1, 1, -1, -1, 0, 0]), AlarmRule(2, 2))
    assert alarm.tolist() == [0, 0, 1, 1, 1, 1, 0]


def test_each_asset_starts_clear_and_events_do_not_cross_assets():
    index = np.array([1, 1, 1, 1, 1, 1])
    assets = np.array(["a", "a", "a", "b", "b", "b"])
    alarm = alarms_by_asset(index, assets, AlarmRule(2, 1))
    assert alarm.tolist() == [0, 1, 1, 0, 1, 1]
    assert raised_events(alarm, assets) == [(1, 2), (4, 5)]


def test_level_index_matches_the_threshold_levels():
    index = level_index(np.array([0.1, 0.6, 2.0, np.nan, 0.5]), {"warning": 0.5, "critical": 1.0})
    assert index.tolist() == [0, 1, 2, -1, 0]


def test_the_rule_is_the_smallest_raise_after_within_the_false_event_budget():
    rng = np.random.default_rng(0)
    index = (rng.random(14_400) < 0.02).astype(np.int8)  # ten days of minutes, 2 % isolated exceedances
    assets = np.repeat(["p1", "p2"], 7_200)
    rule, details = choose_rule(index, assets, 60.0, AlarmConfig(max_false_events_per_day=1.0))
    assert rule.raise_after == rule.clear_after == 2 and details["target_met"]
    assert details["validation_events_per_asset_day"] <= 1.0 and details["validation_asset_days"] == pytest.approx(10.0)
    loose, _ = choose_rule(index, assets, 60.0, AlarmConfig(max_false_events_per_day=100.0))
    assert loose.raise_after == 1
    fixed, details = choose_rule(index, assets, 60.0, AlarmConfig(raise_after=7, clear_after=3))
    assert fixed == AlarmRule(7, 3) and details["chosen"] == "configured"


def test_event_metrics_count_found_events_their_delay_and_false_alarms_per_day():
    labels = np.zeros(2_880, dtype=int)
    labels[1000:1010] = 1
    alarm = np.zeros(2_880, dtype=np.int8)
    alarm[1003:1020] = 1  # found, 3 rows late
    alarm[200:205] = 1  # false
    alarm[2000:2001] = 2  # false, critical
    out = event_metrics(labels, alarm, np.array(["p"] * 2_880), np.zeros(2_880, dtype=np.int8), 60.0)
    assert out["alarm_events_found"] == 1 and out["alarm_mean_delay_rows"] == 3.0
    assert out["alarm_false_events"] == 2
    assert out["alarm_false_events_per_asset_day"] == pytest.approx(2 / (2_870 / 1_440))
