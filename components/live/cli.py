"""The live path's commands: ``anomflow db init``, ``replay``, ``watch`` and ``alerts``
(docs/live.md). The store and other settings come from the pipeline config's ``watch:``
section (``conf/pipeline.yaml`` if it exists); options override them."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

db_app = typer.Typer(help="The live store's tables.", no_args_is_help=True, add_completion=False)
alerts_app = typer.Typer(help="Alerts in the live store: list them, acknowledge one.", no_args_is_help=True, add_completion=False)
console = Console()
log = logging.getLogger("anomflow.watch")

StoreOption = typer.Option(None, "--store", help="live store URL (sqlite:///PATH.db or postgresql://…) [default: the config's watch.store]")
ConfigOption = typer.Option(None, "--config", "-c", help="pipeline YAML file [default: conf/pipeline.yaml if it exists]")


def _watch_config(config: str | None):
    from components.config import load_config
    from components.live.config import WatchConfig
    from components.scoring.score_settings import DEFAULT_CONFIG

    path = Path(config or DEFAULT_CONFIG)
    return load_config(path).watch if config is not None or path.exists() else WatchConfig()


@contextmanager
def _one_line_errors(name: str) -> Iterator[None]:
    """A store, input or model error ends the command with one line and exit 1."""
    import psycopg
    from mlflow.exceptions import MlflowException

    try:
        yield
    except KeyboardInterrupt:
        console.print(f"[bold]{name} stopped[/]")
        raise typer.Exit(130) from None
    except (ValueError, OSError, KeyError, psycopg.Error, MlflowException) as err:
        console.print(f"[bold red]{name} failed:[/] {escape(str(err).strip())}", soft_wrap=True)
        raise typer.Exit(1) from None


def _store(url: str | None, config: str | None):
    from components.live.store import Store

    return Store(url or _watch_config(config).store)


@db_app.command("init")
def db_init(store: str = StoreOption, config: str = ConfigOption) -> None:
    """Create the live store's tables (and, on PostgreSQL, the insert trigger); idempotent."""
    with _one_line_errors("db init"), _store(store, config) as live:
        live.init()
        console.print(f"[green]live store ready[/] {escape(live.url)} (readings, scores, quarantine, alerts, notifications, watcher)")


def replay(
    exports: list[Path] = typer.Argument(..., metavar="EXPORT...", help="recorded exports (Grafana or plain CSV, as the project's sources read them)"),
    into: str = typer.Option(None, "--into", help="live store URL [default: the config's watch.store]"),
    speed: float = typer.Option(0.0, min=0, help="times real time (60: a minute of readings per second); 0: as fast as it can"),
    asset: str = typer.Option(None, help="asset of every row [default: from the file names, as the project's sources name them]"),
    since: str = typer.Option(None, help="only readings from this time on (ISO-8601), or test-split: from the prepared test split's first time"),
    config: str = ConfigOption,
) -> None:
    """Write recorded exports into the live store's readings table, as a plant would."""
    from components.live.replay import replay as replay_exports
    from components.scoring.score_settings import ScoreSettings

    with _one_line_errors("replay"), _store(into, config) as live:
        live.init()
        settings = ScoreSettings.for_project(config, asset=asset)
        start = _since(since, config)
        with console.status("replaying…") as status:
            count = replay_exports(exports, live, settings, speed, on_batch=lambda n: status.update(f"replaying… {n:,} readings written"), since=start)
        console.print(f"[green]replayed[/] {count:,} readings into {escape(live.url)}")


def _since(value: str | None, config: str | None):
    """``--since`` as a UTC time: ISO-8601, or ``test-split`` (the project's prepared test split's first time)."""
    import pandas as pd

    if value is None:
        return None
    if value != "test-split":
        return pd.Timestamp(value).tz_convert("UTC") if pd.Timestamp(value).tzinfo else pd.Timestamp(value, tz="UTC")
    from components.config import load_config
    from components.scoring.score_settings import DEFAULT_CONFIG
    from components.stages import prepared_dir

    test = prepared_dir(load_config(config or DEFAULT_CONFIG)) / "test.parquet"
    if not test.exists():
        raise ValueError(f"--since test-split: {test} does not exist; run `anomflow retrain` (or make demo) first")
    return pd.read_parquet(test, columns=["timestamp"])["timestamp"].min()


def watch(
    store: str = StoreOption,
    once: bool = typer.Option(False, "--once", help="score what is waiting, deliver its notifications, and exit"),
    model_uri: str = typer.Option(None, "--model", help="MLflow model URI [default: the config's watch.model, else the registered model @champion]"),
    port: int = typer.Option(None, help="port of /metrics, /healthz, /alerts [default: the config's watch.http_port]"),
    config: str = ConfigOption,
) -> None:
    """Score each new reading of the live store once, raise and resolve alerts, notify."""
    from components.live.champion import Champion, ChampionFollower
    from components.live.collectors import collector
    from components.live.metrics import WatchMetrics, serve_http
    from components.live.notify import Deliverer, receivers
    from components.live.store import Store
    from components.live.watcher import Watcher, run_watcher
    from components.scoring.score_settings import ScoreSettings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")  # a no-op where logging is set up (tests)
    logging.getLogger("anomflow.watch").setLevel(logging.INFO)
    stop = threading.Event()
    with _one_line_errors("watch"):
        cfg = _watch_config(config)
        settings = ScoreSettings.for_project(config, model_uri=model_uri or cfg.model)
        live = Store(store or cfg.store)
        live.init()
        champion = Champion(settings.model_uri, settings.tracking_uri)
        model = champion.load_current()
        metrics = WatchMetrics()
        targets = receivers(cfg.notify)
        watcher = Watcher(live, model, targets, metrics, cfg.batch_readings)
        http_port = cfg.http_port if port is None else port
        server = None
        if not once and http_port is not None:
            server = serve_http(http_port, metrics, lambda: _health(watcher), lambda: _open_alerts(live.url))
        deliverer = Deliverer(live.url, cfg.notify, stop)
        follower = None
        if not once:
            follower = ChampionFollower(champion, model.version, cfg.reload_s, stop)
            follower.start()
            if targets:
                deliverer.start()
        log.info("watching %s with %s%s", live.url, model.version, f"; /metrics, /healthz, /alerts on port {server.server_address[1]}" if server else "")
        try:
            run_watcher(watcher, once=once, poll_s=cfg.poll_s, stop=stop, follower=follower, collector=collector(cfg.source, settings))
        finally:
            stop.set()
        if once and targets:
            with Store(live.url) as outbox:
                deliverer.deliver_due(outbox)
        console.print(
            f"[green]watch done[/]: {metrics.readings_scored:,} readings scored, {metrics.readings_quarantined:,} quarantined, up to reading {watcher.position}; "
            f"{len(watcher.open_alerts())} alert(s) open; {deliverer.delivered} notification(s) delivered", soft_wrap=True,
        )


def dashboard(
    store: str = StoreOption,
    port: int = typer.Option(None, help="HTTP port [default: the config's dashboard.port, 8501]"),
    config: str = ConfigOption,
) -> None:
    """The operator dashboard in a browser (Streamlit): fleet, asset and alert views of the live store, refreshed every second."""
    import os
    import subprocess
    import sys

    from components.dashboard.config import APP, CONFIG_ENV, STORE_ENV

    cfg = _dashboard_config(config)
    url = store or _watch_config(config).store
    env = {**os.environ, STORE_ENV: url, CONFIG_ENV: cfg.model_dump_json()}
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port or cfg.port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    console.print(f"dashboard of {escape(url)} on http://localhost:{port or cfg.port} (Ctrl-C stops it)")
    try:
        raise typer.Exit(subprocess.call(command, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _dashboard_config(config: str | None):
    from components.config import load_config
    from components.dashboard.config import DashboardConfig
    from components.scoring.score_settings import DEFAULT_CONFIG

    path = Path(config or DEFAULT_CONFIG)
    return load_config(path).dashboard if config is not None or path.exists() else DashboardConfig()


def _health(watcher) -> dict:
    metrics = watcher.metrics
    return {
        "status": "ok", "model_version": metrics.model_version, "position": watcher.position, "lag_s": metrics.lag_s,
        "last_reading": metrics.last_reading.isoformat() if metrics.last_reading is not None else None,
    }


def _open_alerts(url: str) -> list[dict]:
    from components.live.store import Store, alert_as_json

    with Store(url) as live:
        return [alert_as_json(a) for a in live.alerts(open_only=True)]


@alerts_app.command("list")
def alerts_list(
    store: str = StoreOption,
    open_only: bool = typer.Option(False, "--open", help="only alerts pending or firing"),
    limit: int = typer.Option(50, help="newest this many"),
    as_json: bool = typer.Option(False, "--json", help="JSON (one list) instead of a table"),
    config: str = ConfigOption,
) -> None:
    """The newest alerts: asset, state, level, start, end, peak score, top sensors, model, acknowledgement."""
    with _one_line_errors("alerts list"), _store(store, config) as live:
        alerts = live.alerts(open_only=open_only, limit=limit)
    if as_json:
        from components.live.store import alert_as_json

        print(json.dumps([alert_as_json(a) for a in alerts]))
        return
    table = Table(title=f"alerts ({len(alerts)})")
    for column in ("id", "asset", "state", "level", "started", "ended", "peak", "top sensors", "model", "ack"):
        table.add_column(column)
    for a in alerts:
        ack = f"{a['ack']} by {a['ack_by']}" if a["ack"] else ""
        table.add_row(str(a["id"]), a["asset"], a["state"], a["level"], f"{a['started_at']:%Y-%m-%d %H:%M:%S}",
                      f"{a['ended_at']:%Y-%m-%d %H:%M:%S}" if a["ended_at"] is not None else "",
                      f"{a['peak_score']:.4g}" if a["peak_score"] is not None else "", ", ".join(a["top_sensors"]), a["model_version"], ack)
    console.print(table)


@alerts_app.command("ack")
def alerts_ack(
    alert_id: int = typer.Argument(..., metavar="ID"),
    false_alarm: bool = typer.Option(False, "--false-alarm", help="the readings were normal: the next retrain trains on them"),
    confirmed: bool = typer.Option(False, "--confirmed", help="a real fault: the next retrain uses it as a label"),
    by: str = typer.Option(..., "--by", help="who acknowledges"),
    store: str = StoreOption,
    config: str = ConfigOption,
) -> None:
    """Acknowledge an alert as a false alarm or a confirmed fault."""
    if false_alarm == confirmed:
        console.print("[bold red]alerts ack:[/] give exactly one of --false-alarm and --confirmed")
        raise typer.Exit(2)
    with _one_line_errors("alerts ack"), _store(store, config) as live:
        alert = live.acknowledge(alert_id, "false_alarm" if false_alarm else "confirmed", by)
    console.print(f"[green]alert {alert_id}[/] ({escape(alert['asset'])}, {alert['state']}, {alert['level']}) acknowledged as {alert['ack']} by {escape(by)}")
