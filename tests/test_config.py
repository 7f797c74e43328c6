"""The pipeline config: defaults that follow from other settings."""

import pytest

from components.config import PipelineConfig


def test_prepare_times_follow_the_sampling_interval_unless_set():
    """A 1-s plant is resampled at 1 s, not the 60 s of the demo, without a prepare section."""

    def prepare_of(validate: dict, prepare: dict | None = None):
        raw = {"ingest": {"sources": [{"kind": "csv", "glob": "*.csv"}]}, "validate": validate}
        return PipelineConfig.model_validate({**raw, **({"prepare": prepare} if prepare else {})}).prepare

    assert prepare_of({"expected_interval_s": 1}).times() == (1, 10, 5)
    assert prepare_of({"expected_interval_s": 15.0}, {"max_gap_s": 3600}).times() == (15, 3600, 75)
    assert prepare_of({"expected_interval_s": 1}, {"interval_s": 60, "impute_limit_s": 0}).times() == (60, 600, 0)
    with pytest.raises(ValueError, match="set prepare.interval_s"):
        prepare_of({"expected_interval_s": 0.1}).times()
    assert prepare_of({"expected_interval_s": 0.1}, {"interval_s": 1}).times() == (1, 10, 5)
