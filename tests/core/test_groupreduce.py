import math

import pytest
import torch

from allennlp_lstmfact.core.factorize import svd_optimal_error, truncated_svd
from allennlp_lstmfact.core.groupreduce import (
    GroupReduceEmbedding,
    allocate_ranks,
    frequency_groups,
    group_parameter_count,
    group_reduce,
    quantize_factors,
    quantize_rows,
    weighted_error,
)
from allennlp_lstmfact.core.metrics import count_parameters
from tests.core.conftest import gaussian


def zipf(vocab_size, seed=0):
    """Zipfian frequencies over word ids in shuffled order (so the grouping has to sort them)."""
    order = torch.randperm(vocab_size, generator=torch.Generator().manual_seed(seed))
    return (1.0 / torch.arange(1, vocab_size + 1, dtype=torch.float64))[order]


def planted_subspaces(vocab_size=90, dim=12, clusters=3, rank=3, seed=0):
    """Rows drawn from `clusters` random rank-`rank` subspaces, clusters unrelated to frequency."""
    generator = torch.Generator().manual_seed(seed)
    bases = torch.randn(clusters, rank, dim, generator=generator, dtype=torch.float64)
    cluster = torch.randint(0, clusters, (vocab_size,), generator=generator)
    coefficients = torch.randn(vocab_size, rank, generator=generator, dtype=torch.float64)
    return torch.einsum("vr,vrd->vd", coefficients, bases[cluster])


def test_groups_are_equal_size_slices_of_the_frequency_order():
    frequencies = zipf(10)
    groups = frequency_groups(frequencies, 3)
    assert torch.bincount(groups).tolist() == [4, 3, 3]
    by_frequency = groups[torch.argsort(-frequencies)]
    assert by_frequency.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]


@pytest.mark.parametrize("shape, num_groups", [((60, 8), 3), ((30, 16), 3)])  # d < |g| and d > |g|
def test_full_rank_groups_reconstruct_exactly(shape, num_groups):
    weight = gaussian(*shape)
    result = group_reduce(weight, zipf(shape[0]), num_groups=num_groups, budget=10 ** 6,
                          allow_parameter_increase=True)
    assert result.ranks == [min(size, shape[1]) for size in result.group_sizes()]
    torch.testing.assert_close(result.reconstruct(), weight, atol=1e-10, rtol=0)
    assert result.objective[-1] < 1e-20


def test_budget_is_met_and_counted_by_formula():
    vocab_size, dim, budget = 200, 16, 1500
    result = group_reduce(gaussian(vocab_size, dim), zipf(vocab_size), num_groups=5, budget=budget)
    sizes = result.group_sizes()
    expected = sum(rank * (size + dim) for size, rank in zip(sizes, result.ranks))
    assert result.parameter_count() == expected == group_parameter_count(sizes, result.ranks, [dim]) <= budget
    assert budget - expected < max(sizes) + dim  # no further unit of rank would fit
    layer = GroupReduceEmbedding.from_result(result)
    assert layer.stored_parameter_count() == count_parameters(layer) == expected
    by_rank = group_reduce(gaussian(vocab_size, dim), zipf(vocab_size), num_groups=5, average_rank=4)
    assert by_rank.parameter_count() <= 4 * (vocab_size + dim)


def test_frequent_groups_get_ranks_at_least_those_of_rare_groups():
    result = group_reduce(gaussian(200, 16), zipf(200), num_groups=5, average_rank=4, refinement_steps=0)
    assert result.ranks == sorted(result.ranks, reverse=True) and result.ranks[0] > result.ranks[-1]
    masses, sizes = [8.0, 4.0, 2.0, 1.0], [50] * 4
    proportional = allocate_ranks(sizes, masses, [16], 2000, rank_exponent=1.0)
    square_root = allocate_ranks(sizes, masses, [16], 2000)
    assert proportional == [16, 8, 4, 2]
    assert square_root == sorted(square_root, reverse=True) and square_root[0] / square_root[-1] < 8
    assert allocate_ranks(sizes, masses, [16], 28 * 66, rank_exponent=0.0) == [7, 7, 7, 7]


def test_refinement_decreases_the_objective_on_planted_subspaces():
    weight = planted_subspaces()
    budget = 3 * (90 + 3 * 12)  # rank 3 in each of 3 groups, whatever their sizes
    result = group_reduce(weight, zipf(90), num_groups=3, budget=budget, rank_exponent=0.0, refinement_steps=3)
    assert len(result.objective) == 4
    assert all(later < earlier for earlier, later in zip(result.objective, result.objective[1:]))
    assert result.objective[-1] < 0.5 * result.objective[0]
    assert result.parameter_count() <= budget


def test_refinement_never_returns_a_worse_fit():
    weight, frequencies = gaussian(50, 8), zipf(50)
    result = group_reduce(weight, frequencies, num_groups=4, average_rank=3, refinement_steps=1)
    assert result.objective[1] > result.objective[0]  # this step made it worse: the initial fit is kept
    error = weighted_error([weight], [result.reconstruct()], frequencies)
    assert error == pytest.approx(result.objective[0], rel=1e-12)
    assert result.group_sizes() == [13, 13, 12, 12]
    for steps in (2, 3):
        refined = group_reduce(weight, frequencies, num_groups=4, average_rank=3, refinement_steps=steps)
        error = weighted_error([weight], [refined.reconstruct()], frequencies)
        assert error == pytest.approx(min(refined.objective), rel=1e-12) and error <= refined.objective[0]


def test_one_group_with_uniform_frequencies_is_plain_svd():
    weight = gaussian(40, 10)
    result = group_reduce(weight, torch.ones(40), num_groups=1, average_rank=3)
    assert result.ranks == [3]
    assert result.objective[0] == pytest.approx(svd_optimal_error(weight, 3) ** 2 / 40, rel=1e-10)


def test_frequency_weighting_beats_plain_svd_at_equal_size():
    vocab_size, dim, rank = 200, 16, 4
    weight, frequencies = gaussian(vocab_size, dim), zipf(vocab_size)
    factor_u, factor_v = truncated_svd(weight, rank)
    plain = weighted_error([weight], [factor_u @ factor_v], frequencies)
    result = group_reduce(weight, frequencies, num_groups=4, average_rank=rank)
    assert result.parameter_count() <= rank * (vocab_size + dim)
    assert weighted_error([weight], [result.reconstruct()], frequencies) < 0.6 * plain


def test_embedding_and_softmax_share_the_grouping():
    embedding, softmax = planted_subspaces(seed=1), gaussian(90, 7)
    result = group_reduce([embedding, softmax], zipf(90), num_groups=3, average_rank=3)
    sizes = result.group_sizes()
    assert result.parameter_count() == sum(rank * (2 * size + 12 + 7) for size, rank in zip(sizes, result.ranks))
    for k, matrix in enumerate((embedding, softmax)):
        assert [tuple(u.shape) for u, _ in result.factors[k]] == list(zip(sizes, result.ranks))
        assert [tuple(v.shape) for _, v in result.factors[k]] == [(rank, matrix.shape[1]) for rank in result.ranks]
    lookup, output = (GroupReduceEmbedding.from_result(result, k) for k in (0, 1))
    assert torch.equal(lookup.word_group, output.word_group) and torch.equal(lookup.word_group, result.groups)
    assert weighted_error([embedding, softmax], [lookup.reconstruct_weight(), output.reconstruct_weight()],
                          zipf(90)) == pytest.approx(min(result.objective), rel=1e-10)


def test_lookup_and_logits_equal_the_dense_matrix():
    weight = gaussian(60, 8)
    layer = GroupReduceEmbedding.from_weight(weight, zipf(60), num_groups=4, average_rank=3)
    dense = layer.reconstruct_weight().detach()
    ids = torch.randint(0, 60, (3, 5), generator=torch.Generator().manual_seed(1))
    hidden = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch.testing.assert_close(layer(ids), dense[ids], atol=1e-6, rtol=0)
    logits = layer.logits(hidden)
    torch.testing.assert_close(logits, hidden @ dense.T, atol=1e-6, rtol=0)
    (layer(ids).sum() + logits.sum()).backward()
    assert all(parameter.grad is not None for parameter in layer.parameters())
    reloaded = GroupReduceEmbedding(layer.group_sizes, layer.ranks, 8).double()
    reloaded.load_state_dict(layer.state_dict())
    torch.testing.assert_close(reloaded.logits(hidden), logits, atol=0, rtol=0)


def test_quantization_error_bound_and_bytes():
    tensor = gaussian(6, 21)
    step = (tensor.amax(1, keepdim=True) - tensor.amin(1, keepdim=True))
    errors = {}
    for bits in (8, 4):
        dequantized, nbytes = quantize_rows(tensor, bits)
        assert nbytes == 6 * (math.ceil(21 * bits / 8) + 8)
        assert bool(((dequantized - tensor).abs() <= step / (2 ** bits - 1) / 2 + 1e-12).all())
        errors[bits] = float((dequantized - tensor).norm() / tensor.norm())
        assert len(torch.unique(dequantized[0])) <= 2 ** bits
    assert errors[8] < 0.01 < errors[4]
    constant, _ = quantize_rows(torch.full((2, 5), 3.0), 4)
    assert torch.equal(constant, torch.full((2, 5), 3.0))
    with pytest.raises(ValueError, match=r"bits must be one of \(4, 8\), got 16"):
        quantize_rows(tensor, 16)


def test_quantized_factors_compression_ratio():
    vocab_size, dim = 200, 16
    result = group_reduce(gaussian(vocab_size, dim), zipf(vocab_size), num_groups=4, average_rank=4)
    dense_bytes = 4 * vocab_size * dim
    assert result.compression_ratio() == pytest.approx(dense_bytes / (4 * result.parameter_count()))
    quantized = quantize_factors(result, 8)
    expected = sum(rank * (math.ceil(size * 8 / 8) + 8) + rank * (dim + 8)
                   for size, rank in zip(result.group_sizes(), result.ranks))
    assert quantized.stored_bytes() == expected
    assert quantized.compression_ratio() == pytest.approx(dense_bytes / expected)
    assert quantized.compression_ratio() > 3 * result.compression_ratio()
    four_bit = quantize_factors(result, 4)
    assert four_bit.compression_ratio() > quantized.compression_ratio()
    errors = [float((q.reconstruct() - result.reconstruct()).norm()) for q in (quantized, four_bit)]
    assert 0 < errors[0] < errors[1]
    layer = GroupReduceEmbedding.from_result(quantized)
    assert layer.stored_bytes() == expected
    torch.testing.assert_close(layer.reconstruct_weight().detach(), quantized.reconstruct())


@pytest.mark.parametrize("options, message", [
    ({"num_groups": 0}, "num_groups must be an integer in 1..20, got 0"),
    ({"num_groups": 21}, "num_groups must be an integer in 1..20, got 21"),
    ({"frequencies": torch.ones(19)}, r"frequencies must have one entry per word, shape \(20,\), got \(19,\)"),
    ({"frequencies": -torch.ones(20)}, "frequencies must be finite and non-negative"),
    ({"bits": 2}, r"bits must be one of \(4, 8\), got 2"),
    ({"budget": 50}, "budget 50 is too small: rank 1 in each of the 4 groups already takes 52 parameters"),
    ({"budget": 200}, "budget 200 is not below the 160 parameters of the dense matrices"),
    ({"budget": 100, "average_rank": 2}, "give exactly one of budget and average_rank"),
    ({"min_rank": 9}, "min_rank must be an integer in 1..8, got 9"),
])
def test_bad_parameters_raise_clear_errors(options, message):
    arguments = {"frequencies": zipf(20), "num_groups": 4, "budget": 100, **options}
    with pytest.raises(ValueError, match=message):
        group_reduce(gaussian(20, 8), **arguments)


def test_loading_a_state_dict_adapts_the_group_sizes_and_ranks():
    weight, frequencies = planted_subspaces(), zipf(90)
    trained = GroupReduceEmbedding.from_weight(weight, frequencies, num_groups=3, average_rank=3, refinement_steps=3)
    placeholder = GroupReduceEmbedding([30, 30, 30], [1, 1, 1], 12).double()
    assert placeholder.group_sizes != trained.group_sizes or placeholder.ranks != trained.ranks
    parameters = list(placeholder.parameters())
    optimizer = torch.optim.SGD(placeholder.parameters(), lr=0.1)
    placeholder.load_state_dict(trained.state_dict())
    assert (placeholder.group_sizes, placeholder.ranks) == (trained.group_sizes, trained.ranks)
    assert all(a is b for a, b in zip(parameters, placeholder.parameters()))  # the optimizer's still
    ids = torch.arange(90).view(9, 10)
    hidden = torch.randn(4, 12, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.testing.assert_close(placeholder(ids), trained(ids), atol=0, rtol=0)
    torch.testing.assert_close(placeholder.logits(hidden), trained.logits(hidden), atol=0, rtol=0)
    assert placeholder.stored_parameter_count() == trained.stored_parameter_count()
    placeholder.logits(hidden).sum().backward()
    optimizer.step()
    with pytest.raises(RuntimeError, match="factor_u_3"):  # a different number of groups is not adapted
        GroupReduceEmbedding([30, 30, 20, 10], [1, 1, 1, 1], 12).double().load_state_dict(trained.state_dict())


def test_quantize_in_place_matches_quantized_result():
    weight, frequencies = gaussian(60, 8), zipf(60)
    result = group_reduce(weight, frequencies, num_groups=3, average_rank=3)
    layer = GroupReduceEmbedding.from_result(result)
    for bits in (8, 4):
        quantized = GroupReduceEmbedding.from_result(result).quantize_(bits)
        expected = quantize_factors(result, bits)
        torch.testing.assert_close(quantized.reconstruct_weight().detach(), expected.reconstruct())
        assert quantized.stored_bytes() == expected.stored_bytes() < layer.stored_bytes()
        assert quantized.bits == bits
