"""Registering a fleet trained per group: after every group's model is registered (and
promoted on its own), a version of ``anomflow-detector`` that routes each asset to its
group's champion (:mod:`components.registry.fleet_router`) becomes ``@champion``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from components.config import PipelineConfig
from components.fleet.pipeline import GroupResult
from components.registry.fleet_router import CHAMPION, FLEET_FILE, FLEET_TAG, KIND_TAG, ROUTER_KIND, fleet_map
from components.registry.promotion_lock import promotion_lock
from components.registry.register import served_signature
from components.registry.serving_code import copy_serving_code
from components.registry.serving_requirements import pinned_requirements
from components.registry.tracking import tracking_uri, using_tracking_uri

FLEET_ENTRY_FILE = Path(__file__).with_name("fleet_entry.py")


def _fleet_sensors(client, results: dict[str, GroupResult]) -> list[str]:
    """The sensors every group's registered version scores (its ``anomflow.sensors`` tag);
    a ValueError if the groups differ, which the router could not serve."""
    sensors = {client.get_model_version(r.model_name, r.version).tags["anomflow.sensors"] for r in results.values()}
    if len(sensors) != 1:
        raise ValueError(f"the fleet's group models score different sensors {sorted(sensors)}: retrain the fleet from one config")
    return next(iter(sensors)).split(",")


def register_fleet_router(cfg: PipelineConfig, results: dict[str, GroupResult], fleet_run_id: str) -> dict:
    """Tag each group's registered model as part of the fleet, log the router (its
    ``fleet.json``) to the fleet's run ``fleet_run_id``, register it as a version of
    ``register.model_name`` and make it ``@champion`` (under the promotion lock); ends
    the run. Returns the registration (name, version, URI, groups)."""
    import mlflow

    name, uri = cfg.register_.model_name, tracking_uri(cfg.mlflow)
    client = mlflow.MlflowClient(uri)
    for group, result in results.items():
        client.set_registered_model_tag(result.model_name, FLEET_TAG, name)
        client.set_registered_model_tag(result.model_name, "anomflow.group", group)
    sensors = _fleet_sensors(client, results) if cfg.register_.input_schema else None
    fleet = fleet_map(name, cfg.fleet.group_by, {g: r.assets for g, r in results.items()}, {g: r.model_name for g, r in results.items()})
    with tempfile.TemporaryDirectory() as tmp, using_tracking_uri(uri):
        (Path(tmp) / FLEET_FILE).write_text(json.dumps(fleet, indent=2))
        code = copy_serving_code(Path(tmp) / "code")
        with mlflow.start_run(run_id=fleet_run_id):
            info = mlflow.pyfunc.log_model(
                name="fleet_router", python_model=str(FLEET_ENTRY_FILE), artifacts={"fleet": str(Path(tmp) / FLEET_FILE)},
                code_paths=[str(code)], pip_requirements=pinned_requirements(), signature=served_signature(sensors),
                registered_model_name=name,
            )
    version = str(info.registered_model_version)
    reason = (f"fleet router: {sum(len(r.assets) for r in results.values())} assets in {len(results)} groups "
              f"(by {cfg.fleet.group_by}), each scored by its group's @{CHAMPION}")
    with promotion_lock(client, name):
        client.set_registered_model_alias(name, CHAMPION, version)
    for key, value in {KIND_TAG: ROUTER_KIND, "promotion.alias": CHAMPION, "promotion.reason": reason}.items():
        client.set_model_version_tag(name, version, key, value)
    client.update_model_version(name, version, description=(
        f"Routes each asset to its group's model ({name}-<group>@{CHAMPION}), loaded when this version is loaded; "
        "request and answer as the single model's. Groups: " + ", ".join(f"{g} ({len(r.assets)} assets)" for g, r in results.items())
    ))
    client.set_tag(fleet_run_id, "anomflow.registered_version", version)
    client.set_terminated(fleet_run_id)
    print(f"{name} version {version}: @{CHAMPION} ({reason})", flush=True)
    return {"model_name": name, "version": version, "tracking_uri": uri, "model_uri": f"models:/{name}/{version}", "alias": CHAMPION, "reason": reason,
            "groups": {g: r.as_dict() for g, r in results.items()}}
