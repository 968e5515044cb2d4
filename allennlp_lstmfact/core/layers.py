"""
Drop-in replacements for `torch.nn.Linear` that hold a compressed weight.

`LowRankLinear` computes with its two factors (x ↦ U(Vx) + b: r(m + n) multiply-adds per input
instead of mn); `reconstruct_weight()` rebuilds the dense matrix for analysis only.
`MaskedLinear` keeps the dense weight and a pruning mask (a buffer, saved in the state dict);
it saves parameters to store, not FLOPs on dense hardware.
"""
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from allennlp_lstmfact.core.factorize import factorize, magnitude_prune_mask


class LowRankLinear(nn.Module):
    """
    y = U (V x) + b with V (r × in_features) and U (out_features × r).

    # Parameters

    in_features : `int`
    out_features : `int`
    rank : `int`
    bias : `bool`, optional (default = `True`)
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.weight_v = nn.Parameter(torch.empty(rank, in_features))
        self.weight_u = nn.Parameter(torch.empty(out_features, rank))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.normal_(self.weight_v, std=rank ** -0.5)
        nn.init.normal_(self.weight_u, std=in_features ** -0.5)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(inputs, self.weight_v), self.weight_u, self.bias)

    def reconstruct_weight(self) -> torch.Tensor:
        """The dense out×in matrix U V (for analysis; `forward` never builds it)."""
        return self.weight_u @ self.weight_v

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, method: str = "svd", **options) -> "LowRankLinear":
        """
        Factorize `linear.weight` by `method` (`"svd"` or `"semi_nmf"`) into a new layer; the bias is
        copied and `requires_grad` follows the original weight and bias.
        """
        factor_u, factor_v = factorize(linear.weight.data, rank, method, **options)
        layer = cls(linear.in_features, linear.out_features, factor_u.shape[1], bias=linear.bias is not None)
        layer.to(device=linear.weight.device, dtype=linear.weight.dtype)
        with torch.no_grad():
            layer.weight_u.copy_(factor_u)
            layer.weight_v.copy_(factor_v)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
                layer.bias.requires_grad_(linear.bias.requires_grad)
        layer.weight_u.requires_grad_(linear.weight.requires_grad)
        layer.weight_v.requires_grad_(linear.weight.requires_grad)
        return layer

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, bias={self.bias is not None}"


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

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, mask: Optional[torch.Tensor] = None,
                    **options) -> "MaskedLinear":
        """Prune `linear` to the parameter budget of a rank-`rank` factorization (or to `mask`)."""
        if mask is None:
            mask = magnitude_prune_mask(linear.weight.data, rank, **options)
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        layer.to(device=linear.weight.device, dtype=linear.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(linear.weight * mask)
            layer.weight_mask.copy_(mask)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
                layer.bias.requires_grad_(linear.bias.requires_grad)
        layer.weight.requires_grad_(linear.weight.requires_grad)
        return layer
