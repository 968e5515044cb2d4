"""
Activation-aware SVD (ASVD, Yuan et al. 2023): the SVD of W·diag(s^α), s the mean absolute value of
each input feature on calibration data, then V ← V·diag(s^-α); same r(m + n) parameters as SVD.
"""
from dataclasses import dataclass
from typing import Tuple

import torch
from torch import nn

from allennlp_lstmfact.core.factorize import check_weight, truncated_svd
from allennlp_lstmfact.core.layers import LowRankLinear
from allennlp_lstmfact.core.methods.registry import BuildContext, CompressionMethod, MethodOptions, register


def unit_rms(scale: torch.Tensor) -> torch.Tensor:
    """`scale` / its root mean square: weights of overall size 1, so that the factors U, V of the
    weighted matrix stay balanced once the weights are divided out again (which matters to fine-tuning)."""
    return scale / scale.pow(2).mean().sqrt()


def activation_scale(weight: torch.Tensor, input_scale: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """ASVD's column weights s^α (validated against `weight`), normalised to unit root mean square."""
    check_weight(weight)
    if input_scale.shape != (weight.shape[1],) or not bool((input_scale > 0).all()):
        raise ValueError(f"input_scale must be positive with shape ({weight.shape[1]},), got "
                         f"{tuple(input_scale.shape)}")
    return unit_rms(input_scale.to(weight.device, torch.float64) ** alpha).to(weight.dtype)


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


@dataclass(frozen=True)
class AsvdOptions(MethodOptions):
    """
    # Parameters

    alpha : `float`, optional (default = `0.5`)
        The exponent of the column weights s^α.
    """

    alpha: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not self.alpha > 0:
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}")


def build_asvd(linear: nn.Linear, rank: int, options: AsvdOptions, context: BuildContext) -> nn.Module:
    factor_u, factor_v = activation_aware_svd(linear.weight.data, rank, context.data_scale, options.alpha,
                                              allow_parameter_increase=context.allow_parameter_increase)
    return LowRankLinear.from_factors(linear, factor_u, factor_v)


def asvd_weighted(weight: torch.Tensor, input_scale: torch.Tensor, options: AsvdOptions) -> torch.Tensor:
    return weight * activation_scale(weight, input_scale, options.alpha)


ASVD = register(CompressionMethod("asvd", "activation-aware SVD (needs calibration data)", AsvdOptions, LowRankLinear,
                                  build_asvd, calibration="input columns", weighting=asvd_weighted))
