"""
The compression methods of one weight matrix, one module each, registered in `METHODS` (name →
`CompressionMethod`) in this order. A new method is a module here with its options dataclass, its
layer and a builder, registered with `register` and imported below.
"""
from allennlp_lstmfact.core.methods.registry import (
    METHODS,
    BuildContext,
    CompressionMethod,
    MethodOptions,
    data_aware_methods,
    get_method,
    register,
    staged_methods,
)
from allennlp_lstmfact.core.methods import svd, semi_nmf, prune  # noqa: E402,F401  (Winata et al. 2019)
from allennlp_lstmfact.core.methods import block_svd, monarch  # noqa: E402,F401  (Gupta et al. 2024)
from allennlp_lstmfact.core.methods import svd_sparse, asvd, fisher_svd  # noqa: E402,F401  (beyond the papers)
