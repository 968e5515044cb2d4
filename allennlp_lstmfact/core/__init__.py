"""
The factorization core: torch, numpy and scipy only (no AllenNLP).
"""
from allennlp_lstmfact.core.factorize import (
    ConvergenceWarning,
    SemiNMFResult,
    break_even_rank,
    check_rank,
    factorize,
    low_rank_parameter_count,
    magnitude_prune_mask,
    relative_error,
    semi_nmf,
    svd_optimal_error,
    truncated_svd,
)
from allennlp_lstmfact.core.layers import DeferredLowRankLinear, DeferredMaskedLinear, LowRankLinear, MaskedLinear
from allennlp_lstmfact.core.metrics import count_parameters, efficiency, matrix_norms
from allennlp_lstmfact.core.surgery import (
    CompressedMatrix,
    CompressionReport,
    CompressionSpec,
    compress_linear,
    compress_deferred,
    compress_modules,
)
