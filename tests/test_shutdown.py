"""SIGTERM is a clean stop, and child processes stop with their parent."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from components.shutdown import ChildProcesses, ChildStopped, Terminated, stop_on_signals


def test_sigterm_raises_terminated_like_ctrl_c():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        stop_on_signals()
        with pytest.raises(Terminated, match="stopped by SIGTERM"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_stop_all_ends_a_child_and_its_own_children(tmp_path):
    children = ChildProcesses()
    grandchild_pid = tmp_path / "grandchild.pid"
    script = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
        f"open({str(grandchild_pid)!r}, 'w').write(str(p.pid)); time.sleep(120)"
    )
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            children.run([sys.executable, "-c", script], name="the sleeper")
        except BaseException as error:  # noqa: BLE001 - recorded for the assertion
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while not (grandchild_pid.exists() and grandchild_pid.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    assert children.stop_all(grace_s=2) == 1
    worker.join(timeout=10)
    assert time.monotonic() - started < 5
    assert len(outcome) == 1 and isinstance(outcome[0], ChildStopped) and "the sleeper was stopped" in str(outcome[0])
    time.sleep(0.2)
    assert not _alive(int(grandchild_pid.read_text()))
    assert children.stop_all() == 0


def test_run_hands_each_line_over_as_it_arrives_and_keeps_the_output():
    """With ``on_line`` a child's standard output and error reach the caller line by line
    while it runs (the retrain flow logs its trainings' epochs this way)."""
    seen = []
    script = "import sys, time\nprint('one', flush=True)\ntime.sleep(1.0)\nprint('two', file=sys.stderr, flush=True)\nsys.exit(3)"
    done = ChildProcesses().run([sys.executable, "-c", script], on_line=lambda line: seen.append((line, time.monotonic())))
    assert [line for line, _ in seen] == ["one", "two"] and seen[1][1] - seen[0][1] >= 0.9  # not all at the end
    assert done.returncode == 3 and done.stdout == "one\ntwo\n"
