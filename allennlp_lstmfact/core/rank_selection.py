"""
Choosing the rank of each compressed matrix: one rank for all, a parameter budget for all the
matrices together (one uniform rank, or ranks allocated by their spectra), or the smallest rank
that keeps a share of each matrix's spectral energy. `CompressionSpec` resolves its ranks here.
"""
import heapq
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from allennlp_lstmfact.core.factorize import break_even_rank, check_weight

ALLOCATIONS = ("uniform", "spectral")


def check_fraction(name: str, value: float, upper_inclusive: bool) -> None:
    """`ValueError` naming `name` and `value` unless `value` is a number in (0, 1] (or (0, 1))."""
    allowed = "(0, 1]" if upper_inclusive else "(0, 1)"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number in {allowed}, got {value!r} ({type(value).__name__})")
    upper_ok = value <= 1.0 if upper_inclusive else value < 1.0
    if not (0.0 < value and upper_ok):
        raise ValueError(f"{name} must be in {allowed}, got {value!r}")


def check_sizes(rank: Optional[int], budget: Optional[float], energy: Optional[float]) -> str:
    """
    Raise `ValueError` unless exactly one of `rank`, `budget` and `energy` is given (the three ways
    to size a compression); returns the name of the one given.
    """
    given = [name for name, value in (("rank", rank), ("budget", budget), ("energy", energy)) if value is not None]
    if len(given) != 1:
        raise ValueError(f"needs exactly one of rank, budget and energy, got {given or 'none'}")
    return given[0]


def check_positive_rank(name: str, rank) -> None:
    """`ValueError` naming `name` and `rank` unless `rank` is a positive integer (a bool is not one)."""
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank <= 0:
        raise ValueError(f"{name} must be a positive integer, got {rank!r}")


def _largest_rank(shape: Tuple[int, int], allow_parameter_increase: bool) -> int:
    return min(shape) if allow_parameter_increase else break_even_rank(shape)


def ranks_depend_on_weights(budget: Optional[float], allocation: str, energy: Optional[float]) -> bool:
    """Whether ranks chosen this way come from the matrices' spectra (not only from their shapes)."""
    return energy is not None or (budget is not None and allocation != "uniform")


def uniform_rank_for_budget(shapes: List[Tuple[int, int]], fraction: float) -> int:
    """The largest single rank r with Σ r(m + n) ≤ fraction · Σ mn over the given matrices."""
    check_fraction("budget fraction", fraction, upper_inclusive=False)
    if not shapes:
        raise ValueError("no matrices to allocate a budget to")
    dense = sum(rows * cols for rows, cols in shapes)
    rank = int(fraction * dense // sum(rows + cols for rows, cols in shapes))
    if rank < 1:
        raise ValueError(f"a budget of {fraction:.2%} of {dense} parameters leaves no rank")
    return min(rank, min(min(shape) for shape in shapes))


def squared_singular_values(weight: torch.Tensor, name: str = "weight") -> torch.Tensor:
    """σ² of `weight`, largest first, in float64 on the CPU (the eigenvalues of the smaller Gram matrix)."""
    check_weight(weight, name)
    matrix = weight.detach().double()
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    return torch.linalg.eigvalsh(gram).flip(0).clamp_min(0.0).cpu()


def rank_for_energy(weight: torch.Tensor, energy: float, name: str = "weight") -> int:
    """The smallest rank whose singular values keep `energy` of Σσ² (the spectral energy)."""
    check_fraction("energy", energy, upper_inclusive=True)
    squared = squared_singular_values(weight, name)
    cumulative = torch.cumsum(squared, 0) / squared.sum()
    return int(np.searchsorted(cumulative.numpy(), energy - 1e-12) + 1)


def energy_ranks(weights: Dict[str, torch.Tensor], energy: float,
                 allow_parameter_increase: bool = False) -> Dict[str, int]:
    """`rank_for_energy` of each matrix; `ValueError` if one needs more numbers than its dense matrix."""
    ranks = {}
    for name, weight in weights.items():
        rank, largest = rank_for_energy(weight, energy, name), _largest_rank(tuple(weight.shape), allow_parameter_increase)
        if rank > largest:
            raise ValueError(f"keeping {energy:g} of the spectral energy of {name!r} ({tuple(weight.shape)}) needs "
                             f"rank {rank}, which stores more than the dense matrix (ranks that save parameters: "
                             f"1..{largest}); lower the energy or allow a parameter increase")
        ranks[name] = rank
    return ranks


def spectral_ranks_for_budget(weights: Dict[str, torch.Tensor], fraction: float,
                              allow_parameter_increase: bool = False) -> Dict[str, int]:
    """
    Ranks that spend a budget of `fraction` · Σ mn parameters (Σ r(m + n)) over all the matrices
    where it removes the most relative error: each matrix starts at rank 1, then singular values are
    taken greedily by σ² / (‖W‖²_F (m + n)) — relative energy kept per parameter. As each matrix's σ²
    decrease, the picks of a matrix are a prefix of its spectrum, and the greedy choice minimises
    Σ ‖W − W_r‖²_F / ‖W‖²_F up to the last pick (exactly when all m + n are equal). Zero singular
    values are never bought.

    # Parameters

    weights : `Dict[str, torch.Tensor]`
        The matrices by name.
    fraction : `float`
        In (0, 1).
    allow_parameter_increase : `bool`, optional (default = `False`)
        Otherwise no matrix gets a rank with r(m + n) ≥ mn.
    """
    check_fraction("budget fraction", fraction, upper_inclusive=False)
    if not weights:
        raise ValueError("no matrices to allocate a budget to")
    shapes = {name: tuple(weight.shape) for name, weight in weights.items()}
    budget = fraction * sum(rows * cols for rows, cols in shapes.values())
    spent = sum(rows + cols for rows, cols in shapes.values())
    if spent > budget:
        raise ValueError(f"a budget of {fraction:.2%} ({budget:,.0f} parameters) is less than rank 1 for every "
                         f"matrix ({spent:,} parameters)")
    ranks = dict.fromkeys(weights, 1)
    candidates = []
    for name, weight in weights.items():
        squared = squared_singular_values(weight, name)
        cost = sum(shapes[name])
        gains = (squared / squared.sum().clamp_min(1e-300) / cost).tolist()
        largest = _largest_rank(shapes[name], allow_parameter_increase)
        candidates += [(-gain, name, index + 2) for index, gain in enumerate(gains[1:largest]) if gain > 1e-12 / cost]
    heapq.heapify(candidates)
    while candidates:
        _, name, rank = heapq.heappop(candidates)
        cost = sum(shapes[name])
        if rank == ranks[name] + 1 and spent + cost <= budget:
            ranks[name], spent = rank, spent + cost
    return ranks


def budget_ranks(weights: Dict[str, torch.Tensor], fraction: float, allocation: str = "uniform",
                 allow_parameter_increase: bool = False) -> Dict[str, int]:
    """Ranks within a budget of `fraction` of the matrices' dense parameters, by `allocation` (`ALLOCATIONS`)."""
    if allocation == "uniform":
        rank = uniform_rank_for_budget([tuple(w.shape) for w in weights.values()], fraction)
        return dict.fromkeys(weights, rank)
    if allocation == "spectral":
        return spectral_ranks_for_budget(weights, fraction, allow_parameter_increase)
    raise ValueError(f"unknown rank allocation {allocation!r}; allowed: {', '.join(ALLOCATIONS)}")

