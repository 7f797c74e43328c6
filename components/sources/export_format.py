"""How an export file is read: Grafana's CSV or a plain CSV. Ingest reads each file of a
source with its format, and batch scoring reads exports with the format of the project's
first file source, so both read a file the same way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict

from components.config import GrafanaCsvSource, PipelineConfig, PlainCsvSource


def first_file_source(cfg: PipelineConfig | None) -> GrafanaCsvSource | PlainCsvSource | None:
    """The project's first file source (batch scoring reads exports as it reads files), or None."""
    files = [s for s in (cfg.ingest.sources if cfg else []) if isinstance(s, (GrafanaCsvSource, PlainCsvSource))]
    return files[0] if files else None


class ExportFormat(BaseModel):
    """Reading options of an export. ``delimiter`` None: a Grafana panel export (every
    variant ingest reads; ``timezone`` is the dashboard's, for formatted time stamps);
    otherwise a plain CSV with that delimiter, its time in ``timestamp_column``
    (``timestamp_format``: strftime format, or None to infer), ``drop_columns`` left
    out and, with ``asset_column``, each row's asset in that column. A source's label
    column is not part of the format: :meth:`read` takes it, and without it the column
    is read as an ordinary one (batch scoring's case; it leaves the column out)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delimiter: str | None = None
    timestamp_column: str = "timestamp"
    timestamp_format: str | None = None
    timezone: str = "UTC"
    drop_columns: tuple[str, ...] = ()
    asset_column: str | None = None

    @classmethod
    def of_source(cls, source: GrafanaCsvSource | PlainCsvSource) -> "ExportFormat":
        """The format a configured file source reads."""
        if isinstance(source, GrafanaCsvSource):
            return cls(timezone=source.timezone)
        return cls(
            delimiter=source.delimiter, timestamp_column=source.timestamp_column,
            timestamp_format=source.timestamp_format, timezone=source.timezone, drop_columns=tuple(source.drop_columns),
            asset_column=source.asset_column,
        )

    def read(self, path: Path, *, label_column: str | None = None, after: pd.Timestamp | None = None) -> pd.DataFrame:
        """One file as the wide reader frame of :mod:`components.sources.grafana_csv` or
        :mod:`components.sources.plain_csv` (``label_column``: plain CSV only; ``after``:
        the UTC time before its first row, when it continues an export read in pieces)."""
        if self.delimiter is None:
            from components.sources.grafana_csv import read_grafana_csv

            return read_grafana_csv(path, timezone=self.timezone, after=after)
        from components.sources.plain_csv import read_plain_csv

        return read_plain_csv(
            path, delimiter=self.delimiter, timestamp_column=self.timestamp_column, timestamp_format=self.timestamp_format,
            timezone=self.timezone, label_column=label_column, drop_columns=self.drop_columns, asset_column=self.asset_column,
            after=after,
        )

    @classmethod
    def for_project(
        cls, cfg: PipelineConfig | None, *, delimiter: str | None = None, timestamp_column: str | None = None,
        timezone: str | None = None,
    ) -> "ExportFormat":
        """The format of the project's first file source (Grafana without a project or
        without a file source), with any option given here in its place. A ``delimiter``
        over a Grafana source means a plain CSV with the default plain options."""
        source = first_file_source(cfg)
        base = cls.of_source(source) if source else cls()
        if delimiter is not None and base.delimiter is None:
            base = cls(timezone=base.timezone)
        if timestamp_column is not None and (delimiter or base.delimiter) is None:
            raise ValueError("a timestamp column applies to plain CSV exports: give their delimiter too")
        given = {"delimiter": delimiter, "timestamp_column": timestamp_column, "timezone": timezone}
        return base.model_copy(update={k: v for k, v in given.items() if v is not None})
