import pytest
import torch
from torch import nn

from allennlp_lstmfact.core import (
    METHODS,
    low_rank_plus_sparse,
    svd_optimal_error,
)
from tests.core.conftest import gaussian


def test_low_rank_plus_sparse_keeps_the_budget_and_beats_svd_on_spiky_matrices():
    low_rank = gaussian(60, 3, 4) @ gaussian(3, 40, 5)
    spikes = torch.zeros(60, 40, dtype=torch.float64)
    spikes.view(-1)[torch.randperm(2400, generator=torch.Generator().manual_seed(6))[:40]] = 10.0
    weight = low_rank + spikes
    factor_u, factor_v, residual = low_rank_plus_sparse(weight, 6, low_rank_fraction=0.5)
    assert factor_u.shape[1] == 3
    assert factor_u.numel() + factor_v.numel() + int((residual != 0).sum()) <= 6 * 100
    error = float((weight - factor_u @ factor_v - residual).norm())
    assert error < 0.5 * svd_optimal_error(weight, 6)
    linear = nn.Linear(40, 60).double()
    linear.weight.data.copy_(weight)
    layer = METHODS["svd_sparse"].from_linear(linear, 6)
    x = torch.randn(4, 40, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ layer.reconstruct_weight().T + linear.bias, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="low_rank_fraction must be in \\(0, 1\\)"):
        low_rank_plus_sparse(weight, 6, low_rank_fraction=1.0)
