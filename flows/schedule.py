"""Scheduled retraining: ``retrain.serve`` with a cron schedule (long-running process)."""

from __future__ import annotations

from flows.retrain import retrain

DEPLOYMENT_NAME = "anomflow-retrain"


def retrain_deployment(cron: str, config_path: str):
    """The deployment object (name, cron schedule, parameters) that ``serve`` runs."""
    return retrain.to_deployment(name=DEPLOYMENT_NAME, cron=cron, parameters={"config_path": config_path})


def serve_retrain(cron: str, config_path: str) -> None:
    """Block and run ``retrain`` on ``cron`` until interrupted."""
    from prefect import serve

    serve(retrain_deployment(cron, config_path))
