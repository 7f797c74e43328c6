"""Planar normalising flows (Rezende & Mohamed, ICML 2015, "Variational Inference with
Normalizing Flows"), as used on OmniAnomaly's posterior.

One layer maps a vector z (last axis, size ``dim``) to

    f(z) = z + û · tanh(wᵀz + b),   log|det ∂f/∂z| = log|1 + ûᵀ w · tanh'(wᵀz + b)|

where û = u + (m(wᵀu) − wᵀu) · w / ‖w‖² and m(a) = −1 + softplus(a). The
reparameterisation keeps wᵀû > −1, which makes f invertible (paper, appendix A.1)
whatever u is. Parameters are initialised from N(0, 0.01²), b = 0, as in tfsnippet's
``planar_normalizing_flows`` used by the official OmniAnomaly code, so a fresh flow is
close to the identity.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class PlanarFlow(nn.Module):
    """One planar layer on the last axis: (..., dim) → (..., dim) and log|det J| (...)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(dim) * 0.01)
        self.u = nn.Parameter(torch.randn(dim) * 0.01)
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> torch.Tensor:
        """û, the constrained u with wᵀû > −1, shape (dim,)."""
        wu = self.w @ self.u
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / (self.w @ self.w)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u_hat = self.u_hat()
        h = torch.tanh(z @ self.w + self.b)  # (...)
        out = z + h.unsqueeze(-1) * u_hat
        log_det = torch.log(torch.abs(1 + (1 - h**2) * (self.w @ u_hat)))
        return out, log_det


class PlanarFlows(nn.Module):
    """``n_layers`` planar layers in sequence; ``n_layers=0`` is the identity."""

    def __init__(self, dim: int, n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(PlanarFlow(dim) for _ in range(n_layers))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (..., dim) → (f_K ∘ … ∘ f_1(z), Σ_k log|det J_k|) with shapes (..., dim), (...)."""
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        for layer in self.layers:
            z, layer_log_det = layer(z)
            log_det = log_det + layer_log_det
        return z, log_det
