"""
The low-rank layers shared by several methods, and what every compressed layer shares.

`LowRankLinear` computes with its two factors (x ↦ U(Vx) + b: r(m + n) multiply-adds per input
instead of mn); `reconstruct_weight()` rebuilds the dense matrix for analysis only. Truncated SVD,
Semi-NMF and the data-aware SVDs produce it. `DeferredLowRankLinear` has the compressed structure
from construction but computes densely until `compress_()` fills it in (staged compression): a
model's shape then never changes during training, so optimizers, checkpoints and archives stay
valid; its `compressed` flag is a buffer. The layers of the other methods live with their method
(`core/methods/`).

Every compressed layer has `reconstruct_weight()` and `stored_parameter_count()`: the numbers it
really needs (pruned entries and not-yet-used factors excluded), which `count_parameters` uses.
"""
from typing import Any, Dict, Optional

import torch
from torch import nn
from torch.nn import functional as F

from allennlp_lstmfact.core.factorize import check_rank, check_weight, factorize, relative_error


class ShapesFromStateDict:
    """
    Mixin of the layers whose factor shapes depend on the rank: loading a state dict whose factors
    have other shapes (ranks chosen from the weights, e.g. by spectral energy, when the archive was
    written) resizes the factors to the stored ones, then `_shapes_loaded` updates what follows
    from them. A model can thus be built with any ranks and take an archive's.
    """

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        resized = False
        for name, parameter in list(self._parameters.items()):
            stored = state_dict.get(prefix + name)
            if parameter is not None and stored is not None and stored.shape != parameter.shape:
                empty = parameter.detach().new_empty(stored.shape)
                self._parameters[name] = nn.Parameter(empty, requires_grad=parameter.requires_grad)
                resized = True
        if resized:
            self._shapes_loaded()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _shapes_loaded(self) -> None:
        """Update the attributes that follow from the factor shapes."""


class LowRankLinear(ShapesFromStateDict, nn.Module):
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

    def _shapes_loaded(self) -> None:
        self.rank = self.weight_v.shape[0]

    def reconstruct_weight(self) -> torch.Tensor:
        """The dense out×in matrix U V (for analysis; `forward` never builds it)."""
        return self.weight_u @ self.weight_v

    def stored_parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


    @classmethod
    def from_factors(cls, linear: nn.Linear, factor_u: torch.Tensor, factor_v: torch.Tensor) -> "LowRankLinear":
        """A layer computing with given factors (U m×r, V r×n) and `linear`'s bias."""
        layer = cls(linear.in_features, linear.out_features, factor_u.shape[1], bias=linear.bias is not None)
        copy_factors(layer, linear, weight_u=factor_u, weight_v=factor_v)
        return layer

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, bias={self.bias is not None}"


class DeferredLowRankLinear(LowRankLinear):
    """
    A `LowRankLinear` that computes with its dense `weight` until `compress_()` factorizes that
    weight (by `method`) into the factors; from then on it computes with the factors.

    # Parameters

    in_features, out_features, rank : `int`
    bias : `bool`, optional (default = `True`)
    method : `str`, optional (default = `"svd"`)
        `"svd"` or `"semi_nmf"`.
    method_options : `dict`, optional
        Keyword options of `factorize` (`random_state`, `solver`, `init`, …).
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True, method: str = "svd",
                 method_options: Optional[dict] = None) -> None:
        super().__init__(in_features, out_features, rank, bias)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.register_buffer("compressed", torch.tensor(False))
        self.method, self.method_options = method, dict(method_options or {})

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.compressed:
            return super().forward(inputs)
        return F.linear(inputs, self.weight, self.bias)

    def compress_(self) -> float:
        """Factorize the dense weight into the factors (once); returns the relative error."""
        if not self.compressed:
            factor_u, factor_v = factorize(self.weight.data, self.rank, self.method, **self.method_options)
            with torch.no_grad():
                self.weight_u.copy_(factor_u)
                self.weight_v.copy_(factor_v)
                self.compressed.fill_(True)
        return relative_error(self.weight.data, self.reconstruct_weight().data)

    def stored_parameter_count(self) -> int:
        weight = self.weight_u.numel() + self.weight_v.numel() if self.compressed else self.weight.numel()
        return weight + (self.bias.numel() if self.bias is not None else 0)

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, method: str, method_options: Dict[str, Any], *,
                    allow_parameter_increase: bool = False, random_state: int = 0) -> "DeferredLowRankLinear":
        """The staged layer of `method` ("svd" or "semi_nmf" with its `method_options`) for `linear`."""
        check_weight(linear.weight.data)
        check_rank(rank, tuple(linear.weight.shape), allow_parameter_increase=allow_parameter_increase)
        options = {"allow_parameter_increase": allow_parameter_increase, "random_state": random_state,
                   **method_options}
        layer = cls(linear.in_features, linear.out_features, rank, bias=linear.bias is not None, method=method,
                    method_options=options)
        copy_factors(layer, linear, weight=linear.weight)
        for factor in (layer.weight_u, layer.weight_v):  # trainable once compressed iff the weight was
            factor.requires_grad_(linear.weight.requires_grad)
        return layer


def low_rank_shapes(linear: nn.Linear, rank: int, options: Any = None) -> LowRankLinear:
    """A `LowRankLinear` of rank `rank` with `linear`'s sizes (the shapes of every SVD-like method's layer)."""
    return LowRankLinear(linear.in_features, linear.out_features, rank, bias=linear.bias is not None)


def copy_factors(layer: nn.Module, linear: nn.Linear, **factors: torch.Tensor) -> None:
    """Fill `layer`'s named factor parameters and bias from computed `factors` and `linear`."""
    layer.to(device=linear.weight.device, dtype=linear.weight.dtype)
    with torch.no_grad():
        for name, value in factors.items():
            getattr(layer, name).copy_(value)
            getattr(layer, name).requires_grad_(linear.weight.requires_grad)
        if linear.bias is not None:
            layer.bias.copy_(linear.bias)
            layer.bias.requires_grad_(linear.bias.requires_grad)
