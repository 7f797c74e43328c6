"""One registry maps a kind to its detector class: each kind a module of its own under
components/detectors/ with its settings class, its name written once."""

from __future__ import annotations

import importlib
import inspect

import pytest

from components.config import ModelsConfig
from components.detectors.base import Detector, DetectorSettings
from components.detectors.registry import DETECTORS, KINDS, SERVED_KIND, detector_class


def test_kinds_are_the_registry_s_keys_with_the_served_model_first():
    assert KINDS == tuple(DETECTORS) and len(set(KINDS)) == len(KINDS)
    assert SERVED_KIND == "student" == KINDS[0]
    assert set(KINDS) == {"student", "lstm_ae", "anomaly_transformer", "omnianomaly", "pca", "iforest", "kmeans_ad", "copod", "ecod"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_its_detector_and_settings_class_in_its_own_module(kind):
    cls = detector_class(kind)
    assert cls is DETECTORS[kind] and issubclass(cls, Detector) and not inspect.isabstract(cls)
    assert cls.kind == kind
    assert issubclass(cls.Settings, DetectorSettings)
    assert cls.__module__ == cls.Settings.__module__ == f"components.detectors.{kind}"
    module = importlib.import_module(cls.__module__)
    assert getattr(module, cls.__name__) is cls


def test_modules_and_settings_classes_are_distinct():
    classes = [detector_class(kind) for kind in KINDS]
    assert len({cls.__module__ for cls in classes}) == len(KINDS)
    assert len({cls.Settings for cls in classes}) == len(KINDS)
    assert len({cls for cls in classes}) == len(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_section_under_models_validated_by_its_settings(kind):
    field = ModelsConfig.model_fields[kind]
    assert detector_class(kind).Settings in (field.annotation, *getattr(field.annotation, "__args__", ()))
    assert set(ModelsConfig.model_fields) == set(KINDS)


def test_an_unknown_kind_is_an_error_naming_the_known_ones():
    with pytest.raises(ValueError) as raised:
        detector_class("lof")
    message = str(raised.value)
    assert "unknown model 'lof'" in message
    for kind in KINDS:
        assert repr(kind) in message
