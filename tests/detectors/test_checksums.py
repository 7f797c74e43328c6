"""Saved model files carry SHA-256 checksums that loading verifies: a changed, truncated
or missing file stops the load with one line naming it (issue 30)."""

from __future__ import annotations

import json

import pytest

from components.checksums import CHECKSUM_FILE, ChecksumError
from components.detectors.base import FitContext
from components.detectors.lstm_ae import LstmAeDetector
from components.detectors.registry import load_detector
from tests.detectors.conftest_data import SMALL_SETTINGS, tiny_prepared


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    detector, _ = LstmAeDetector.fit(LstmAeDetector.Settings(**SMALL_SETTINGS["lstm_ae"]), tiny_prepared(), FitContext(seed=1))
    folder = tmp_path_factory.mktemp("lstm_ae")
    detector.save(folder)
    return folder


def _copy(saved, tmp_path):
    target = tmp_path / "model"
    target.mkdir(parents=True)
    for path in saved.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def test_saving_records_exactly_the_files_it_wrote(saved):
    recorded = json.loads((saved / CHECKSUM_FILE).read_text())
    assert recorded["algorithm"] == "sha256" and sorted(recorded["files"]) == ["model.json", "weights.pt"]
    assert not [p for p in saved.iterdir() if p.name.startswith(".")]  # the scratch folder is gone
    load_detector(saved)


def _one_line(error: ChecksumError) -> str:
    message = str(error)
    assert "\n" not in message and len(message) < 400
    return message


def test_changed_bytes_inside_the_weights_stop_the_load_naming_the_file(saved, tmp_path):
    model = _copy(saved, tmp_path)
    weights = bytearray((model / "weights.pt").read_bytes())
    middle = len(weights) // 2
    weights[middle : middle + 16] = bytes((b + 1) % 256 for b in weights[middle : middle + 16])
    (model / "weights.pt").write_bytes(bytes(weights))
    with pytest.raises(ChecksumError) as caught:
        load_detector(model)
    assert _one_line(caught.value).startswith(f"{model / 'weights.pt'}: content differs from its checksum")


def test_truncated_weights_stop_the_load_naming_the_file(saved, tmp_path):
    model = _copy(saved, tmp_path)
    (model / "weights.pt").write_bytes((model / "weights.pt").read_bytes()[:1000])
    with pytest.raises(ChecksumError, match=r"weights.pt: content differs"):
        load_detector(model)


def test_a_changed_spec_or_a_missing_file_or_checksum_is_refused(saved, tmp_path):
    model = _copy(saved, tmp_path)
    spec = json.loads((model / "model.json").read_text())
    (model / "model.json").write_text(json.dumps({**spec, "window": spec["window"] + 1}))
    with pytest.raises(ChecksumError, match=r"model.json: content differs"):
        load_detector(model)
    model = _copy(saved, tmp_path / "again")
    (model / "weights.pt").unlink()
    with pytest.raises(ChecksumError, match=r"weights.pt: missing, but .*checksums.json records it"):
        load_detector(model)
    model = _copy(saved, tmp_path / "older")
    (model / CHECKSUM_FILE).unlink()
    with pytest.raises(ChecksumError, match=r"model.json: no checksum recorded .* retrain the model"):
        load_detector(model)
