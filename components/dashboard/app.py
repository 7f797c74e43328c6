"""The operator dashboard (``anomflow dashboard``): a Streamlit app over the live store.

Run by ``anomflow dashboard`` (``streamlit run`` with the store's URL in
``ANOMFLOW_STORE`` and the ``dashboard:`` settings as JSON in ``ANOMFLOW_DASHBOARD``).
Views: the fleet (every asset's alarm, coloured, sortable, its latest alert), an asset
(sensors, score with its levels, top sensors over time, KPIs) and alerts (open and recent,
acknowledged here as a false alarm or confirmed). Each view is a fragment that reruns every
``refresh_s``: the page is not reloaded and the user's choices (view, asset, sensors) stay.
"""

from __future__ import annotations

import html
import json
import os

import pandas as pd
import streamlit as st

from components.dashboard import charts, data
from components.dashboard.config import CONFIG_ENV, STORE_ENV, DashboardConfig
from components.live.store import Store

ALARM_BACKGROUND = {"critical": "background-color: #f8c9c9", "warning": "background-color: #fcefb4", "normal": "background-color: #d6e6f5",
                    "stale": "background-color: #dddddd"}


def _config() -> DashboardConfig:
    return DashboardConfig(**json.loads(os.environ.get(CONFIG_ENV, "{}")))


def _store() -> Store:
    return Store(os.environ[STORE_ENV])


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _ago(ts: pd.Timestamp | None) -> str:
    if ts is None or pd.isna(ts):
        return "never"
    seconds = (_now() - ts).total_seconds()
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago" if seconds < 7200 else f"{seconds / 3600:.1f} h ago"


def status(cfg: DashboardConfig) -> None:
    """Model version, its levels, the latest score's time; a stale feed said so."""
    with _store() as store:
        model = store.model()
        fleet = data.fleet(store, _now(), cfg.stale_after_s)
    if model is None:
        st.warning("No watcher has scored this store yet: start `anomflow watch`.")
        return
    if model.get("groups"):  # a fleet router: each group's model has its own levels (the asset view shows them)
        st.markdown(f"**model** fleet of {len(model['groups'])} group models  \n`{model['version'].split('[')[0]}`")
    else:
        levels = model.get("thresholds", {})
        st.markdown(f"**model** `{model['version']}`  \nwarning ≥ {levels.get('warning', float('nan')):.4g} · critical ≥ {levels.get('critical', float('nan')):.4g}")
    if fleet.empty:
        st.info("no scored readings yet")
        return
    latest = fleet["scored_at"].max()
    st.markdown(f"**last score** {latest:%Y-%m-%d %H:%M:%S} UTC ({_ago(latest)})  \n**feed time** {fleet['ts'].max():%Y-%m-%d %H:%M}")
    if fleet["stale"].all():
        st.error(f"STALE: nothing scored for {_ago(latest).removesuffix(' ago')}; is the watcher running?")


def fleet_view(cfg: DashboardConfig) -> None:
    with _store() as store:
        fleet = data.fleet(store, _now(), cfg.stale_after_s)
    if fleet.empty:
        st.info("No asset scored yet.")
        return
    state = fleet["alarm"].where(~fleet["stale"], "stale")
    counts = state.value_counts()
    for column, name in zip(st.columns(4), ("critical", "warning", "normal", "stale")):
        column.metric(name, int(counts.get(name, 0)))
    st.markdown(_tiles(fleet, state), unsafe_allow_html=True)
    table = pd.DataFrame({
        "asset": fleet["asset"], "alarm": state, "level": fleet["level"], "score": fleet["score"].round(4),
        "last reading": fleet["ts"].dt.strftime("%Y-%m-%d %H:%M"), "top sensors": fleet["top_sensors"].map(", ".join),
        "latest alert": [f"#{i} {s} {lv} since {t:%m-%d %H:%M}" if pd.notna(i) else "" for i, s, lv, t in
                         zip(fleet["alert_id"], fleet["alert_state"], fleet["alert_level"], fleet["alert_started"])],
    })
    styled = table.style.map(lambda v: ALARM_BACKGROUND.get(v, ""), subset=["alarm"]).format({"score": "{:.4g}"}, na_rep="")
    st.dataframe(styled, hide_index=True, width="stretch", height=min(40 + 35 * len(table), 700), key="fleet_table")


_TILE_CSS = (
    "<style>.af-tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(7.5rem,1fr));gap:.35rem;margin:.5rem 0 1rem}"
    ".af-tile{border-radius:.35rem;padding:.3rem .45rem;font-size:.8rem;line-height:1.25;color:#111}"
    ".af-tile b{display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}"
    ".af-critical{background:#d62728;color:#fff}.af-warning{background:#f2c200}.af-normal{background:#cfe0f3}.af-stale{background:#bbb}"
    "</style>"
)


def _tiles(fleet: pd.DataFrame, state: pd.Series) -> str:
    """One colour-coded tile an asset (red critical, yellow warning, blue normal, grey stale),
    in the table's order: alarms first, then by score."""
    tiles = [
        f'<div class="af-tile af-{s}" data-asset="{html.escape(a)}" data-alarm="{s}"><b>{html.escape(a)}</b>{s}'
        f'{"" if pd.isna(score) else f" · {score:.3g}"}</div>'
        for a, s, score in zip(fleet["asset"], state, fleet["score"])
    ]
    return _TILE_CSS + '<div class="af-tiles">' + "".join(tiles) + "</div>"


def asset_view(cfg: DashboardConfig) -> None:
    with _store() as store:
        assets = [a for (a,) in store.execute("SELECT asset FROM assets ORDER BY asset")]
        if not assets:
            st.info("No asset scored yet.")
            return
        left, right = st.columns([3, 2])
        asset = left.selectbox("asset", assets, key="asset")
        hours = right.select_slider("hours shown", sorted({1.0, 6.0, 24.0, 72.0, 168.0, cfg.hours}), value=cfg.hours, key="hours")
        end = data.last_ts(store, asset) or _now()
        since = end - pd.Timedelta(hours=hours)
        readings = data.asset_readings(store, asset, since)
        scores = data.asset_scores(store, asset, since)
        model = store.model() or {}
        row = data.fleet(store, _now(), cfg.stale_after_s).set_index("asset").loc[asset]
    if row["stale"]:
        st.error(f"STALE: {asset}'s latest score was {_ago(row['scored_at'])}; its feed or the watcher has stopped.")
    kpis = data.kpis(readings, cfg.kpis)
    for column, kpi in zip(st.columns(max(len(kpis), 1)), kpis):
        column.metric(kpi.label, kpi.value, help=kpi.help)
    st.markdown(f"**{asset}**: alarm **{row['alarm']}**, level {row['level']}, top sensors now: {', '.join(row['top_sensors']) or '—'}")
    st.plotly_chart(charts.score_figure(scores, data.levels_of(model, asset)), width="stretch", key="score_chart")
    sensors = [c for c in readings.columns if c != "ts"]
    default = [s for s in row["top_sensors"] if s in sensors] or sensors[:3]
    chosen = st.multiselect("sensors", sensors, default=default, key="sensors")
    st.plotly_chart(charts.sensors_figure(readings, chosen), width="stretch", key="sensor_chart")
    counts = data.top_sensor_counts(scores, sensors, "10min")
    if not counts.empty:
        st.plotly_chart(charts.top_sensors_figure(counts), width="stretch", key="top_chart")


def _levels_styled(alerts: pd.DataFrame):
    return alerts.style.map(lambda v: ALARM_BACKGROUND.get(v, ""), subset=["level"]).format({"peak score": "{:.4g}"}, na_rep="")


def alerts_view(cfg: DashboardConfig) -> None:
    with _store() as store:
        alerts = store.alerts(limit=100)
        if not alerts:
            st.info("No alerts.")
            return
        table = pd.DataFrame(alerts)
        now = _now()
        table["duration"] = [(((e if e is not None else now) - s).total_seconds() / 60) for s, e in zip(table["started_at"], table["ended_at"])]
        shown = pd.DataFrame({
            "id": table["id"], "asset": table["asset"], "state": table["state"], "level": table["level"],
            "start": table["started_at"].map(lambda t: f"{t:%Y-%m-%d %H:%M}"), "minutes": table["duration"].round(0).astype(int),
            "peak score": table["peak_score"], "top sensors": table["top_sensors"].map(", ".join),
            "acknowledged": [f"{a.replace('_', ' ')} by {b}, {t:%m-%d %H:%M}" if a else "" for a, b, t in zip(table["ack"], table["ack_by"], table["ack_at"])],
        })
        open_now = shown[shown["state"].isin(["pending", "firing"])]
        st.subheader(f"open ({len(open_now)})")
        st.dataframe(_levels_styled(open_now), hide_index=True, width="stretch", key="open_alerts")
        st.subheader("recent")
        st.dataframe(_levels_styled(shown), hide_index=True, width="stretch", key="recent_alerts")
        waiting = [int(i) for i, a in zip(table["id"], table["ack"]) if not a]
        st.subheader("acknowledge")
        if not waiting:
            st.caption("every alert is acknowledged")
        else:
            chosen = st.selectbox("alert", waiting, key="ack_alert", format_func=lambda i: f"#{i} {table.set_index('id').loc[i, 'asset']}")
            by = st.text_input("your name", key="ack_by")
            left, right = st.columns(2)
            verdict = "false_alarm" if left.button("false alarm", key="ack_false") else "confirmed" if right.button("confirmed", key="ack_confirmed") else None
            if verdict and not by.strip():
                st.warning("enter your name first")
            elif verdict:
                store.acknowledge(chosen, verdict, by.strip())
                st.session_state["ack_done"] = f"alert #{chosen} acknowledged as {verdict.replace('_', ' ')} by {by.strip()}"
    if "ack_done" in st.session_state:
        st.success(st.session_state["ack_done"])


def main() -> None:
    st.set_page_config(page_title="anomflow live", layout="wide")
    cfg = _config()
    every = cfg.refresh_s
    st.sidebar.title("anomflow live")
    view = st.sidebar.radio("view", ["Fleet", "Asset", "Alerts"], key="view")
    with st.sidebar:
        st.fragment(run_every=every)(status)(cfg)
    {"Fleet": st.fragment(run_every=every)(fleet_view), "Asset": st.fragment(run_every=every)(asset_view),
     "Alerts": st.fragment(run_every=every)(alerts_view)}[view](cfg)


main()
