"""Entry file for MLflow "models from code": defines the fleet's served model (a router)."""

import mlflow

from components.registry.fleet_router import FleetRouter

mlflow.models.set_model(FleetRouter())
