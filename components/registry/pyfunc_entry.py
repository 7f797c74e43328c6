"""Entry file for MLflow "models from code": defines the served model object."""

import mlflow

from components.registry.served_detector import AnomflowDetector

mlflow.models.set_model(AnomflowDetector())
