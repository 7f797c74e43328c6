"""Real PostgreSQL and Alertmanager servers for the live path's tests (tests/live/servers.py)."""

from __future__ import annotations

import itertools

import pytest

from tests.live.servers import Alertmanager, Postgres

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    server = Postgres().start()
    yield server
    server.remove()


@pytest.fixture
def postgres_url(postgres) -> str:
    """A new empty database on the session's PostgreSQL."""
    return postgres.fresh_database(f"live_{next(_databases)}")


@pytest.fixture
def alertmanager(tmp_path):
    server = Alertmanager(tmp_path / "alertmanager")
    yield server
    server.stop()
