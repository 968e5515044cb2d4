"""
Block-wise low rank (Gupta et al. 2024): a grid of blocks (default one per LSTM gate), each its own
truncated SVD, at the per-block rank that matches the budget of a rank-r factorization of W.
"""
from dataclasses import dataclass
from typing import Any, List, Tuple

import torch
from torch import nn

from allennlp_lstmfact.core.factorize import check_rank, check_weight, low_rank_parameter_count, truncated_svd
from allennlp_lstmfact.core.layers import ShapesFromStateDict, copy_factors
from allennlp_lstmfact.core.methods.registry import (
    BuildContext,
    CompressionMethod,
    MethodOptions,
    positive_int_pair,
    register,
)


def divisors(number: int) -> List[int]:
    return [d for d in range(1, number + 1) if number % d == 0]


def block_rank_for_budget(shape: Tuple[int, int], grid: Tuple[int, int], rank: int) -> int:
    """
    The largest per-block rank r_b whose grid of factorizations costs no more than a rank-`rank`
    factorization of the whole matrix: R·C·r_b·(m/R + n/C) ≤ r(m + n).
    """
    (rows, cols), (row_blocks, col_blocks) = shape, grid
    per_unit = row_blocks * col_blocks * (rows // row_blocks + cols // col_blocks)
    return low_rank_parameter_count(shape, rank) // per_unit


def check_grid(shape: Tuple[int, int], grid: Tuple[int, int]) -> None:
    """Raise `ValueError` unless `grid` is two positive integers that divide an m×n matrix evenly."""
    (rows, cols), (row_blocks, col_blocks) = shape, check_grid_value(grid)
    if row_blocks < 1 or col_blocks < 1 or rows % row_blocks or cols % col_blocks:
        raise ValueError(f"block grid {grid} must divide the {rows}x{cols} matrix evenly "
                         f"(row blocks from {divisors(rows)[:12]}, column blocks from {divisors(cols)[:12]})")


def grid_block_rank(shape: Tuple[int, int], grid: Tuple[int, int], rank: int) -> int:
    """
    The rank of every block of `grid` at the budget of rank `rank` (at most the blocks' sizes);
    `ValueError` if the grid does not divide the matrix or leaves no rank.
    """
    check_grid(shape, grid)
    block_rank = block_rank_for_budget(shape, grid, rank)
    block_rows, block_cols = shape[0] // grid[0], shape[1] // grid[1]
    if block_rank < 1:
        raise ValueError(f"rank {rank} leaves no rank for a {grid[0]}x{grid[1]} grid of "
                         f"{block_rows}x{block_cols} blocks; use a higher rank or a coarser grid")
    return min(block_rank, block_rows, block_cols)


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
    block_rank = grid_block_rank(shape, grid, rank)
    row_blocks, col_blocks = grid
    block_rows, block_cols = shape[0] // row_blocks, shape[1] // col_blocks
    blocks = weight.reshape(row_blocks, block_rows, col_blocks, block_cols).transpose(1, 2)
    factors = [[truncated_svd(blocks[i, j], block_rank, solver="exact", allow_parameter_increase=True)
                for j in range(col_blocks)] for i in range(row_blocks)]
    factor_u = torch.stack([torch.stack([u for u, _ in row]) for row in factors])
    factor_v = torch.stack([torch.stack([v for _, v in row]) for row in factors])
    return factor_u, factor_v


class BlockLowRankLinear(ShapesFromStateDict, nn.Module):
    """
    A grid of R×C blocks, each its own low-rank product: y_i = Σ_j U_ij (V_ij x_j) + b_i.

    # Parameters

    in_features, out_features : `int`
    grid : `Tuple[int, int]`
        (row blocks R, column blocks C); they must divide the matrix.
    block_rank : `int`
    bias : `bool`, optional (default = `True`)
    """

    def __init__(self, in_features: int, out_features: int, grid, block_rank: int, bias: bool = True) -> None:
        super().__init__()
        row_blocks, col_blocks = grid
        self.in_features, self.out_features, self.grid = in_features, out_features, tuple(grid)
        self.weight_u = nn.Parameter(torch.zeros(row_blocks, col_blocks, out_features // row_blocks, block_rank))
        self.weight_v = nn.Parameter(torch.zeros(row_blocks, col_blocks, block_rank, in_features // col_blocks))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        blocks = inputs.reshape(*inputs.shape[:-1], self.grid[1], -1)
        hidden = torch.einsum("rcbn,...cn->...rcb", self.weight_v, blocks)
        output = torch.einsum("rcmb,...rcb->...rm", self.weight_u, hidden).reshape(*inputs.shape[:-1], -1)
        return output + self.bias if self.bias is not None else output

    def reconstruct_weight(self) -> torch.Tensor:
        blocks = self.weight_u @ self.weight_v  # (R, C, m/R, n/C)
        return blocks.transpose(1, 2).reshape(self.out_features, self.in_features)

    def stored_parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


@dataclass(frozen=True)
class BlockSvdOptions(MethodOptions):
    """
    # Parameters

    grid : `Tuple[int, int]`, optional (default = `(4, 1)`)
        (row blocks, column blocks); (4, 1) is one block per LSTM gate. They must divide the matrix.
    """

    grid: Tuple[int, int] = (4, 1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "grid", check_grid_value(self.grid))


def check_grid_value(grid: Any) -> Tuple[int, int]:
    return positive_int_pair("grid", grid, "row blocks, column blocks")


def build_block_svd(linear: nn.Linear, rank: int, options: BlockSvdOptions, context: BuildContext) -> nn.Module:
    factor_u, factor_v = block_low_rank(linear.weight.data, rank, options.grid,
                                        allow_parameter_increase=context.allow_parameter_increase)
    layer = BlockLowRankLinear(linear.in_features, linear.out_features, options.grid, factor_u.shape[-1],
                               bias=linear.bias is not None)
    copy_factors(layer, linear, weight_u=factor_u, weight_v=factor_v)
    return layer


BLOCK_SVD = register(CompressionMethod("block_svd", "a truncated SVD per block of a grid", BlockSvdOptions,
                                       BlockLowRankLinear, build_block_svd,
                                       shapes=lambda linear, rank, options: BlockLowRankLinear(
                                           linear.in_features, linear.out_features, options.grid,
                                           grid_block_rank(tuple(linear.weight.shape), options.grid, rank),
                                           bias=linear.bias is not None)))
