"""
The compression core: torch and numpy only (no AllenNLP). One module per method under `methods/`
(registered in `METHODS`), the factorizations they share (`factorize`), the shared low-rank layers
(`layers`), surgery on module trees (`surgery`), rank selection, calibration statistics, metrics
and GroupReduce for vocabulary matrices.
"""
from allennlp_lstmfact.core.calibration import InputStatistics, fisher_row_importance
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
    top_k_mask,
    truncated_svd,
)
from allennlp_lstmfact.core.layers import DeferredLowRankLinear, LowRankLinear
from allennlp_lstmfact.core.methods import (
    METHODS,
    CompressionMethod,
    MethodOptions,
    data_aware_methods,
    get_method,
    staged_methods,
)
from allennlp_lstmfact.core.methods.asvd import activation_aware_svd
from allennlp_lstmfact.core.methods.block_svd import BlockLowRankLinear, block_low_rank
from allennlp_lstmfact.core.methods.fisher_svd import fisher_weighted_svd
from allennlp_lstmfact.core.methods.monarch import (
    MonarchLinear,
    monarch_blocks_for_budget,
    monarch_matrix,
    monarch_project,
)
from allennlp_lstmfact.core.methods.prune import DeferredMaskedLinear, MaskedLinear
from allennlp_lstmfact.core.methods.svd_sparse import LowRankPlusSparseLinear, low_rank_plus_sparse
from allennlp_lstmfact.core.metrics import count_parameters, efficiency, matrix_norms
from allennlp_lstmfact.core.surgery import (
    CompressedMatrix,
    CompressionReport,
    CompressionSpec,
    compress_deferred,
    compress_modules,
)
from allennlp_lstmfact.core.groupreduce import GroupReduceEmbedding, GroupReduceResult, group_reduce, quantize_rows
from allennlp_lstmfact.core.rank_selection import (
    ALLOCATIONS,
    budget_ranks,
    energy_ranks,
    rank_for_energy,
    spectral_ranks_for_budget,
    uniform_rank_for_budget,
)
