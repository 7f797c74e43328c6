"""`anomflow score` reads exports as the project's first file source reads its files."""

import pytest

from components.config import GrafanaApiSource, GrafanaCsvSource, PlainCsvSource
from components.sources.export_format import ExportFormat


class _Project:
    def __init__(self, *sources) -> None:
        self.ingest = type("Ingest", (), {"sources": list(sources)})()


SKAB = PlainCsvSource(
    glob="data/skab/*.csv", delimiter=";", timestamp_column="datetime", timestamp_format="%Y-%m-%d %H:%M:%S",
    timezone="Europe/Moscow", label_column="anomaly", drop_columns=["changepoint"],
)
API = GrafanaApiSource(url="https://grafana.example.com", asset="pump-7", queries=[{"refId": "A"}])


def test_the_first_file_source_sets_the_format():
    fmt = ExportFormat.for_project(_Project(API, SKAB, GrafanaCsvSource(glob="*.csv")))
    assert fmt == ExportFormat(
        delimiter=";", timestamp_column="datetime", timestamp_format="%Y-%m-%d %H:%M:%S", timezone="Europe/Moscow",
        drop_columns=("changepoint",),
    )
    assert ExportFormat.for_project(_Project(GrafanaCsvSource(glob="*.csv", timezone="Europe/Berlin"), SKAB)) == ExportFormat(timezone="Europe/Berlin")


def test_without_a_project_or_a_file_source_exports_are_grafana_s_in_utc():
    assert ExportFormat.for_project(None) == ExportFormat.for_project(_Project(API)) == ExportFormat(delimiter=None, timezone="UTC")


def test_options_given_replace_the_source_s():
    fmt = ExportFormat.for_project(_Project(SKAB), delimiter=",", timezone="UTC")
    assert (fmt.delimiter, fmt.timezone, fmt.timestamp_column, fmt.drop_columns) == (",", "UTC", "datetime", ("changepoint",))
    # a delimiter over a Grafana project: a plain CSV with the plain defaults, in the dashboard's zone
    plain = ExportFormat.for_project(_Project(GrafanaCsvSource(glob="*.csv", timezone="Asia/Tokyo")), delimiter="\t", timestamp_column="time")
    assert plain == ExportFormat(delimiter="\t", timestamp_column="time", timezone="Asia/Tokyo")


def test_a_timestamp_column_without_a_delimiter_is_an_error_for_grafana_exports():
    with pytest.raises(ValueError, match="give their delimiter"):
        ExportFormat.for_project(_Project(GrafanaCsvSource(glob="*.csv")), timestamp_column="time")
    assert ExportFormat.for_project(_Project(SKAB), timestamp_column="time").timestamp_column == "time"
