"""The promotion lock (components/registry/promotion_lock.py) on a SQLite MLflow store:
one holder at a time, given back on exit (also on error), an expired lease taken over,
and a clear timeout naming the holder."""

from __future__ import annotations

import threading
import time

import mlflow
import pytest

from components.registry.promotion_lock import EXPIRES_TAG, HOLDER_TAG, PromotionLockTimeout, lock_name, promotion_lock


@pytest.fixture
def client(tmp_path):
    return mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")


def _exists(client, name: str) -> bool:
    return bool(client.search_registered_models(f"name = '{lock_name(name)}'"))


def test_one_holder_at_a_time_and_the_lock_is_given_back(client):
    client.search_registered_models()  # the store's tables exist before the threads race for the lock
    inside, overlaps, order, errors = [0], [], [], []

    def promote(who: str) -> None:
        try:
            with promotion_lock(client, "m", poll_s=0.02):
                inside[0] += 1
                overlaps.append(inside[0])
                order.append(who)
                time.sleep(0.2)
                inside[0] -= 1
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(err))

    threads = [threading.Thread(target=promote, args=(f"t{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(order) == ["t0", "t1", "t2"] and max(overlaps) == 1
    assert not _exists(client, "m")


def test_the_lock_is_given_back_when_the_block_fails(client):
    with pytest.raises(RuntimeError), promotion_lock(client, "m"):
        raise RuntimeError("scoring failed")
    assert not _exists(client, "m")


def test_a_dead_holders_expired_lease_is_taken_over(client):
    client.create_registered_model(lock_name("m"), tags={HOLDER_TAG: "host:1:dead", EXPIRES_TAG: f"{time.time() - 1:.3f}"})
    with promotion_lock(client, "m", wait_s=5) as holder:
        assert client.get_registered_model(lock_name("m")).tags[HOLDER_TAG] == holder != "host:1:dead"
    assert not _exists(client, "m")


def test_a_live_holder_makes_others_wait_then_time_out_naming_it(client):
    client.create_registered_model(lock_name("m"), tags={HOLDER_TAG: "host:1:busy", EXPIRES_TAG: f"{time.time() + 600:.3f}"})
    start = time.monotonic()
    with pytest.raises(PromotionLockTimeout, match="host:1:busy"), promotion_lock(client, "m", wait_s=0.5, poll_s=0.05):
        pass
    assert time.monotonic() - start >= 0.5
    assert client.get_registered_model(lock_name("m")).tags[HOLDER_TAG] == "host:1:busy"  # not taken from a live holder
