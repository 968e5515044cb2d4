import pytest
import torch
from torch import nn

from allennlp_lstmfact.core import (
    METHODS,
    block_low_rank,
    monarch_blocks_for_budget,
    monarch_project,
    svd_optimal_error,
)
from allennlp_lstmfact.core.methods.block_svd import block_rank_for_budget
from allennlp_lstmfact.core.methods.monarch import monarch_parameter_count
from tests.core.conftest import gaussian


def test_block_low_rank_is_per_block_eckart_young_within_the_budget():
    weight = gaussian(48, 20)
    factor_u, factor_v = block_low_rank(weight, 6, grid=(4, 1))
    block_rank = block_rank_for_budget((48, 20), (4, 1), 6)
    assert factor_u.shape == (4, 1, 12, block_rank) and factor_v.shape == (4, 1, block_rank, 20)
    assert factor_u.numel() + factor_v.numel() <= 6 * (48 + 20)
    for i in range(4):
        block = weight[12 * i:12 * (i + 1)]
        error = float((block - factor_u[i, 0] @ factor_v[i, 0]).norm())
        assert error == pytest.approx(svd_optimal_error(block, block_rank), rel=1e-9)


def test_block_low_rank_recovers_a_block_low_rank_matrix_and_computes_like_its_matrix():
    block_rank = block_rank_for_budget((48, 20), (4, 2), 8)
    blocks = gaussian(4 * 2 * 12, block_rank, 8).reshape(4, 2, 12, block_rank) @ \
        gaussian(4 * 2 * block_rank, 10, 9).reshape(4, 2, block_rank, 10)
    linear = nn.Linear(20, 48).double()
    linear.weight.data.copy_(blocks.transpose(1, 2).reshape(48, 20))
    layer = METHODS["block_svd"].from_linear(linear, 8, {"grid": (4, 2)})
    torch.testing.assert_close(layer.reconstruct_weight(), linear.weight.data, atol=1e-10, rtol=0)
    x = torch.randn(5, 20, dtype=torch.float64)
    torch.testing.assert_close(layer(x), linear(x), atol=1e-10, rtol=0)


def test_block_grid_must_divide():
    with pytest.raises(ValueError, match="block grid \\(5, 1\\) must divide the 48x20 matrix"):
        block_low_rank(gaussian(48, 20), 4, grid=(5, 1))
    with pytest.raises(ValueError, match="leaves no rank"):
        block_low_rank(gaussian(48, 20), 1, grid=(12, 10))


def test_monarch_blocks_fit_the_rank_budget():
    budget = 10 * (16384 + 512)
    k, q = monarch_blocks_for_budget((16384, 512), budget)
    assert 512 % k == 0 and 16384 % q == 0
    assert monarch_parameter_count((16384, 512), (k, q)) <= budget
    with pytest.raises(ValueError, match="no Monarch factorization"):
        monarch_blocks_for_budget((48, 20), 10)
    with pytest.raises(ValueError, match="must divide"):
        monarch_project(gaussian(48, 20), (3, 6))
