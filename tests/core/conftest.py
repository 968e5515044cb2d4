"""Helpers shared by the core tests."""
import torch


def gaussian(rows: int, cols: int, seed: int = 0) -> torch.Tensor:
    """A seeded float64 matrix of standard normal entries."""
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
