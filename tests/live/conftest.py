"""A real Prometheus Alertmanager for the live path's tests (tests/servers.py); the
PostgreSQL fixtures are shared (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.servers import Alertmanager


@pytest.fixture
def alertmanager(tmp_path):
    server = Alertmanager(tmp_path / "alertmanager")
    yield server
    server.stop()
