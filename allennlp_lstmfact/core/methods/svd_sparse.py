"""
Low rank plus a sparse residual (the combination of factorization and pruning that Winata et al.
2019 leave as future work): W ≈ U V + S within the budget of a rank-r factorization.
"""
from dataclasses import dataclass
from typing import Tuple

import torch
from torch import nn
from torch.nn import functional as F

from allennlp_lstmfact.core.factorize import (
    check_rank,
    check_weight,
    low_rank_parameter_count,
    top_k_mask,
    truncated_svd,
)
from allennlp_lstmfact.core.layers import LowRankLinear, copy_factors
from allennlp_lstmfact.core.methods.registry import BuildContext, CompressionMethod, MethodOptions, register


def check_low_rank_fraction(low_rank_fraction: float) -> None:
    if isinstance(low_rank_fraction, bool) or not isinstance(low_rank_fraction, (int, float)) or \
            not 0.0 < low_rank_fraction < 1.0:
        raise ValueError(f"low_rank_fraction must be in (0, 1), got {low_rank_fraction!r}")


def low_rank_part(rank: int, low_rank_fraction: float) -> int:
    """The rank of the low-rank part: ⌊fraction·r⌋, at least 1."""
    return max(1, int(low_rank_fraction * rank))


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
    check_low_rank_fraction(low_rank_fraction)
    low_rank = low_rank_part(rank, low_rank_fraction)
    factor_u, factor_v = truncated_svd(weight, low_rank, allow_parameter_increase=True)
    residual = weight - factor_u @ factor_v
    kept = low_rank_parameter_count(shape, rank) - low_rank_parameter_count(shape, low_rank)
    return factor_u, factor_v, residual * top_k_mask(residual.abs(), kept)


class LowRankPlusSparseLinear(LowRankLinear):
    """
    y = U (V x) + S x + b: a low-rank product plus a sparse residual S (dense storage with a mask
    buffer here, so it saves parameters to store; the low-rank part saves FLOPs).
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, rank, bias)
        self.residual = nn.Parameter(torch.zeros(out_features, in_features))
        self.register_buffer("residual_mask", torch.zeros(out_features, in_features, dtype=torch.bool))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return super().forward(inputs) + F.linear(inputs, self.residual * self.residual_mask)

    def reconstruct_weight(self) -> torch.Tensor:
        return super().reconstruct_weight() + self.residual * self.residual_mask

    def stored_parameter_count(self) -> int:
        return (self.weight_u.numel() + self.weight_v.numel() + int(self.residual_mask.sum())
                + (self.bias.numel() if self.bias is not None else 0))


@dataclass(frozen=True)
class SvdSparseOptions(MethodOptions):
    """
    # Parameters

    low_rank_fraction : `float`, optional (default = `0.5`)
        The share of the rank given to the low-rank part, in (0, 1); the rest of the budget keeps
        the residual's largest entries.
    """

    low_rank_fraction: float = 0.5

    def __post_init__(self) -> None:
        check_low_rank_fraction(self.low_rank_fraction)


def build_svd_sparse(linear: nn.Linear, rank: int, options: SvdSparseOptions, context: BuildContext) -> nn.Module:
    factor_u, factor_v, residual = low_rank_plus_sparse(linear.weight.data, rank, options.low_rank_fraction,
                                                        allow_parameter_increase=context.allow_parameter_increase)
    layer = LowRankPlusSparseLinear(linear.in_features, linear.out_features, factor_u.shape[1],
                                    bias=linear.bias is not None)
    copy_factors(layer, linear, weight_u=factor_u, weight_v=factor_v, residual=residual)
    with torch.no_grad():
        layer.residual_mask.copy_(residual != 0)
    return layer


SVD_SPARSE = register(CompressionMethod("svd_sparse", "low rank plus a sparse residual", SvdSparseOptions,
                                        LowRankPlusSparseLinear, build_svd_sparse,
                                        shapes=lambda linear, rank, options: LowRankPlusSparseLinear(
                                            linear.in_features, linear.out_features,
                                            low_rank_part(rank, options.low_rank_fraction),
                                            bias=linear.bias is not None)))
