"""The dashboard's Plotly figures: sensors over time, the score with its warning and
critical levels as bands and its points coloured by level, and the top sensors over time."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

LEVEL_COLOURS = {"normal": "#1f77b4", "warning": "#f2c200", "critical": "#d62728", "sensor_fault": "#7f7f7f", "insufficient_history": "#c7c7c7"}
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 30, "b": 10}, "height": 300, "legend": {"orientation": "h", "y": -0.2}, "uirevision": "keep"}


def sensors_figure(readings: pd.DataFrame, sensors: list[str]) -> go.Figure:
    """One panel per chosen sensor (each on its own axis, in the readings' units), sharing time."""
    shown = [s for s in sensors if s in readings] or [None]
    figure = make_subplots(rows=len(shown), cols=1, shared_xaxes=True, vertical_spacing=0.04, subplot_titles=[s or "" for s in shown])
    for row, sensor in enumerate(shown, start=1):
        if sensor is not None:
            figure.add_trace(go.Scattergl(x=readings["ts"], y=readings[sensor], name=sensor, mode="lines", showlegend=False), row=row, col=1)
    return figure.update_layout(**{**_LAYOUT, "height": 60 + 140 * len(shown)})


def score_figure(scores: pd.DataFrame, thresholds: dict) -> go.Figure:
    """The score as a line, each reading a point coloured by its level, and the levels as
    bands: normal below warning (blue), warning to critical (yellow), critical above (red)."""
    figure = go.Figure(go.Scattergl(x=scores["ts"], y=scores["score"], mode="lines", line={"color": "#9aa4b1", "width": 1}, name="score", showlegend=False))
    for level, colour in LEVEL_COLOURS.items():
        part = scores[scores["level"] == level]
        if len(part) and part["score"].notna().any():
            figure.add_trace(go.Scattergl(x=part["ts"], y=part["score"], mode="markers", marker={"color": colour, "size": 5}, name=level))
    warning, critical = thresholds.get("warning"), thresholds.get("critical")
    top = max(float(scores["score"].max()) if scores["score"].notna().any() else 0.0, (critical or 0.0) * 1.2)
    bottom = min(float(scores["score"].min()) if scores["score"].notna().any() else 0.0, 0.0)
    bands = [(bottom, warning, LEVEL_COLOURS["normal"]), (warning, critical, LEVEL_COLOURS["warning"]), (critical, top, LEVEL_COLOURS["critical"])]
    for low, high, colour in bands:
        if low is not None and high is not None and high > low:
            figure.add_hrect(y0=low, y1=high, fillcolor=colour, opacity=0.08, line_width=0)
    for name, value in (("warning", warning), ("critical", critical)):
        if value is not None:
            figure.add_hline(y=value, line={"color": LEVEL_COLOURS[name], "dash": "dash", "width": 1}, annotation_text=f"{name} {value:.3g}")
    return figure.update_layout(title="anomaly score", yaxis_title="score", **_LAYOUT)


def top_sensors_figure(counts: pd.DataFrame) -> go.Figure:
    """Heat map: per time bucket (rows of ``counts``), how often each sensor was among the
    top sensors of a reading's score."""
    figure = go.Figure(go.Heatmap(z=counts.to_numpy().T, x=counts.index, y=list(counts.columns), colorscale="Reds", colorbar={"title": "readings"}))
    return figure.update_layout(title="top sensors over time", **_LAYOUT)
