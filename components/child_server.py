"""Waiting for a server started as a child process (``mlflow models serve``, a Prefect
server) to answer, with its own output in the error when it does not."""

from __future__ import annotations

import subprocess
import time
from typing import IO

import requests


def wait_until_answering(process: subprocess.Popen, url: str, log: IO, timeout_s: float, name: str) -> None:
    """Return once GET ``url`` answers 200. Raises RuntimeError with the last 3,000
    characters of ``log`` (the child's output, text or bytes) if the child exits first or
    nothing answers within ``timeout_s`` seconds."""

    def output() -> str:
        log.seek(0)
        text = log.read()
        return (text.decode(errors="replace") if isinstance(text, bytes) else text)[-3000:]

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode}:\n{output()}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{name} did not answer {url} within {timeout_s:.0f} s:\n{output()}")
