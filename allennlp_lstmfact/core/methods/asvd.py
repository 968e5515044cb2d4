"""
Activation-aware SVD (ASVD, Yuan et al. 2023): the SVD of W·diag(s^α), s the mean absolute value of
each input feature on calibration data, then V ← V·diag(s^-α); same r(m + n) parameters as SVD.
"""
from dataclasses import dataclass
from typing import Tuple

import torch
from torch import nn

from allennlp_lstmfact.core.factorize import check_weight, truncated_svd
from allennlp_lstmfact.core.layers import LowRankLinear, low_rank_shapes
from allennlp_lstmfact.core.methods.registry import BuildContext, CompressionMethod, MethodOptions, register


def check_scale(name: str, scale: torch.Tensor, size: int, allowed: str, ok: torch.Tensor) -> None:
    """
    `ValueError` unless `scale` (calibration statistics) is a tensor of shape (`size`,) whose entries
    are all finite and `ok` (`allowed` says what that means); names what is wrong and how many entries.
    """
    if not isinstance(scale, torch.Tensor) or tuple(scale.shape) != (size,):
        shape = tuple(scale.shape) if isinstance(scale, torch.Tensor) else type(scale).__name__
        raise ValueError(f"{name} must have shape ({size},), got {shape}")
    bad = int((~torch.isfinite(scale)).sum())
    if bad:
        raise ValueError(f"{name} has {bad} NaN/Inf entries of {size}; the calibration statistics must be finite "
                         f"and {allowed}")
    bad = int((~ok).sum())
    if bad:
        raise ValueError(f"{name} has {bad} entries of {size} that are not {allowed} (e.g. {float(scale[~ok][0]):g})")


def unit_rms(scale: torch.Tensor) -> torch.Tensor:
    """`scale` / its root mean square: weights of overall size 1, so that the factors U, V of the
    weighted matrix stay balanced once the weights are divided out again (which matters to fine-tuning)."""
    return scale / scale.pow(2).mean().sqrt()


def activation_scale(weight: torch.Tensor, input_scale: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """ASVD's column weights s^α (validated against `weight`), normalised to unit root mean square."""
    check_weight(weight)
    check_scale("input_scale", input_scale, weight.shape[1], "positive", input_scale > 0)
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
                                  build_asvd, calibration="input columns", weighting=asvd_weighted,
                                  shapes=low_rank_shapes))
