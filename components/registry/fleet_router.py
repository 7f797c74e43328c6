"""The served model of a fleet trained per group (``fleet.group_by`` other than ``all``):
a version of ``anomflow-detector`` that holds only the map from assets to groups
(``fleet.json``) and, when loaded, loads each group's ``<name>-<group>@champion``
(:class:`~components.registry.served_detector.AnomflowDetector`) from the same MLflow
store. It answers like one served model: each request row is scored by its asset's group
model, the answers are put back in request order, and each asset's carried state is its
group model's. A group that gets a new champion is picked up when the router is loaded
again (``mlflow models serve`` restarted; the live watcher follows it by itself).

Input and output as :mod:`components.registry.served_detector`; the request is checked
once for the whole fleet, so a message names the row as the client sent it. A row of an
asset that belongs to no group is refused (400) with the asset named.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from components.frames import ASSET
from components.registry.request import DEFAULT_ASSET, InvalidRequest, parse_request
from components.registry.served_detector import AnomflowDetector, AssetState

FLEET_FILE = "fleet.json"
ROUTER_KIND = "fleet-router"
KIND_TAG = "anomflow.kind"
FLEET_TAG = "anomflow.fleet"
"""Registered model tag of each group's model: the fleet (router) model it belongs to."""
CHAMPION = "champion"


def fleet_map(model_name: str, group_by: str, groups: dict[str, list[str]], group_models: dict[str, str]) -> dict:
    """The content of ``fleet.json``: the router's registered name, how assets were
    grouped, and per group its registered model and assets."""
    return {"model_name": model_name, "group_by": group_by,
            "groups": {g: {"model": group_models[g], "assets": list(assets)} for g, assets in groups.items()}}


class FleetRouter(mlflow.pyfunc.PythonModel):
    """Routes each asset's rows to its group's champion (module doc)."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.setup(json.loads(Path(context.artifacts["fleet"]).read_text()))

    def setup(self, fleet: dict, models: dict[str, tuple[str, AnomflowDetector]] | None = None) -> None:
        """Take ``fleet`` (:func:`fleet_map`) and the group models: ``models`` ({group:
        (its ``name/version``, its served model)}), else each group's champion loaded from
        MLflow's current store."""
        self.fleet = fleet
        self.group_of = {asset: group for group, spec in fleet["groups"].items() for asset in spec["assets"]}
        self.members = models if models is not None else {g: _load_champion(spec["model"]) for g, spec in fleet["groups"].items()}
        sensors = {tuple(m.sensors) for _, m in self.members.values()}
        if len(sensors) != 1:
            raise MlflowException(f"the fleet's group models score different sensors {sorted(sensors)}: retrain the fleet from one config")
        self._sensors = list(next(iter(sensors)))

    # ----------------------------------------------------------------- what callers read
    @property
    def sensors(self) -> list[str]:
        return self._sensors

    @property
    def window(self) -> int:
        return max(int(m.window) for _, m in self.members.values())

    @property
    def history_rows(self) -> int:
        """Rows of history a row's score needs in the group model that needs most."""
        return max(m.history_rows for _, m in self.members.values())

    @property
    def versions(self) -> dict[str, str]:
        """{group: the ``name/version`` of the group model loaded}."""
        return {group: version for group, (version, _) in self.members.items()}

    def version_of(self, asset: str) -> str | None:
        """The ``name/version`` of the model that scores ``asset`` (None: no group has it)."""
        group = self.group_of.get(str(asset))
        return None if group is None else self.members[group][0]

    def levels_of(self, asset: str) -> dict:
        """The alarm levels that apply to ``asset``'s scores (its group model's)."""
        return self.members[self.group_of[str(asset)]][1].levels_of(asset)

    def describe(self) -> dict:
        """What a dashboard shows of the model: sensors, the longest window, and per group
        its version, levels and assets."""
        return {"sensors": self.sensors, "window": self.window, "thresholds": {},
                "groups": {g: {"version": v, "assets": self.fleet["groups"][g]["assets"], **m.describe()}
                           for g, (v, m) in self.members.items()}}

    # ------------------------------------------------------------------------- scoring
    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return self.score_rows(model_input)[0]

    def score_rows(
        self, model_input: pd.DataFrame, states: dict[str, AssetState] | None = None, context_rows: int = 0,
    ) -> tuple[pd.DataFrame, dict[str, AssetState]]:
        """As :meth:`AnomflowDetector.score_rows`, each asset's rows scored by its group's model."""
        request = pd.DataFrame(model_input).reset_index(drop=True)
        try:
            assets = parse_request(request, self.sensors)[ASSET].astype(str).to_numpy()  # checked once: rows named as sent
            groups = self._groups(assets)
        except InvalidRequest as err:
            raise MlflowException(str(err), error_code=INVALID_PARAMETER_VALUE) from None
        states = states or {}
        answers, carried = [], {}
        for group, rows in pd.Series(groups).groupby(groups, sort=False).indices.items():
            _, model = self.members[group]
            piece = request.iloc[rows].reset_index(drop=True)
            own = {a: s for a, s in states.items() if self.group_of.get(str(a)) == group}
            answer, group_states = model.score_rows(piece, own, int((rows < context_rows).sum()))
            answers.append(answer.set_index(pd.Index(rows)))
            carried.update(group_states)
        return pd.concat(answers).sort_index().reset_index(drop=True), carried

    def _groups(self, assets: np.ndarray) -> np.ndarray:
        """Each row's group; InvalidRequest naming assets that belong to none."""
        if len(self.members) == 1 and set(assets) == {DEFAULT_ASSET}:
            return np.full(len(assets), next(iter(self.members)), dtype=object)
        unknown = sorted(set(assets) - self.group_of.keys())
        if unknown:
            hint = ("the request has no asset column: this fleet model routes each row by its asset"
                    if unknown == [DEFAULT_ASSET] else f"asset(s) {unknown[:10]} belong to no group of this fleet model")
            raise InvalidRequest(f"{hint} (grouped by {self.fleet['group_by']}: {len(self.group_of)} assets in {len(self.members)} groups)")
        return np.asarray([self.group_of[a] for a in assets], dtype=object)


def _load_champion(model_name: str) -> tuple[str, AnomflowDetector]:
    """(``name/version``, served model) of ``model_name@champion`` in MLflow's current store."""
    version = mlflow.MlflowClient().get_model_version_by_alias(model_name, CHAMPION).version
    return f"{model_name}/{version}", mlflow.pyfunc.load_model(f"models:/{model_name}/{version}").unwrap_python_model()
