"""
Magnitude pruning (Winata et al. 2019 §3.5) at the parameter budget of a rank-r factorization:
keep the r(m + n) largest-magnitude entries of W (footnote 1). The layer keeps the dense weight
and its mask, so it saves numbers to store, not FLOPs on dense hardware.
"""
from dataclasses import dataclass
import torch
from torch import nn
from torch.nn import functional as F

from allennlp_lstmfact.core.factorize import check_rank, check_weight, magnitude_prune_mask, relative_error
from allennlp_lstmfact.core.layers import copy_factors
from allennlp_lstmfact.core.methods.registry import BuildContext, CompressionMethod, MethodOptions, register


class MaskedLinear(nn.Linear):
    """
    A `torch.nn.Linear` whose weight is multiplied by a fixed 0/1 mask (buffer `weight_mask`).

    Pruned entries stay zero through fine-tuning: their gradient is masked too.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.register_buffer("weight_mask", torch.ones(out_features, in_features, dtype=torch.bool))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.linear(inputs, self.reconstruct_weight(), self.bias)

    def reconstruct_weight(self) -> torch.Tensor:
        return self.weight * self.weight_mask

    def num_kept(self) -> int:
        return int(self.weight_mask.sum())

    def stored_parameter_count(self) -> int:
        return self.num_kept() + (self.bias.numel() if self.bias is not None else 0)

    @classmethod
    def from_mask(cls, linear: nn.Linear, mask: torch.Tensor) -> "MaskedLinear":
        """A layer computing with `linear`'s weight (and bias) under the boolean `mask`."""
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        copy_factors(layer, linear, weight=linear.weight * mask)
        with torch.no_grad():
            layer.weight_mask.copy_(mask)
        return layer


class DeferredMaskedLinear(MaskedLinear):
    """
    A `MaskedLinear` whose mask keeps everything until `compress_()` prunes the weight to the
    budget of a rank-`rank` factorization.
    """

    method = "prune"

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True,
                 allow_parameter_increase: bool = False) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.rank, self.allow_parameter_increase = rank, allow_parameter_increase
        self.register_buffer("compressed", torch.tensor(False))

    def compress_(self) -> float:
        """Set the magnitude-pruning mask (once); returns the relative error."""
        if not self.compressed:
            mask = magnitude_prune_mask(self.weight.data, self.rank,
                                        allow_parameter_increase=self.allow_parameter_increase)
            with torch.no_grad():
                self.weight_mask.copy_(mask)
                self.compressed.fill_(True)
        return relative_error(self.weight.data, self.reconstruct_weight().data)


@dataclass(frozen=True)
class PruneOptions(MethodOptions):
    """Magnitude pruning has no options."""


def build_prune(linear: nn.Linear, rank: int, options: PruneOptions, context: BuildContext) -> nn.Module:
    if context.deferred:
        check_weight(linear.weight.data)
        check_rank(rank, tuple(linear.weight.shape), allow_parameter_increase=context.allow_parameter_increase)
        layer = DeferredMaskedLinear(linear.in_features, linear.out_features, rank, bias=linear.bias is not None,
                                     allow_parameter_increase=context.allow_parameter_increase)
        copy_factors(layer, linear, weight=linear.weight)
        return layer
    return MaskedLinear.from_mask(linear, magnitude_prune_mask(
        linear.weight.data, rank, allow_parameter_increase=context.allow_parameter_increase))


PRUNE = register(CompressionMethod("prune", "magnitude pruning to r(m + n) weights", PruneOptions, MaskedLinear,
                                   build_prune, staged_layer=DeferredMaskedLinear,
                                   shapes=lambda linear, rank, options: MaskedLinear(
                                       linear.in_features, linear.out_features, bias=linear.bias is not None)))
