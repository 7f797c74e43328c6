"""OmniAnomaly: shapes, the planar flow's log-det against autograd, the KL estimator
against closed forms, training through Lightning, and scoring an injected spike."""

import math

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping
from torch.utils.data import DataLoader

from components.models.omnianomaly import OmniAnomaly, anomaly_scores, normal_log_prob
from components.models.planar_flow import PlanarFlow, PlanarFlows
from components.training.omnianomaly_module import OmniAnomalyModule
from components.detectors.omnianomaly import OmniAnomalyDetector, OmniAnomalySettings


def teacher_config(profile: str) -> OmniAnomalySettings:
    """The package's named profile (``models.omnianomaly.profile``)."""
    return OmniAnomalySettings(profile=profile)


def build_network(cfg: OmniAnomalySettings, n_features: int) -> OmniAnomaly:
    return OmniAnomalyDetector.network_from(cfg, n_features)


def test_shapes_of_every_output():
    torch.manual_seed(0)
    net = OmniAnomaly(n_features=4, z_dim=3, gru_hidden=8, dense_hidden=6, n_flows=2)
    x = torch.randn(5, 7, 4)
    out = net(x, n_samples=3)
    for name in ("z0", "z", "q_mean", "q_std"):
        assert getattr(out, name).shape == (3, 5, 7, 3), name
    for name in ("x_mean", "x_std"):
        assert getattr(out, name).shape == (3, 5, 7, 4), name
    for name in ("log_q", "log_prior", "log_px", "reconstruction", "kl"):
        assert getattr(out, name).shape == (3, 5, 7), name
    assert (out.q_std > 0).all() and (out.x_std > 0).all()
    assert net(x).log_px.shape == (1, 5, 7)
    assert anomaly_scores(net, x, n_samples=2, batch_size=2).shape == (5, 7)
    z, log_det = PlanarFlows(3, 4)(torch.randn(2, 6, 3))
    assert z.shape == (2, 6, 3) and log_det.shape == (2, 6)


def test_profiles_load_and_build():
    paper, fast = teacher_config("paper"), teacher_config("fast")
    assert (paper.window, paper.z_dim, paper.gru_hidden, paper.dense_hidden, paper.n_flows) == (100, 3, 500, 500, 20)
    assert (paper.lr, paper.batch_size, paper.max_epochs, paper.grad_clip) == (1e-3, 50, 20, 10.0)
    assert fast.window < paper.window and fast.gru_hidden < paper.gru_hidden
    net = build_network(fast, 5)
    assert len(net.flows.layers) == fast.n_flows and net.q_gru.hidden_size == fast.gru_hidden
    with pytest.raises(ValueError, match="nope"):
        teacher_config("nope")


def _flow_settings() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    gen = torch.Generator().manual_seed(1)
    settings = [(torch.randn(3, generator=gen, dtype=torch.float64) * s, torch.randn(3, generator=gen, dtype=torch.float64) * s, b)
                for s, b in ((0.5, 0.0), (2.0, 0.3), (3.0, -1.0))]
    w = torch.tensor([1.5, -0.5, 2.0], dtype=torch.float64)
    settings.append((w, -3.0 * w / (w @ w), 0.2))  # wᵀu = −3: the raw u would not be invertible
    settings.append((w, -1.0 * w / (w @ w), 0.0))  # wᵀu = −1: raw det J = 0 at wᵀz + b = 0
    return settings


@pytest.mark.parametrize("w,u,b", _flow_settings())
def test_planar_log_det_matches_autograd_jacobian(w, u, b):
    layer = PlanarFlow(3).double()
    with torch.no_grad():
        layer.w.copy_(w)
        layer.u.copy_(u)
        layer.b.fill_(b)
    assert (layer.w @ layer.u_hat()).item() > -1  # the invertibility condition
    gen = torch.Generator().manual_seed(2)
    for z in [torch.randn(3, generator=gen, dtype=torch.float64) for _ in range(4)] + [-b * w / (w @ w)]:
        jac = torch.autograd.functional.jacobian(lambda v: layer(v)[0], z)
        _, log_det = layer(z)
        assert torch.isclose(log_det, torch.log(torch.abs(torch.linalg.det(jac))), atol=1e-10)


def test_stacked_flow_log_det_matches_autograd_jacobian():
    torch.manual_seed(3)
    flows = PlanarFlows(3, 5).double()
    with torch.no_grad():
        for p in flows.parameters():
            p.normal_(0, 1.5)
    z = torch.randn(3, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: flows(v)[0], z)
    assert torch.isclose(flows(z)[1], torch.log(torch.abs(torch.linalg.det(jac))), atol=1e-10)


def test_log_q_includes_the_flow_log_det():
    torch.manual_seed(4)
    net = OmniAnomaly(n_features=2, z_dim=3, gru_hidden=8, dense_hidden=8, n_flows=3)
    with torch.no_grad():
        for p in net.flows.parameters():
            p.normal_(0, 1.0)
    out = net(torch.randn(4, 6, 2), n_samples=2)
    z, log_det = net.flows(out.z0)
    assert torch.allclose(z, out.z)
    assert torch.allclose(out.log_q, normal_log_prob(out.z0, out.q_mean, out.q_std) - log_det, atol=1e-5)
    assert not torch.allclose(log_det, torch.zeros_like(log_det))


def _analytic_kl(q_mean, q_std, p_mean, p_std) -> torch.Tensor:
    """KL(N(q_mean, q_std²) ‖ N(p_mean, p_std²)), diagonal, summed over the last axis."""
    return torch.sum(torch.log(p_std / q_std) + (q_std**2 + (q_mean - p_mean) ** 2) / (2 * p_std**2) - 0.5, dim=-1)


def _mc_matches_analytic(out, p_mean, p_std) -> None:
    """Monte-Carlo KL (log q − log p on the samples) vs the analytic KL given each
    sample's z_{t−1}, averaged over L samples, within 4 standard errors per step."""
    mc, exact = out.kl.double(), _analytic_kl(out.q_mean, out.q_std, p_mean, p_std).double()
    n = mc.shape[0]
    stderr = (mc - exact).std(dim=0) / math.sqrt(n)
    assert (torch.abs(mc.mean(0) - exact.mean(0)) < 4 * stderr + 1e-4).all()
    assert (exact.mean(0) > 0).all()


def test_kl_estimator_matches_standard_normal_closed_form():
    """No flow, prior reduced to N(0, I) at every step (A = 0, σ = 1)."""
    torch.manual_seed(5)
    net = OmniAnomaly(n_features=3, z_dim=3, gru_hidden=8, dense_hidden=8, n_flows=0, std_eps=1e-4)
    with torch.no_grad():
        net.prior.transition.zero_()
        net.prior.raw_std.fill_(math.log(math.e - 1) - 1e-4)  # softplus + eps = 1 (to 1e-8)
    out = net(torch.randn(2, 6, 3), n_samples=4000)
    _mc_matches_analytic(out, torch.zeros_like(out.q_mean), torch.ones_like(out.q_std))


def test_kl_estimator_matches_closed_form_under_the_state_space_prior():
    torch.manual_seed(6)
    net = OmniAnomaly(n_features=3, z_dim=3, gru_hidden=8, dense_hidden=8, n_flows=0)
    with torch.no_grad():
        net.prior.transition.copy_(torch.eye(3) * 0.7 + 0.2 * torch.randn(3, 3))
        net.prior.raw_std.copy_(torch.tensor([-0.5, 0.3, 1.0]))
    out = net(torch.randn(2, 6, 3), n_samples=4000)
    _mc_matches_analytic(out, *net.prior.params(out.z))


def _sine_windows(n_rows: int, window: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    series = np.stack([np.sin(t / 5), np.cos(t / 7), np.sin(t / 5 + 1.0)], axis=1)
    series = (series + 0.05 * rng.standard_normal(series.shape)).astype(np.float32)
    return torch.from_numpy(np.stack([series[i : i + window] for i in range(0, n_rows - window, 2)]))


def _elbo(net: OmniAnomaly, windows: torch.Tensor) -> float:
    torch.manual_seed(0)
    with torch.no_grad():
        out = net(windows, n_samples=4)
    return -(out.reconstruction + out.kl).mean().item()


@pytest.fixture(scope="module")
def trained():
    pl.seed_everything(0, verbose=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains several times faster on one thread
    cfg = OmniAnomalySettings(window=24, z_dim=3, gru_hidden=24, dense_hidden=24, n_flows=2, lr=5e-3,
                            batch_size=32, max_epochs=12, n_samples=1)
    train, val = _sine_windows(900, cfg.window, 0), _sine_windows(300, cfg.window, 1)
    net = build_network(cfg, 3)
    module = OmniAnomalyModule(net, cfg)
    elbo_before = _elbo(net, train)
    trainer = pl.Trainer(
        max_epochs=cfg.max_epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        callbacks=[EarlyStopping(monitor="val_loss", patience=cfg.max_epochs)],
    )
    try:
        trainer.fit(module, DataLoader(train, batch_size=cfg.batch_size, shuffle=True), DataLoader(val, batch_size=256))
    finally:
        torch.set_num_threads(threads)
    return {"net": net, "cfg": cfg, "train": train, "elbo_before": elbo_before, "metrics": dict(trainer.callback_metrics)}


def test_elbo_rises_during_training(trained):
    metrics = trained["metrics"]
    assert {"train_loss", "train_rec", "train_kl", "val_loss"} <= set(metrics)
    assert torch.isclose(metrics["train_loss"], metrics["train_rec"] + metrics["train_kl"], atol=1e-4)
    elbo_after = _elbo(trained["net"], trained["train"])
    assert elbo_after > trained["elbo_before"] + 2.0  # nats per step
    assert -metrics["val_loss"].item() > trained["elbo_before"] + 2.0


def test_score_is_highest_at_an_injected_spike(trained):
    net, clean = trained["net"], _sine_windows(300, trained["cfg"].window, 2)[:40]
    spiked = clean.clone()
    spike_at = 15
    spiked[:, spike_at, 1] += 4.0
    torch.manual_seed(0)
    scores = anomaly_scores(net, spiked, n_samples=4)
    assert (scores.argmax(dim=1) == spike_at).all()
    clean_scores = anomaly_scores(net, clean, n_samples=4)
    assert (scores[:, spike_at] > clean_scores[:, spike_at] + 3.0).all()


def test_series_scores_are_reproducible_and_leave_the_global_rng_alone():
    from components.models.store import ModelSpec

    cfg = teacher_config("fast").model_copy(update={"window": 8, "n_samples": 2})
    spec = ModelSpec("omnianomaly", ["a", "b"], 8, cfg.architecture())
    torch.manual_seed(0)
    detector = OmniAnomalyDetector(spec, OmniAnomalyDetector.build_network(spec))
    values = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    sessions = np.zeros(50)
    torch.manual_seed(123)
    first = detector.score(values, sessions).score
    after = torch.rand(1)
    torch.manual_seed(123)
    torch.rand(5)  # a different global state must not change the scores
    second = detector.score(values, sessions).score
    np.testing.assert_array_equal(first, second)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), after)  # scoring consumed nothing from the global generator
