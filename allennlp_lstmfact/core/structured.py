"""
Structured approximations of one weight matrix beyond a single low-rank factorization:
block-wise low rank and Monarch (seed 002), low rank plus a sparse residual (seed 001's future
work), and data-aware SVD: activation-aware (ASVD-style column scaling) and Fisher-weighted (row
scaling). Each has a parameter budget that
can be matched to a rank-r factorization's r(m + n).
"""
import math
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

import torch

from allennlp_lstmfact.core.factorize import (
    check_rank,
    check_weight,
    low_rank_parameter_count,
    truncated_svd,
)


def _divisors(number: int) -> List[int]:
    return [d for d in range(1, number + 1) if number % d == 0]


# ---------------------------------------------------------------- block-wise low rank
def block_rank_for_budget(shape: Tuple[int, int], grid: Tuple[int, int], rank: int) -> int:
    """
    The largest per-block rank r_b whose grid of factorizations costs no more than a rank-`rank`
    factorization of the whole matrix: R·C·r_b·(m/R + n/C) ≤ r(m + n).
    """
    (rows, cols), (row_blocks, col_blocks) = shape, grid
    per_unit = row_blocks * col_blocks * (rows // row_blocks + cols // col_blocks)
    return low_rank_parameter_count(shape, rank) // per_unit


def check_grid(shape: Tuple[int, int], grid: Tuple[int, int]) -> None:
    (rows, cols), (row_blocks, col_blocks) = shape, grid
    if row_blocks < 1 or col_blocks < 1 or rows % row_blocks or cols % col_blocks:
        raise ValueError(f"block grid {grid} must divide the {rows}x{cols} matrix evenly "
                         f"(row blocks from {_divisors(rows)[:12]}, column blocks from {_divisors(cols)[:12]})")


def block_low_rank(weight: torch.Tensor, rank: int, grid: Tuple[int, int] = (4, 1),
                   allow_parameter_increase: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    Truncated SVD of every block of a `grid` (row blocks × column blocks; (4, 1) = one block per
    LSTM gate), at the per-block rank that matches the parameter budget of rank `rank`.

    # Returns

    `(U, V)` of shapes (R, C, m/R, r_b) and (R, C, r_b, n/C).
    """
    check_weight(weight)
    shape = tuple(weight.shape)
    check_rank(rank, shape, allow_parameter_increase=allow_parameter_increase)
    check_grid(shape, grid)
    block_rank = block_rank_for_budget(shape, grid, rank)
    row_blocks, col_blocks = grid
    block_rows, block_cols = shape[0] // row_blocks, shape[1] // col_blocks
    if block_rank < 1:
        raise ValueError(f"rank {rank} leaves no rank for a {row_blocks}x{col_blocks} grid of "
                         f"{block_rows}x{block_cols} blocks; use a higher rank or a coarser grid")
    block_rank = min(block_rank, block_rows, block_cols)
    blocks = weight.reshape(row_blocks, block_rows, col_blocks, block_cols).transpose(1, 2)
    factors = [[truncated_svd(blocks[i, j], block_rank, solver="exact", allow_parameter_increase=True)
                for j in range(col_blocks)] for i in range(row_blocks)]
    factor_u = torch.stack([torch.stack([u for u, _ in row]) for row in factors])
    factor_v = torch.stack([torch.stack([v for _, v in row]) for row in factors])
    return factor_u, factor_v


# ---------------------------------------------------------------- Monarch
def monarch_parameter_count(shape: Tuple[int, int], blocks: Tuple[int, int]) -> int:
    """Parameters of a Monarch matrix with k input blocks and q output groups: m·k + n·q."""
    (rows, cols), (input_blocks, output_groups) = shape, blocks
    return rows * input_blocks + cols * output_groups


def monarch_blocks_for_budget(shape: Tuple[int, int], budget: int) -> Tuple[int, int]:
    """
    (k, q) with k | n and q | m whose Monarch matrix has the most parameters within `budget`
    (ties: the most balanced k·q). Raises if even (1, 1) exceeds it.
    """
    rows, cols = shape
    best = None
    for k in _divisors(cols):
        for q in _divisors(rows):
            count = monarch_parameter_count(shape, (k, q))
            if count <= budget:
                key = (count, -abs(math.log(k * rows / (q * cols))))
                if best is None or key > best[0]:
                    best = (key, (k, q))
    if best is None:
        raise ValueError(f"no Monarch factorization of a {rows}x{cols} matrix fits {budget} parameters "
                         f"(the smallest has {rows + cols})")
    return best[1]


def monarch_project(weight: torch.Tensor, blocks: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    The nearest Monarch matrix (Frobenius) to an m×n `weight`, for rectangular matrices too.

    With n = k·p inputs in k blocks and m = q·s outputs in q groups, a Monarch matrix is
    M[(i, t), (j, u)] = L[i, t, j] · R[j, i, u]: R (k blocks of q×p) mixes within input blocks,
    L (q blocks of s×k) mixes across them (Dao et al. 2022's P L Pᵀ R). Every s×p slice
    M[(i, ·), (j, ·)] is the outer product L[i, :, j] R[j, i, :], so the projection takes the best
    rank-1 approximation of each slice of `weight` — exact when `weight` is Monarch.

    # Returns

    `(L, R)` of shapes (q, s, k) and (k, q, p).
    """
    check_weight(weight)
    rows, cols = weight.shape
    input_blocks, output_groups = blocks
    if cols % input_blocks or rows % output_groups:
        raise ValueError(f"Monarch blocks {blocks} must divide the {rows}x{cols} matrix: k | {cols}, q | {rows}")
    size_in, size_out = cols // input_blocks, rows // output_groups
    slices = weight.detach().double().reshape(output_groups, size_out, input_blocks, size_in).permute(0, 2, 1, 3)
    left, singular, right = torch.linalg.svd(slices, full_matrices=False)  # (q, k, s, ·), (q, k, ·), (q, k, ·, p)
    root = singular[..., 0].sqrt()
    factor_l = (left[..., :, 0] * root[..., None]).permute(0, 2, 1)  # (q, s, k)
    factor_r = (right[..., 0, :] * root[..., None]).permute(1, 0, 2)  # (k, q, p)
    return factor_l.to(weight.dtype).contiguous(), factor_r.to(weight.dtype).contiguous()


def monarch_matrix(factor_l: torch.Tensor, factor_r: torch.Tensor) -> torch.Tensor:
    """The dense m×n matrix of Monarch factors L (q, s, k) and R (k, q, p)."""
    output_groups, size_out, input_blocks = factor_l.shape
    size_in = factor_r.shape[2]
    dense = torch.einsum("itj,jiu->itju", factor_l, factor_r)
    return dense.reshape(output_groups * size_out, input_blocks * size_in)


# ---------------------------------------------------------------- low rank + sparse
def low_rank_plus_sparse(weight: torch.Tensor, rank: int, low_rank_fraction: float = 0.5,
                         allow_parameter_increase: bool = False) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    W ≈ U V + S: truncated SVD at rank ⌊fraction·r⌋ and the largest-magnitude entries of the
    residual, together within the budget r(m + n) (values counted, not their indices).

    # Returns

    `(U, V, S)` with S dense m×n holding the kept residual entries (zeros elsewhere).
    """
    check_weight(weight)
    shape = tuple(weight.shape)
    check_rank(rank, shape, allow_parameter_increase=allow_parameter_increase)
    if not 0.0 < low_rank_fraction < 1.0:
        raise ValueError(f"low_rank_fraction must be in (0, 1), got {low_rank_fraction!r}")
    low_rank = max(1, int(low_rank_fraction * rank))
    factor_u, factor_v = truncated_svd(weight, low_rank, allow_parameter_increase=True)
    residual = weight - factor_u @ factor_v
    kept = min(low_rank_parameter_count(shape, rank) - low_rank_parameter_count(shape, low_rank), weight.numel())
    flat = residual.abs().flatten()
    mask = torch.zeros_like(flat, dtype=torch.bool)
    if kept > 0:
        mask[torch.topk(flat, kept, sorted=False).indices] = True
    return factor_u, factor_v, residual * mask.view_as(residual)


# ---------------------------------------------------------------- activation-aware SVD
def _unit_rms(scale: torch.Tensor) -> torch.Tensor:
    """`scale` / its root mean square: weights of overall size 1, so that the factors U, V of the
    weighted matrix stay balanced once the weights are divided out again (which matters to fine-tuning)."""
    return scale / scale.pow(2).mean().sqrt()


def activation_scale(weight: torch.Tensor, input_scale: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """ASVD's column weights s^α (validated against `weight`), normalised to unit root mean square."""
    check_weight(weight)
    if input_scale.shape != (weight.shape[1],) or not bool((input_scale > 0).all()):
        raise ValueError(f"input_scale must be positive with shape ({weight.shape[1]},), got "
                         f"{tuple(input_scale.shape)}")
    return _unit_rms(input_scale.to(weight.device, torch.float64) ** alpha).to(weight.dtype)


def activation_aware_svd(weight: torch.Tensor, rank: int, input_scale: torch.Tensor, alpha: float = 0.5,
                         allow_parameter_increase: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    ASVD (Yuan et al. 2023) for one matrix: SVD of W·diag(s^α), with s the mean absolute value of
    each input feature on calibration data, then V ← V·diag(s^-α). Same r(m + n) parameters as
    plain SVD; the error is smallest where the inputs are large.

    # Parameters

    input_scale : `torch.Tensor`
        Shape (n,), positive: per-input-feature activation magnitude (see `InputStatistics`).
    alpha : `float`, optional (default = `0.5`)
    """
    scale = activation_scale(weight, input_scale, alpha)
    factor_u, factor_v = truncated_svd(weight * scale, rank, allow_parameter_increase=allow_parameter_increase)
    return factor_u, factor_v / scale


def fisher_scale(weight: torch.Tensor, row_importance: torch.Tensor) -> torch.Tensor:
    """
    Fisher-weighted SVD's row weights √I, shaped (m, 1), normalised to unit root mean square; rows
    below 1e-6 of the largest I floored there.
    """
    check_weight(weight)
    if row_importance.shape != (weight.shape[0],) or not bool((row_importance >= 0).all()) or \
            not bool(torch.isfinite(row_importance).all()) or not bool((row_importance > 0).any()):
        raise ValueError(f"row_importance must be finite, non-negative, not all zero, with shape ({weight.shape[0]},), "
                         f"got shape {tuple(row_importance.shape)}")
    importance = row_importance.to(weight.device, torch.float64)
    return _unit_rms(importance.clamp_min(1e-6 * importance.max()).sqrt()).to(weight.dtype)[:, None]


def fisher_weighted_svd(weight: torch.Tensor, rank: int, row_importance: torch.Tensor,
                        allow_parameter_increase: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    Fisher-weighted SVD (Hsu et al. 2022) for one matrix: SVD of diag(√I)·W, with I_i the Fisher
    information of row i (the squared loss gradients of the row's weights, summed, on calibration
    data), then U ← diag(1/√I)·U. Same r(m + n) parameters as plain SVD; the error is smallest in
    the rows the loss is most sensitive to.

    # Parameters

    row_importance : `torch.Tensor`
        Shape (m,), non-negative (see `fisher_row_importance`).
    """
    scale = fisher_scale(weight, row_importance)
    factor_u, factor_v = truncated_svd(weight * scale, rank, allow_parameter_increase=allow_parameter_increase)
    return factor_u / scale, factor_v


def data_weighted(method: str, weight: torch.Tensor, data_scale: torch.Tensor, **method_options) -> torch.Tensor:
    """The matrix a data-aware `method` ("asvd", "fisher_svd") factorizes: W·diag(s^α) or diag(√I)·W."""
    if method == "asvd":
        return weight * activation_scale(weight, data_scale, **method_options)
    if method == "fisher_svd":
        return weight * fisher_scale(weight, data_scale)
    raise ValueError(f"{method!r} is not a data-aware method; allowed: asvd, fisher_svd")


def fisher_row_importance(root: torch.nn.Module, names: Sequence[str], batches: Iterable,
                          loss: Callable[[object], torch.Tensor]) -> Dict[str, torch.Tensor]:
    """
    Per-row Fisher information of the weights of the `nn.Linear` modules `names` of `root`: the mean
    over `batches` of Σ_j (∂ loss(batch) / ∂W_ij)² (an empirical Fisher per batch). The weights get
    gradients for the duration even if they are frozen; no `.grad` of `root` is touched.
    """
    weights = [root.get_submodule(name).weight for name in names]
    frozen = [not weight.requires_grad for weight in weights]
    sums = [torch.zeros(weight.shape[0], dtype=torch.float64) for weight in weights]
    count = 0
    try:
        for weight in weights:
            weight.requires_grad_(True)
        with torch.enable_grad():
            for batch in batches:
                gradients = torch.autograd.grad(loss(batch), weights, allow_unused=True)
                for name, total, gradient in zip(names, sums, gradients):
                    if gradient is None:
                        raise ValueError(f"the calibration loss does not depend on {name!r}")
                    total += gradient.detach().double().pow(2).sum(1).cpu()
                count += 1
    finally:
        for weight, was_frozen in zip(weights, frozen):
            weight.requires_grad_(not was_frozen)
    if not count:
        raise ValueError("no calibration batches for the Fisher information")
    return {name: total / count for name, total in zip(names, sums)}


class InputStatistics:
    """
    Mean absolute input of selected `nn.Linear` modules, collected with forward hooks while the
    caller runs calibration batches.

    ```python
    with InputStatistics(model, ["encoder.input_linearity"]) as statistics:
        for batch in batches:
            model(**batch)
    scales = statistics.scales()   # {name: tensor of shape (in_features,)}
    ```
    """

    def __init__(self, root: torch.nn.Module, names: List[str]) -> None:
        self.root, self.names = root, list(names)
        self._sums: Dict[str, torch.Tensor] = {}
        self._counts: Dict[str, int] = {}
        self._handles: List = []

    def _hook(self, name: str):
        def record(module, inputs, output):
            values = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).double()
            self._sums[name] = self._sums.get(name, 0) + values.sum(0)
            self._counts[name] = self._counts.get(name, 0) + values.shape[0]
        return record

    def __enter__(self) -> "InputStatistics":
        self._handles = [self.root.get_submodule(name).register_forward_hook(self._hook(name)) for name in self.names]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def scales(self, floor: float = 1e-6) -> Dict[str, torch.Tensor]:
        missing = [name for name in self.names if name not in self._counts]
        if missing:
            raise ValueError(f"no calibration input reached {missing}")
        return {name: (self._sums[name] / self._counts[name]).clamp_min(floor).float() for name in self.names}
