"""
Drop-in replacements for `torch.nn.Linear` that hold a compressed weight.

`LowRankLinear` computes with its two factors (x ↦ U(Vx) + b: r(m + n) multiply-adds per input
instead of mn); `reconstruct_weight()` rebuilds the dense matrix for analysis only.
`MaskedLinear` keeps the dense weight and a pruning mask (a buffer, saved in the state dict);
it saves parameters to store, not FLOPs on dense hardware.

The `Deferred*` variants have the compressed structure from construction but compute densely
until `compress_()` fills it in (staged compression): a model's shape then never changes during
training, so optimizers, checkpoints and archives stay valid. Their `compressed` flag is a buffer.

Every layer here has `stored_parameter_count()`: the numbers it really needs (pruned entries and
not-yet-used factors excluded), which `count_parameters` uses.
"""
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from allennlp_lstmfact.core.factorize import check_rank, check_weight, factorize, magnitude_prune_mask, relative_error
from allennlp_lstmfact.core.structured import (
    block_low_rank,
    low_rank_plus_sparse,
    monarch_blocks_for_budget,
    monarch_matrix,
    monarch_project,
)


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
    def from_linear(cls, linear: nn.Linear, rank: int, method: str = "svd", **options) -> "LowRankLinear":
        """
        Factorize `linear.weight` by `method` (`"svd"` or `"semi_nmf"`) into a new layer; the bias is
        copied and `requires_grad` follows the original weight and bias.
        """
        return cls.from_factors(linear, *factorize(linear.weight.data, rank, method, **options))

    @classmethod
    def from_factors(cls, linear: nn.Linear, factor_u: torch.Tensor, factor_v: torch.Tensor) -> "LowRankLinear":
        """A layer computing with given factors (U m×r, V r×n) and `linear`'s bias."""
        layer = cls(linear.in_features, linear.out_features, factor_u.shape[1], bias=linear.bias is not None)
        _copy_factors(layer, linear, weight_u=factor_u, weight_v=factor_v)
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

    def stored_parameter_count(self) -> int:
        return self.num_kept() + (self.bias.numel() if self.bias is not None else 0)

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, mask: Optional[torch.Tensor] = None,
                    **options) -> "MaskedLinear":
        """Prune `linear` to the parameter budget of a rank-`rank` factorization (or to `mask`)."""
        if mask is None:
            mask = magnitude_prune_mask(linear.weight.data, rank, **options)
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        _copy_factors(layer, linear, weight=linear.weight * mask)
        with torch.no_grad():
            layer.weight_mask.copy_(mask)
        return layer

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
    def from_linear(cls, linear: nn.Linear, rank: int, method: str = "svd", *,
                    allow_parameter_increase: bool = False, **method_options) -> "DeferredLowRankLinear":
        check_weight(linear.weight.data)
        check_rank(rank, tuple(linear.weight.shape), allow_parameter_increase=allow_parameter_increase)
        layer = cls(linear.in_features, linear.out_features, rank, bias=linear.bias is not None, method=method,
                    method_options={"allow_parameter_increase": allow_parameter_increase, **method_options})
        _copy_factors(layer, linear, weight=linear.weight)
        for factor in (layer.weight_u, layer.weight_v):  # trainable once compressed iff the weight was
            factor.requires_grad_(linear.weight.requires_grad)
        return layer


class DeferredMaskedLinear(MaskedLinear):
    """
    A `MaskedLinear` whose mask keeps everything until `compress_()` prunes the weight to the
    budget of a rank-`rank` factorization.
    """

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

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, *, allow_parameter_increase: bool = False,
                    **unused) -> "DeferredMaskedLinear":
        check_weight(linear.weight.data)
        check_rank(rank, tuple(linear.weight.shape), allow_parameter_increase=allow_parameter_increase)
        layer = cls(linear.in_features, linear.out_features, rank, bias=linear.bias is not None,
                    allow_parameter_increase=allow_parameter_increase)
        _copy_factors(layer, linear, weight=linear.weight)
        return layer


class BlockLowRankLinear(ShapesFromStateDict, nn.Module):
    """
    A grid of R×C blocks, each its own low-rank product: y_i = Σ_j U_ij (V_ij x_j) + b_i.

    # Parameters

    in_features, out_features : `int`
    grid : `Tuple[int, int]`
        (row blocks R, column blocks C); they must divide the matrix.
    block_rank : `int`
    bias : `bool`, optional (default = `True`)
    """

    def __init__(self, in_features: int, out_features: int, grid, block_rank: int, bias: bool = True) -> None:
        super().__init__()
        row_blocks, col_blocks = grid
        self.in_features, self.out_features, self.grid = in_features, out_features, tuple(grid)
        self.weight_u = nn.Parameter(torch.zeros(row_blocks, col_blocks, out_features // row_blocks, block_rank))
        self.weight_v = nn.Parameter(torch.zeros(row_blocks, col_blocks, block_rank, in_features // col_blocks))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        blocks = inputs.reshape(*inputs.shape[:-1], self.grid[1], -1)
        hidden = torch.einsum("rcbn,...cn->...rcb", self.weight_v, blocks)
        output = torch.einsum("rcmb,...rcb->...rm", self.weight_u, hidden).reshape(*inputs.shape[:-1], -1)
        return output + self.bias if self.bias is not None else output

    def reconstruct_weight(self) -> torch.Tensor:
        blocks = self.weight_u @ self.weight_v  # (R, C, m/R, n/C)
        return blocks.transpose(1, 2).reshape(self.out_features, self.in_features)

    def stored_parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, grid=(4, 1), **options) -> "BlockLowRankLinear":
        factor_u, factor_v = block_low_rank(linear.weight.data, rank, tuple(grid), **options)
        layer = cls(linear.in_features, linear.out_features, grid, factor_u.shape[-1], bias=linear.bias is not None)
        _copy_factors(layer, linear, weight_u=factor_u, weight_v=factor_v)
        return layer


class MonarchLinear(ShapesFromStateDict, nn.Module):
    """
    y = M x + b with M a Monarch matrix kept as its factors L (q, s, k) and R (k, q, p)
    (see `core.structured.monarch_project`): m·k + n·q multiply-adds instead of mn.
    """

    def __init__(self, in_features: int, out_features: int, blocks, bias: bool = True) -> None:
        super().__init__()
        input_blocks, output_groups = blocks
        self.in_features, self.out_features, self.blocks = in_features, out_features, tuple(blocks)
        self.weight_l = nn.Parameter(torch.zeros(output_groups, out_features // output_groups, input_blocks))
        self.weight_r = nn.Parameter(torch.zeros(input_blocks, output_groups, in_features // input_blocks))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        blocks = inputs.reshape(*inputs.shape[:-1], self.blocks[0], -1)  # (..., k, p)
        mixed = torch.einsum("jiu,...ju->...ij", self.weight_r, blocks)  # (..., q, k)
        output = torch.einsum("itj,...ij->...it", self.weight_l, mixed).reshape(*inputs.shape[:-1], -1)
        return output + self.bias if self.bias is not None else output

    def reconstruct_weight(self) -> torch.Tensor:
        return monarch_matrix(self.weight_l, self.weight_r)

    def _shapes_loaded(self) -> None:
        self.blocks = (self.weight_r.shape[0], self.weight_l.shape[0])

    def stored_parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, blocks=None, allow_parameter_increase: bool = False,
                    **unused) -> "MonarchLinear":
        """Project onto Monarch with `blocks` (k, q), or the largest that fits the rank-`rank` budget."""
        shape = tuple(linear.weight.shape)
        check_weight(linear.weight.data)
        check_rank(rank, shape, allow_parameter_increase=allow_parameter_increase)
        blocks = tuple(blocks) if blocks else monarch_blocks_for_budget(shape, rank * (shape[0] + shape[1]))
        factor_l, factor_r = monarch_project(linear.weight.data, blocks)
        layer = cls(linear.in_features, linear.out_features, blocks, bias=linear.bias is not None)
        _copy_factors(layer, linear, weight_l=factor_l, weight_r=factor_r)
        return layer


class LowRankPlusSparseLinear(LowRankLinear):
    """
    y = U (V x) + S x + b: a low-rank product plus a sparse residual S (dense storage with a mask
    buffer here, so it saves parameters to store; the low-rank part saves FLOPs).
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, rank, bias)
        self.residual = nn.Parameter(torch.zeros(out_features, in_features))
        self.register_buffer("residual_mask", torch.zeros(out_features, in_features, dtype=torch.bool))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return super().forward(inputs) + F.linear(inputs, self.residual * self.residual_mask)

    def reconstruct_weight(self) -> torch.Tensor:
        return super().reconstruct_weight() + self.residual * self.residual_mask

    def stored_parameter_count(self) -> int:
        return (self.weight_u.numel() + self.weight_v.numel() + int(self.residual_mask.sum())
                + (self.bias.numel() if self.bias is not None else 0))

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, low_rank_fraction: float = 0.5, **options) -> "LowRankPlusSparseLinear":
        factor_u, factor_v, residual = low_rank_plus_sparse(linear.weight.data, rank, low_rank_fraction, **options)
        layer = cls(linear.in_features, linear.out_features, factor_u.shape[1], bias=linear.bias is not None)
        _copy_factors(layer, linear, weight_u=factor_u, weight_v=factor_v, residual=residual)
        with torch.no_grad():
            layer.residual_mask.copy_(residual != 0)
        return layer


def _copy_factors(layer: nn.Module, linear: nn.Linear, **factors: torch.Tensor) -> None:
    """Fill `layer`'s named factor parameters and bias from computed `factors` and `linear`."""
    layer.to(device=linear.weight.device, dtype=linear.weight.dtype)
    with torch.no_grad():
        for name, value in factors.items():
            getattr(layer, name).copy_(value)
            getattr(layer, name).requires_grad_(linear.weight.requires_grad)
        if linear.bias is not None:
            layer.bias.copy_(linear.bias)
            layer.bias.requires_grad_(linear.bias.requires_grad)
