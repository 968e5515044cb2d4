"""
DropConnect on a recurrent matrix (Wan et al. 2013; the "weight drop" of Merity et al. 2018).

A linear layer is read as a chain of matrices, x ↦ x F₁ F₂ … + b, so that a time loop can apply
it with `addmm` and no module call per step. DropConnect zeroes entries of the last matrix of the
chain (the one that produces the gates), with one mask per forward pass shared by all time steps:

- `torch.nn.Linear`: the whole W_h, as in awd-lstm-lm;
- `LowRankLinear` (W_h ≈ U V; `DeferredLowRankLinear` once compressed): the output factor U
  (4·hidden × r), i.e. the connections from the r latent units to the gates. Dropping V as well
  would compound the rate;
- any other layer with `reconstruct_weight()` (`MaskedLinear`, block low-rank, Monarch, …): its
  dense reconstruction, so pruned entries stay zero. These compute densely inside the LSTM.
"""
from typing import List, Optional, Tuple

import torch
from torch import nn

from allennlp_lstmfact.core.layers import DeferredLowRankLinear, LowRankLinear
from allennlp_lstmfact.core.precision import is_low_precision


def linear_chain(layer: nn.Module) -> Tuple[List[torch.Tensor], Optional[torch.Tensor]]:
    """
    `(matrices, bias)` with `layer(x) == x @ matrices[0] @ matrices[1] … + bias` (each matrix
    in × out, i.e. a transposed weight). Raises `TypeError` for layers it cannot read.
    """
    if type(layer) is nn.Linear:
        return [layer.weight.t()], layer.bias
    if type(layer) is DeferredLowRankLinear and not bool(layer.compressed):
        return [layer.weight.t()], layer.bias
    if type(layer) in (LowRankLinear, DeferredLowRankLinear):
        return [layer.weight_v.t(), layer.weight_u.t()], layer.bias
    if hasattr(layer, "reconstruct_weight") and not is_low_precision(layer):
        return [layer.reconstruct_weight().t()], getattr(layer, "bias", None)
    raise TypeError(f"cannot read a {type(layer).__name__} as a chain of matrices; supported: torch.nn.Linear, "
                    "LowRankLinear, and layers with reconstruct_weight() (not low-precision ones, which compute "
                    "their own products)")


def drop_connect(matrices: List[torch.Tensor], probability: float) -> List[torch.Tensor]:
    """
    DropConnect (inverted scaling) on the last matrix of a chain; a no-op for probability 0. The mask
    is drawn as uniform numbers below 1 − p: on CPU 2.7x faster than `F.dropout`'s Bernoulli draws
    (a 1600 x 400 matrix, one thread), which for a large W_h cost a tenth of a training step.
    """
    if probability == 0.0:
        return matrices
    matrix = matrices[-1]
    keep = 1.0 - probability
    return [*matrices[:-1], matrix * (torch.rand_like(matrix) < keep) / keep]
