import pytest
import torch
from torch import nn

from allennlp_lstmfact.core import (
    METHODS,
    monarch_matrix,
    monarch_project,
    svd_optimal_error,
)
from allennlp_lstmfact.core.methods.monarch import monarch_parameter_count
from tests.core.conftest import gaussian


def test_monarch_recovers_a_monarch_matrix_exactly_rectangular():
    factor_l = gaussian(6 * 8 * 4, 1, 1).reshape(6, 8, 4)   # q=6 groups of s=8 outputs, k=4 input blocks
    factor_r = gaussian(4 * 6 * 5, 1, 2).reshape(4, 6, 5)   # k=4 blocks of p=5 inputs, q=6
    monarch = monarch_matrix(factor_l, factor_r)
    assert monarch.shape == (48, 20)
    projected_l, projected_r = monarch_project(monarch, (4, 6))
    torch.testing.assert_close(monarch_matrix(projected_l, projected_r), monarch, atol=1e-10, rtol=0)


def test_monarch_projection_is_optimal_per_slice_and_the_layer_computes_with_factors():
    weight = gaussian(48, 20, 3)
    factor_l, factor_r = monarch_project(weight, (4, 6))
    approximation = monarch_matrix(factor_l, factor_r)
    slices = (weight - approximation).reshape(6, 8, 4, 5).permute(0, 2, 1, 3)
    originals = weight.reshape(6, 8, 4, 5).permute(0, 2, 1, 3)
    for i in range(6):
        for j in range(4):
            assert float(slices[i, j].norm()) == pytest.approx(svd_optimal_error(originals[i, j], 1), rel=1e-9)
    linear = nn.Linear(20, 48).double()
    linear.weight.data.copy_(weight)
    layer = METHODS["monarch"].from_linear(linear, 5, {"blocks": (4, 6)})
    x = torch.randn(3, 7, 20, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ approximation.T + linear.bias, atol=1e-10, rtol=0)
    assert layer.stored_parameter_count() == monarch_parameter_count((48, 20), (4, 6)) + 48
