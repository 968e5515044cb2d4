import pytest
import torch
from torch import nn

from allennlp_lstmfact.core import (
    CompressionSpec,
    InputStatistics,
    compress_modules,
    fisher_row_importance,
)


def test_fisher_row_importance_is_the_mean_squared_gradient_per_row():
    model = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3))
    model[0].weight.requires_grad_(False)  # frozen, as ELMo's weights are
    batches = [(torch.randn(4, 6), torch.randn(4, 3)) for _ in range(3)]

    def loss(batch):
        inputs, targets = batch
        return ((model(inputs) - targets) ** 2).sum() / 2

    importance = fisher_row_importance(model, ["1"], batches, loss)
    expected = torch.zeros(3, dtype=torch.float64)
    for inputs, targets in batches:  # ∂L/∂W₁ = (y - t)ᵀ h
        hidden = model[0](inputs)
        gradient = (model(inputs) - targets).T @ hidden
        expected += gradient.detach().double().pow(2).sum(1) / len(batches)
    torch.testing.assert_close(importance["1"], expected, atol=1e-9, rtol=1e-6)
    both = fisher_row_importance(model, ["0", "1"], batches, loss)
    assert both["0"].shape == (5,) and not model[0].weight.requires_grad and model[0].weight.grad is None
    assert model[1].weight.grad is None  # no .grad touched
    with pytest.raises(ValueError, match="does not depend on '0'"):
        fisher_row_importance(model, ["0"], batches, lambda batch: model[1].weight.sum())
    report = compress_modules(model, CompressionSpec(method="fisher_svd", rank=2, targets=("0",)),
                              data_scales=both)
    assert report.params_after == 2 * 11
    with pytest.raises(ValueError, match="'fisher_svd' needs statistics of its output rows"):
        compress_modules(model, CompressionSpec(method="fisher_svd", rank=1, targets=("1",)))


def test_input_statistics_and_asvd_through_surgery():
    model = nn.Sequential(nn.Linear(20, 48), nn.Tanh(), nn.Linear(48, 8))
    batches = [torch.randn(16, 20) * torch.linspace(0.1, 2, 20) for _ in range(3)]
    with InputStatistics(model, ["0", "2"]) as statistics:
        for batch in batches:
            model(batch)
    scales = statistics.scales()
    torch.testing.assert_close(scales["0"], torch.cat(batches).abs().mean(0), atol=1e-6, rtol=1e-6)
    assert len(model[0]._forward_hooks) == 0  # hooks removed
    report = compress_modules(model, CompressionSpec(method="asvd", rank=3, targets=("0",)), data_scales=scales)
    assert report.params_after == 3 * 68
    with pytest.raises(ValueError, match="'asvd' needs statistics of its input columns"):
        compress_modules(model, CompressionSpec(method="asvd", rank=3, targets=("2",)))
    with pytest.raises(ValueError, match="no calibration input reached"):
        InputStatistics(model, ["0"]).scales()
