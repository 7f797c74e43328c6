"""Grouping assets into models (components/fleet/groups.py) and each group's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.config import PipelineConfig
from components.fleet.config import FleetConfig
from components.fleet.groups import absolute, assign_groups, group_config, group_name


def _cfg(**fleet) -> PipelineConfig:
    return PipelineConfig(ingest={"sources": [{"kind": "grafana_csv", "glob": "data/*.csv"}]}, fleet=fleet)


def test_all_is_one_group_and_the_default():
    assert not PipelineConfig(ingest={"sources": []}).fleet.grouped
    assert assign_groups(["b", "a"], FleetConfig()) == {"all": ["a", "b"]}


def test_per_asset_is_a_group_an_asset_named_safely():
    assert assign_groups(["pump 2", "pump-1"], FleetConfig(group_by="asset")) == {"pump-1": ["pump-1"], "pump_2": ["pump 2"]}
    assert group_name("Line A/3") == "Line_A_3"
    with pytest.raises(ValueError, match="same group name"):
        assign_groups(["a b", "a/b"], FleetConfig(group_by="asset"))


def test_a_column_of_the_asset_table_groups_assets(tmp_path):
    table = tmp_path / "assets.csv"
    table.write_text("asset,line,site\npump-1,L1,north\npump-2,L1,north\npump-3,L2,south\n")
    assert assign_groups(["pump-3", "pump-2", "pump-1"], FleetConfig(group_by="line", asset_table=str(table))) == {
        "L1": ["pump-1", "pump-2"], "L2": ["pump-3"],
    }
    with pytest.raises(ValueError, match=r"no line for asset\(s\) \['pump-4'\]"):
        assign_groups(["pump-1", "pump-4"], FleetConfig(group_by="line", asset_table=str(table)))
    with pytest.raises(ValueError, match="no column 'hall'"):
        assign_groups(["pump-1"], FleetConfig(group_by="hall", asset_table=str(table)))
    with pytest.raises(ValueError, match="needs fleet.asset_table"):
        assign_groups(["pump-1"], FleetConfig(group_by="line"))


def test_a_group_has_its_own_folders_and_registered_model_and_trains_one_model(tmp_path):
    cfg = absolute(_cfg(group_by="asset"), tmp_path)
    own = group_config(cfg, "pump-1")
    assert Path(own.paths.models) == tmp_path / "models" / "groups" / "pump-1"
    assert Path(own.paths.artifacts) == tmp_path / "artifacts" / "groups" / "pump-1"
    assert own.register_.model_name == "anomflow-detector-pump-1" and not own.fleet.grouped
    assert own.mlflow.tracking_uri == f"sqlite:///{tmp_path}/mlruns/mlflow.db"  # a worker started anywhere finds the store
    assert own.models == cfg.models and own.threshold == cfg.threshold


def test_the_fleets_rows_are_split_into_each_groups_file_and_none_is_left_out(tmp_path):
    import pandas as pd

    from components import stages
    from components.fleet.pipeline import split_rows

    cfg = absolute(_cfg(group_by="asset"), tmp_path)
    rows = pd.DataFrame({"timestamp": pd.date_range("2026-01-01", periods=6, freq="min"), "asset": ["a", "b", "a", "c", "b", "a"], "x0": range(6)})
    stages.validated_path(cfg).parent.mkdir(parents=True)
    rows.to_parquet(stages.validated_path(cfg), index=False)
    assert split_rows(cfg, {"ab": ["a", "b"], "c": ["c"]}) == {"ab": 5, "c": 1}
    ab = pd.read_parquet(stages.validated_path(group_config(cfg, "ab")))
    assert ab["x0"].tolist() == [0, 1, 2, 4, 5]  # in the fleet's order
    with pytest.raises(ValueError, match="assets in no group: c"):
        split_rows(cfg, {"ab": ["a", "b"]})
