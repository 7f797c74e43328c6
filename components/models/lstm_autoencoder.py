"""LSTM autoencoder (Malhotra et al., 2016, "LSTM-based encoder-decoder for multi-sensor
anomaly detection"), the baseline of the reference projects anomflow grew from.

The encoder LSTM reads the window; its last hidden state is projected to a latent
vector; the decoder LSTM unrolls that vector over the window and a linear layer maps
back to the sensors. Deviation from the paper: the decoder is fed the repeated latent
vector rather than its own previous output (non-autoregressive), which is faster and
needs no teacher forcing.
"""

from __future__ import annotations

import torch
from torch import nn


class LstmAutoencoder(nn.Module):
    """Window reconstruction model: (batch, window, n_features) → same shape."""

    def __init__(self, n_features: int, hidden_size: int = 32, latent_size: int = 16, num_layers: int = 1) -> None:
        super().__init__()
        self.n_features = n_features
        self.encoder = nn.LSTM(n_features, hidden_size, num_layers=num_layers, batch_first=True)
        self.to_latent = nn.Linear(hidden_size, latent_size)
        self.decoder = nn.LSTM(latent_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.to_output = nn.Linear(hidden_size, n_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.encoder(x)
        latent = self.to_latent(hidden[-1])  # (batch, latent)
        repeated = latent.unsqueeze(1).expand(-1, x.shape[1], -1)
        decoded, _ = self.decoder(repeated)
        return self.to_output(decoded)

    @torch.no_grad()
    def step_errors(self, x: torch.Tensor) -> torch.Tensor:
        """Squared reconstruction error per step and sensor, (batch, window, n_features)."""
        return (self.forward(x) - x) ** 2
