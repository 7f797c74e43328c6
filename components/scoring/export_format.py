"""How batch scoring reads an export: Grafana's CSV or a plain CSV, as the project's
sources read the files the model was trained on."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from components.config import GrafanaCsvSource, PipelineConfig, PlainCsvSource


class ExportFormat(BaseModel):
    """Reading options of an export. ``delimiter`` None: a Grafana panel export (every
    variant ingest reads; ``timezone`` is the dashboard's, for formatted time stamps);
    otherwise a plain CSV with that delimiter, its time in ``timestamp_column``
    (``timestamp_format``: strftime format, or None to infer), ``drop_columns`` left
    out and, with ``asset_column``, each row's asset in that column. The label column of
    a source is read as an ordinary column (scoring ignores it)."""

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

    @classmethod
    def for_project(
        cls, cfg: PipelineConfig | None, *, delimiter: str | None = None, timestamp_column: str | None = None,
        timezone: str | None = None,
    ) -> "ExportFormat":
        """The format of the project's first file source (Grafana without a project or
        without a file source), with any option given here in its place. A ``delimiter``
        over a Grafana source means a plain CSV with the default plain options."""
        sources = [s for s in (cfg.ingest.sources if cfg else []) if isinstance(s, (GrafanaCsvSource, PlainCsvSource))]
        base = cls.of_source(sources[0]) if sources else cls()
        if delimiter is not None and base.delimiter is None:
            base = cls(timezone=base.timezone)
        if timestamp_column is not None and (delimiter or base.delimiter) is None:
            raise ValueError("a timestamp column applies to plain CSV exports: give their delimiter too")
        given = {"delimiter": delimiter, "timestamp_column": timestamp_column, "timezone": timezone}
        return base.model_copy(update={k: v for k, v in given.items() if v is not None})
