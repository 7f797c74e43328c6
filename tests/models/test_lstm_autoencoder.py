"""LSTM autoencoder: shapes, reloading from plain files, learning a simple signal."""

import numpy as np
import torch

from components.checksums import CHECKSUM_FILE
from components.detectors.lstm_ae import LstmAeDetector
from components.detectors.registry import load_detector
from components.models.lstm_autoencoder import LstmAutoencoder
from components.models.store import SPEC_FILE, ModelSpec


def test_shapes_and_roundtrip(tmp_path):
    net = LstmAutoencoder(n_features=3, hidden_size=8, latent_size=4)
    x = torch.randn(5, 12, 3)
    assert net(x).shape == (5, 12, 3)
    spec = ModelSpec("lstm_ae", ["a", "b", "c"], 12, {"hidden_size": 8, "latent_size": 4, "num_layers": 1})
    LstmAeDetector(spec, net).save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([SPEC_FILE, CHECKSUM_FILE, LstmAeDetector.WEIGHTS_FILE])
    loaded = load_detector(tmp_path)
    assert isinstance(loaded, LstmAeDetector) and loaded.spec == spec
    assert torch.allclose(loaded.model(x), net(x))


def test_learns_a_sine_and_scores_a_spike_higher():
    torch.manual_seed(0)
    t = np.arange(3000)
    series = np.stack([np.sin(t / 10), np.cos(t / 10)], axis=1).astype(np.float32)
    windows = torch.from_numpy(np.stack([series[i : i + 20] for i in range(0, 2900, 3)]))
    net = LstmAutoencoder(2, hidden_size=16, latent_size=8)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = torch.mean((net(windows) - windows) ** 2)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 5
    spiked = series.copy()
    spiked[2500, 0] += 3.0
    spec = ModelSpec("lstm_ae", ["a", "b"], 20, {"hidden_size": 16, "latent_size": 8})
    scores = LstmAeDetector(spec, net).score(spiked, np.zeros(len(t)))
    assert np.isnan(scores.score[:19]).all()
    assert 2500 <= np.nanargmax(scores.score) < 2520  # a window holding the spike
    assert scores.score[2500] > 5 * np.nanmedian(scores.score)
    assert np.nanargmax(scores.contributions[2500]) == 0
    assert np.allclose(np.nansum(scores.contributions[19:], axis=1), 1.0)
