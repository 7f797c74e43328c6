"""``fleet:``: how assets are grouped into models and where the groups train (docs/scaling.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

ALL = "all"
PER_ASSET = "asset"


class FleetConfig(BaseModel):
    """One model for every asset (``group_by: all``, the default), or one per group of
    assets, each trained, thresholded, evaluated, registered and promoted on its own,
    the groups in parallel on a Dask cluster."""

    model_config = ConfigDict(extra="forbid")

    group_by: str = Field(ALL, description="all (one model), asset (one model per asset) or a column of asset_table (line, site, …)")
    asset_table: str | None = Field(None, description="CSV with an `asset` column and the columns assets are grouped by")
    dask_address: str | None = Field(None, description="an existing Dask scheduler (tcp://host:8786); none: a temporary local cluster")
    workers: int = Field(2, ge=1, description="worker processes of the temporary local cluster")
    threads_per_worker: int = Field(1, ge=1, description="threads per local worker: 1 trains one group at a time per worker")

    @property
    def grouped(self) -> bool:
        return self.group_by != ALL
