"""What batch scoring takes from a project: the model, the MLflow store that resolves
it, how exports are read, whose they are and how repeated time stamps are resolved."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from components.config import MlflowConfig, RegisterConfig, load_config
from components.registry.tracking import tracking_uri
from components.sources.export_format import ExportFormat, first_file_source

DEFAULT_CONFIG = "conf/pipeline.yaml"


@dataclass(frozen=True)
class ScoreSettings:
    model_uri: str
    tracking_uri: str
    export_format: ExportFormat
    duplicate_rule: str
    asset: str | None = None
    asset_pattern: str | None = None

    @classmethod
    def for_project(
        cls, config_path: str | Path | None = None, *, model_uri: str | None = None, delimiter: str | None = None,
        timestamp_column: str | None = None, timezone: str | None = None, asset: str | None = None,
    ) -> "ScoreSettings":
        """Settings from the pipeline config at ``config_path`` (None: ``conf/pipeline.yaml``
        if it exists, else the defaults: Grafana exports, ``anomflow-detector``). The store
        is ``$MLFLOW_TRACKING_URI``, else the config's (a relative SQLite path made
        absolute, so errors say where it looked); the model is the config's registered
        model ``@champion``; the asset of every row is the first file source's ``asset``
        if it names one, else found in the export's name by its ``asset_pattern`` (see
        :meth:`asset_of`); any option given here replaces the config's."""
        path = Path(config_path or DEFAULT_CONFIG)
        cfg = load_config(path) if config_path is not None or path.exists() else None
        uri = tracking_uri(cfg.mlflow if cfg else MlflowConfig())
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_absolute():
            uri = f"sqlite:///{Path(uri.removeprefix('sqlite:///')).resolve()}"
        source = first_file_source(cfg)
        return cls(
            model_uri=model_uri or f"models:/{(cfg.register_ if cfg else RegisterConfig()).model_name}@champion",
            tracking_uri=uri,
            export_format=ExportFormat.for_project(cfg, delimiter=delimiter, timestamp_column=timestamp_column, timezone=timezone),
            duplicate_rule=cfg.ingest.duplicate_rule if cfg else "mean",
            asset=asset or (source.asset if source else None),
            asset_pattern=source.asset_pattern if source and not getattr(source, "asset_column", None) else None,
        )

    def asset_of(self, exports: Sequence[Path]) -> str | None:
        """The asset of the rows of ``exports`` (one asset's files, joined on time): the
        given or configured one, else the name the project's ``asset_pattern`` finds in
        the file names, as ingest names a file's asset; None if no name matches (the
        served model's default asset) or the rows name their own. ValueError if the
        names give several assets."""
        if self.asset is not None or self.asset_pattern is None:
            return self.asset
        found = [m.group("asset") for p in exports if (m := re.search(self.asset_pattern, Path(p).name)) and "asset" in m.groupdict()]
        if len(set(found)) > 1:
            raise ValueError(
                f"the project's asset_pattern {self.asset_pattern!r} finds several assets in the export names "
                f"({', '.join(dict.fromkeys(found))}): score one asset's exports at a time, or name it with --asset"
            )
        return found[0] if found else None
