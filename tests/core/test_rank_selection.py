import itertools

import pytest
import torch
from torch import nn

from allennlp_lstmfact.core import (
    BlockLowRankLinear,
    CompressionSpec,
    LowRankLinear,
    MonarchLinear,
    budget_ranks,
    compress_modules,
    count_parameters,
    energy_ranks,
    rank_for_energy,
    spectral_ranks_for_budget,
    uniform_rank_for_budget,
)
from allennlp_lstmfact.core.factorize import break_even_rank


def with_spectrum(rows, cols, singular_values, seed=0):
    """A rows×cols matrix with exactly these singular values (random orthonormal bases)."""
    generator = torch.Generator().manual_seed(seed)
    left, _ = torch.linalg.qr(torch.randn(rows, len(singular_values), generator=generator, dtype=torch.float64))
    right, _ = torch.linalg.qr(torch.randn(cols, len(singular_values), generator=generator, dtype=torch.float64))
    return left @ torch.diag(torch.tensor(singular_values, dtype=torch.float64)) @ right.T


def relative_squared_error(weight, rank):
    squared = torch.linalg.svdvals(weight) ** 2
    return float(squared[rank:].sum() / squared.sum())


def test_uniform_rank_for_budget_and_energy():
    shapes = [(16384, 512)] * 8
    rank = uniform_rank_for_budget(shapes, 0.1)
    assert rank * 16896 * 8 <= 0.1 * 16384 * 512 * 8 < (rank + 1) * 16896 * 8
    weight = torch.diag(torch.tensor([3.0, 2.0, 1.0, 0.0], dtype=torch.float64))
    assert rank_for_energy(weight, 9 / 14) == 1 and rank_for_energy(weight, 13 / 14) == 2
    assert rank_for_energy(weight, 1.0) == 3
    with pytest.raises(ValueError, match="energy must be in"):
        rank_for_energy(weight, 0.0)
    with pytest.raises(ValueError, match="budget fraction"):
        uniform_rank_for_budget(shapes, 1.5)


def test_spectral_allocation_is_optimal_for_matrices_of_equal_cost():
    # equal m + n: every singular value costs the same, so the greedy choice is the exact optimum
    weights = {"flat": with_spectrum(30, 20, [1.0] * 12, seed=1),
               "steep": with_spectrum(20, 30, [2.0 ** -k for k in range(12)], seed=2),
               "middle": with_spectrum(25, 25, [1.0 / (k + 1) for k in range(12)], seed=3)}
    fraction = 0.3  # 0.3 · (600 + 600 + 625) / 50 = 10.95: ten singular values in all
    ranks = spectral_ranks_for_budget(weights, fraction)
    budget = fraction * sum(w.numel() for w in weights.values())
    assert sum(r * 50 for r in ranks.values()) <= budget
    best = min((combination for combination in itertools.product(range(1, 13), repeat=3)
                if sum(combination) * 50 <= budget),
               key=lambda combination: sum(relative_squared_error(w, r) for w, r in zip(weights.values(), combination)))
    chosen = sum(relative_squared_error(weights[name], ranks[name]) for name in weights)
    optimum = sum(relative_squared_error(w, r) for w, r in zip(weights.values(), best))
    assert chosen == pytest.approx(optimum, abs=1e-12)
    assert ranks["flat"] > max(ranks["steep"], ranks["middle"])  # the flatter the spectrum, the more rank


def test_spectral_allocation_of_unequal_shapes_spends_the_budget_where_it_removes_error():
    weights = {"low_rank": with_spectrum(64, 16, [5.0, 4.0] + [1e-3] * 10, seed=4),
               "spread": with_spectrum(24, 48, [1.0] * 16, seed=5)}
    ranks = spectral_ranks_for_budget(weights, 0.25)
    assert ranks == {"low_rank": 2, "spread": 5}
    costs = {name: sum(w.shape) for name, w in weights.items()}
    spent, budget = sum(ranks[n] * costs[n] for n in weights), 0.25 * sum(w.numel() for w in weights.values())
    assert spent <= budget < spent + min(costs.values())
    # zero singular values are never bought, even with budget left
    assert spectral_ranks_for_budget({"rank_two": with_spectrum(20, 20, [1.0, 1.0])}, 0.9) == {"rank_two": 2}


def test_spectral_allocation_never_stores_more_than_the_dense_matrix():
    weights = {"a": with_spectrum(40, 10, [1.0] * 10, seed=6), "b": with_spectrum(40, 40, [1.0] * 40, seed=7)}
    ranks = spectral_ranks_for_budget(weights, 0.95)
    assert ranks["a"] <= break_even_rank((40, 10)) and ranks["b"] <= break_even_rank((40, 40))
    with pytest.raises(ValueError, match="less than rank 1 for every matrix"):
        spectral_ranks_for_budget(weights, 0.01)
    with pytest.raises(ValueError, match="budget fraction must be in"):
        spectral_ranks_for_budget(weights, 1.0)
    with pytest.raises(ValueError, match="unknown rank allocation 'greedy'"):
        budget_ranks(weights, 0.5, "greedy")
    assert budget_ranks(weights, 0.5) == dict.fromkeys(weights, uniform_rank_for_budget([(40, 10), (40, 40)], 0.5))


def test_energy_ranks_name_the_matrix_that_would_grow():
    weights = {"kept": with_spectrum(30, 30, [1.0, 0.1, 0.01], seed=8), "flat": with_spectrum(30, 30, [1.0] * 30)}
    assert energy_ranks({"kept": weights["kept"]}, 0.995) == {"kept": 2}
    with pytest.raises(ValueError, match=r"'flat' \(\(30, 30\)\) needs rank 30.*1\.\.14"):
        energy_ranks(weights, 0.99)
    with pytest.raises(ValueError, match=r"nan of shape \(4, 4\) has 16 NaN"):
        energy_ranks({"nan": torch.full((4, 4), float("nan"))}, 0.5)


def test_compression_spec_validates_how_ranks_are_chosen():
    with pytest.raises(ValueError, match="exactly one of rank, budget and energy, got none"):
        CompressionSpec(method="svd", targets=("0",))
    with pytest.raises(ValueError, match=r"exactly one of rank, budget and energy, got \['rank', 'budget'\]"):
        CompressionSpec(method="svd", rank=2, budget=0.1, targets=("0",))
    with pytest.raises(ValueError, match="energy must be in"):
        CompressionSpec(method="svd", energy=1.5, targets=("0",))
    with pytest.raises(ValueError, match="unknown rank allocation 'best'"):
        CompressionSpec(method="svd", budget=0.2, allocation="best", targets=("0",))
    with pytest.raises(ValueError, match="allocation 'spectral' allocates a budget"):
        CompressionSpec(method="svd", energy=0.9, allocation="spectral", targets=("0",))


def test_compress_modules_with_a_spectral_budget_and_a_rank_pattern():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(24, 64), nn.Linear(64, 32), nn.Linear(32, 16))
    with torch.no_grad():
        model[1].weight.copy_(with_spectrum(32, 64, [3.0, 2.0] + [1e-4] * 30, seed=9))
    spec = CompressionSpec(method="svd", budget=0.3, allocation="spectral", targets=("0", "1", "2"),
                           rank_pattern={"^2$": 4})
    expected = spectral_ranks_for_budget({"0": model[0].weight.data, "1": model[1].weight.data}, 0.3)
    report = compress_modules(model, spec)
    ranks = {m.name: m.rank for m in report.matrices}
    assert ranks == {**expected, "2": 4} and ranks["1"] == 2
    budget_part = [m for m in report.matrices if m.name != "2"]
    assert sum(m.params_after for m in budget_part) <= 0.3 * sum(m.params_before for m in budget_part)
    assert count_parameters(model) == report.params_after + 64 + 32 + 16


def test_energy_spec_compresses_each_matrix_to_its_energy_rank():
    model = nn.Sequential(nn.Linear(20, 30), nn.Linear(30, 20))
    with torch.no_grad():
        model[0].weight.copy_(with_spectrum(30, 20, [4.0, 2.0, 1.0, 0.5, 0.25], seed=10))
        model[1].weight.copy_(with_spectrum(20, 30, [1.0] * 3, seed=11))
    report = compress_modules(model, CompressionSpec(method="svd", energy=0.9, targets=("0", "1")))
    assert {m.name: m.rank for m in report.matrices} == {"0": 2, "1": 3}  # 20 of 21.31 ≥ 0.9; 3 equal values
    with pytest.raises(ValueError, match="cannot choose the ranks"):
        compress_modules(nn.Sequential(nn.Linear(6, 6)), CompressionSpec(method="svd", energy=1.0, targets=("0",)))


@pytest.mark.parametrize("make, resized", [
    (lambda r: LowRankLinear(12, 20, r), lambda layer: layer.rank),
    (lambda r: BlockLowRankLinear(12, 20, (4, 1), r), lambda layer: layer.weight_u.shape[-1]),
    (lambda r: MonarchLinear(12, 20, (r, 2)), lambda layer: layer.blocks[0]),
])
def test_layers_take_the_factor_shapes_of_a_loaded_state_dict(make, resized):
    source, target = make(3), make(2)
    for parameter in source.parameters():
        nn.init.normal_(parameter)
    target.load_state_dict(source.state_dict())
    assert resized(target) == 3
    inputs = torch.randn(5, 12)
    torch.testing.assert_close(target(inputs), source(inputs), rtol=0, atol=0)
    assert target.stored_parameter_count() == source.stored_parameter_count()


def test_data_aware_methods_allocate_by_the_spectra_they_factorize():
    """fisher_svd's spectral budget reads diag(√I)·W: rows the loss ignores stop attracting rank."""
    model = nn.Sequential(nn.Linear(16, 40), nn.Linear(16, 40))
    with torch.no_grad():
        for layer, seed in zip(model, (12, 13)):
            layer.weight.copy_(with_spectrum(40, 16, [1.0] * 16, seed=seed))
    importance = {"0": torch.ones(40), "1": torch.cat([torch.ones(2), torch.full((38,), 1e-9)])}
    spec = CompressionSpec(method="fisher_svd", budget=0.4, allocation="spectral", targets=("0", "1"))
    plain = spectral_ranks_for_budget({name: model[int(name)].weight.data for name in "01"}, 0.4)
    assert abs(plain["0"] - plain["1"]) <= 1  # equal spectra: an even split without the data
    report = compress_modules(model, spec, data_scales=importance)
    ranks = {m.name: m.rank for m in report.matrices}
    assert ranks["1"] <= 2 < ranks["0"]  # two rows matter in "1": two directions are enough
    with pytest.raises(ValueError, match=r"no calibration statistics for \['1'\]"):
        compress_modules(nn.Sequential(nn.Linear(16, 40), nn.Linear(16, 40)), spec, data_scales={"0": importance["0"]})
