"""A lock held in the MLflow registry itself, so that promotion decisions about one
registered model happen one at a time, whatever the store (SQLite, PostgreSQL, a team
``mlflow server`` over HTTP).

MLflow has no compare-and-set for aliases: two retrains that both read champion v1, both
beat it and both set ``@champion`` leave whichever wrote last, even if it is the worse
of the two. Creating a registered model is atomic, though (the store's unique name
constraint answers ``RESOURCE_ALREADY_EXISTS`` to the second creator), so the lock *is*
a registered model, ``<name>.promotion-lock``: created to take it, deleted to give it
back. Its tags say who holds it and until when; a holder that died (its lease expired)
is replaced by the next one to wait for it.

Limit: replacing an expired lease reads it and then deletes it, so two waiters that
find the same expired lease at the same moment may both go ahead. That takes a holder
that died mid-promotion and two promotions starting within milliseconds of each other.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger("anomflow.registry")

LOCK_SUFFIX = ".promotion-lock"
HOLDER_TAG = "anomflow.lock.holder"
EXPIRES_TAG = "anomflow.lock.expires_at"


class PromotionLockTimeout(TimeoutError):
    """The lock stayed with another holder for longer than the wait allowed."""


def lock_name(model_name: str) -> str:
    """The registered model that is the lock of ``model_name``'s promotions."""
    return f"{model_name}{LOCK_SUFFIX}"


def _error_code(err: Exception) -> str | None:
    return getattr(err, "error_code", None)


@contextmanager
def promotion_lock(client, model_name: str, *, lease_s: float = 600.0, wait_s: float = 1800.0, poll_s: float = 0.5) -> Iterator[str]:
    """Hold ``model_name``'s promotion lock for the block; yields the holder's id
    (``host:pid:random``). ``client``: an ``mlflow.MlflowClient`` of the store.
    ``lease_s``: seconds after which others take over a lock whose holder died (longer
    than any promotion: it scores two models on a test split). ``wait_s``: seconds to wait
    for another holder before :class:`PromotionLockTimeout`. ``poll_s``: mean seconds
    between tries (jittered so waiters do not retry in step)."""
    from mlflow.exceptions import MlflowException

    name, holder = lock_name(model_name), f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline, announced = time.monotonic() + wait_s, False
    while True:
        expires = time.time() + lease_s
        try:
            client.create_registered_model(
                name, tags={HOLDER_TAG: holder, EXPIRES_TAG: f"{expires:.3f}"},
                description=f"Held while a new version of {model_name} is compared with its champion; deleted when the decision is made.",
            )
            break
        except MlflowException as err:
            if _error_code(err) == "RESOURCE_DOES_NOT_EXIST":  # the store's "already exists" check found it given back meanwhile
                continue
            if _error_code(err) != "RESOURCE_ALREADY_EXISTS":
                raise
        current = _holder(client, name)
        if current is not None and current[1] < time.time():
            log.warning("promotion lock of %s: holder %s let its lease expire; taking over", model_name, current[0])
            _delete_if_still(client, name, current[0])
            continue
        if time.monotonic() > deadline:
            raise PromotionLockTimeout(
                f"waited {wait_s:.0f} s for the promotion lock of {model_name} (registered model {name}), held by "
                f"{current[0] if current else 'unknown'}: if no retrain is running, delete that registered model"
            )
        if not announced and current is not None:
            log.info("waiting for the promotion lock of %s, held by %s", model_name, current[0])
            announced = True
        time.sleep(poll_s * random.uniform(0.5, 1.5))
    try:
        yield holder
    finally:
        _delete_if_still(client, name, holder)


def _holder(client, name: str) -> tuple[str, float] | None:
    """(holder, lease end as epoch seconds) of the lock, or None if it is gone. A lock
    read without its tags (seen while it was being given back) has no lease end: it is
    not taken over."""
    from mlflow.exceptions import MlflowException

    try:
        tags = client.get_registered_model(name).tags
    except MlflowException as err:
        if _error_code(err) == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    return tags.get(HOLDER_TAG, "unknown"), float(tags.get(EXPIRES_TAG) or "inf")


def _delete_if_still(client, name: str, holder: str) -> None:
    """Delete the lock if ``holder`` still holds it (a lock taken over from an expired
    holder is someone else's now)."""
    from mlflow.exceptions import MlflowException

    current = _holder(client, name)
    if current is None or current[0] != holder:
        return
    try:
        client.delete_registered_model(name)
    except MlflowException as err:
        if _error_code(err) != "RESOURCE_DOES_NOT_EXIST":
            raise
