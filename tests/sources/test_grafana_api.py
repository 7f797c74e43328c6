"""``query_grafana`` against a real local HTTP server speaking ``/api/ds/query``."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest
import requests

from components.sources.errors import GrafanaQueryError, SourceFormatError
from components.sources.grafana_api import query_grafana, series_name
from tests.fake_grafana import FakeGrafana, error_result, series_frame

TOKEN = "glsa_TopSecretServiceAccountToken_1234"
T0 = 1_725_561_780_000  # 2024-09-05 18:43:00 UTC, epoch ms
STEP = 15_000

RESPONSES = {
    # Prometheus: one frame per series, labels on the value field, NaN/Inf in entities
    "rate(current[1m])": {"frames": [
        series_frame("A", [T0, T0 + STEP, T0 + 2 * STEP], [1.5, math.nan, 2.5],
                     labels={"__name__": "current", "pump": "p1"}),
        series_frame("A", [T0 + STEP, T0 + 2 * STEP, T0 + 3 * STEP], [math.inf, -math.inf, None],
                     labels={"__name__": "current", "pump": "p2"}),
    ]},
    "temperature": {"frames": [series_frame("B", [T0, T0 + STEP], [40.0, 41.0], display_name="Motor temperature")]},
    "bad(": error_result('bad_data: 1:4: parse error: unclosed left parenthesis'),
}
P1, P2 = 'current {pump="p1"}', 'current {pump="p2"}'


@pytest.fixture
def grafana(monkeypatch):
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    with FakeGrafana(token=TOKEN, responses=RESPONSES) as server:
        yield server


def ms(t: int) -> pd.Timestamp:
    return pd.Timestamp(t, unit="ms", tz="UTC")


def run(grafana: FakeGrafana, *exprs: str, **kwargs) -> pd.DataFrame:
    queries = [{"refId": ref, "datasource": {"uid": "prom", "type": "prometheus"}, "expr": expr}
               for ref, expr in zip("ABCD", exprs)]
    return query_grafana(grafana.url, queries, time_from="now-1h", time_to="now", **kwargs)


def test_multi_frame_response_becomes_one_column_per_series(grafana):
    frame = run(grafana, "rate(current[1m])", "temperature")
    endpoint = f"{grafana.url}/api/ds/query"
    assert list(frame.columns) == ["timestamp", P1, P2, "Motor temperature", "source_file", "source_row"]
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["timestamp"].tolist() == [ms(T0 + i * STEP) for i in range(4)] + [ms(T0), ms(T0 + STEP)]
    np.testing.assert_array_equal(frame[P1], [1.5, np.nan, 2.5, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(frame[P2], [np.nan, np.inf, -np.inf, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(frame["Motor temperature"], [np.nan] * 4 + [40.0, 41.0])
    assert frame["source_file"].tolist() == [f"{endpoint}#A"] * 4 + [f"{endpoint}#B"] * 2
    assert frame["source_row"].tolist() == [1, 2, 3, 3, 1, 2]
    assert frame["source_row"].dtype == np.int64

    (request,) = grafana.requests
    assert request["from"] == "now-1h" and request["to"] == "now"
    assert [q["refId"] for q in request["queries"]] == ["A", "B"]


def test_nan_and_inf_are_restored_from_entities(grafana):
    frame = run(grafana, "rate(current[1m])")
    assert np.isnan(frame.loc[1, P1])
    assert frame.loc[1, P2] == np.inf and frame.loc[2, P2] == -np.inf
    assert np.isnan(frame.loc[3, P2])  # JSON null


def test_session_and_full_endpoint_url_are_accepted(grafana):
    with requests.Session() as session:
        frame = query_grafana(f"{grafana.url}/api/ds/query/", [{"refId": "A", "expr": "temperature"}],
                              time_from=T0, time_to=pd.Timestamp(T0 + STEP, unit="ms", tz="UTC").to_pydatetime(),
                              session=session)
    assert frame["Motor temperature"].tolist() == [40.0, 41.0]
    assert grafana.requests[0]["from"] == str(T0) and grafana.requests[0]["to"] == str(T0 + STEP)


def test_bad_token_gives_a_clear_error_without_the_token(grafana, monkeypatch, caplog):
    wrong = "glsa_WrongTokenThatMustNotLeak_9876"
    monkeypatch.setenv("ANOMFLOW_TEST_TOKEN", wrong)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GrafanaQueryError) as err:
        run(grafana, "temperature", token_env="ANOMFLOW_TEST_TOKEN")
    message = str(err.value)
    assert "HTTP 401" in message and "invalid API key" in message and "$ANOMFLOW_TEST_TOKEN" in message
    assert isinstance(err.value, SourceFormatError)
    for text in (message, repr(err.value), repr(err.value.args), caplog.text, str(err.value.__cause__), str(err.value.__context__)):
        assert wrong not in text and TOKEN not in text
    assert grafana.requests == []


def test_token_never_logged_on_success(grafana, caplog):
    caplog.set_level(logging.DEBUG)
    frame = run(grafana, "temperature")
    assert TOKEN not in caplog.text and TOKEN not in frame.to_csv()


def test_missing_token_variable(grafana, monkeypatch):
    monkeypatch.delenv("GRAFANA_TOKEN")
    with pytest.raises(GrafanaQueryError, match="environment variable GRAFANA_TOKEN"):
        run(grafana, "temperature")


def test_per_refid_error_is_surfaced(grafana):
    with pytest.raises(GrafanaQueryError) as err:
        run(grafana, "temperature", "bad(")
    message = str(err.value)
    assert "HTTP 400" in message and "refId B" in message and "unclosed left parenthesis" in message
    assert "refId A" not in message


def test_server_error_without_json_and_unreachable_server(monkeypatch):
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    with FakeGrafana(token=TOKEN, responses={}) as server:
        url = server.url
        with pytest.raises(GrafanaQueryError, match="HTTP 404"):
            query_grafana(f"{url}/grafana-wrong-path/x", [], time_from="now-1h", time_to="now")
    with pytest.raises(GrafanaQueryError, match="request failed") as err:
        query_grafana(url, [{"refId": "A", "expr": "up"}], time_from="now-1h", time_to="now", timeout_s=2)
    assert TOKEN not in str(err.value)


def test_series_names_follow_grafana_display_names():
    assert series_name({"name": "Value", "labels": {"__name__": "up", "job": "node"}}) == 'up {job="node"}'
    assert series_name({"name": "Value", "labels": {"job": "node", "pod": "x"}}) == '{job="node", pod="x"}'
    assert series_name({"name": "Value", "labels": {}, "config": {"displayNameFromDS": "Pump 1"}}) == "Pump 1"
    assert series_name({"name": "avg_temp"}) == "avg_temp"


def test_a_step_asks_grafana_for_every_point_of_a_long_range(monkeypatch):
    """Grafana answers ``/api/ds/query`` at most ``maxDataPoints`` (default 100) points a
    series and Prometheus at most 11,000: 30 days at 60 s need the step, enough points and
    five requests. ``ScrapedSeries`` answers as Grafana's Prometheus data source does."""
    import time

    from tests.fake_grafana import ScrapedSeries

    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    now_ms = int(time.time() * 1000)
    scraped = ScrapedSeries("A", now_ms - 40 * 86_400_000, now_ms + 86_400_000, 15_000, labels={"__name__": "current"})
    query = [{"refId": "A", "datasource": {"uid": "prom", "type": "prometheus"}, "expr": "current"}]
    with FakeGrafana(token=TOKEN, responses={"current": scraped}) as grafana:
        thinned = query_grafana(grafana.url, query, time_from="now-30d", time_to="now")
        full = query_grafana(grafana.url, query, time_from="now-30d", time_to="now", interval_s=60)
        pieces = grafana.requests[1:]
        chosen = query_grafana(grafana.url, [{**query[0], "maxDataPoints": 720}], time_from="now-1d", time_to="now", interval_s=60)
    assert len(thinned) <= 101  # Grafana's defaults: why the step matters
    steps = full["timestamp"].diff().dropna().unique()
    assert len(full) == 43_200 or len(full) == 43_201
    assert list(steps) == [pd.Timedelta(minutes=1)] and full["source_row"].tolist() == list(range(1, len(full) + 1))
    assert len(pieces) == 5 and {q["intervalMs"] for p in pieces for q in p["queries"]} == {60_000}
    assert max(q["maxDataPoints"] for p in pieces for q in p["queries"]) == 10_001
    assert [int(p["to"]) for p in pieces[:-1]] == [int(p["from"]) for p in pieces[1:]]  # consecutive, no gap
    assert 719 <= len(chosen) <= 721  # a query's own maxDataPoints wins: a day at 120 s


def test_time_bounds_with_a_step_are_made_absolute():
    from datetime import datetime, timezone

    from components.sources.grafana_api import _absolute_ms

    now = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)
    day = 86_400_000
    assert _absolute_ms("now", now) - _absolute_ms("now-7d", now) == 7 * day
    assert _absolute_ms("now", now) - _absolute_ms("now-1M", now) == 31 * day  # calendar months
    assert _absolute_ms("1767225600000", now) == _absolute_ms("2026-01-01T00:00:00Z", now) == 1_767_225_600_000
    with pytest.raises(ValueError, match=r"'now/d'.*now-<n><unit>"):
        _absolute_ms("now/d", now)
    with pytest.raises(ValueError, match="with its offset"):
        _absolute_ms("2026-01-01 00:00", now)


def test_ingest_pulls_a_grafana_api_source_at_the_sampling_interval(tmp_path, monkeypatch):
    """`anomflow ingest` on a project whose source is Grafana's API: two weeks of two
    pumps' series at validate's 60 s; without an interval it says what to set."""
    import time

    import yaml
    from typer.testing import CliRunner

    from components.cli import app
    from tests.fake_grafana import ScrapedSeries

    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    now_ms = int(time.time() * 1000)
    series = {
        expr: ScrapedSeries("A", now_ms - 20 * 86_400_000, now_ms + 86_400_000, 15_000, labels={"__name__": expr, "pump": "7"})
        for expr in ("pump_current", "pump_flow")
    }
    with FakeGrafana(token=TOKEN, responses=series) as grafana:
        source = {
            "kind": "grafana_api", "url": grafana.url, "asset": "pump-7", "time_from": "now-14d",
            "queries": [{"refId": ref, "datasource": {"uid": "prom", "type": "prometheus"}, "expr": expr}
                        for ref, expr in zip("AB", series)],
        }
        (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump({"ingest": {"sources": [source]}}))
        unset = CliRunner().invoke(app, ["ingest", "--config", "pipeline.yaml"])
        (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump({"ingest": {"sources": [source]}, "validate": {"expected_interval_s": 60}}))
        pulled = CliRunner().invoke(app, ["ingest", "--config", "pipeline.yaml"])
    assert unset.exit_code == 1 and "set its interval_s or validate.expected_interval_s" in unset.output
    assert pulled.exit_code == 0, pulled.output
    readings = pd.read_parquet(tmp_path / "artifacts" / "readings.parquet")
    assert set(readings["asset"]) == {"pump-7"} and 20_159 <= len(readings) <= 20_161  # 14 days of minutes
    assert {"pump_current_pump_7", "pump_flow_pump_7"} <= set(readings.columns), list(readings.columns)
    assert readings["timestamp"].diff().dropna().eq(pd.Timedelta(minutes=1)).all()
