"""
Semi-NMF (Winata et al. 2019 §3.4; Ding, Li & Jordan 2010): W ≈ U V with V ≥ 0, computed with
the two factors like SVD's.
"""
from dataclasses import dataclass

from torch import nn

from allennlp_lstmfact.core.factorize import check_semi_nmf_options, semi_nmf
from allennlp_lstmfact.core.layers import DeferredLowRankLinear, LowRankLinear, low_rank_shapes
from allennlp_lstmfact.core.methods.registry import BuildContext, CompressionMethod, MethodOptions, register


@dataclass(frozen=True)
class SemiNmfOptions(MethodOptions):
    """
    # Parameters

    init : `str`, optional (default = `"svd"`)
        `"svd"` or `"random"`.
    solver : `str`, optional (default = `"cd"`)
        `"cd"` (coordinate descent) or `"multiplicative"` (Ding et al.'s rule).
    max_iter : `int`, optional (default = `200`)
    tol : `float`, optional (default = `1e-4`)
        Relative tolerance on the objective's decrease.
    """

    init: str = "svd"
    solver: str = "cd"
    max_iter: int = 200
    tol: float = 1e-4

    def __post_init__(self) -> None:
        check_semi_nmf_options(self.init, self.solver, self.max_iter, self.tol)


def build_semi_nmf(linear: nn.Linear, rank: int, options: SemiNmfOptions, context: BuildContext) -> nn.Module:
    if context.deferred:
        return DeferredLowRankLinear.from_linear(linear, rank, "semi_nmf", options.as_dict(),
                                                   allow_parameter_increase=context.allow_parameter_increase,
                                                   random_state=context.random_state)
    result = semi_nmf(linear.weight.data, rank, random_state=context.random_state,
                      allow_parameter_increase=context.allow_parameter_increase, **options.as_dict())
    return LowRankLinear.from_factors(linear, result.U, result.V)


SEMI_NMF = register(CompressionMethod("semi_nmf", "Semi-NMF (V >= 0)", SemiNmfOptions, LowRankLinear, build_semi_nmf,
                                      staged_layer=DeferredLowRankLinear, shapes=low_rank_shapes))
