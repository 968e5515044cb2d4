"""
Truncated SVD (Winata et al. 2019 §3.3): the best rank-r approximation W ≈ U V, computed with the
two factors (r(m + n) multiply-adds instead of mn).
"""
from dataclasses import dataclass

from torch import nn

from allennlp_lstmfact.core.factorize import check_svd_solver, truncated_svd
from allennlp_lstmfact.core.layers import DeferredLowRankLinear, LowRankLinear, low_rank_shapes
from allennlp_lstmfact.core.methods.registry import BuildContext, CompressionMethod, MethodOptions, register


@dataclass(frozen=True)
class SvdOptions(MethodOptions):
    """
    # Parameters

    solver : `str`, optional (default = `"auto"`)
        One of `factorize.SVD_SOLVERS` (see `truncated_svd`).
    """

    solver: str = "auto"

    def __post_init__(self) -> None:
        check_svd_solver(self.solver)


def build_svd(linear: nn.Linear, rank: int, options: SvdOptions, context: BuildContext) -> nn.Module:
    if context.deferred:
        return DeferredLowRankLinear.from_linear(linear, rank, "svd", options.as_dict(),
                                                   allow_parameter_increase=context.allow_parameter_increase,
                                                   random_state=context.random_state)
    factor_u, factor_v = truncated_svd(linear.weight.data, rank, solver=options.solver,
                                       random_state=context.random_state,
                                       allow_parameter_increase=context.allow_parameter_increase)
    return LowRankLinear.from_factors(linear, factor_u, factor_v)


SVD = register(CompressionMethod("svd", "truncated SVD", SvdOptions, LowRankLinear, build_svd,
                                 staged_layer=DeferredLowRankLinear, shapes=low_rank_shapes))
