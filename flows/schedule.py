"""Scheduled retraining: ``retrain`` served on a cron schedule (long-running process).

Prefect's temporary server, which flows use when no ``PREFECT_API_URL`` is set, runs no
scheduler (its services are only those marked for ephemeral servers), so a deployment
served against it is never started. Without a server, :func:`serve_deployments` starts a
local Prefect server (scheduler and UI included, its database under ``PREFECT_HOME``) for
as long as it serves.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from components.child_server import wait_until_answering
from flows.retrain import retrain

DEPLOYMENT_NAME = "anomflow-retrain"
PREFECT_DEFAULT_PORT = 4200


def retrain_deployment(cron: str, config_path: str):
    """The deployment object (name, cron schedule, parameters) that ``serve`` runs; a
    ValueError for a bad cron expression. One
    run at a time: a run due while the last one is still training is cancelled, since two
    retrains of one project would write the same artifacts (and the next run trains on
    the newer data anyway)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from pydantic import ValidationError

    try:
        return retrain.to_deployment(
            name=DEPLOYMENT_NAME, cron=cron, parameters={"config_path": config_path},
            concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        )
    except ValidationError as err:
        reason = err.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValueError(f"{reason}: a cron expression has five fields, minute hour day month weekday, e.g. '0 3 * * *'") from None


def _port(preferred: int) -> int:
    """``preferred`` if it is free on loopback, else any free port."""
    for candidate in (preferred, 0):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a port in TIME_WAIT is free
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


@contextmanager
def local_prefect_server(port: int | None = None, startup_timeout_s: float = 120.0) -> Iterator[str]:
    """A Prefect server with its services (the scheduler among them) in a child process
    for the duration of the block; yields its API URL. Raises RuntimeError with the
    server's last output if it exits or does not answer within ``startup_timeout_s``."""
    port = port or _port(PREFECT_DEFAULT_PORT)
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": os.environ.get("PREFECT_SERVER_ANALYTICS_ENABLED", "false")}
    env.pop("PREFECT_API_URL", None)
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        try:
            wait_until_answering(server, f"{api_url}/health", log, startup_timeout_s, "the local Prefect server")
            yield api_url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


def serve_deployments(*deployments) -> None:
    """Block and run ``deployments`` on their schedules until interrupted: against
    ``PREFECT_API_URL`` if set, else against a local server started for the purpose."""
    from prefect import serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        serve(*deployments)
        return
    with local_prefect_server() as api_url, temporary_settings({PREFECT_API_URL: api_url}):
        print(
            f"No PREFECT_API_URL: started a local Prefect server with a scheduler at {api_url} "
            f"(UI: {api_url.removesuffix('/api')}; runs by hand: PREFECT_API_URL={api_url} prefect deployment run ...)",
            flush=True,
        )
        serve(*deployments)
