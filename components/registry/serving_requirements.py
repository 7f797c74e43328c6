"""The pip requirements logged with every anomflow pyfunc model.

MLflow infers a model's requirements by loading it in a subprocess (several seconds per
model) and then prunes every package that another one depends on. For anomflow that
yields ``anomflow==0.1.0``, which is on no index (the package travels as the model's
``code_paths``), and drops ``torch``, which anomflow depends on: an environment built from
it (``mlflow models serve`` without ``--env-manager local``, ``build-docker``) cannot load
the model. So the requirements are declared: the distributions whose modules the served
model's code imports (checked against the real import closure in
``tests/registry/test_serving_requirements.py``), pinned to the installed versions.
"""

from __future__ import annotations

from importlib import metadata

from packaging.version import Version

SERVING_DISTRIBUTIONS = (
    "mlflow",
    "torch",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "pydantic",
    "PyYAML",
    "onnxruntime",
)


def pinned_requirements(distributions: tuple[str, ...] = SERVING_DISTRIBUTIONS) -> list[str]:
    """``name==version`` for each distribution at its installed version, without a local
    label (``torch 2.13.0+cpu`` → ``torch==2.13.0``, the version PyPI serves), as MLflow
    pins the packages it infers."""
    return [f"{name}=={Version(metadata.version(name)).public}" for name in distributions]
