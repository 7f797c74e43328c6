"""Client for Grafana's ``POST /api/ds/query`` (data-frame JSON) → reader frame.

Request: ``{"from", "to", "queries": [...]}`` with ``Authorization: Bearer <token>``; the
token is read from the environment variable ``token_env`` and never appears in a log
line, an exception message or a return value (text echoed by the server is redacted).

Response: ``results[refId].frames`` is a list of DataFrameJSON objects: ``schema.fields``
(name, type, labels, config) and column-major ``data.values``. Decoding:

- the ``time`` field holds epoch milliseconds (plus ``data.nanos`` when present);
- ``number`` and ``boolean`` fields become ``float64`` columns; ``null`` is NaN, and NaN,
  +Inf, -Inf (and ``Undef``) are restored from ``data.entities``; ``string`` fields
  (table label columns) are ignored;
- a value field is named by ``config.displayNameFromDS`` if set, else as Grafana displays
  it: ``name {k="v", …}`` with ``name`` the ``__name__`` label or the field name (left out
  when it is the generic ``Value``); repeated names get ``__2``, ``__3`` …;
- the frames of one refId (Prometheus returns one per series) are outer-joined on time
  like Grafana's "Series joined by time" (repeated times in one frame are all kept);
  refIds are stacked one after the other, so a time present in two refIds gives two rows
  (:func:`~components.sources.grafana_csv.resolve_duplicate_timestamps` merges them).

Output: ``timestamp`` (``datetime64[ns, UTC]``, sorted within each refId), one ``float64``
column per series, ``source_file`` = ``<endpoint>#<refId>``, ``source_row`` (``int64``,
1-based index of the point in the first frame of the refId holding that time).

HTTP errors, per-refId ``error`` entries, connection failures and malformed responses
raise :class:`~components.sources.errors.GrafanaQueryError` with the refId(s) and
Grafana's message.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import requests

from components.frames import SOURCE_FILE, SOURCE_ROW, TIMESTAMP
from components.sources.errors import GrafanaQueryError
from components.sources.grafana_csv import pivot_long, unique_names

log = logging.getLogger(__name__)

_ENTITY_VALUES = {"NaN": np.nan, "Inf": np.inf, "NegInf": -np.inf, "Undef": np.nan}
_VALUE_TYPES = ("number", "boolean")
MAX_POINTS_PER_REQUEST = 10_000  # steps per request when a step is set; Prometheus allows 11,000
_RELATIVE = re.compile(r"now(?:-(\d+)([smhdwMy]))?")
_FIXED_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def _endpoint(url: str) -> str:
    """``http://host:3000`` or the full endpoint → ``…/api/ds/query``."""
    url = url.rstrip("/")
    return url if url.endswith("/api/ds/query") else f"{url}/api/ds/query"


def _time_arg(value: str | int | datetime) -> str:
    """``now-6h``, epoch ms, or an aware ``datetime`` → Grafana's string form."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"time bound {value!r} has no time zone")
        return str(int(value.timestamp() * 1000))
    return str(value)


def series_name(field: Mapping[str, Any]) -> str:
    """The display name of a value field (see the module docstring)."""
    display = (field.get("config") or {}).get("displayNameFromDS")
    if display:
        return str(display)
    labels = dict(field.get("labels") or {})
    name = str(labels.pop("__name__", None) or field.get("name") or "Value")
    if not labels:
        return name
    label_text = "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    return label_text if name == "Value" else f"{name} {label_text}"


def _values(raw: list, entities: Mapping[str, list[int]] | None) -> np.ndarray:
    """A column of JSON numbers (``null`` allowed) → float64 with NaN/±Inf restored."""
    values = np.array(raw, dtype="float64")
    for key, fill in _ENTITY_VALUES.items():
        index = (entities or {}).get(key) or []
        values[np.asarray(index, dtype="int64")] = fill
    return values


def _times_ns(raw: list, nanos: list[int] | None, where: str) -> np.ndarray:
    """Epoch-ms JSON numbers (+ optional sub-ms nanoseconds) → int64 epoch ns."""
    ms = np.array(raw, dtype="float64")
    if np.isnan(ms).any():
        raise GrafanaQueryError(f"{where}: null time value at index {int(np.argmax(np.isnan(ms)))}")
    ns = ms.astype("int64") * 1_000_000
    return ns + np.asarray(nanos, dtype="int64") if nanos else ns


def _series_of(frame: Mapping[str, Any], where: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(display name, epoch ns, values)`` for each value field of one DataFrameJSON."""
    fields = frame.get("schema", {}).get("fields", [])
    data = frame.get("data") or {}
    columns = data.get("values") or []
    if not columns or not any(len(c) for c in columns):
        return []
    entities = data.get("entities") or [None] * len(fields)
    nanos = data.get("nanos") or [None] * len(fields)
    kinds = [f.get("type") for f in fields]
    if "time" not in kinds:
        raise GrafanaQueryError(f"{where}: frame {frame.get('schema', {}).get('name')!r} has no time field")
    at = kinds.index("time")
    times = _times_ns(columns[at], nanos[at], where)
    return [
        (series_name(field), times, _values(columns[i], entities[i]))
        for i, field in enumerate(fields)
        if field.get("type") in _VALUE_TYPES
    ]


def _errors(payload: Any) -> list[str]:
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, dict):
        return []
    return [f"refId {ref}: {res['error']}" for ref, res in results.items() if isinstance(res, dict) and res.get("error")]


def _frame(endpoint: str, payload: Mapping[str, Any]) -> pd.DataFrame:
    """Decode every refId's frames and stack them (see the module docstring)."""
    collected = [
        (ref, name, times, values)
        for ref, result in payload["results"].items()
        for frame in result.get("frames") or []
        for name, times, values in _series_of(frame, f"{endpoint}#{ref}")
    ]
    names = unique_names(name for _, name, _, _ in collected)
    parts = []
    for ref in dict.fromkeys(ref for ref, *_ in collected):
        mine = [(name, times, values) for (r, _, times, values), name in zip(collected, names) if r == ref]
        long = pd.concat(
            pd.DataFrame({TIMESTAMP: times, "series": name, "value": values, SOURCE_ROW: np.arange(1, len(times) + 1)})
            for name, times, values in mine
        )
        wide = pivot_long(long, [name for name, _, _ in mine]).sort_values([TIMESTAMP, SOURCE_ROW], ignore_index=True)
        wide[TIMESTAMP] = pd.to_datetime(wide[TIMESTAMP].to_numpy(dtype="int64"), unit="ns", utc=True)
        wide[SOURCE_FILE] = f"{endpoint}#{ref}"
        parts.append(wide)
    if not parts:
        return pd.DataFrame({TIMESTAMP: pd.Series(dtype="datetime64[ns, UTC]"), SOURCE_FILE: pd.Series(dtype="str"),
                             SOURCE_ROW: pd.Series(dtype="int64")})
    out = pd.concat(parts, ignore_index=True)
    sensors = [c for c in out.columns if c not in (TIMESTAMP, SOURCE_FILE, SOURCE_ROW)]
    out[SOURCE_FILE] = out[SOURCE_FILE].astype("str")
    return out[[TIMESTAMP, *sensors, SOURCE_FILE, SOURCE_ROW]]


def query_grafana(
    url: str,
    queries: Sequence[Mapping[str, Any]],
    *,
    time_from: str | int | datetime,
    time_to: str | int | datetime,
    token_env: str = "GRAFANA_TOKEN",
    timeout_s: float = 30.0,
    session: requests.Session | None = None,
    interval_s: float | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Run ``queries`` (each with a ``refId`` and a ``datasource``) over ``[time_from, time_to]``.

    ``url``: Grafana's base URL (or the full ``/api/ds/query`` endpoint); ``time_from`` /
    ``time_to``: Grafana time strings (``now-6h``), epoch ms, or aware datetimes;
    ``token_env``: the environment variable holding the service-account token;
    ``session``: a ``requests.Session`` to reuse (else a one-off request).
    ``interval_s``: the step to ask for, seconds. Each query without its own ``intervalMs``
    / ``maxDataPoints`` then gets that step and room for every point of the range
    (Grafana's defaults, 1 s and 100 points, thin a week of data to 100 points a series),
    and the range, made absolute at ``now`` (default: the current time), is fetched in
    consecutive pieces of at most :data:`MAX_POINTS_PER_REQUEST` steps (Prometheus refuses
    more than 11,000 points a series); times are then ``now``, ``now-<n><unit>``
    (``s m h d w M y``), epoch ms or ISO 8601 with an offset.
    Returns the reader frame described in the module docstring.
    """
    endpoint = _endpoint(url)
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise GrafanaQueryError(f"{endpoint}: environment variable {token_env} (Grafana service-account token) is not set")
    post = session.post if session is not None else requests.post
    if interval_s is None:
        return _query(endpoint, token, token_env, post, queries, _time_arg(time_from), _time_arg(time_to), timeout_s)
    step_ms = max(1, round(interval_s * 1000))
    now = now or datetime.now(tz=UTC)
    start, end = _absolute_ms(time_from, now), _absolute_ms(time_to, now)
    pieces = []
    for piece_start in range(start, max(end, start + 1), step_ms * MAX_POINTS_PER_REQUEST):
        piece_end = min(piece_start + step_ms * MAX_POINTS_PER_REQUEST, end)
        sized = [{"intervalMs": step_ms, "maxDataPoints": (piece_end - piece_start) // step_ms + 1, **q} for q in queries]
        pieces.append(_query(endpoint, token, token_env, post, sized, str(piece_start), str(piece_end), timeout_s))
    return _joined_pieces(pieces)


def _absolute_ms(value: str | int | datetime, now: datetime) -> int:
    """A time bound as epoch ms, ``now-<n><unit>`` counted back from ``now``."""
    if isinstance(value, datetime) or isinstance(value, int) or str(value).isdigit():
        return int(_time_arg(value))
    match = _RELATIVE.fullmatch(str(value).strip())
    if match:
        n, unit = int(match.group(1) or 0), match.group(2) or "s"
        back = pd.DateOffset(months=n) if unit == "M" else pd.DateOffset(years=n) if unit == "y" else pd.Timedelta(seconds=n * _FIXED_UNIT_S[unit])
        return int((pd.Timestamp(now) - back).timestamp() * 1000)
    try:
        stamp = pd.Timestamp(str(value))
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        raise ValueError(
            f"Grafana time bound {value!r}: with a step set, give now, now-<n><unit> (s m h d w M y), "
            "epoch milliseconds or an ISO 8601 time with its offset"
        )
    return int(stamp.timestamp() * 1000)


def _joined_pieces(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    """Consecutive pieces of one range as one frame: each refId's rows together in time
    order, a time two pieces share (their boundary) once, ``source_row`` counted on."""
    if len(pieces) == 1:
        return pieces[0]
    parts = []
    for source in dict.fromkeys(s for piece in pieces for s in piece[SOURCE_FILE]):
        rows, last, offset = [], None, 0
        for piece in pieces:
            mine = piece[piece[SOURCE_FILE] == source]
            if last is not None:
                mine = mine[mine[TIMESTAMP] > last]
            rows.append(mine.assign(**{SOURCE_ROW: mine[SOURCE_ROW] + offset}))
            if len(mine):
                last, offset = mine[TIMESTAMP].max(), offset + int(piece.loc[piece[SOURCE_FILE] == source, SOURCE_ROW].max())
        parts.append(pd.concat(rows))
    joined = pd.concat(parts, ignore_index=True)
    sensors = [c for c in joined.columns if c not in (TIMESTAMP, SOURCE_FILE, SOURCE_ROW)]
    return joined[[TIMESTAMP, *sensors, SOURCE_FILE, SOURCE_ROW]]


def _query(endpoint: str, token: str, token_env: str, post, queries: Sequence[Mapping[str, Any]], time_from: str, time_to: str, timeout_s: float) -> pd.DataFrame:
    """One ``POST /api/ds/query``, decoded; errors without the token."""

    def redact(text: str) -> str:
        return text.replace(token, "***")

    body = {"from": time_from, "to": time_to, "queries": [dict(q) for q in queries]}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    log.debug("POST %s refIds=%s from=%s to=%s", endpoint, [q.get("refId") for q in queries], body["from"], body["to"])
    try:
        response = post(endpoint, json=body, headers=headers, timeout=timeout_s)
    except requests.RequestException as exc:
        raise GrafanaQueryError(redact(f"{endpoint}: request failed: {type(exc).__name__}: {exc}")) from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    errors = _errors(payload)
    if errors:
        raise GrafanaQueryError(redact(f"{endpoint}: HTTP {response.status_code}: " + "; ".join(errors)))
    if response.status_code >= 400:
        message = payload.get("message") if isinstance(payload, dict) else response.text[:300]
        hint = f" (check the token in ${token_env})" if response.status_code in (401, 403) else ""
        raise GrafanaQueryError(redact(f"{endpoint}: HTTP {response.status_code} {response.reason}: {message}{hint}"))
    if not isinstance(payload, dict) or not isinstance(payload.get("results"), dict):
        raise GrafanaQueryError(redact(f"{endpoint}: not a /api/ds/query response: {response.text[:300]!r}"))
    return _frame(endpoint, payload)
