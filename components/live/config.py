"""``watch:``: the live scorer's settings (``anomflow watch``, docs/live.md)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from components.live.notify import NotifyConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreSource(_Strict):
    """Readings written into the store by others (a collector, ``anomflow replay``)."""

    kind: Literal["store"] = "store"


class FolderSource(_Strict):
    """New exports appearing in a folder."""

    kind: Literal["folder"] = "folder"
    glob: str = Field(..., description="exports to take, e.g. incoming/*.csv")
    asset: str | None = Field(None, description="asset of every file [default: from the file name, as the project's sources name it]")
    settle_s: float = Field(2.0, ge=0, description="seconds a file must be left unmodified before it is read")


class GrafanaPollSource(_Strict):
    """Grafana's HTTP API, polled."""

    kind: Literal["grafana_api"] = "grafana_api"
    url: str
    asset: str
    queries: list[dict]
    interval_s: float = Field(..., gt=0, description="the step to ask Grafana for, seconds (the model's sampling interval)")
    every_s: float = Field(60.0, gt=0, description="seconds between polls")
    start: str = Field("now-1h", description="how far back the first poll reaches (Grafana time)")
    token_env: str = "GRAFANA_TOKEN"
    timeout_s: float = 30.0


WatchSource = Annotated[Union[StoreSource, FolderSource, GrafanaPollSource], Field(discriminator="kind")]


class WatchConfig(BaseModel):
    """Where the live readings are, which model scores them, how often, where alerts go."""

    model_config = ConfigDict(extra="forbid")

    source: WatchSource = Field(StoreSource(), description="where readings come from: store (written by others), folder or grafana_api")
    store: str = Field("sqlite:///live/live.db", description="live store: sqlite:///PATH.db or postgresql://USER@HOST:PORT/DATABASE")
    model: str | None = Field(None, description="MLflow model URI; unset: the registered model @champion (register.model_name)")
    poll_s: float = Field(1.0, gt=0, description="SQLite: seconds between looks for new readings; PostgreSQL: longest wait for a NOTIFY")
    batch_readings: int = Field(10_000, ge=1, description="most readings scored in one transaction")
    reload_s: float = Field(30.0, gt=0, description="seconds between checks for a new champion")
    http_port: int | None = Field(9108, ge=0, description="port of /metrics, /healthz and /alerts (0: any free port; null: none)")
    notify: NotifyConfig = NotifyConfig()
