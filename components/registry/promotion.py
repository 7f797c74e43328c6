"""Promotion gate: a new version takes ``@champion`` only if it beats the current
champion on the same evaluation data; otherwise it becomes ``@challenger``."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from components.frames import LABEL, SESSION
from components.scoring.metrics import point_metrics, pr_auc, roc_auc, vus_pr, vus_roc

CHAMPION = "champion"
CHALLENGER = "challenger"


def served_metric(model_uri: str, frame: pd.DataFrame, metric: str, vus_window: int = 100) -> float:
    """Score ``frame`` (original units, with ``label``) through the pyfunc at ``model_uri``
    exactly as a client would, and compute ``metric`` on the rows it scored
    (``vus_window`` steps for VUS)."""
    import mlflow

    model = mlflow.pyfunc.load_model(model_uri)
    request = frame.drop(columns=[c for c in (LABEL, SESSION) if c in frame.columns])
    out = model.predict(request)
    scores = out["score"].to_numpy(dtype=float)
    scored = np.isfinite(scores)
    labels = frame[LABEL].to_numpy()[scored]
    if metric == "pr_auc":
        return float(pr_auc(labels, scores[scored]))
    if metric == "roc_auc":
        return float(roc_auc(labels, scores[scored]))
    if metric in ("vus_pr", "vus_roc"):
        volume = vus_pr if metric == "vus_pr" else vus_roc
        return float(volume(labels, scores[scored], window=vus_window))
    predicted = (out["level"].to_numpy()[scored] != "normal").astype(int)
    return float(point_metrics(labels, predicted)[metric])


@dataclass(frozen=True)
class PromotionDecision:
    version: str
    alias: str
    metric: str
    candidate_value: float | None
    champion_version: str | None
    champion_value: float | None
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def decide_and_alias(name: str, version: str, frame: pd.DataFrame, metric: str, tracking_uri: str, vus_window: int = 100) -> PromotionDecision:
    """Compare version ``version`` of ``name`` with the current champion on ``frame``
    and set the alias. Without labels no comparison is possible: the first version
    becomes champion, later ones challengers. A champion whose files are gone (MLflow's
    RESOURCE_DOES_NOT_EXIST) is replaced; any other failure to load it stops the decision.

    Reading the champion, scoring it and setting the alias happen under ``name``'s
    promotion lock (:mod:`components.registry.promotion_lock`): concurrent retrains
    registering into one store decide one after the other, each against the champion the
    one before it left, so the last to decide never replaces a better model it did not see."""
    import mlflow

    from components.registry.promotion_lock import promotion_lock

    client = mlflow.MlflowClient(tracking_uri)
    labelled = LABEL in frame.columns and frame[LABEL].nunique() == 2
    candidate_value = served_metric(f"models:/{name}/{version}", frame, metric, vus_window) if labelled else None
    with promotion_lock(client, name):
        decision = _decide(client, name, str(version), frame, metric, vus_window, candidate_value, labelled)
        client.set_registered_model_alias(name, decision.alias, version)
    decision_tags = {
        "promotion.metric": metric, "promotion.alias": decision.alias, "promotion.reason": decision.reason,
        "promotion.candidate_value": "" if candidate_value is None else f"{candidate_value:.6g}",
        "promotion.champion_version": decision.champion_version or "",
        "promotion.champion_value": "" if decision.champion_value is None else f"{decision.champion_value:.6g}",
    }
    for key, value in decision_tags.items():  # on the version itself: the registry page says why it has its alias
        client.set_model_version_tag(name, version, key, value)
    return decision


def _decide(
    client, name: str, version: str, frame: pd.DataFrame, metric: str, vus_window: int, candidate_value: float | None, labelled: bool,
) -> PromotionDecision:
    """The alias ``version`` gets against the champion now (module doc of :func:`decide_and_alias`)."""
    from mlflow.exceptions import MlflowException

    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        champion = None
    if champion is None:
        alias, champion_value, reason = CHAMPION, None, "no champion yet"
    elif not labelled:
        alias, champion_value, reason = CHALLENGER, None, "evaluation data has no labels: kept the current champion"
    else:
        try:
            champion_value = served_metric(f"models:/{name}/{champion.version}", frame, metric, vus_window)
        except MlflowException as err:
            if err.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            champion_value = None  # its files are gone (a deleted artifact store): nothing left to serve
        if champion_value is None:
            alias, reason = CHAMPION, f"champion v{champion.version} cannot be loaded (its files are missing): replaced"
        elif np.isfinite(candidate_value) and (not np.isfinite(champion_value) or candidate_value > champion_value):
            alias, reason = CHAMPION, f"{metric} {candidate_value:.4f} > champion v{champion.version} {champion_value:.4f}"
        else:
            alias, reason = CHALLENGER, f"{metric} {candidate_value:.4f} <= champion v{champion.version} {champion_value:.4f}"
    return PromotionDecision(
        version=version, alias=alias, metric=metric, candidate_value=candidate_value,
        champion_version=None if champion is None else str(champion.version),
        champion_value=champion_value, reason=reason,
    )
