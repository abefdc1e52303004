"""The quantile GRU itself, its loss, and the deterministic torch settings every fit and forecast use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from memberwise.modeling.forecaster.series import QUANTILES


class QuantileGRU(nn.Module):
    """Encoder GRU over the past, decoder GRU over known future covariates, three ordered quantiles."""

    def __init__(self, n_series: int, n_covariates: int, hidden: int, embedding: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_series, embedding)
        self.encoder = nn.GRU(1 + n_covariates + embedding, hidden, batch_first=True)
        self.decoder = nn.GRU(n_covariates + embedding, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden + n_covariates + embedding, 3))

    def forward(
        self, past: torch.Tensor, past_cov: torch.Tensor, future_cov: torch.Tensor, series: torch.Tensor
    ) -> torch.Tensor:
        emb = self.embed(series)
        enc_in = torch.cat([past[..., None], past_cov, emb[:, None].expand(-1, past.shape[1], -1)], dim=-1)
        _, state = self.encoder(enc_in)
        dec_in = torch.cat([future_cov, emb[:, None].expand(-1, future_cov.shape[1], -1)], dim=-1)
        out, _ = self.decoder(dec_in, state)
        raw = self.head(torch.cat([out, dec_in], dim=-1))
        mid = raw[..., 1]
        low = mid - nn.functional.softplus(raw[..., 0])  # ordered by construction: no quantile crossing
        high = mid + nn.functional.softplus(raw[..., 2])
        return torch.stack([low, mid, high], dim=-1)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean quantile (pinball) loss over the unmasked target weeks; pred [..., 3], target/mask [...]."""
    q = torch.tensor(QUANTILES, dtype=pred.dtype)
    diff = target[..., None] - pred
    loss = torch.maximum(q * diff, (q - 1) * diff).sum(-1)
    return (loss * mask).sum() / mask.sum().clamp(min=1)


@contextmanager
def torch_determinism(seed: int, threads: int) -> Iterator[None]:
    """Seeded, deterministic, few-threaded torch for one fit/predict; global settings restored after."""
    threads_before, deterministic_before = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
    )
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before)


def run_network(net: QuantileGRU, data: dict[str, torch.Tensor]) -> torch.Tensor:
    """The network on a batch of named tensors (past, past_cov, future_cov, series)."""
    return net(data["past"], data["past_cov"], data["future_cov"], data["series"])
