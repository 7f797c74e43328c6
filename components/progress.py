"""Progress lines for steps that run longer than a few seconds, so that a long command
(``make demo``, ``anomflow retrain``, ``dvc repro``) never goes quiet for more than
:data:`HEARTBEAT_S` seconds, in a terminal, a log or the Prefect UI (printed inside a
flow's task, each line is logged under that task)."""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

HEARTBEAT_S = 5.0
"""Seconds of a running step after which a line says it is still running."""


class Beat:
    """What a :func:`heartbeat` block can do: :meth:`touch` when it printed a line of its
    own, so that the next "still running" line waits a full interval."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def touch(self) -> None:
        self.last = time.monotonic()


@contextmanager
def heartbeat(message: str, every_s: float = HEARTBEAT_S, out: TextIO | None = None) -> Iterator[Beat]:
    """Prints ``message`` when the block starts, ``<message>: still running (N s)`` whenever
    ``every_s`` seconds pass without a line (from a thread, for steps with no loop to hook,
    such as a teacher scoring every training window; the block's own lines count when it
    calls :meth:`Beat.touch`) and ``<message>: done in N s`` at its end."""
    start, stop, beat = time.monotonic(), threading.Event(), Beat()

    def say(line: str) -> None:
        print(line, file=out or sys.stdout, flush=True)
        beat.touch()

    def watch() -> None:
        while not stop.wait(min(every_s / 4, 0.5)):
            if time.monotonic() - beat.last >= every_s:
                say(f"{message}: still running ({time.monotonic() - start:.0f} s)")

    say(message)
    # the caller's context goes with the thread, so a Prefect task's print logging sees it
    thread = threading.Thread(target=contextvars.copy_context().run, args=(watch,), daemon=True)
    thread.start()
    try:
        yield beat
    finally:
        stop.set()
        thread.join()
    say(f"{message}: done in {time.monotonic() - start:.1f} s")
