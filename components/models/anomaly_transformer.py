"""Anomaly Transformer (Xu et al., ICLR 2022, "Anomaly Transformer: Time Series Anomaly
Detection with Association Discrepancy", arXiv 2110.02642), device-agnostic.

Each encoder layer computes two associations over the window's time steps, per head:
the *series* association S = softmax(QKᵀ/√d) (learned, data-driven) and the *prior*
association P, a row-normalised Gaussian kernel over |i − j| whose width σ is predicted
per time step and head from the layer input. The association discrepancy (symmetric KL
between P and S) is small at anomalies, whose series association cannot spread over the
whole window; the anomaly score weights the reconstruction error by it.

Follows the official code (thuml/Anomaly-Transformer) except where noted:

- the prior is normalised inside the model (the official solver divides by the row sum
  each time it is used); the Gaussian's 1/(√(2π)σ) factor cancels, so P is computed as a
  softmax over −|i − j|² / 2σ², which is the same numbers with no overflow for tiny σ;
- the distance matrix and positional encoding are built for the input's length on the
  input's device (the official code hard-codes ``.cuda()`` and a fixed window);
- with dropout > 0, the series association is returned before dropout (the official
  code returns it after; its default dropout is 0, as in our profiles).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

KL_EPS = 1e-4  # added inside the logs of the KL terms, as in the official ``my_kl_loss``


def sinusoidal_encoding(length: int, d_model: int, device: torch.device) -> torch.Tensor:
    """Vaswani et al. positional encoding, (length, d_model): sin on even, cos on odd channels."""
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    channels = torch.arange(0, d_model, 2, device=device, dtype=torch.float32)
    div_term = torch.exp(channels * (-math.log(10000.0) / d_model))
    encoding = torch.zeros(length, d_model, device=device)
    encoding[:, 0::2] = torch.sin(position * div_term)
    encoding[:, 1::2] = torch.cos(position * div_term)[:, : d_model // 2]
    return encoding


class DataEmbedding(nn.Module):
    """Token embedding (Conv1d, kernel 3, circular padding, no bias) + positional encoding."""

    def __init__(self, n_features: int, d_model: int, dropout: float) -> None:
        super().__init__()
        self.token = nn.Conv1d(n_features, d_model, kernel_size=3, padding=1, padding_mode="circular", bias=False)
        nn.init.kaiming_normal_(self.token.weight, mode="fan_in", nonlinearity="leaky_relu")
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, window, n_features) → (batch, window, d_model)."""
        tokens = self.token(x.transpose(1, 2)).transpose(1, 2)
        return self.dropout(tokens + sinusoidal_encoding(x.shape[1], tokens.shape[-1], x.device))


def sigma_transform(raw: torch.Tensor) -> torch.Tensor:
    """Official-code map of the σ projection to a kernel width: 3^(sigmoid(5·raw) + 1e-5) − 1 ∈ (≈1e-5, 2)."""
    return torch.pow(3.0, torch.sigmoid(5.0 * raw) + 1e-5) - 1.0


class AnomalyAttention(nn.Module):
    """Multi-head anomaly attention: output S·V plus the series and prior associations.

    ``forward`` takes (batch, window, d_model) and returns the projected output
    (batch, window, d_model), the series association S and prior association P, both
    (batch, heads, window, window) with rows summing to 1, and σ (batch, heads, window)
    in time steps.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        d_head = d_model // n_heads
        self.query_projection = nn.Linear(d_model, d_head * n_heads)
        self.key_projection = nn.Linear(d_model, d_head * n_heads)
        self.value_projection = nn.Linear(d_model, d_head * n_heads)
        self.sigma_projection = nn.Linear(d_model, n_heads)
        self.out_projection = nn.Linear(d_head * n_heads, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, length, _ = x.shape
        heads = self.n_heads
        queries = self.query_projection(x).view(batch, length, heads, -1).transpose(1, 2)  # (B, H, W, E)
        keys = self.key_projection(x).view(batch, length, heads, -1).transpose(1, 2)
        values = self.value_projection(x).view(batch, length, heads, -1).transpose(1, 2)
        scale = 1.0 / math.sqrt(queries.shape[-1])
        series = torch.softmax(scale * queries @ keys.transpose(-1, -2), dim=-1)  # (B, H, W, W)

        sigma = sigma_transform(self.sigma_projection(x)).transpose(1, 2)  # (B, H, W)
        steps = torch.arange(length, device=x.device, dtype=x.dtype)
        distances = (steps.unsqueeze(1) - steps.unsqueeze(0)) ** 2  # |i − j|², (W, W)
        prior = torch.softmax(-distances / (2.0 * sigma.unsqueeze(-1) ** 2), dim=-1)  # (B, H, W, W)

        out = (self.dropout(series) @ values).transpose(1, 2).reshape(batch, length, -1)
        return self.out_projection(out), series, prior, sigma


class EncoderLayer(nn.Module):
    """Anomaly attention, then a position-wise feed-forward (two Conv1d k=1, GELU); post-norm residuals."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.attention = AnomalyAttention(d_model, n_heads, dropout)
        self.conv1 = nn.Conv1d(d_model, d_ff, kernel_size=1)
        self.conv2 = nn.Conv1d(d_ff, d_model, kernel_size=1)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(batch, window, d_model) → same shape, with the layer's series, prior and σ."""
        attended, series, prior, sigma = self.attention(x)
        x = self.norm1(x + self.dropout(attended))
        y = self.dropout(F.gelu(self.conv1(x.transpose(1, 2))))
        y = self.dropout(self.conv2(y).transpose(1, 2))
        return self.norm2(x + y), series, prior, sigma


class AnomalyTransformer(nn.Module):
    """Window reconstruction with per-layer associations.

    ``forward(x)`` with x (batch, window, n_features) returns the reconstruction (same
    shape) and three lists with one entry per layer: series and prior associations
    (batch, n_heads, window, window) and σ (batch, n_heads, window). Any window length
    works; the paper uses 100.
    """

    def __init__(
        self, n_features: int, d_model: int = 512, n_heads: int = 8, e_layers: int = 3, d_ff: int = 512, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.n_features = n_features
        self.embedding = DataEmbedding(n_features, d_model, dropout)
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(e_layers))
        self.norm = nn.LayerNorm(d_model)
        self.projection = nn.Linear(d_model, n_features)

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        hidden = self.embedding(x)
        series_list, prior_list, sigma_list = [], [], []
        for layer in self.layers:
            hidden, series, prior, sigma = layer(hidden)
            series_list.append(series)
            prior_list.append(prior)
            sigma_list.append(sigma)
        return self.projection(self.norm(hidden)), series_list, prior_list, sigma_list


def kl_rows(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p_i ‖ q_i) of each row i, averaged over heads: (B, H, W, W) × 2 → (B, W).

    As the official ``my_kl_loss``: Σ_j p·(log(p + 1e-4) − log(q + 1e-4)).
    """
    return torch.sum(p * (torch.log(p + KL_EPS) - torch.log(q + KL_EPS)), dim=-1).mean(dim=1)


def association_discrepancy(series: list[torch.Tensor], prior: list[torch.Tensor]) -> torch.Tensor:
    """AssDis(P, S; X) per time step, (batch, window): the paper's eq. 6.

    Mean over layers of KL(P_i ‖ S_i) + KL(S_i ‖ P_i), each averaged over heads. Symmetric
    in its two arguments, zero where they agree, positive elsewhere. Detach one side to
    get the minimax phases (``series`` side: prior detached; ``prior`` side: series detached).
    """
    terms = [kl_rows(p, s) + kl_rows(s, p) for s, p in zip(series, prior, strict=True)]
    return torch.stack(terms).mean(dim=0)


@torch.no_grad()
def anomaly_scores(
    model: AnomalyTransformer, windows: torch.Tensor, temperature: float = 50.0, batch_size: int = 256
) -> torch.Tensor:
    """Anomaly score of every step of every window, (batch, window); larger = more anomalous.

    Paper eq. 8: softmax over the window's steps of −AssDis, times the squared
    reconstruction error of the step (mean over features). As in the official test code,
    the softmax argument is −temperature × the discrepancy *summed* over layers (i.e.
    temperature · e_layers · AssDis), so ``temperature=50`` reproduces its numbers.
    Runs in eval mode (restoring the previous mode) in chunks of ``batch_size`` windows.
    """
    was_training = model.training
    model.eval()
    try:
        chunks = []
        for chunk in torch.split(windows, batch_size):
            reconstruction, series, prior, _ = model(chunk)
            error = torch.mean((chunk - reconstruction) ** 2, dim=-1)
            summed = association_discrepancy(series, prior) * len(series)
            chunks.append(torch.softmax(-temperature * summed, dim=-1) * error)
        return torch.cat(chunks) if chunks else windows.new_zeros(windows.shape[:2])
    finally:
        model.train(was_training)
