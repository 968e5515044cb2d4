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
from allennlp_lstmfact.core.layers import (
    BlockLowRankLinear,
    DeferredLowRankLinear,
    DeferredMaskedLinear,
    LowRankLinear,
    LowRankPlusSparseLinear,
    MaskedLinear,
    MonarchLinear,
)
from allennlp_lstmfact.core.metrics import count_parameters, efficiency, matrix_norms
from allennlp_lstmfact.core.surgery import (
    CompressedMatrix,
    CompressionReport,
    CompressionSpec,
    compress_linear,
    compress_deferred,
    compress_modules,
)
from allennlp_lstmfact.core.surgery import DATA_AWARE_METHODS, METHODS
from allennlp_lstmfact.core.groupreduce import GroupReduceEmbedding, GroupReduceResult, group_reduce, quantize_rows
from allennlp_lstmfact.core.structured import (
    InputStatistics,
    activation_aware_svd,
    fisher_row_importance,
    fisher_weighted_svd,
    block_low_rank,
    low_rank_plus_sparse,
    monarch_blocks_for_budget,
    monarch_matrix,
    monarch_project,
)
from allennlp_lstmfact.core.rank_selection import (
    ALLOCATIONS,
    budget_ranks,
    energy_ranks,
    rank_for_energy,
    spectral_ranks_for_budget,
    uniform_rank_for_budget,
)
