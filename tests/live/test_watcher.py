"""The watcher on a SQLite store: streamed scores equal batch scores however the readings
arrive, each reading is scored exactly once across restarts, malformed readings are
quarantined with a reason and the stream goes on, a new model is swapped in between
batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.live.store import Store
from components.live.watcher import Watcher
from tests.detectors.conftest_data import SENSORS
from tests.live.helpers import insert, interleave, loaded, readings, scores


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path}/live.db") as live:
        live.init()
        yield live


def _batch(model, frame: pd.DataFrame) -> pd.DataFrame:
    """The served model's answer for the whole series in one request (what `anomflow score` gives)."""
    return model.served.predict(None, frame)


def _drain(watcher: Watcher) -> None:
    while watcher.process_batch():
        pass


@pytest.mark.parametrize("batch_readings", [1, 10_000])
def test_streamed_scores_equal_batch_scores_for_two_interleaved_assets(store, batch_readings):
    model = loaded()
    frames = [readings(200, asset="pump-1", seed=9), readings(200, asset="pump-2", seed=4, faults=((60, 90, 9.0),))]
    insert(store, interleave(*frames))
    watcher = Watcher(store, model, batch_readings=batch_readings)
    watcher.restore()
    _drain(watcher)
    got = scores(store)
    assert len(got) == sum(len(f) for f in frames)
    for frame in frames:
        expected = _batch(model, frame)
        mine = got[got["asset"] == frame["asset"].iloc[0]].reset_index(drop=True)
        np.testing.assert_allclose(mine["score"].to_numpy(float), expected["score"].to_numpy(float), rtol=1e-6, equal_nan=True)
        assert mine["level"].tolist() == expected["level"].tolist()
        assert mine["alarm"].tolist() == expected["alarm"].tolist()
    assert set(got["model_version"]) == {"anomflow-detector/1"}
    assert {"warning", "critical"} & set(got["alarm"])  # the faults raised alarms
    assert dict(store.execute("SELECT asset, reading_id FROM assets")) == got.groupby("asset")["reading_id"].max().to_dict()
    assert store.model()["version"] == "anomflow-detector/1" and store.model()["sensors"] == SENSORS


@pytest.mark.parametrize("stop_after", [1, 3, 17])
def test_a_restarted_watcher_scores_each_reading_once_as_an_uninterrupted_one(tmp_path, stop_after):
    frame = readings()
    with Store(f"sqlite:///{tmp_path}/a.db") as whole, Store(f"sqlite:///{tmp_path}/b.db") as parts:
        for live in (whole, parts):
            live.init()
            insert(live, frame)
        uninterrupted = Watcher(whole, loaded(), batch_readings=10)
        uninterrupted.restore()
        _drain(uninterrupted)
        first = Watcher(parts, loaded(), batch_readings=10)
        first.restore()
        for _ in range(stop_after):
            first.process_batch()
        second = Watcher(Store(parts.url), loaded(), batch_readings=10)  # a new process: nothing carried in memory
        second.restore()
        _drain(second)
        pd.testing.assert_frame_equal(scores(parts), scores(whole))
        assert parts.execute("SELECT id, state, level, started_at, ended_at FROM alerts ORDER BY id") == \
            whole.execute("SELECT id, state, level, started_at, ended_at FROM alerts ORDER BY id")


def test_malformed_readings_are_quarantined_with_a_reason_and_the_stream_goes_on(store):
    model = loaded()
    frame = readings(rows=120, faults=())
    good = [(r["asset"], r["timestamp"], {s: r[s] for s in SENSORS}) for _, r in frame.iterrows()]
    bad = [
        ("pump-1", frame["timestamp"][40] + pd.Timedelta(seconds=30), {"x0": "abc", "x1": 1.0, "x2": 1.0}),
        ("pump-1", frame["timestamp"][60] + pd.Timedelta(seconds=30), {"x0": 1.0, "x1": 1.0}),
        ("pump-1", frame["timestamp"][10], {s: 1.0 for s in SENSORS}),
        ("pump-1", frame["timestamp"][80] + pd.Timedelta(seconds=30), [1, 2, 3]),
        ("pump-1", frame["timestamp"][90] + pd.Timedelta(seconds=30), {"x0": True, "x1": 1.0, "x2": 1.0}),
    ]
    rows = good[:41] + bad[:1] + good[41:61] + bad[1:3] + good[61:81] + bad[3:4] + good[81:91] + bad[4:] + good[91:]
    store.insert_readings(rows)
    watcher = Watcher(store, model, batch_readings=25)
    watcher.restore()
    _drain(watcher)
    reasons = [r for (r,) in store.execute("SELECT reason FROM quarantine ORDER BY reading_id")]
    assert len(reasons) == 5
    assert "'x0': 'abc' is not a number" in reasons[0]
    assert "missing sensor(s) ['x2']" in reasons[1]
    assert "is not after the asset's last reading" in reasons[2]
    assert "not a JSON object" in reasons[3]
    assert "boolean" in reasons[4]
    got = scores(store)
    assert len(got) == len(frame)  # every good reading scored, as if the bad ones were never sent
    np.testing.assert_allclose(got["score"].to_numpy(float), _batch(model, frame)["score"].to_numpy(float), rtol=1e-6, equal_nan=True)


def test_readings_at_another_interval_are_quarantined_with_the_model_s_reason(store):
    frame = readings(rows=60, faults=())
    store.insert_readings([("pump-1", t, {s: 1.0 for s in SENSORS}) for t in pd.date_range(frame["timestamp"][0], periods=40, freq="10s")])
    watcher = Watcher(store, loaded(), batch_readings=100)
    watcher.restore()
    _drain(watcher)
    reasons = [r for (r,) in store.execute("SELECT reason FROM quarantine")]
    # one by one, a reading is refused while the asset's median step is off by more than the tolerance
    assert len(reasons) > 20 and all(r.startswith("the model refused it") and "s apart (median)" in r for r in reasons)
    assert len(reasons) + len(scores(store)) == 40


def test_a_new_model_is_swapped_in_between_batches_losing_and_repeating_nothing(store):
    frame = readings()
    insert(store, frame)
    watcher = Watcher(store, loaded("anomflow-detector/1"), batch_readings=50)
    watcher.restore()
    watcher.process_batch()
    watcher.process_batch()
    watcher.swap_model(loaded("anomflow-detector/2"))
    _drain(watcher)
    got = scores(store)
    assert got["reading_id"].tolist() == list(range(1, len(frame) + 1))
    assert got["model_version"].tolist() == ["anomflow-detector/1"] * 100 + ["anomflow-detector/2"] * (len(frame) - 100)
    # the new model reads the asset's history back: the first reading after the swap has its full window
    assert got["level"].iloc[100] != "insufficient_history"
    np.testing.assert_allclose(got["score"].iloc[100:].to_numpy(float), _batch(loaded(), frame)["score"].iloc[100:].to_numpy(float), rtol=1e-6)
