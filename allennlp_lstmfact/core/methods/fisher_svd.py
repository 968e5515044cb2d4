"""
Fisher-weighted SVD (Hsu et al. 2022): the SVD of diag(√I)·W, I_i the Fisher information of row i
on calibration data, then U ← diag(1/√I)·U; same r(m + n) parameters as SVD.
"""
from dataclasses import dataclass
from typing import Tuple

import torch
from torch import nn

from allennlp_lstmfact.core.factorize import check_weight, truncated_svd
from allennlp_lstmfact.core.layers import LowRankLinear, low_rank_shapes
from allennlp_lstmfact.core.methods.asvd import check_scale, unit_rms
from allennlp_lstmfact.core.methods.registry import BuildContext, CompressionMethod, MethodOptions, register


def fisher_scale(weight: torch.Tensor, row_importance: torch.Tensor) -> torch.Tensor:
    """
    Fisher-weighted SVD's row weights √I, shaped (m, 1), normalised to unit root mean square; rows
    below 1e-6 of the largest I floored there.
    """
    check_weight(weight)
    check_scale("row_importance", row_importance, weight.shape[0], "non-negative", row_importance >= 0)
    if not bool((row_importance > 0).any()):
        raise ValueError("row_importance is zero in every row: the calibration loss does not depend on this matrix")
    importance = row_importance.to(weight.device, torch.float64)
    return unit_rms(importance.clamp_min(1e-6 * importance.max()).sqrt()).to(weight.dtype)[:, None]


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


@dataclass(frozen=True)
class FisherSvdOptions(MethodOptions):
    """Fisher-weighted SVD has no options."""


def build_fisher_svd(linear: nn.Linear, rank: int, options: FisherSvdOptions, context: BuildContext) -> nn.Module:
    factor_u, factor_v = fisher_weighted_svd(linear.weight.data, rank, context.data_scale,
                                             allow_parameter_increase=context.allow_parameter_increase)
    return LowRankLinear.from_factors(linear, factor_u, factor_v)


def fisher_weighted(weight: torch.Tensor, row_importance: torch.Tensor, options: FisherSvdOptions) -> torch.Tensor:
    return weight * fisher_scale(weight, row_importance)


FISHER_SVD = register(CompressionMethod("fisher_svd", "Fisher-weighted SVD (needs labelled calibration data)",
                                        FisherSvdOptions, LowRankLinear, build_fisher_svd,
                                        calibration="output rows", weighting=fisher_weighted,
                                        shapes=low_rank_shapes))
