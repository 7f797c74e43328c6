"""The live store: the tables the live path shares (docs/live.md), in a SQLite file (the
embedded default: the watcher polls it) or PostgreSQL (an insert trigger NOTIFYs the
watcher, which LISTENs).

Tables (times are UTC; SQLite keeps them as ISO-8601 text, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``,
which sorts as time does; PostgreSQL as ``timestamptz``):

- ``readings``: ``id`` (ascending insert order), ``asset``, ``ts``, ``sensors`` (a JSON
  object ``{sensor: value}``; null is a missing reading), ``inserted_at``. What a
  collector, ``anomflow replay`` or a plant's own writer inserts.
- ``scores``: per scored reading, ``reading_id``, ``asset``, ``ts``, ``score`` (null
  without one), ``level``, ``alarm``, ``top_sensors`` (JSON list), ``model_version``,
  ``scored_at``.
- ``quarantine``: per reading that cannot be scored as sent, ``reading_id``, ``asset``,
  ``ts``, ``reason``.
- ``alerts``: per alarm episode of an asset (:mod:`components.live.alerts`); its ``id`` is
  the id of the reading that opened it. ``ack`` (``false_alarm`` / ``confirmed``),
  ``ack_by``, ``ack_at`` are the operator's and never written by the watcher.
- ``notifications``: the outbox (:mod:`components.live.notify`), one row per alert event
  and receiver, unique by ``dedupe_key``.
- ``assets``: per asset, its latest score row (what a fleet overview reads: one row an asset).
- ``watcher``: key/value rows: the model scoring (version, sensors, levels, alarm rule); the position (id of the last reading processed) and each
  asset's carried state, written in the same transaction as the scores they follow; and
  what each collector (:mod:`components.live.collectors`) has taken, written with its rows.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

NOTIFY_CHANNEL = "anomflow_readings"
POSITION_KEY = "position"
MODEL_KEY = "model"
ASSET_STATE_PREFIX = "asset:"
ALERT_COLUMNS = (
    "id", "asset", "state", "level", "started_at", "fired_at", "ended_at", "peak_score", "top_sensors", "model_version",
    "ack", "ack_by", "ack_at",
)
_LIFECYCLE_COLUMNS = ALERT_COLUMNS[:10]  # what the watcher writes; the ack columns are the operator's

_SQLITE_TYPES = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "ts": "TEXT", "json": "TEXT", "now": "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"}
_POSTGRES_TYPES = {"id": "BIGSERIAL PRIMARY KEY", "ts": "TIMESTAMPTZ", "json": "JSONB", "now": "now()"}

_TABLES = """
CREATE TABLE IF NOT EXISTS readings (
    id {id}, asset TEXT NOT NULL, ts {ts} NOT NULL, sensors {json} NOT NULL, inserted_at {ts} NOT NULL DEFAULT {now});
CREATE INDEX IF NOT EXISTS readings_asset_id ON readings (asset, id);
CREATE INDEX IF NOT EXISTS readings_asset_ts ON readings (asset, ts);
CREATE TABLE IF NOT EXISTS scores (
    reading_id BIGINT PRIMARY KEY, asset TEXT NOT NULL, ts {ts} NOT NULL, score DOUBLE PRECISION, level TEXT NOT NULL,
    alarm TEXT NOT NULL, top_sensors {json} NOT NULL, model_version TEXT NOT NULL, scored_at {ts} NOT NULL DEFAULT {now});
CREATE INDEX IF NOT EXISTS scores_asset_ts ON scores (asset, ts);
CREATE TABLE IF NOT EXISTS quarantine (
    reading_id BIGINT PRIMARY KEY, asset TEXT, ts TEXT, reason TEXT NOT NULL, quarantined_at {ts} NOT NULL DEFAULT {now});
CREATE TABLE IF NOT EXISTS alerts (
    id BIGINT PRIMARY KEY, asset TEXT NOT NULL, state TEXT NOT NULL, level TEXT NOT NULL, started_at {ts} NOT NULL,
    fired_at {ts}, ended_at {ts}, peak_score DOUBLE PRECISION, top_sensors {json} NOT NULL, model_version TEXT NOT NULL,
    ack TEXT, ack_by TEXT, ack_at {ts});
CREATE INDEX IF NOT EXISTS alerts_asset_started ON alerts (asset, started_at);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state);
CREATE INDEX IF NOT EXISTS alerts_started ON alerts (started_at, id);
CREATE TABLE IF NOT EXISTS notifications (
    id {id}, dedupe_key TEXT NOT NULL UNIQUE, alert_id BIGINT NOT NULL, receiver TEXT NOT NULL, event TEXT NOT NULL,
    payload {json} NOT NULL, created_at {ts} NOT NULL DEFAULT {now}, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {ts} NOT NULL DEFAULT {now}, delivered_at {ts}, last_error TEXT);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (delivered_at, next_attempt_at);
CREATE TABLE IF NOT EXISTS assets (
    asset TEXT PRIMARY KEY, reading_id BIGINT NOT NULL, ts {ts} NOT NULL, score DOUBLE PRECISION, level TEXT NOT NULL,
    alarm TEXT NOT NULL, top_sensors {json} NOT NULL, model_version TEXT NOT NULL, scored_at {ts} NOT NULL DEFAULT {now});
CREATE TABLE IF NOT EXISTS watcher (key TEXT PRIMARY KEY, value {json} NOT NULL);
"""

_POSTGRES_TRIGGER = f"""
CREATE OR REPLACE FUNCTION anomflow_notify_readings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$;
DROP TRIGGER IF EXISTS readings_notify ON readings;
CREATE TRIGGER readings_notify AFTER INSERT ON readings FOR EACH STATEMENT EXECUTE FUNCTION anomflow_notify_readings();
"""


@dataclass(frozen=True)
class Reading:
    """One row of ``readings``: ``ts`` UTC, ``sensors`` as stored (values not yet checked)."""

    id: int
    asset: str
    ts: pd.Timestamp
    sensors: Any
    inserted_at: pd.Timestamp


def iso(ts: pd.Timestamp) -> str:
    """A UTC time as SQLite's columns hold it (sorts as time does)."""
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alert_as_json(alert: dict) -> dict:
    """An alert with its times as ISO-8601 text."""
    return {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in alert.items()}


def _nan_as_null(sensors: Any) -> Any:
    """A reading's values with NaN as null (JSON has no NaN); anything else as given."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in sensors.items()} if isinstance(sensors, dict) else sensors


def _utc(value: Any) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value).tz_convert("UTC") if pd.Timestamp(value).tzinfo else pd.Timestamp(value, tz="UTC")


class Store:
    """A connection to the live store at ``url``: ``sqlite:///relative/path.db``,
    ``sqlite:////absolute/path.db``, or ``postgresql://user@host:port/database``.
    One per thread (neither driver's connections are shared between threads)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        if self.postgres:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        elif url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")  # readers (dashboard, CLI) never block the watcher
            self.conn.execute("PRAGMA synchronous=NORMAL")
        else:
            raise ValueError(f"store URL {url!r}: use sqlite:///PATH.db or postgresql://USER@HOST:PORT/DATABASE")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- plumbing
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def db_time(self, ts: pd.Timestamp | None) -> Any:
        """A time as this store's columns take it (a datetime for PostgreSQL, ISO-8601 text for SQLite)."""
        return None if ts is None else pd.Timestamp(ts).to_pydatetime() if self.postgres else iso(ts)

    def _json(self, value: Any) -> str:
        return json.dumps(value)

    def _load_json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def execute(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """Run one statement (``?`` placeholders) and return its rows (none for a write)."""
        cursor = self.conn.execute(self._sql(sql), tuple(params))
        return cursor.fetchall() if cursor.description else []

    def _executemany(self, sql: str, rows: Sequence[Sequence]) -> None:
        if not rows:
            return
        if self.postgres:
            with self.conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)
        else:
            self.conn.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all."""
        if self.postgres:
            with self.conn.transaction():
                yield
        else:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # ---------------------------------------------------------------- schema
    def init(self) -> None:
        """Create the tables, indexes and (PostgreSQL) the insert trigger; idempotent."""
        ddl = _TABLES.format(**(_POSTGRES_TYPES if self.postgres else _SQLITE_TYPES))
        with self.transaction():
            for statement in [s for s in ddl.split(";") if s.strip()]:
                self.execute(statement)
            if self.postgres:
                self.conn.execute(_POSTGRES_TRIGGER)

    # ---------------------------------------------------------------- readings
    def insert_readings(self, rows: Sequence[tuple[str, pd.Timestamp, dict]], mark: tuple[str, Any] | None = None) -> None:
        """Insert ``(asset, ts, {sensor: value})`` rows (NaN values as null) in one
        transaction, with ``mark`` (a collector's key and value: what it has taken) if given."""
        encoded = [(a, self.db_time(ts), json.dumps(_nan_as_null(s))) for a, ts, s in rows]
        with self.transaction():
            self._executemany("INSERT INTO readings (asset, ts, sensors) VALUES (?, ?, ?)", encoded)
            if mark is not None:
                self._set_watcher_rows([(mark[0], self._json(mark[1]))])

    def collected_keys(self, prefix: str) -> dict[str, Any]:
        """The collectors' marks whose keys start with ``prefix``."""
        return {k: self._load_json(v) for k, v in self.execute("SELECT key, value FROM watcher WHERE key LIKE ?", (prefix + "%",))}

    def _set_watcher_rows(self, rows: Sequence[tuple[str, str]]) -> None:
        self._executemany("INSERT INTO watcher (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", rows)

    def readings_after(self, position: int, limit: int) -> list[Reading]:
        """Up to ``limit`` readings with ids above ``position``, in id order."""
        rows = self.execute(
            "SELECT id, asset, ts, sensors, inserted_at FROM readings WHERE id > ? ORDER BY id LIMIT ?", (position, limit)
        )
        return [self._reading(row) for row in rows]

    def recent_readings(self, asset: str, up_to: int, count: int) -> list[Reading]:
        """The last ``count`` readings of ``asset`` with ids up to ``up_to`` that were not
        quarantined, oldest first."""
        rows = self.execute(
            "SELECT id, asset, ts, sensors, inserted_at FROM readings r WHERE asset = ? AND id <= ? "
            "AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.reading_id = r.id) ORDER BY id DESC LIMIT ?",
            (asset, up_to, count),
        )
        return [self._reading(row) for row in reversed(rows)]

    def _reading(self, row: tuple) -> Reading:
        sensors = row[3]
        if isinstance(sensors, str):
            try:
                sensors = json.loads(sensors)
            except ValueError:
                pass  # kept as text: the watcher quarantines it
        return Reading(int(row[0]), str(row[1]), _utc(row[2]), sensors, _utc(row[4]))

    # ---------------------------------------------------------------- watcher state
    def watcher_state(self) -> tuple[int, dict[str, Any]]:
        """The position (0 before any reading) and each asset's carried state."""
        position, assets = 0, {}
        for key, value in self.execute("SELECT key, value FROM watcher"):
            value = self._load_json(value)
            if key == POSITION_KEY:
                position = int(value)
            elif key.startswith(ASSET_STATE_PREFIX):
                assets[key.removeprefix(ASSET_STATE_PREFIX)] = value
        return position, assets

    def commit_batch(
        self, position: int, scores: Sequence[dict], quarantined: Sequence[dict], asset_states: dict[str, Any],
        alerts: Sequence[dict], cancelled_alerts: Sequence[int], notifications: Sequence[dict],
    ) -> None:
        """Write one processed batch in one transaction: its scores, quarantined readings,
        alert changes and outbox rows, each asset's state after it and the position, so a
        watcher stopped at any moment resumes at the first reading it had not committed."""
        upsert = ", ".join(f"{c} = excluded.{c}" for c in _LIFECYCLE_COLUMNS[1:])
        rows = [(s["reading_id"], s["asset"], self.db_time(s["ts"]), s["score"], s["level"], s["alarm"], self._json(s["top_sensors"]),
                 s["model_version"]) for s in scores]
        latest = list({row[1]: row for row in rows}.values())
        columns = "reading_id, asset, ts, score, level, alarm, top_sensors, model_version"
        with self.transaction():
            self._executemany(f"INSERT INTO scores ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._executemany(
                f"INSERT INTO assets ({columns}, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, {'now()' if self.postgres else _SQLITE_TYPES['now']}) "
                "ON CONFLICT (asset) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in (*columns.split(", ")[2:], "reading_id", "scored_at")),
                latest,
            )
            self._executemany(
                "INSERT INTO quarantine (reading_id, asset, ts, reason) VALUES (?, ?, ?, ?)",
                [(q["reading_id"], q["asset"], q["ts"], q["reason"]) for q in quarantined],
            )
            self._executemany(
                f"INSERT INTO alerts ({', '.join(_LIFECYCLE_COLUMNS)}) VALUES ({', '.join('?' * len(_LIFECYCLE_COLUMNS))}) "
                f"ON CONFLICT (id) DO UPDATE SET {upsert}",
                [(a["id"], a["asset"], a["state"], a["level"], self.db_time(a["started_at"]), self.db_time(a["fired_at"]),
                  self.db_time(a["ended_at"]), a["peak_score"], self._json(a["top_sensors"]), a["model_version"]) for a in alerts],
            )
            self._executemany("DELETE FROM alerts WHERE id = ?", [(i,) for i in cancelled_alerts])
            self._executemany(
                "INSERT INTO notifications (dedupe_key, alert_id, receiver, event, payload) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (dedupe_key) DO NOTHING",
                [(n["dedupe_key"], n["alert_id"], n["receiver"], n["event"], self._json(n["payload"])) for n in notifications],
            )
            self._set_watcher_rows([(ASSET_STATE_PREFIX + a, self._json(s)) for a, s in asset_states.items()] + [(POSITION_KEY, self._json(position))])

    def set_model(self, info: dict) -> None:
        """Record the model scoring now (:data:`MODEL_KEY`): version, sensors, levels, alarm rule."""
        with self.transaction():
            self._set_watcher_rows([(MODEL_KEY, self._json(info))])

    def model(self) -> dict | None:
        rows = self.execute("SELECT value FROM watcher WHERE key = ?", (MODEL_KEY,))
        return self._load_json(rows[0][0]) if rows else None

    # ---------------------------------------------------------------- alerts
    def alerts(self, *, open_only: bool = False, limit: int = 100, asset: str | None = None) -> list[dict]:
        """Alerts, newest first: every one, or (``open_only``) those pending or firing."""
        where, params = [], []
        if open_only:
            where.append("state IN ('pending', 'firing')")
        if asset is not None:
            where.append("asset = ?")
            params.append(asset)
        sql = f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY started_at DESC, id DESC LIMIT ?"
        return [self._alert(row) for row in self.execute(sql, (*params, limit))]

    def alert(self, alert_id: int) -> dict | None:
        rows = self.execute(f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE id = ?", (alert_id,))
        return self._alert(rows[0]) if rows else None

    def _alert(self, row: tuple) -> dict:
        alert = dict(zip(ALERT_COLUMNS, row))
        alert["top_sensors"] = self._load_json(alert["top_sensors"])
        for column in ("started_at", "fired_at", "ended_at", "ack_at"):
            alert[column] = _utc(alert[column])
        return alert

    def acknowledge(self, alert_id: int, verdict: str, by: str) -> dict:
        """Record an operator's verdict (``false_alarm`` or ``confirmed``) on an alert;
        KeyError if there is no such alert."""
        with self.transaction():
            self.execute("UPDATE alerts SET ack = ?, ack_by = ?, ack_at = ? WHERE id = ?",
                         (verdict, by, self.db_time(pd.Timestamp.now(tz="UTC")), alert_id))
        alert = self.alert(alert_id)
        if alert is None:
            raise KeyError(f"no alert {alert_id} in {self.url}")
        return alert

    # ---------------------------------------------------------------- outbox
    def due_notifications(self, limit: int = 100) -> list[dict]:
        """Undelivered outbox rows whose next attempt is due, oldest first."""
        rows = self.execute(
            "SELECT id, dedupe_key, alert_id, receiver, event, payload, attempts FROM notifications "
            "WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            (self.db_time(pd.Timestamp.now(tz="UTC")), limit),
        )
        keys = ("id", "dedupe_key", "alert_id", "receiver", "event", "payload", "attempts")
        return [{**dict(zip(keys, row)), "payload": self._load_json(row[5])} for row in rows]

    def mark_delivered(self, notification_id: int) -> None:
        self.execute("UPDATE notifications SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
                     (self.db_time(pd.Timestamp.now(tz="UTC")), notification_id))

    def mark_failed(self, notification_id: int, error: str, retry_in_s: float) -> None:
        retry_at = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=retry_in_s)
        self.execute("UPDATE notifications SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
                     (error[:500], self.db_time(retry_at), notification_id))

    # ---------------------------------------------------------------- waiting
    def listen(self) -> None:
        """(PostgreSQL) receive the insert trigger's notifications on this connection."""
        if self.postgres:
            self.conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def wait_for_readings(self, timeout_s: float) -> None:
        """Return when new readings may be there: on PostgreSQL at the trigger's NOTIFY
        (after :meth:`listen`) or after ``timeout_s``; on SQLite after ``timeout_s`` (polling)."""
        if self.postgres:
            for _ in self.conn.notifies(timeout=timeout_s, stop_after=1):
                pass
        else:
            time.sleep(timeout_s)
