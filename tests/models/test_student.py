"""The multi-task student: shapes, the convolution maths, causality of the forecast path,
row-wise encoding equal to per-window scoring, gradients, calibration, overfitting."""

import numpy as np
import pytest
import torch
from torch import nn

from components.models.student import (
    COMPONENTS, CausalConv1d, ComponentErrors, MtlStudent, ScoreCalibration, calibrate, component_errors, component_errors_at, window_scores,
    worst_sensors_mean,
)
from components.training.student_module import StudentModule

WINDOW, SENSORS = 30, 5


@pytest.fixture()
def net() -> MtlStudent:
    torch.manual_seed(0)
    return MtlStudent(SENSORS).eval()


def test_dilated_convolution_equals_torch_conv1d():
    torch.manual_seed(1)
    conv = CausalConv1d(3, 4, kernel_size=3, dilation=2)
    reference = nn.Conv1d(3, 4, kernel_size=3, dilation=2)
    reference.weight.data.copy_(conv.weight.data)
    reference.bias.data.copy_(conv.bias.data)
    x = torch.randn(2, 17, 3)
    expected = reference(x.transpose(1, 2)).transpose(1, 2)
    assert conv(x).shape == (2, 17 - 4, 4)
    torch.testing.assert_close(conv(x), expected, atol=1e-6, rtol=1e-5)


def test_output_shapes_and_receptive_field(net):
    assert net.receptive_field == 15
    x = torch.randn(4, WINDOW, SENSORS)
    out = net(x)
    steps = WINDOW - 14
    assert out.reconstruction.shape == (4, steps, SENSORS)
    assert out.forecast.shape == (4, steps - 1, SENSORS)
    assert out.logits.shape == (4, steps)
    errors = component_errors(net, x)  # the classification component averages the window's steps
    torch.testing.assert_close(torch.from_numpy(errors.classification), torch.sigmoid(out.logits).mean(dim=1).double())
    assert sum(p.numel() for p in net.parameters()) < 20_000  # small by design


def test_forecast_of_a_step_never_sees_that_step(net):
    x = torch.randn(2, WINDOW, SENSORS)
    base = net(x).forecast
    for row in (WINDOW - 1, WINDOW - 5):
        changed = x.clone()
        changed[:, row] += 10.0
        out = net(changed).forecast
        step = row - (net.receptive_field - 1)  # cropped step index of the changed row
        # forecast j predicts step j + 1 from steps ≤ j: only forecasts j ≥ step may change
        torch.testing.assert_close(out[:, :step], base[:, :step])
        if step < out.shape[1]:
            assert not torch.allclose(out[:, step:], base[:, step:])
        else:  # the window's last row is what the last forecast predicts: nothing sees it
            torch.testing.assert_close(out, base)


def test_rowwise_encoding_equals_per_window_scoring(net):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, SENSORS)).astype(np.float32)
    starts = np.array([0, 1, 2, 50, 51, 200, 270])
    windows = torch.from_numpy(values[starts[:, None] + np.arange(WINDOW)])
    a, b = component_errors_at(net, values, starts, WINDOW), component_errors(net, windows)
    for field in ("reconstruction", "forecast", "classification"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-5, atol=1e-7)


def test_distillation_gradient_reaches_the_encoder_and_not_without_targets():
    torch.manual_seed(0)
    module = StudentModule(MtlStudent(SENSORS), 1e-3, input_noise=0.0, classification_weight=1.0)
    windows = torch.randn(8, WINDOW, SENSORS)
    targets = torch.rand(8, WINDOW)
    parts = module.losses({"windows": windows, "targets": targets}, noisy=False)
    grads = torch.autograd.grad(parts["classification"], [module.net.convs[0].weight, module.net.classify.weight, module.net.reconstruct.weight], allow_unused=True)
    assert grads[0].abs().sum() > 0 and grads[1].abs().sum() > 0
    assert grads[2] is None  # the classification loss does not train the reconstruction head
    unsupervised = module.losses(windows, noisy=False)
    assert set(unsupervised) == {"reconstruction", "forecast", "loss"}
    torch.testing.assert_close(unsupervised["loss"], unsupervised["reconstruction"] + unsupervised["forecast"])


def test_classification_loss_enters_the_total_with_its_weight():
    torch.manual_seed(0)
    batch = {"windows": torch.randn(8, WINDOW, SENSORS), "targets": torch.rand(8, WINDOW)}
    module = StudentModule(MtlStudent(SENSORS), 1e-3, input_noise=0.0, classification_weight=0.1)
    parts = module.losses(batch, noisy=False)
    torch.testing.assert_close(parts["loss"], parts["reconstruction"] + parts["forecast"] + 0.1 * parts["classification"])
    heavier = StudentModule(module.net, 1e-3, input_noise=0.0, classification_weight=1.0).losses(batch, noisy=False)
    torch.testing.assert_close(heavier["loss"] - parts["loss"], 0.9 * parts["classification"])


def test_reconstruction_and_forecast_targets_are_the_clean_rows_when_given():
    torch.manual_seed(0)
    module = StudentModule(MtlStudent(SENSORS), 1e-3, input_noise=0.0, classification_weight=1.0)
    clean = torch.randn(4, WINDOW, SENSORS)
    injected = clean.clone()
    injected[:, -5:, 0] += 8.0  # an injected level shift on the last rows
    out = module.net(injected)
    first = module.net.receptive_field - 1
    parts = module.losses({"windows": injected, "clean": clean}, noisy=False)
    torch.testing.assert_close(parts["reconstruction"], torch.nn.functional.mse_loss(out.reconstruction, clean[:, first:]))
    torch.testing.assert_close(parts["forecast"], torch.nn.functional.mse_loss(out.forecast, clean[:, first + 1 :]))
    self_targets = module.losses(injected, noisy=False)  # without ``clean`` the injected rows are the targets
    torch.testing.assert_close(self_targets["reconstruction"], torch.nn.functional.mse_loss(out.reconstruction, injected[:, first:]))
    assert not torch.isclose(self_targets["reconstruction"], parts["reconstruction"])


def test_targets_before_the_receptive_field_and_nan_targets_are_ignored():
    torch.manual_seed(0)
    module = StudentModule(MtlStudent(SENSORS), 1e-3, input_noise=0.0, classification_weight=1.0)
    windows = torch.randn(4, WINDOW, SENSORS)
    targets = torch.rand(4, WINDOW)
    changed = targets.clone()
    changed[:, :14] = 1.0 - changed[:, :14]  # rows no step is aligned with
    changed[0, 20] = float("nan")
    a = module.losses({"windows": windows, "targets": targets}, noisy=False)["classification"]
    b = module.losses({"windows": windows, "targets": changed}, noisy=False)["classification"]
    assert torch.isfinite(b)
    assert abs(a.item() - b.item()) < 0.05  # one of 64 targets dropped, the cropped rows unused


def test_calibration_maps_median_to_0_and_p99_to_1(net):
    rng = np.random.default_rng(0)
    windows = torch.from_numpy(rng.normal(size=(2000, WINDOW, SENSORS)).astype(np.float32))
    errors = component_errors(net, windows)
    calibration = calibrate(errors, {"reconstruction": 1.0}, top_sensors=2)
    assert calibration.weights == {"reconstruction": 1.0, "forecast": 0.0, "classification": 0.0}
    score, per_sensor = window_scores(errors, calibration)
    assert np.median(score) == pytest.approx(0.0, abs=1e-9)
    assert np.quantile(score, 0.99) == pytest.approx(1.0, rel=1e-6)
    assert per_sensor.shape == (2000, SENSORS)
    mixed = calibrate(errors, {c: 1 / 3 for c in COMPONENTS}, top_sensors=2)
    parts = [window_scores(errors, calibrate(errors, {c: 1.0}, top_sensors=2))[0] for c in COMPONENTS]
    np.testing.assert_allclose(window_scores(errors, mixed)[0], sum(parts) / 3, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="unknown score components"):
        calibrate(errors, {"latency": 1.0}, top_sensors=2)


def test_components_average_the_worst_sensors():
    per_sensor = np.array([[1.0, 5.0, 2.0, 4.0], [3.0, 3.0, 3.0, 9.0]])
    np.testing.assert_allclose(worst_sensors_mean(per_sensor, 2), [4.5, 6.0])
    np.testing.assert_allclose(worst_sensors_mean(per_sensor, 4), per_sensor.mean(axis=1))
    np.testing.assert_allclose(worst_sensors_mean(per_sensor, 9), per_sensor.mean(axis=1))  # fewer sensors than k
    rng = np.random.default_rng(0)
    calm = ComponentErrors(rng.uniform(0.5, 1.5, (1000, 8)), rng.uniform(0.5, 1.5, (1000, 8)), rng.uniform(size=1000))
    fault = ComponentErrors(np.ones((1, 8)), np.ones((1, 8)), np.zeros(1))
    fault.reconstruction[0, 3] = 6.0  # one sensor of eight is 6× its normal error
    scores = {k: window_scores(fault, calibrate(calm, {"reconstruction": 1.0}, top_sensors=k))[0][0] for k in (1, 8)}
    assert scores[1] > 3 * scores[8] > 0  # the mean over all sensors dilutes the single faulty sensor
    with pytest.raises(ValueError, match="top_sensors"):
        calibrate(calm, {"reconstruction": 1.0}, top_sensors=0)


def test_components_are_normalised_on_a_log_scale():
    """A component 10× past its calibration range moves the score by its log, so one
    runaway component cannot drown the others whatever the weights (the linear scale
    would give the forecast here 10× the reconstruction's pull)."""
    rng = np.random.default_rng(1)
    calm = ComponentErrors(rng.lognormal(0, 0.5, (4000, 3)), rng.lognormal(0, 0.5, (4000, 3)), rng.uniform(0.01, 0.1, 4000))
    calibration = calibrate(calm, {"reconstruction": 0.5, "forecast": 0.5}, top_sensors=3)
    normalised = (calm.reconstruction / np.asarray(calibration.reconstruction_scale)).mean(axis=1)
    assert calibration.location["reconstruction"] == pytest.approx(np.median(np.log(normalised)), rel=1e-9)
    p99 = {c: np.exp(calibration.location[c] + calibration.spread[c]) for c in ("reconstruction", "forecast")}
    scales = np.asarray(calibration.reconstruction_scale), np.asarray(calibration.forecast_scale)

    def window(rec_times_p99: float, fc_times_p99: float) -> ComponentErrors:
        return ComponentErrors(np.full((1, 3), rec_times_p99 * p99["reconstruction"]) * scales[0],
                               np.full((1, 3), fc_times_p99 * p99["forecast"]) * scales[1], np.array([0.05]))
    at_p99 = window_scores(window(1, 1), calibration)[0][0]
    assert at_p99 == pytest.approx(1.0, rel=1e-6)
    runaway_forecast = window_scores(window(1, 10), calibration)[0][0]
    runaway_both = window_scores(window(10, 10), calibration)[0][0]
    step = 0.5 * np.log(10) / calibration.spread["forecast"]
    assert runaway_forecast - at_p99 == pytest.approx(step, rel=1e-6)
    assert runaway_both - runaway_forecast == pytest.approx(0.5 * np.log(10) / calibration.spread["reconstruction"], rel=1e-6)



def test_a_calibration_stored_before_the_log_scale_scores_as_it_did():
    """Students logged before commit d58abdd stored a linear, all-sensor calibration
    (no ``top_sensors`` or ``floor``); loading it must neither fail nor reinterpret its
    location and spread on the log scale."""
    rng = np.random.default_rng(2)
    errors = ComponentErrors(rng.lognormal(0, 0.5, (3000, 4)), rng.lognormal(0, 0.5, (3000, 4)), rng.uniform(0.01, 0.2, 3000))
    rec_scale, fc_scale = errors.reconstruction.mean(axis=0), errors.forecast.mean(axis=0)
    raw = {"reconstruction": (errors.reconstruction / rec_scale).mean(axis=1), "forecast": (errors.forecast / fc_scale).mean(axis=1),
           "classification": errors.classification}
    location = {c: float(np.median(v)) for c, v in raw.items()}
    spread = {c: float(np.quantile(v, 0.99) - location[c]) for c, v in raw.items()}
    weights = {"reconstruction": 0.4, "forecast": 0.3, "classification": 0.3}
    stored = {"reconstruction_scale": rec_scale.tolist(), "forecast_scale": fc_scale.tolist(), "location": location, "spread": spread, "weights": weights}
    legacy = ScoreCalibration.from_dict(stored)
    assert not legacy.log_scale and legacy.top_sensors == 4
    expected = sum(weights[c] * (raw[c] - location[c]) / spread[c] for c in COMPONENTS)
    score, per_sensor = window_scores(errors, legacy)
    np.testing.assert_allclose(score, expected, rtol=1e-12)
    np.testing.assert_allclose(per_sensor, 0.4 * errors.reconstruction / rec_scale / spread["reconstruction"]
                               + 0.3 * errors.forecast / fc_scale / spread["forecast"], rtol=1e-12)
    current = calibrate(errors, weights, top_sensors=2)
    assert ScoreCalibration.from_dict(current.as_dict()) == current and current.log_scale

def test_a_spike_raises_the_calibrated_score_of_a_trained_student():
    import pytorch_lightning as pl

    from components.training.datamodule import WindowDataModule
    from components.training.fit import fit

    t = np.arange(3000)
    values = np.stack([np.sin(t / 8 + k) for k in range(SENSORS)], axis=1).astype(np.float32)
    starts = np.arange(0, 2500, 2)
    pl.seed_everything(0, verbose=False)
    net = MtlStudent(SENSORS)
    data = WindowDataModule({"train": values, "val": values}, {"train": starts, "val": starts[::10]}, WINDOW, 64, 0)
    result = fit(StudentModule(net, 3e-3, 0.05, 1.0), data, max_epochs=6, patience=3, seed=0)
    assert result.history[-1]["train_reconstruction"] < result.history[0]["train_reconstruction"]
    net.eval()
    calibration = calibrate(component_errors_at(net, values, starts, WINDOW), {"reconstruction": 0.5, "forecast": 0.5}, top_sensors=2)
    spiked = values.copy()
    spiked[2800, 2] += 5.0
    probe = np.arange(2700, 2800 - WINDOW + 1 + 20)
    normal, _ = window_scores(component_errors_at(net, values, probe, WINDOW), calibration)
    anomalous, contributions = window_scores(component_errors_at(net, spiked, probe, WINDOW), calibration)
    covering = probe + WINDOW - 1 >= 2800
    assert anomalous[covering].min() > max(normal.max(), 1.0)
    reconstructed = covering & (probe + net.receptive_field - 1 <= 2800)  # the spike is among the scored steps
    assert (contributions[reconstructed].argmax(axis=1) == 2).all()
