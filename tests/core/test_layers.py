
import torch
from torch import nn

from allennlp_lstmfact.core import (
    METHODS,
    LowRankLinear,
)


def test_low_rank_linear_full_rank_equals_linear():
    linear = nn.Linear(20, 48).double()
    layer = METHODS["svd"].from_linear(linear, 20, allow_parameter_increase=True)
    x = torch.randn(7, 20, dtype=torch.float64)
    torch.testing.assert_close(layer(x), linear(x), atol=1e-10, rtol=0)


def test_low_rank_linear_computes_with_factors(monkeypatch):
    layer = METHODS["svd"].from_linear(nn.Linear(20, 48), 3)
    calls = []
    monkeypatch.setattr(LowRankLinear, "reconstruct_weight", lambda self: calls.append(1))
    layer(torch.randn(2, 20))
    assert calls == []  # forward never rebuilds the dense matrix


def test_from_linear_keeps_requires_grad_and_bias():
    linear = nn.Linear(20, 48)
    linear.weight.requires_grad_(False)
    layer = METHODS["semi_nmf"].from_linear(linear, 4)
    assert not layer.weight_u.requires_grad and not layer.weight_v.requires_grad
    assert layer.bias.requires_grad
    torch.testing.assert_close(layer.bias, linear.bias)
    masked = METHODS["prune"].from_linear(linear, 4)
    assert not masked.weight.requires_grad
