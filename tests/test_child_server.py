"""A child server that dies or stays silent is an error carrying its own output."""

import subprocess
import sys
import tempfile

import pytest

from components.child_server import wait_until_answering


def test_a_child_that_exits_first_is_reported_with_its_output():
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen([sys.executable, "-c", "print('port already in use'); raise SystemExit(3)"], stdout=log)
        with pytest.raises(RuntimeError, match=r"(?s)toy server exited with code 3:\nport already in use"):
            wait_until_answering(child, "http://127.0.0.1:9/health", log, 30, "toy server")


def test_a_silent_child_is_reported_after_the_timeout():
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen([sys.executable, "-c", "print('still starting', flush=True); import time; time.sleep(30)"], stdout=log)
        try:
            with pytest.raises(RuntimeError, match=r"(?s)toy server did not answer http://127.0.0.1:9/health within 2 s:\nstill starting"):
                wait_until_answering(child, "http://127.0.0.1:9/health", log, 2, "toy server")
        finally:
            child.kill()
