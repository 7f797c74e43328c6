"""Anomaly Transformer: shapes, associations, discrepancy, where each minimax phase's
gradients go, training with the Lightning module, and what the score makes of a spike. CPU only."""

import math

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from components.models.anomaly_transformer import AnomalyTransformer, anomaly_scores, association_discrepancy
from components.training.anomaly_transformer_module import AnomalyTransformerModule
from components.detectors.anomaly_transformer import AnomalyTransformerDetector, AnomalyTransformerSettings

TINY = dict(window=16, d_model=16, n_heads=4, e_layers=2, d_ff=32, dropout=0.0, k=3.0, lr=1e-2, lr_decay=1.0,
            temperature=50.0, max_epochs=1, batch_size=8)


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch):
    """Any attempt to move something to a GPU fails the test. One intra-op thread: on
    these tiny tensors a second thread only adds synchronisation (≈10× slower on 2 cores)."""
    def refuse(*args, **kwargs):
        raise AssertionError("CUDA call on a CPU-only model")

    monkeypatch.setattr(torch.Tensor, "cuda", refuse)
    monkeypatch.setattr(torch.nn.Module, "cuda", refuse)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def teacher_config(profile: str) -> AnomalyTransformerSettings:
    """The package's named profile (``models.anomaly_transformer.profile``)."""
    return AnomalyTransformerSettings(profile=profile)


def build_network(cfg: AnomalyTransformerSettings, n_features: int) -> AnomalyTransformer:
    return AnomalyTransformerDetector.network_from(cfg, n_features)


def tiny_net(n_features: int = 3, e_layers: int = 2) -> AnomalyTransformer:
    return AnomalyTransformer(n_features, d_model=16, n_heads=4, e_layers=e_layers, d_ff=32)


def fit(module: AnomalyTransformerModule, windows: torch.Tensor, epochs: int, batch_size: int, shuffle: bool = True) -> pl.Trainer:
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    loader = DataLoader(windows, batch_size=batch_size, shuffle=shuffle)
    trainer.fit(module, loader, DataLoader(windows, batch_size=batch_size))
    return trainer


def sine_windows(starts: range, window: int = 32) -> torch.Tensor:
    t = np.arange(2000)
    series = np.stack([np.sin(t / 8), np.cos(t / 13)], axis=1).astype(np.float32)
    return torch.from_numpy(np.stack([series[i : i + window] for i in starts]))


def spiked(start: int, window: int = 32) -> tuple[torch.Tensor, int]:
    """One clean sine window with +3 added to sensor 0 at one step; (1, window, 2) and that step."""
    x = sine_windows(range(start, start + 1), window)
    x[0, start % window, 0] += 3.0
    return x, start % window


@pytest.fixture(scope="module")
def sine_model() -> tuple[AnomalyTransformerModule, float]:
    """The ``fast`` profile trained briefly (5 epochs) on clean two-sensor sine windows."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = teacher_config("fast")
    module = AnomalyTransformerModule(build_network(cfg, 2), cfg)
    fit(module, sine_windows(range(0, 1960, 4), cfg.window), epochs=cfg.max_epochs, batch_size=cfg.batch_size)
    return module, cfg.temperature


def test_shapes_and_associations_are_distributions():
    net = tiny_net()
    x = torch.randn(5, 12, 3)
    reconstruction, series, prior, sigma = net(x)
    assert reconstruction.shape == (5, 12, 3)
    assert len(series) == len(prior) == len(sigma) == 2
    for s, p, sg in zip(series, prior, sigma):
        assert s.shape == p.shape == (5, 4, 12, 12)
        assert sg.shape == (5, 4, 12)
        assert torch.allclose(s.sum(-1), torch.ones(5, 4, 12))
        assert torch.allclose(p.sum(-1), torch.ones(5, 4, 12))
        assert (sg > 0).all() and (sg <= 2.0001).all()  # 3^(sigmoid + 1e-5) − 1


def test_prior_is_the_normalised_gaussian_kernel_of_the_official_code():
    _, _, prior, sigma = tiny_net()(torch.randn(2, 10, 3))
    distance = torch.arange(10.0).view(-1, 1) - torch.arange(10.0).view(1, -1)
    sg = sigma[0].unsqueeze(-1)
    density = 1.0 / (math.sqrt(2 * math.pi) * sg) * torch.exp(-distance**2 / 2 / sg**2)
    assert torch.allclose(prior[0], density / density.sum(-1, keepdim=True), atol=1e-6)


def test_discrepancy_is_symmetric_zero_on_equal_and_positive_otherwise():
    _, series, prior, _ = tiny_net()(torch.randn(4, 12, 3))
    forward = association_discrepancy(series, prior)
    assert forward.shape == (4, 12)
    assert torch.equal(forward, association_discrepancy(prior, series))
    assert (forward > 0).all()
    assert torch.equal(association_discrepancy(series, series), torch.zeros(4, 12))


def _grads(net: AnomalyTransformer, loss: torch.Tensor) -> dict[str, float]:
    net.zero_grad()
    loss.backward()
    return {name: 0.0 if p.grad is None else p.grad.abs().sum().item() for name, p in net.named_parameters()}


def test_each_minimax_phase_reaches_only_its_association():
    net = tiny_net(e_layers=2)
    x = torch.randn(4, 12, 3)
    k = 3.0

    _, series, prior, _ = net(x)
    grads = _grads(net, -k * association_discrepancy(series, [p.detach() for p in prior]).mean())
    for layer in range(2):
        assert grads[f"layers.{layer}.attention.sigma_projection.weight"] == 0.0
        assert grads[f"layers.{layer}.attention.query_projection.weight"] > 0.0
        assert grads[f"layers.{layer}.attention.key_projection.weight"] > 0.0

    _, series, prior, _ = net(x)
    grads = _grads(net, association_discrepancy([s.detach() for s in series], prior).mean())
    for layer in range(2):
        assert grads[f"layers.{layer}.attention.sigma_projection.weight"] > 0.0
    assert grads["layers.1.attention.query_projection.weight"] == 0.0
    assert grads["layers.1.attention.key_projection.weight"] == 0.0
    # Earlier layers feed the later layers' σ, so (as in the official code) they do learn from the prior phase.
    assert grads["layers.0.attention.query_projection.weight"] > 0.0


def test_module_overfits_a_tiny_batch_and_logs_its_metrics():
    cfg = teacher_config("fast").model_copy(update=TINY)
    t = torch.arange(16.0)
    windows = torch.stack([torch.stack([torch.sin(t / 3 + i), torch.cos(t / 5 + 2 * i), 0.1 * i + 0 * t], 1) for i in range(8)])
    module = AnomalyTransformerModule(build_network(cfg, 3), cfg)
    with torch.no_grad():
        before = torch.mean((module.net(windows)[0] - windows) ** 2).item()
    trainer = fit(module, windows.repeat(20, 1, 1), epochs=8, batch_size=8, shuffle=False)  # 160 steps on the same batch
    with torch.no_grad():
        after = torch.mean((module.net(windows)[0] - windows) ** 2).item()
    assert after < before / 5
    metrics = trainer.callback_metrics
    for name in ("train_loss", "train_rec", "train_series_disc", "train_prior_disc", "val_loss"):
        assert torch.isfinite(metrics[name])
    assert metrics["train_loss"] == metrics["train_rec"]
    assert metrics["train_series_disc"] > 0 and metrics["train_prior_disc"] > 0


def test_learning_rate_follows_the_official_schedule():
    cfg = teacher_config("fast").model_copy(update={**TINY, "lr_decay": 0.5})
    module = AnomalyTransformerModule(build_network(cfg, 3), cfg)
    fit(module, torch.randn(8, 16, 3), epochs=4, batch_size=8)
    # epochs 0 and 1 at lr, then halved each epoch: the 5th epoch would run at lr / 8
    assert module.optimizers().param_groups[0]["lr"] == pytest.approx(cfg.lr / 8)


def test_score_is_the_discrepancy_weighted_error_which_peaks_at_a_spike(sine_model):
    module, temperature = sine_model
    x, step = spiked(1000)
    scores = anomaly_scores(module.net, x, temperature=temperature)
    assert scores.shape == (1, 32)
    assert module.net.training  # scoring restores the mode it found
    module.net.eval()
    with torch.no_grad():
        reconstruction, series, prior, _ = module.net(x)
    module.net.train()
    error = torch.mean((reconstruction - x) ** 2, dim=-1)[0]
    weight = torch.softmax(-temperature * len(series) * association_discrepancy(series, prior), dim=-1)[0]
    assert torch.allclose(scores[0], weight * error)
    assert int(error.argmax()) == step and error[step] > 20 * error.median()  # the network learnt the sine


def test_paper_score_is_higher_on_an_injected_spike_than_on_the_clean_window(sine_model):
    """The paper's eq. 8 has no temperature: softmax(−AssDis) with AssDis the mean over
    layers, i.e. ``temperature = 1 / e_layers`` here. At the spiked step the spiked window
    scores above the same window without the spike (17 of 19 positions when written;
    with the official code's temperature 50 only 5 of 19, see the xfail below)."""
    module, _ = sine_model
    paper_temperature = 1.0 / len(module.net.layers)
    higher = []
    for start in range(100, 1900, 97):
        x, step = spiked(start)
        clean = sine_windows(range(start, start + 1), x.shape[1])
        scores = [anomaly_scores(module.net, w, temperature=paper_temperature)[0, step] for w in (x, clean)]
        higher.append(bool(scores[0] > scores[1]))
    assert sum(higher) >= 15


@pytest.mark.xfail(strict=True, reason="faithful finding: with the official temperature 50 the softmax is one-hot "
                   "on the smallest-discrepancy step, which is seldom the spike (1 of 19 here)")
def test_score_ranks_a_spike_first_in_its_window_with_the_official_temperature(sine_model):
    module, temperature = sine_model
    hits = [int(anomaly_scores(module.net, x, temperature=temperature)[0].argmax()) == step
            for x, step in map(spiked, range(100, 1900, 97))]
    assert sum(hits) >= len(hits) // 2


def test_profiles():
    paper, fast = teacher_config("paper"), teacher_config("fast")
    assert (paper.window, paper.d_model, paper.n_heads, paper.e_layers, paper.d_ff) == (100, 512, 8, 3, 512)
    assert (paper.k, paper.lr, paper.batch_size, paper.max_epochs, paper.temperature) == (3.0, 1e-4, 32, 10, 50.0)
    assert fast.d_model % fast.n_heads == 0 and fast.window < paper.window
    with pytest.raises(ValueError, match="nope"):
        teacher_config("nope")
