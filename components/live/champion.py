"""The watcher's model: the registered model a URI names (by default
``models:/anomflow-detector@champion``), resolved to a version, loaded, and followed: a
new version behind the alias is loaded in a background thread and handed over between
batches; one that fails to load leaves the current model in place, with the reason logged
once per version. A fleet router (:mod:`components.registry.fleet_router`) is followed
through its group models too: a new champion of any group reloads it."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import mlflow
from mlflow.tracking import MlflowClient

from components.registry.fleet_router import CHAMPION, FLEET_TAG, KIND_TAG, ROUTER_KIND, FleetRouter
from components.registry.served_detector import AnomflowDetector
from components.registry.tracking import using_tracking_uri

log = logging.getLogger("anomflow.watch")
_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


@dataclass(frozen=True)
class LoadedModel:
    """A loaded model and the version it is known by (``name/version`` for a registered
    model, else the URI; for a fleet router, its version and its group models',
    :func:`fleet_version`)."""

    version: str
    served: AnomflowDetector | FleetRouter

    def version_of(self, asset: str) -> str:
        """The version an asset's scores record: its group model's under a fleet router (the
        router's for an asset of no group, whose readings the router refuses)."""
        routed = self.served.version_of(asset) if isinstance(self.served, FleetRouter) else None
        return routed or self.version


def fleet_version(router_version: str, members: dict[str, str]) -> str:
    """``name/version[group-model/version,…]``: a fleet router's version and the group
    models behind it, which changes when any group gets a new champion."""
    return f"{router_version}[{','.join(sorted(members.values()))}]"


class Champion:
    """Resolves and loads ``model_uri`` from the MLflow store at ``tracking_uri``."""

    def __init__(self, model_uri: str, tracking_uri: str) -> None:
        self.model_uri, self.tracking_uri = model_uri, tracking_uri
        self._failed: str | None = None

    def resolve(self) -> str:
        """The model version ``model_uri`` names now (``name/version``), or the URI itself
        for one outside the registry."""
        client = MlflowClient(self.tracking_uri)
        alias, pinned = _ALIAS.match(self.model_uri), _VERSION.match(self.model_uri)
        if alias:
            found = client.get_model_version_by_alias(alias["name"], alias["alias"])
        elif pinned:
            found = client.get_model_version(pinned["name"], pinned["version"])
        else:
            return self.model_uri
        version = f"{found.name}/{found.version}"
        if found.tags.get(KIND_TAG) != ROUTER_KIND:
            return version
        members = {}
        for model in client.search_registered_models(f"tags.`{FLEET_TAG}` = '{found.name}'", max_results=1000):
            if CHAMPION in model.aliases:
                members[model.name] = f"{model.name}/{model.aliases[CHAMPION]}"
        return fleet_version(version, members)

    def load(self, version: str) -> LoadedModel:
        """Load ``version`` as :meth:`resolve` names it; a fleet router is known by the
        group models it actually loaded."""
        uri = self.model_uri if version == self.model_uri else f"models:/{version.split('[')[0]}"
        with using_tracking_uri(self.tracking_uri):
            served = mlflow.pyfunc.load_model(uri).unwrap_python_model()
        if isinstance(served, FleetRouter):
            version = fleet_version(version.split("[")[0], served.versions)
        return LoadedModel(version, served)

    def load_current(self) -> LoadedModel:
        return self.load(self.resolve())

    def newer(self, current: str) -> LoadedModel | None:
        """The model behind the URI if it is no longer ``current`` and loads; None if it
        is the same, or (logged once per version) it cannot be resolved or loaded."""
        try:
            version = self.resolve()
        except Exception as err:
            self._log_once(f"resolve:{err}", f"cannot resolve {self.model_uri} ({err}); keeping {current}")
            return None
        if version == current:
            return None
        try:
            return self.load(version)
        except Exception as err:
            self._log_once(version, f"new model {version} failed to load ({type(err).__name__}: {err}); keeping {current}")
            return None

    def _log_once(self, key: str, message: str) -> None:
        if key != self._failed:
            log.error(message)
            self._failed = key


class ChampionFollower(threading.Thread):
    """Checks every ``every_s`` whether the URI names another version, loads it in this
    thread and leaves it in :attr:`ready` for the watcher to take between batches."""

    def __init__(self, champion: Champion, current: str, every_s: float, stop: threading.Event) -> None:
        super().__init__(name="anomflow-champion", daemon=True)
        self.champion, self.current, self.every_s, self.stop = champion, current, every_s, stop
        self._ready: LoadedModel | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            loaded = self.champion.newer(self.current)
            if loaded is not None:
                with self._lock:
                    self._ready = loaded
                self.current = loaded.version

    def take(self) -> LoadedModel | None:
        """The newly loaded model, once (None if there is none)."""
        with self._lock:
            ready, self._ready = self._ready, None
        return ready
