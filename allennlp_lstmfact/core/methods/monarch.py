"""
Monarch matrices (Dao et al. 2022; Gupta et al. 2024 compare them with plain low rank): M = P L Pᵀ R
with L, R block-diagonal, projected from W slice by slice, with the most blocks that fit the budget
of a rank-r factorization (or given ones); rectangular matrices included.
"""
import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import nn

from allennlp_lstmfact.core.factorize import check_rank, check_weight
from allennlp_lstmfact.core.layers import ShapesFromStateDict, copy_factors
from allennlp_lstmfact.core.methods.block_svd import divisors
from allennlp_lstmfact.core.methods.registry import (
    BuildContext,
    CompressionMethod,
    MethodOptions,
    positive_int_pair,
    register,
)


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
    for k in divisors(cols):
        for q in divisors(rows):
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


class MonarchLinear(ShapesFromStateDict, nn.Module):
    """
    y = M x + b with M a Monarch matrix kept as its factors L (q, s, k) and R (k, q, p)
    (see `monarch_project`): m·k + n·q multiply-adds instead of mn.
    """

    def __init__(self, in_features: int, out_features: int, blocks, bias: bool = True) -> None:
        super().__init__()
        input_blocks, output_groups = blocks
        self.in_features, self.out_features, self.blocks = in_features, out_features, tuple(blocks)
        self.weight_l = nn.Parameter(torch.zeros(output_groups, out_features // output_groups, input_blocks))
        self.weight_r = nn.Parameter(torch.zeros(input_blocks, output_groups, in_features // input_blocks))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        blocks = inputs.reshape(*inputs.shape[:-1], self.blocks[0], -1)  # (..., k, p)
        mixed = torch.einsum("jiu,...ju->...ij", self.weight_r, blocks)  # (..., q, k)
        output = torch.einsum("itj,...ij->...it", self.weight_l, mixed).reshape(*inputs.shape[:-1], -1)
        return output + self.bias if self.bias is not None else output

    def reconstruct_weight(self) -> torch.Tensor:
        return monarch_matrix(self.weight_l, self.weight_r)

    def _shapes_loaded(self) -> None:
        self.blocks = (self.weight_r.shape[0], self.weight_l.shape[0])

    def stored_parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


@dataclass(frozen=True)
class MonarchOptions(MethodOptions):
    """
    # Parameters

    blocks : `Tuple[int, int]`, optional (default = `None`)
        (input blocks k, output groups q) with k | n and q | m; default: the most parameters that fit
        the budget of the rank (`monarch_blocks_for_budget`).
    """

    blocks: Optional[Tuple[int, int]] = None

    def __post_init__(self) -> None:
        if self.blocks is not None:
            object.__setattr__(self, "blocks", positive_int_pair("blocks", self.blocks, "input blocks, output groups"))


def _blocks(linear: nn.Linear, rank: int, options: MonarchOptions) -> Tuple[int, int]:
    shape = tuple(linear.weight.shape)
    return options.blocks or monarch_blocks_for_budget(shape, rank * (shape[0] + shape[1]))


def monarch_shapes(linear: nn.Linear, rank: int, options: MonarchOptions) -> MonarchLinear:
    return MonarchLinear(linear.in_features, linear.out_features, _blocks(linear, rank, options),
                         bias=linear.bias is not None)


def build_monarch(linear: nn.Linear, rank: int, options: MonarchOptions, context: BuildContext) -> nn.Module:
    check_weight(linear.weight.data)
    check_rank(rank, tuple(linear.weight.shape), allow_parameter_increase=context.allow_parameter_increase)
    blocks = _blocks(linear, rank, options)
    factor_l, factor_r = monarch_project(linear.weight.data, blocks)
    layer = MonarchLinear(linear.in_features, linear.out_features, blocks, bias=linear.bias is not None)
    copy_factors(layer, linear, weight_l=factor_l, weight_r=factor_r)
    return layer


MONARCH = register(CompressionMethod("monarch", "a Monarch matrix (block-diagonal factors)", MonarchOptions,
                                     MonarchLinear, build_monarch, shapes=monarch_shapes))
