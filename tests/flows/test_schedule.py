"""Scheduled retraining: the served deployment and prefect.yaml point at real flows."""

import importlib
from pathlib import Path

import yaml
from prefect.client.schemas.schedules import CronSchedule

from flows.schedule import DEPLOYMENT_NAME, retrain_deployment

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_serve_deployment_has_the_cron_schedule():
    deployment = retrain_deployment("*/15 * * * *", "conf/pipeline.yaml")
    assert deployment.name == DEPLOYMENT_NAME
    assert deployment.parameters == {"config_path": "conf/pipeline.yaml"}
    assert [s.schedule.cron for s in deployment.schedules] == ["*/15 * * * *"]


def test_prefect_yaml_entrypoints_and_schedules_are_valid():
    spec = yaml.safe_load((REPO_ROOT / "prefect.yaml").read_text())
    names = set()
    for deployment in spec["deployments"]:
        module, func = deployment["entrypoint"].split(":")
        flow = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), func)
        assert hasattr(flow, "serve"), f"{deployment['entrypoint']} is not a Prefect flow"
        names.add(flow.name)
        for schedule in deployment.get("schedules", []):
            CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert names == {"retrain", "score"}
