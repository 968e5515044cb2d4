import warnings

import numpy as np
import pytest
import torch

from allennlp_lstmfact.core import (
    ConvergenceWarning,
    break_even_rank,
    factorize,
    low_rank_parameter_count,
    magnitude_prune_mask,
    semi_nmf,
    svd_optimal_error,
    truncated_svd,
)


def random_matrix(rows=48, cols=20, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((rows, cols))).float()


@pytest.mark.parametrize("solver", ["exact", "randomized"])
def test_svd_full_rank_reconstructs_exactly(solver):
    weight = random_matrix().double()
    u, v = truncated_svd(weight, 20, solver=solver, allow_parameter_increase=True)
    assert u.shape == (48, 20) and v.shape == (20, 20)
    torch.testing.assert_close(u @ v, weight, atol=1e-10, rtol=0)


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("solver", ["exact", "gram", "randomized", "auto"])
@pytest.mark.parametrize("rank", [1, 3, 9])
def test_svd_error_is_the_eckart_young_optimum(solver, rank, wide):
    weight = random_matrix(200, 120, seed=rank).double()
    weight = weight.T if wide else weight
    u, v = truncated_svd(weight, rank, solver=solver)
    error = float(torch.linalg.norm(weight - u @ v))
    optimum = svd_optimal_error(weight, rank)
    # exact LAPACK (auto for float64): to rounding; the float64 Gram route loses up to ~1e-16·σ_1²/optimum²;
    # randomized (4 power iterations): within 1% of the optimum
    assert optimum <= error * (1 + 1e-12)
    assert error <= optimum * (1 + {"exact": 1e-12, "auto": 1e-12, "gram": 1e-10}.get(solver, 1e-2))


@pytest.mark.parametrize("solver", ["exact", "gram", "auto"])
@pytest.mark.parametrize("rank", [5, 20, 40])
def test_float32_svd_is_exact_to_float32_precision_on_ill_conditioned_matrices(solver, rank):
    # singular values 1 .. 1e-6: a float32 Gram matrix would lose everything below ~3e-4; the float64
    # one used by "gram" / "auto" must stay within float32 rounding (~1e-7·‖W‖) of the optimum
    rng = np.random.default_rng(7)
    left, _ = np.linalg.qr(rng.standard_normal((400, 60)))
    right, _ = np.linalg.qr(rng.standard_normal((60, 60)))
    weight = torch.from_numpy((left * np.logspace(0, -6, 60)) @ right.T).float()
    u, v = truncated_svd(weight, rank, solver=solver)
    error = float(torch.linalg.norm(weight.double() - u.double() @ v.double()))
    assert error <= svd_optimal_error(weight, rank) + 1e-7 * float(torch.linalg.norm(weight.double()))


@pytest.mark.parametrize("solver", ["gram", "auto"])
def test_gram_svd_of_rank_deficient_and_zero_matrices_is_finite(solver):
    low_rank = random_matrix(50, 3, seed=8) @ random_matrix(3, 20, seed=9)
    for weight in (low_rank, torch.zeros(50, 20)):
        u, v = truncated_svd(weight, 6, solver=solver)
        assert bool(torch.isfinite(u).all() and torch.isfinite(v).all())
        torch.testing.assert_close(u @ v, weight, atol=1e-5, rtol=0)


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("solver", ["auto", "exact", "gram", "randomized"])
def test_svd_keeps_dtype_and_device(solver, dtype, device):
    # float32 weights are factorized in float32 / a float64 Gram, float64 ones in float64, on their device
    weight = random_matrix().to(device=device, dtype=dtype)
    u, v = truncated_svd(weight, 4, solver=solver)
    assert u.dtype == v.dtype == dtype
    assert u.device == v.device == weight.device
    assert u.shape == (48, 4) and v.shape == (4, 20)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(48, 20), (20, 48)])
@pytest.mark.parametrize("solver", ["cd", "multiplicative"])
def test_semi_nmf_keeps_dtype_and_device(solver, shape, dtype, device):
    weight = random_matrix(*shape).to(device=device, dtype=dtype)
    result = semi_nmf(weight, 4, solver=solver, max_iter=20, tol=1e-3)
    assert result.U.dtype == result.V.dtype == dtype
    assert result.U.device == result.V.device == weight.device
    assert result.U.shape == (shape[0], 4) and result.V.shape == (4, shape[1])


@pytest.mark.filterwarnings("ignore::allennlp_lstmfact.core.ConvergenceWarning")
@pytest.mark.parametrize("shape", [(80, 30), (30, 80)])
def test_semi_nmf_objective_is_the_error_of_the_returned_factors(shape):
    # tall weights are iterated on a small C with CᵀC = WᵀW: its objective must be W's own
    weight = random_matrix(*shape, seed=6).double()
    result = semi_nmf(weight, 7, max_iter=25, tol=0.0)
    error = float(torch.sum((weight - result.U @ result.V) ** 2))
    assert abs(result.objective[-1] - error) <= 1e-10 * error


@pytest.mark.filterwarnings("ignore::allennlp_lstmfact.core.ConvergenceWarning")
@pytest.mark.parametrize("init", ["svd", "random"])
@pytest.mark.parametrize("solver", ["cd", "multiplicative"])
def test_semi_nmf_keeps_v_nonnegative_and_objective_monotone(init, solver):
    weight = random_matrix(60, 40, seed=1)
    result = semi_nmf(weight, 8, init=init, solver=solver, max_iter=300, tol=1e-7, random_state=3)
    assert bool((result.V >= 0).all())
    objective = np.array(result.objective)
    # the iterations run in float64 even for this float32 weight, so rounding stays far below 1e-9
    assert np.all(np.diff(objective) <= 1e-9 * objective[:-1]), "objective increased"
    assert result.n_iter == len(objective) - 1


@pytest.mark.filterwarnings("ignore::allennlp_lstmfact.core.ConvergenceWarning")
def test_semi_nmf_never_beats_svd_at_equal_rank():
    weight = random_matrix(60, 40, seed=2)
    for rank in (2, 5, 12):
        result = semi_nmf(weight, rank, max_iter=500, tol=1e-8)
        error = float(torch.linalg.norm(weight.double() - (result.U @ result.V).double()))
        assert error >= svd_optimal_error(weight, rank) * (1 - 1e-6)


def test_semi_nmf_recovers_exactly_low_rank_matrix_with_nonnegative_v():
    rng = np.random.default_rng(5)
    u = rng.standard_normal((50, 4))
    v = np.abs(rng.standard_normal((4, 30)))
    weight = torch.from_numpy(u @ v)
    result = semi_nmf(weight, 4, max_iter=5000, tol=1e-12)
    assert float(torch.linalg.norm(weight - result.U @ result.V) / torch.linalg.norm(weight)) < 1e-4


@pytest.mark.filterwarnings("ignore::allennlp_lstmfact.core.ConvergenceWarning")
def test_semi_nmf_is_seeded():
    weight = random_matrix(30, 20, seed=4)
    first = semi_nmf(weight, 5, init="random", random_state=11, max_iter=50)
    second = semi_nmf(weight, 5, init="random", random_state=11, max_iter=50)
    torch.testing.assert_close(first.U, second.U, rtol=0, atol=0)
    third = semi_nmf(weight, 5, init="random", random_state=12, max_iter=50)
    assert not torch.equal(first.V, third.V)


def test_semi_nmf_warns_when_not_converged():
    with pytest.warns(ConvergenceWarning, match="did not converge in 2 iterations"):
        result = semi_nmf(random_matrix(), 5, init="random", max_iter=2, tol=0.0)
    assert result.n_iter == 2 and not result.converged


def test_semi_nmf_converged_run_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = semi_nmf(random_matrix(), 5, max_iter=1000, tol=1e-3)
    assert result.converged and result.n_iter < 1000


@pytest.mark.parametrize("rank", [1, 4, 13])
def test_pruning_keeps_exactly_the_rank_budget(rank):
    weight = random_matrix(48, 20)
    mask = magnitude_prune_mask(weight, rank)
    assert int(mask.sum()) == low_rank_parameter_count((48, 20), rank) == rank * 68
    kept, dropped = weight.abs()[mask], weight.abs()[~mask]
    assert float(kept.min()) >= float(dropped.max())


def test_pruning_budget_with_ties():
    weight = torch.ones(10, 8)
    assert int(magnitude_prune_mask(weight, 2).sum()) == 36


def test_break_even_rank():
    assert break_even_rank((16384, 512)) == 496
    assert low_rank_parameter_count((16384, 512), 496) < 16384 * 512 <= low_rank_parameter_count((16384, 512), 497)


@pytest.mark.parametrize("method", ["svd", "semi_nmf", "prune"])
@pytest.mark.parametrize(
    "rank, message",
    [(0, "positive integer"), (-3, "positive integer"), (2.5, "positive integer"), ("4", "positive integer"),
     (True, "positive integer"), (21, "larger than min"), (15, "no compression")],
)
def test_bad_ranks_raise(method, rank, message):
    weight = random_matrix(48, 20)
    call = {"svd": lambda: truncated_svd(weight, rank), "semi_nmf": lambda: semi_nmf(weight, rank),
            "prune": lambda: magnitude_prune_mask(weight, rank)}[method]
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_raise(bad):
    weight = random_matrix()
    weight[3, 4] = bad
    with pytest.raises(ValueError, match="1 NaN/Inf entries"):
        truncated_svd(weight, 2)
    with pytest.raises(ValueError, match="NaN/Inf"):
        semi_nmf(weight, 2)
    with pytest.raises(ValueError, match="NaN/Inf"):
        magnitude_prune_mask(weight, 2)


def test_bad_options_raise():
    weight = random_matrix()
    with pytest.raises(ValueError, match="unknown SVD solver 'qr'"):
        truncated_svd(weight, 2, solver="qr")
    with pytest.raises(ValueError, match="unknown Semi-NMF init 'kmeans'"):
        semi_nmf(weight, 2, init="kmeans")
    with pytest.raises(ValueError, match="unknown Semi-NMF solver 'als'"):
        semi_nmf(weight, 2, solver="als")
    with pytest.raises(ValueError, match="max_iter"):
        semi_nmf(weight, 2, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        semi_nmf(weight, 2, tol=-1.0)
    with pytest.raises(ValueError, match="unknown factorization method 'nmf'"):
        factorize(weight, 2, "nmf")
    with pytest.raises(ValueError, match="2-D"):
        truncated_svd(torch.zeros(3, 4, 5), 2)
