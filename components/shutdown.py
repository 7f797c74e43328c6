"""Prompt, clean stops. SIGTERM is handled as Ctrl-C (SIGINT) is: an exception in the
main thread, so every ``finally`` runs (partial outputs deleted, MLflow runs marked
FAILED, Prefect's temporary server stopped at exit), and child processes started
through :data:`CHILDREN` are stopped with their parent instead of running on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

STOP_GRACE_S = 5.0


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (raised like Ctrl-C's KeyboardInterrupt, which
    libraries already treat as a request to stop)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(f"stopped by {signal.Signals(signum).name}")


def stop_on_signals() -> None:
    """Make SIGTERM raise :class:`Terminated` and SIGINT KeyboardInterrupt in the main
    thread: SIGINT too, because a process started in the background of a shell script
    inherits it ignored. Called from another thread (where Python allows no handler),
    it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    signal.signal(signal.SIGINT, signal.default_int_handler)


class ChildStopped(RuntimeError):
    """A child process was stopped by :meth:`ChildProcesses.stop_all` (its parent is stopping)."""


class ChildProcesses:
    """Child processes that stop when their parent does: each runs in a process group
    of its own, and :meth:`stop_all` ends every group still running (its grandchildren
    too): SIGTERM, then SIGKILL after a grace period."""

    def __init__(self) -> None:
        self._running: set[subprocess.Popen] = set()
        self._stopped: set[subprocess.Popen] = set()
        self._lock = threading.Lock()

    def run(
        self, cmd: Sequence[str], env: dict[str, str] | None = None, name: str | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> subprocess.CompletedProcess:
        """Run ``cmd`` to its end (from any thread), its output captured as text; raises
        :class:`ChildStopped` naming it (``name``, default the command) if :meth:`stop_all`
        ended it. With ``on_line``, standard error joins standard output and each line
        (without its newline) goes to ``on_line`` as it arrives."""
        process = subprocess.Popen(
            list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT if on_line else subprocess.PIPE, text=True, env=env,
            start_new_session=True,
        )
        with self._lock:
            self._running.add(process)
        try:
            if on_line is None:
                stdout, stderr = process.communicate()
            else:
                lines = []
                for line in process.stdout:
                    lines.append(line)
                    on_line(line.rstrip("\n"))
                process.wait()
                stdout, stderr = "".join(lines), ""
        finally:
            with self._lock:
                self._running.discard(process)
                stopped = process in self._stopped
                self._stopped.discard(process)
        if stopped:
            raise ChildStopped(f"{name or ' '.join(cmd)} was stopped with its parent")
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def stop_all(self, grace_s: float = STOP_GRACE_S) -> int:
        """SIGTERM every running child's process group, SIGKILL the ones still running
        after ``grace_s`` seconds; returns how many were running."""
        with self._lock:
            running = list(self._running)
            self._stopped.update(running)
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        return len(running)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # ended meanwhile
        pass


CHILDREN = ChildProcesses()
"""The children of this process that stop with it (the retrain flow's model trainings)."""
