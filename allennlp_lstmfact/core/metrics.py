"""
What Winata et al. 2019 measures: parameter counts, the efficiency E(r) (eq. 10), and matrix norms.
"""
from typing import Dict

import torch
from torch import nn


def count_parameters(module: nn.Module) -> int:
    """
    Numbers a model needs to store: plain parameters, plus each compressed layer's
    `stored_parameter_count()` (pruned entries and not-yet-used factors excluded), which covers
    everything below that layer.
    """
    if hasattr(module, "stored_parameter_count"):
        return module.stored_parameter_count()
    own = sum(p.numel() for p in module.parameters(recurse=False))
    return own + sum(count_parameters(child) for child in module.children())


def relative_reduction(a: float, b: float) -> float:
    """R(a, b) = (a − b) / a with a = max(a, b) (Winata et al. 2019, eq. 10)."""
    if a < b:
        raise ValueError(f"R(a, b) needs a >= b (a is the larger value), got a={a}, b={b}")
    return (a - b) / a if a != 0 else 0.0


def efficiency(metric: float, compressed_metric: float, params: int, compressed_params: int,
               lower_is_better: bool = False) -> float:
    """
    E(r) = R(M, M^r) / R(P, P^r) (Winata et al. 2019, eq. 10). Smaller is better; negative when compression
    improved the metric.

    # Parameters

    metric : `float`
        M, the uncompressed model's metric (accuracy, F1, or perplexity).
    compressed_metric : `float`
        M^r, the compressed model's.
    params, compressed_params : `int`
        P and P^r; P^r must be smaller than P.
    lower_is_better : `bool`, optional (default = `False`)
        `True` for perplexity: the numerator becomes R(M^r, M).
    """
    if compressed_params >= params:
        raise ValueError(f"E(r) needs fewer parameters after compression, got P={params}, P^r={compressed_params}")
    loss = compressed_metric - metric if lower_is_better else metric - compressed_metric
    # R(a, b) with a = max(a, b): the sign says whether the metric got worse (+) or better (−).
    worse, better = (compressed_metric, metric) if lower_is_better else (metric, compressed_metric)
    top = max(worse, better)
    numerator = loss / top if top != 0 else 0.0
    return numerator / relative_reduction(params, compressed_params)


def matrix_norms(weight: torch.Tensor) -> Dict[str, float]:
    """
    The norm analysis of one matrix (Winata et al. 2019, §4.4): the entry-wise L1 norm Σ|w_ij|,
    σ(‖W‖₁) defined here as the standard deviation of the per-row L1 norms (one row = one gate
    unit's weights), and the nuclear norm Σσ_i.
    """
    weight = weight.detach().double()
    row_l1 = weight.abs().sum(dim=1)
    return {
        "l1": float(row_l1.sum()),
        "l1_row_std": float(row_l1.std(unbiased=False)),
        "nuclear": float(torch.linalg.svdvals(weight).sum()),
    }
