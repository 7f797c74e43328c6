"""``dashboard:``: the operator view's settings (``anomflow dashboard``, docs/live.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

APP = Path(__file__).with_name("app.py")
"""The Streamlit script ``anomflow dashboard`` runs."""
STORE_ENV = "ANOMFLOW_STORE"
"""Environment variable holding the live store's URL for the app."""
CONFIG_ENV = "ANOMFLOW_DASHBOARD"
"""Environment variable holding the ``dashboard:`` settings (JSON) for the app."""


class KpiConfig(BaseModel):
    """Sensors behind the asset view's KPIs (a KPI whose sensors an asset lacks is not shown)."""

    model_config = ConfigDict(extra="forbid")

    temperature: str = Field("motor_temperature", description="sensor shown as the latest temperature, °C")
    vibration: str = Field("vibration_rms", description="vibration sensor (mm/s): latest value and the dominant frequency of its spectrum")
    current: str = Field("current", description="current (A), for the energy")
    voltage: str = Field("voltage", description="voltage (V), for the energy")
    power_factor: str = Field("power_factor", description="power factor, for the energy")
    three_phase: bool = Field(False, description="energy as √3·V·I·PF (three-phase line values) instead of V·I·PF")


class DashboardConfig(BaseModel):
    """``dashboard:``: the operator view's settings (``anomflow dashboard``)."""

    model_config = ConfigDict(extra="forbid")

    port: int = Field(8501, ge=1, description="HTTP port of the dashboard")
    refresh_s: float = Field(1.0, gt=0, description="seconds between refreshes")
    hours: float = Field(24.0, gt=0, description="hours of an asset's history shown")
    stale_after_s: float = Field(300.0, gt=0, description="an asset whose latest score is older than this is shown stale")
    kpis: KpiConfig = KpiConfig()
