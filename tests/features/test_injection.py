"""Synthetic anomaly injection: reproducible, session-safe, and each kind does what it says."""

import numpy as np
import pytest

from components.features.injection import INJECTION_KINDS, Injected, inject_anomalies

MAGNITUDE = 4.0
TOL = 1e-4  # float32 output vs float64 arithmetic


def _series(n_sensors: int = 5, lengths=(400, 1500, 60, 20, 2000, 2020), seed: int = 0):
    """Random standard-normal values (rows, n_sensors) float32 and string session ids."""
    rng = np.random.default_rng(seed)
    sessions = np.repeat([f"p{i}#0" for i in range(len(lengths))], lengths)
    return rng.normal(size=(len(sessions), n_sensors)).astype(np.float32), sessions


def _inject(values, sessions, kind: str, **kwargs) -> Injected:
    kwargs.setdefault("events_per_1000", 10.0)
    return inject_anomalies(values, sessions, seed=kwargs.pop("seed", 3), kinds=(kind,), magnitude=MAGNITUDE, **kwargs)


def _diff(result: Injected, values: np.ndarray, event) -> np.ndarray:
    """Added values on the event's rows and sensors, (length, len(sensors)) float64."""
    rows, cols = slice(event.start, event.end), list(event.sensors)
    return result.values[rows, cols].astype(np.float64) - values[rows, cols].astype(np.float64)


def _event_mask(result: Injected, shape) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for event in result.events:
        mask[event.start : event.end, list(event.sensors)] = True
    return mask


def test_same_seed_reproduces_and_other_seed_differs():
    values, sessions = _series()
    a, b = inject_anomalies(values, sessions, seed=7), inject_anomalies(values, sessions, seed=7)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.events == b.events
    c = inject_anomalies(values, sessions, seed=8)
    assert c.events != a.events
    assert not np.array_equal(c.values, a.values)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_not_mutated_and_output_is_a_float32_copy(dtype):
    values, sessions = _series()
    values = values.astype(dtype)
    before = values.copy()
    result = inject_anomalies(values, sessions, seed=1)
    np.testing.assert_array_equal(values, before)
    assert result.values.dtype == np.float32 and result.values.shape == values.shape
    assert not np.shares_memory(result.values, values)
    assert not np.array_equal(result.values, values.astype(np.float32))


def test_labels_cover_exactly_the_event_rows():
    values, sessions = _series()
    result = inject_anomalies(values, sessions, seed=2, events_per_1000=8)
    assert result.labels.dtype == np.int8 and result.labels.shape == (len(values),)
    expected = np.zeros(len(values), dtype=np.int8)
    for event in result.events:
        expected[event.start : event.end] = 1
    np.testing.assert_array_equal(result.labels, expected)
    assert result.labels.sum() == sum(e.end - e.start for e in result.events)


@pytest.mark.parametrize("seed", range(5))
def test_events_stay_in_one_session_apart_and_after_the_margin(seed):
    values, sessions = _series()
    margin = 30
    result = inject_anomalies(values, sessions, seed=seed, events_per_1000=15, margin=margin)
    first_row = {s: int(np.argmax(sessions == s)) for s in np.unique(sessions)}
    assert len(result.events) > 30
    for event in result.events:
        session = sessions[event.start]
        assert (sessions[event.start : event.end] == session).all()
        assert event.start - first_row[session] >= margin
        assert session != "p3#0"  # 20 rows: too short for margin + min_length
    starts = [e.start for e in result.events]
    assert starts == sorted(starts)
    for earlier, later in zip(result.events, result.events[1:]):
        assert later.start - earlier.end >= 5


@pytest.mark.parametrize("kind", INJECTION_KINDS)
def test_each_kind_changes_only_its_event_rows_and_sensors(kind):
    values, sessions = _series()
    result = _inject(values, sessions, kind)
    assert len(result.events) >= 40
    assert {e.kind for e in result.events} == {kind}
    changed = result.values != values
    assert not (changed & ~_event_mask(result, values.shape)).any()
    touched = sum(changed[e.start : e.end, list(e.sensors)].any() for e in result.events)
    assert touched == len(result.events)


def test_spike_is_1_to_3_rows_on_one_sensor_of_magnitude_1_to_1_5():
    values, sessions = _series()
    result = _inject(values, sessions, "spike")
    for event in result.events:
        assert 1 <= event.end - event.start <= 3 and len(event.sensors) == 1
        added = np.abs(_diff(result, values, event))
        assert (added >= MAGNITUDE - TOL).all() and (added <= 1.5 * MAGNITUDE + TOL).all()


def test_level_shift_is_a_constant_offset_of_half_to_full_magnitude():
    values, sessions = _series()
    result = _inject(values, sessions, "level_shift", min_length=5, max_length=40)
    for event in result.events:
        assert 5 <= event.end - event.start <= 40 and 1 <= len(event.sensors) <= 2
        added = _diff(result, values, event)
        np.testing.assert_allclose(added, np.broadcast_to(added[0], added.shape), atol=TOL)
        assert (np.abs(added[0]) >= 0.5 * MAGNITUDE - TOL).all() and (np.abs(added[0]) <= MAGNITUDE + TOL).all()


def test_drift_is_a_linear_ramp_reaching_magnitude():
    values, sessions = _series()
    result = _inject(values, sessions, "drift")
    for event in result.events:
        length = event.end - event.start
        added = _diff(result, values, event)
        np.testing.assert_allclose(np.abs(added[-1]), MAGNITUDE, atol=TOL)
        ramp = np.arange(1, length + 1)[:, None] / length * added[-1]
        np.testing.assert_allclose(added, ramp, atol=TOL)


def test_stuck_holds_the_start_value():
    values, sessions = _series()
    result = _inject(values, sessions, "stuck")
    for event in result.events:
        (sensor,) = event.sensors
        segment = result.values[event.start : event.end, sensor]
        assert (segment == values[event.start, sensor]).all()


def test_noise_burst_has_std_of_half_the_magnitude():
    values, sessions = _series()
    result = _inject(values, sessions, "noise_burst", events_per_1000=20)
    added = np.concatenate([_diff(result, values, e).ravel() for e in result.events])
    assert len(added) > 1000
    assert abs(added.std() - MAGNITUDE / 2) < 0.1 * MAGNITUDE / 2
    assert abs(added.mean()) < 0.2


def test_correlation_break_copies_the_same_sensor_from_elsewhere_in_its_session():
    values, sessions = _series()
    result = _inject(values, sessions, "correlation_break")
    for event in result.events:
        (sensor,) = event.sensors
        length = event.end - event.start
        in_session = np.flatnonzero(sessions == sessions[event.start])
        column = values[:, sensor]
        segment = result.values[event.start : event.end, sensor]
        donors = [
            d
            for d in range(in_session[0], in_session[-1] - length + 2)
            if (d + length <= event.start or d >= event.end) and np.array_equal(column[d : d + length], segment)
        ]
        assert donors, f"no donor segment in the session for {event}"


def test_correlation_break_reverses_when_the_session_has_no_room_for_a_donor():
    values, sessions = _series(lengths=(75,))
    result = _inject(values, sessions, "correlation_break", min_length=40, max_length=40, margin=30)
    (event,) = result.events
    (sensor,) = event.sensors
    np.testing.assert_array_equal(
        result.values[event.start : event.end, sensor], values[event.start : event.end, sensor][::-1]
    )


@pytest.mark.parametrize("kind", INJECTION_KINDS)
def test_single_sensor_works_for_every_kind(kind):
    values, sessions = _series(n_sensors=1)
    result = _inject(values, sessions, kind)
    assert len(result.events) >= 40
    assert all(e.sensors == (0,) for e in result.events)
    changed = result.values != values
    assert changed.any()
    assert not (changed & ~_event_mask(result, values.shape)).any()


def test_event_count_follows_the_rate_and_kinds_cycle():
    values, sessions = _series(lengths=(5000, 5000, 10000))
    result = inject_anomalies(values, sessions, seed=4, events_per_1000=3.0)
    assert len(result.events) == 60
    kinds, counts = np.unique([e.kind for e in result.events], return_counts=True)
    assert set(kinds) == set(INJECTION_KINDS) and (counts == 10).all()
    assert len(inject_anomalies(values, sessions, seed=4, events_per_1000=0.5).events) == 10


def test_at_least_one_event_if_a_session_is_long_enough_and_none_otherwise():
    values, sessions = _series(lengths=(200,))
    assert len(inject_anomalies(values, sessions, seed=0, events_per_1000=0.1).events) == 1
    short_values, short_sessions = _series(lengths=(34, 20))
    result = inject_anomalies(short_values, short_sessions, seed=0, events_per_1000=50)
    assert result.events == [] and not result.labels.any()
    np.testing.assert_array_equal(result.values, short_values)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(kinds=("spike", "wobble")), "unknown injection kinds"),
        (dict(values=np.zeros(100, dtype=np.float32)), "2-d"),
        (dict(sessions=np.zeros(99)), "one id per row"),
        (dict(min_length=10, max_length=5), "must not exceed max_length"),
        (dict(magnitude=0.0), "magnitude must be > 0"),
        (dict(magnitude=-1.0), "magnitude must be > 0"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(change, message):
    args = dict(values=np.zeros((100, 2), dtype=np.float32), sessions=np.zeros(100), seed=0) | change
    with pytest.raises(ValueError, match=message):
        inject_anomalies(**args)
