"""OmniAnomaly (Su et al., KDD 2019, "Robust Anomaly Detection for Multivariate Time
Series through Stochastic Recurrent Neural Network"), a stochastic recurrent VAE.

Per window x_1..x_T (T = window):

* inference net q(z_t | x_≤t, z_{t−1}): a GRU over x, then two dense layers, give e_t;
  one dense layer on [e_t, z⁰_{t−1}] gives the mean and (softplus + ``std_eps``) std of
  z⁰_t, sampled by reparameterisation (z⁰_0 = 0: the stochastic variable connection);
  K planar flows map each z⁰_t to z_t = z^K_t, and
  log q(z_t) = log q(z⁰_t) − Σ_k log|det J_k|;
* prior p(z): linear-Gaussian state space, z_1 ~ N(0, I),
  z_t = A z_{t−1} + ε_t, ε_t ~ N(0, diag σ²), A (initialised to I) and σ = softplus(·)
  + ``std_eps`` (initialised to 1) learnable;
* generative net p(x_t | z_≤t): a GRU over z, then two dense layers, give d_t; dense
  layers give the mean and softplus + ``std_eps`` std of a diagonal Gaussian over x_t.

Loss = −ELBO per step (SGVB); anomaly score of a step = −log p(x_t | z_≤t), in nats,
averaged over posterior samples (the paper's reconstruction probability, negated).

Deviations from the paper and the official TensorFlow code (NetManAIOps/OmniAnomaly):

* Prior: A and σ are learnable and z_t itself is the Markov state. The official code
  uses a fixed ``LinearGaussianStateSpaceModel`` with identity transition, unit
  transition noise and, on top, unit *observation* noise (z_t = s_t + v_t over a random
  walk s_t), scored by Kalman filtering.
* The hidden dense layers use ReLU; the official ``rnn()`` helper stacks
  ``tf.layers.dense`` layers without activation (which compose to one linear map).
* Sampling noise is standard normal with gradients through the whole recurrence; the
  official sampler draws truncated-normal noise inside ``tf.scan(back_prop=False)``.
* log q(z⁰_t) is evaluated with the same conditional [e_t, z⁰_{t−1}] used for
  sampling; the official ``log_prob_step`` feeds [z_t, e_t] to the same dense layers.
* With L > 1 posterior samples the score averages −log p(x_t | z) over the samples;
  the official ``rnn()`` averages the z samples *before* the decoder GRU, i.e. scores
  one decoding of the mean z.
As in the official code, the flow runs after the whole z⁰ sequence is sampled (q is
conditioned on the pre-flow z⁰_{t−1}), and its parameters are shared over time steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from components.models.planar_flow import PlanarFlows

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def normal_log_prob(value: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log N(value; mean, diag std²) summed over the last axis: (..., d) → (...)."""
    return torch.sum(-0.5 * ((value - mean) / std) ** 2 - torch.log(std) - _HALF_LOG_2PI, dim=-1)


def _dense_stack(in_size: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_size, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())


class LinearGaussianPrior(nn.Module):
    """p(z_1) = N(0, I), p(z_t | z_{t−1}) = N(A z_{t−1}, diag σ²) over windows of z."""

    def __init__(self, z_dim: int, std_eps: float) -> None:
        super().__init__()
        self.transition = nn.Parameter(torch.eye(z_dim))  # A
        self.raw_std = nn.Parameter(torch.full((z_dim,), math.log(math.e - 1)))  # softplus → 1
        self.std_eps = std_eps

    def params(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of p(z_t | z_{t−1}) for every step of z (..., window, z_dim)."""
        mean = torch.cat([torch.zeros_like(z[..., :1, :]), z[..., :-1, :] @ self.transition.T], dim=-2)
        step_std = (F.softplus(self.raw_std) + self.std_eps).expand_as(z[..., 1:, :])
        return mean, torch.cat([torch.ones_like(z[..., :1, :]), step_std], dim=-2)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z_t | z_{t−1}) per step, (..., window, z_dim) → (..., window)."""
        return normal_log_prob(z, *self.params(z))


@dataclass(frozen=True)
class OmniAnomalyOutput:
    """One pass over windows with L posterior samples; every field leads with (L, batch, window)."""

    z0: torch.Tensor  # (L, batch, window, z_dim) posterior sample before the flow
    z: torch.Tensor  # (L, batch, window, z_dim) posterior sample after the flow
    q_mean: torch.Tensor  # (L, batch, window, z_dim) mean of q(z⁰_t | x_≤t, z⁰_{t−1})
    q_std: torch.Tensor  # (L, batch, window, z_dim) its std
    log_q: torch.Tensor  # (L, batch, window) log q(z_t | ·), flow included
    log_prior: torch.Tensor  # (L, batch, window) log p(z_t | z_{t−1})
    x_mean: torch.Tensor  # (L, batch, window, n_features) mean of p(x_t | z_≤t)
    x_std: torch.Tensor  # (L, batch, window, n_features) its std
    log_px: torch.Tensor  # (L, batch, window) log p(x_t | z_≤t), summed over features

    @property
    def reconstruction(self) -> torch.Tensor:
        """−log p(x_t | z_≤t) per step, (L, batch, window)."""
        return -self.log_px

    @property
    def kl(self) -> torch.Tensor:
        """Single-sample KL estimate log q(z_t | ·) − log p(z_t | z_{t−1}), (L, batch, window)."""
        return self.log_q - self.log_prior


class OmniAnomaly(nn.Module):
    """Stochastic recurrent VAE over windows (batch, window, n_features); see the module docstring."""

    def __init__(
        self,
        n_features: int,
        z_dim: int = 3,
        gru_hidden: int = 500,
        dense_hidden: int = 500,
        n_flows: int = 20,
        std_eps: float = 1e-4,
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.z_dim = z_dim
        self.std_eps = std_eps
        self.q_gru = nn.GRU(n_features, gru_hidden, batch_first=True)
        self.q_dense = _dense_stack(gru_hidden, dense_hidden)
        self.q_params = nn.Linear(dense_hidden + z_dim, 2 * z_dim)  # [e_t, z_{t−1}] → mean, raw std
        self.flows = PlanarFlows(z_dim, n_flows)
        self.prior = LinearGaussianPrior(z_dim, std_eps)
        self.p_gru = nn.GRU(z_dim, gru_hidden, batch_first=True)
        self.p_dense = _dense_stack(gru_hidden, dense_hidden)
        self.x_mean = nn.Linear(dense_hidden, n_features)
        self.x_std = nn.Linear(dense_hidden, n_features)

    def _sample_posterior(self, x: torch.Tensor, n_samples: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z⁰, mean and std of q, each (L·batch, window, z_dim), sample-major."""
        e = self.q_dense(self.q_gru(x)[0])  # (batch, window, dense_hidden), shared by the samples
        w_e, w_z = self.q_params.weight.split([e.shape[-1], self.z_dim], dim=1)
        # the dense layer on [e_t, z_{t−1}], split so that the e_t part runs once for all steps
        from_e = F.linear(e, w_e, self.q_params.bias).repeat(n_samples, 1, 1)
        noise = torch.randn(from_e.shape[0], x.shape[1], self.z_dim, dtype=x.dtype, device=x.device)
        z_prev = torch.zeros_like(noise[:, 0])
        zs, means, stds = [], [], []
        for t in range(x.shape[1]):
            mean, raw_std = (from_e[:, t] + z_prev @ w_z.T).chunk(2, dim=-1)
            std = F.softplus(raw_std) + self.std_eps
            z_prev = mean + std * noise[:, t]
            zs.append(z_prev)
            means.append(mean)
            stds.append(std)
        return torch.stack(zs, dim=1), torch.stack(means, dim=1), torch.stack(stds, dim=1)

    def forward(self, x: torch.Tensor, n_samples: int = 1) -> OmniAnomalyOutput:
        """x (batch, window, n_features) → the ELBO terms for ``n_samples`` posterior samples."""
        batch, window, _ = x.shape
        z0, q_mean, q_std = self._sample_posterior(x, n_samples)
        z, log_det = self.flows(z0)
        log_q = normal_log_prob(z0, q_mean, q_std) - log_det
        d = self.p_dense(self.p_gru(z)[0])
        x_mean = self.x_mean(d)
        x_std = F.softplus(self.x_std(d)) + self.std_eps
        log_px = normal_log_prob(x.repeat(n_samples, 1, 1), x_mean, x_std)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(n_samples, batch, window, *t.shape[2:])

        return OmniAnomalyOutput(
            z0=split(z0), z=split(z), q_mean=split(q_mean), q_std=split(q_std), log_q=split(log_q),
            log_prior=split(self.prior.log_prob(z)), x_mean=split(x_mean), x_std=split(x_std), log_px=split(log_px),
        )


@torch.no_grad()
def anomaly_scores(model: OmniAnomaly, windows: torch.Tensor, n_samples: int = 1, batch_size: int = 256) -> torch.Tensor:
    """Per-step anomaly scores −log p(x_t | z_≤t) (nats, higher = more anomalous),
    averaged over ``n_samples`` posterior samples: windows (batch, window, n_features)
    → (batch, window). The paper scores the last step of each window (``[:, -1]``).
    Windows run in chunks of ``batch_size`` to bound memory."""
    return torch.cat([model(chunk, n_samples).reconstruction.mean(dim=0) for chunk in windows.split(batch_size)])
