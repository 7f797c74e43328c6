"""The fleet's served model (components/registry/fleet_router.py) with in-memory group
models: each asset's rows are scored by its group's model, in request order, states
carried per asset; rows of unknown assets are refused with the asset named."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from components.dashboard.data import levels_of
from components.registry.fleet_router import FleetRouter, fleet_map
from tests.live.helpers import interleave, readings, served_model

GROUPS = {"line-a": ["pump-1", "pump-2"], "line-b": ["pump-3"]}


@pytest.fixture(scope="module")
def router() -> FleetRouter:
    fleet = fleet_map("anomflow-detector", "line", GROUPS, {g: f"anomflow-detector-{g}" for g in GROUPS})
    members = {"line-a": ("anomflow-detector-line-a/4", served_model(variance=0.9)), "line-b": ("anomflow-detector-line-b/2", served_model(variance=0.5))}
    model = FleetRouter()
    model.setup(fleet, members)
    return model


def _request() -> pd.DataFrame:
    return interleave(*(readings(rows=120, asset=a, seed=s) for a, s in (("pump-1", 1), ("pump-3", 3), ("pump-2", 2))))


def test_each_assets_rows_are_scored_by_its_groups_model_in_request_order(router):
    request = _request()
    answer = router.predict(None, request)
    assert list(answer["asset"]) == list(request["asset"]) and list(answer["timestamp"]) == list(request["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for group, assets in GROUPS.items():
        rows = request["asset"].isin(assets).to_numpy()
        alone = router.members[group][1].predict(None, request[rows].reset_index(drop=True))
        pd.testing.assert_frame_equal(answer[rows].reset_index(drop=True), alone)
    a, b = (router.predict(None, request[request["asset"] == p].reset_index(drop=True))["score"] for p in ("pump-1", "pump-3"))
    assert not a.equals(b)  # two different models


def test_states_carried_piece_by_piece_give_the_answer_in_one_piece(router):
    request = _request()
    whole = router.predict(None, request)
    first, states = router.score_rows(request.iloc[:150])
    history = request.iloc[:150].groupby("asset").tail(router.history_rows)
    context = len(history)
    second, states = router.score_rows(pd.concat([history, request.iloc[150:]], ignore_index=True), states, context)
    pieced = pd.concat([first, second.iloc[context:]], ignore_index=True)
    pd.testing.assert_frame_equal(pieced, whole)
    assert set(states) == {"pump-1", "pump-2", "pump-3"}


def test_unknown_assets_and_a_request_without_assets_are_refused_with_the_asset_named(router):
    stranger = readings(rows=40, asset="fan-9")
    with pytest.raises(MlflowException, match=r"asset\(s\) \['fan-9'\] belong to no group .*grouped by line: 3 assets in 2 groups"):
        router.predict(None, pd.concat([readings(rows=40, asset="pump-1"), stranger], ignore_index=True))
    with pytest.raises(MlflowException, match="no asset column"):
        router.predict(None, readings(rows=40).drop(columns=["asset"]))
    bad = readings(rows=40, asset="pump-3").astype({"x1": object})
    bad.loc[7, "x1"] = "broken"
    with pytest.raises(MlflowException, match="column 'x1' row 7"):  # the row as the client sent it, not its group's
        router.predict(None, pd.concat([readings(rows=40, asset="pump-1").iloc[:5], bad.iloc[5:]], ignore_index=True))


def test_versions_and_levels_are_each_groups_and_a_dashboard_finds_an_assets_levels(router):
    assert router.version_of("pump-2") == "anomflow-detector-line-a/4" and router.version_of("pump-3") == "anomflow-detector-line-b/2"
    described = router.describe()
    assert set(described["groups"]) == set(GROUPS) and described["groups"]["line-b"]["assets"] == ["pump-3"]
    assert levels_of(described, "pump-3") == router.members["line-b"][1].levels_of("pump-3") != levels_of(described, "pump-1")
