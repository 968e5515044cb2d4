import pytest
import torch
from torch import nn

from allennlp_lstmfact.core import (
    BlockLowRankLinear,
    CompressionSpec,
    InputStatistics,
    LowRankPlusSparseLinear,
    MonarchLinear,
    activation_aware_svd,
    block_low_rank,
    fisher_row_importance,
    fisher_weighted_svd,
    compress_modules,
    count_parameters,
    low_rank_plus_sparse,
    monarch_blocks_for_budget,
    monarch_matrix,
    monarch_project,
    svd_optimal_error,
    truncated_svd,
)
from allennlp_lstmfact.core.structured import block_rank_for_budget, monarch_parameter_count


def gaussian(rows, cols, seed=0):
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


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
    layer = BlockLowRankLinear.from_linear(linear, 8, grid=(4, 2))
    torch.testing.assert_close(layer.reconstruct_weight(), linear.weight.data, atol=1e-10, rtol=0)
    x = torch.randn(5, 20, dtype=torch.float64)
    torch.testing.assert_close(layer(x), linear(x), atol=1e-10, rtol=0)


def test_block_grid_must_divide():
    with pytest.raises(ValueError, match="block grid \\(5, 1\\) must divide the 48x20 matrix"):
        block_low_rank(gaussian(48, 20), 4, grid=(5, 1))
    with pytest.raises(ValueError, match="leaves no rank"):
        block_low_rank(gaussian(48, 20), 1, grid=(12, 10))


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
    layer = MonarchLinear.from_linear(linear, 5, blocks=(4, 6))
    x = torch.randn(3, 7, 20, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ approximation.T + linear.bias, atol=1e-10, rtol=0)
    assert layer.stored_parameter_count() == monarch_parameter_count((48, 20), (4, 6)) + 48


def test_monarch_blocks_fit_the_rank_budget():
    budget = 10 * (16384 + 512)
    k, q = monarch_blocks_for_budget((16384, 512), budget)
    assert 512 % k == 0 and 16384 % q == 0
    assert monarch_parameter_count((16384, 512), (k, q)) <= budget
    with pytest.raises(ValueError, match="no Monarch factorization"):
        monarch_blocks_for_budget((48, 20), 10)
    with pytest.raises(ValueError, match="must divide"):
        monarch_project(gaussian(48, 20), (3, 6))


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
    layer = LowRankPlusSparseLinear.from_linear(linear, 6)
    x = torch.randn(4, 40, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ layer.reconstruct_weight().T + linear.bias, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="low_rank_fraction must be in \\(0, 1\\)"):
        low_rank_plus_sparse(weight, 6, low_rank_fraction=1.0)


def test_activation_aware_svd_is_optimal_in_the_activation_weighted_norm():
    weight = gaussian(48, 20, 7)
    scale = torch.linspace(0.1, 3.0, 20, dtype=torch.float64)
    factor_u, factor_v = activation_aware_svd(weight, 4, scale, alpha=1.0)
    weighted_error = float(((weight - factor_u @ factor_v) * scale).norm())
    assert weighted_error == pytest.approx(svd_optimal_error(weight * scale, 4), rel=1e-9)
    plain_u, plain_v = truncated_svd(weight, 4)
    assert weighted_error < float(((weight - plain_u @ plain_v) * scale).norm())
    scaled_u, scaled_v = activation_aware_svd(weight, 4, 1e-6 * scale, alpha=1.0)  # invariant to the overall size
    torch.testing.assert_close((scaled_u, scaled_v), (factor_u, factor_v), atol=1e-10, rtol=1e-9)
    uniform_u, uniform_v = activation_aware_svd(weight, 4, torch.ones(20, dtype=torch.float64))
    torch.testing.assert_close(uniform_u @ uniform_v, plain_u @ plain_v, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="input_scale must be positive with shape \\(20,\\)"):
        activation_aware_svd(weight, 4, torch.ones(19))


def test_fisher_weighted_svd_is_optimal_in_the_row_weighted_norm():
    weight = gaussian(48, 20, 8)
    importance = torch.linspace(0.01, 4.0, 48, dtype=torch.float64)
    factor_u, factor_v = fisher_weighted_svd(weight, 4, importance)
    rows = importance.sqrt()[:, None]
    weighted_error = float(((weight - factor_u @ factor_v) * rows).norm())
    assert weighted_error == pytest.approx(svd_optimal_error(weight * rows, 4), rel=1e-9)
    plain_u, plain_v = truncated_svd(weight, 4)
    assert weighted_error < float(((weight - plain_u @ plain_v) * rows).norm())
    uniform_u, uniform_v = fisher_weighted_svd(weight, 4, torch.full((48,), 3.0, dtype=torch.float64))
    torch.testing.assert_close(uniform_u @ uniform_v, plain_u @ plain_v, atol=1e-10, rtol=0)
    # the factors do not depend on the Fisher information's overall size, and stay balanced
    tiny_u, tiny_v = fisher_weighted_svd(weight, 4, 1e-9 * importance)
    torch.testing.assert_close((tiny_u, tiny_v), (factor_u, factor_v), atol=1e-10, rtol=1e-9)
    assert 0.2 < float(factor_u.norm() / factor_v.norm()) < 5
    full_u, full_v = fisher_weighted_svd(weight, 20, importance, allow_parameter_increase=True)
    torch.testing.assert_close(full_u @ full_v, weight, atol=1e-10, rtol=0)  # exact at full rank
    for bad in (torch.ones(47), -torch.ones(48), torch.zeros(48), torch.full((48,), float("nan"))):
        with pytest.raises(ValueError, match="row_importance must be finite, non-negative, not all zero"):
            fisher_weighted_svd(weight, 4, bad)


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


@pytest.mark.parametrize("method", ["block_svd", "monarch", "svd_sparse"])
def test_structured_methods_through_surgery_stay_within_the_rank_budget(method):
    model = nn.Sequential(nn.Linear(20, 48))
    report = compress_modules(model, CompressionSpec(method=method, rank=5, targets=("0",)))
    assert 0 < report.params_after <= 5 * 68
    assert count_parameters(model) == report.params_after + 48
    assert 0 < report.matrices[0].relative_error < 1
    with pytest.raises(ValueError, match="staged \\(deferred\\) compression supports"):
        compress_modules(nn.Sequential(nn.Linear(20, 48)), CompressionSpec(method=method, rank=5, targets=("0",)),
                         deferred=True)
