"""Real servers for the live path's tests, started on free ports in temporary directories
(never a system service): PostgreSQL (``initdb`` + ``pg_ctl``, as an unprivileged user)
and Prometheus Alertmanager. Both come from Debian packages (``make system-deps``)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged() -> list[str]:
    """The command prefix that drops root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"]
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")


def _owner() -> tuple[int, int]:
    prefix = _unprivileged()
    if not prefix:
        return os.geteuid(), os.getegid()
    entry = pwd.getpwnam(prefix[2])
    return entry.pw_uid, entry.pw_gid


class Postgres:
    """A throwaway PostgreSQL cluster (trust authentication, user ``anomflow``) in a new
    directory of the system's temporary folder (pytest's own are private to root, which
    PostgreSQL's user could not enter); :meth:`remove` deletes it."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("PostgreSQL is not installed: run `make system-deps` (Debian package postgresql)")
        self.bin = Path(found[-1]).parent
        root = Path(tempfile.mkdtemp(prefix="anomflow-pg-"))
        self.root, self.data, self.port = root, root / "data", free_port()
        os.chown(root, *_owner())
        self._run("initdb", "-D", str(self.data), "-U", "anomflow", "--auth=trust", "-E", "UTF8")
        self.url = f"postgresql://anomflow@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*_unprivileged(), str(self.bin / tool), *args], capture_output=True, text=True, cwd=self.root)
        if done.returncode:
            raise RuntimeError(f"{tool} {' '.join(args[:1])} failed: {done.stderr.strip()[-800:]}")

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", *extra)

    def start(self) -> "Postgres":
        self._ctl("start")
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (fast: connections are cut), stay down ``down_s`` seconds, start again."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh_database(self, name: str) -> str:
        """A new empty database's URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name


class Alertmanager:
    """Prometheus Alertmanager with one receiver that goes nowhere (alerts are read back
    from its API)."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
        if binary is None:
            raise RuntimeError("Alertmanager is not installed: run `make system-deps` (Debian package prometheus-alertmanager)")
        root.mkdir(parents=True, exist_ok=True)
        (root / "alertmanager.yml").write_text("route:\n  receiver: none\n  group_wait: 1s\nreceivers:\n  - name: none\n")
        self.port, cluster = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, f"--config.file={root / 'alertmanager.yml'}", f"--storage.path={root / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", f"--cluster.listen-address=127.0.0.1:{cluster}"],
            stdout=subprocess.DEVNULL, stderr=open(root / "log", "w"),
        )
        _ready_or_stopped(self.process, self.url + "/-/ready", root / "log", 30, "Alertmanager", self.process.kill)

    def alerts(self) -> list[dict]:
        return requests.get(self.url + "/api/v2/alerts", params={"active": "true", "silenced": "true", "inhibited": "true"}, timeout=5).json()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class MlflowServer:
    """A team MLflow tracking server as ``docs/scaling.md`` runs it: ``mlflow server`` on a
    PostgreSQL database, artifacts proxied to ``root/artifacts`` (clients never write
    there themselves)."""

    def __init__(self, database_url: str, root: Path) -> None:
        import sys

        root.mkdir(parents=True, exist_ok=True)
        self.artifacts = root / "artifacts"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        backend = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        self.log = root / "server.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend, "--serve-artifacts",
             "--artifacts-destination", str(self.artifacts), "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2"],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"), start_new_session=True,
        )
        _ready_or_stopped(self.process, self.url + "/health", self.log, 120, "mlflow server", self.stop)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            self.process.wait(20)


def _ready_or_stopped(process: subprocess.Popen, url: str, log: Path, timeout_s: float, name: str, stop) -> None:
    """Wait until ``url`` answers (:func:`components.child_server.wait_until_answering`);
    if it does not, ``stop()`` the server and raise with its log."""
    from components.child_server import wait_until_answering

    try:
        with open(log) as output:
            wait_until_answering(process, url, output, timeout_s, name)
    except RuntimeError:
        stop()
        raise
