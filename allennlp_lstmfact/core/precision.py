"""
Low-precision copies of linear layers for CPU inference, with torch's own kernels:

- `"bf16"` (`Bf16Linear`): the weight stored in bfloat16; the input is cast to bfloat16, oneDNN
  multiplies (accumulating in fp32) and returns bfloat16, which is cast back to fp32; the bias is
  added in fp32. About 3 significant digits per product (relative error ≈ 2⁻⁹ per rounding).
- `"int8"` (`Int8Linear`): the weight quantized symmetrically per output row (scale = max|row| / 127)
  and the input per call, per tensor, asymmetrically on the full 8 bits: torch's dynamic quantized
  linear (`torch.ops.quantized.linear_dynamic`, FBGEMM on x86), the bias added in fp32 by the
  kernel. The packed weight is built on first use (and again after a state dict loads); the state
  dict holds only plain tensors (the int8 weight, its fp32 scales, the bias), so archives load with
  `weights_only` and on any engine.

`to_precision(layer, precision)` converts a `torch.nn.Linear` (the dense baseline) or a
`LowRankLinear` (each factor: `LowPrecisionLowRankLinear`); other layers are refused. What stays
fp32 is everything around the products: biases, the LSTM gates, the cell state and clipping.

These layers are for inference: their weights are frozen buffers and they pass no gradient, so an
input that needs one (training, fine-tuning) raises `ValueError`; train in fp32, convert afterwards.
"""
import warnings
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from allennlp_lstmfact.core.layers import LowRankLinear

PRECISIONS = ("fp32", "bf16", "int8")
INT8_LEVELS = 127  # symmetric int8 weights: −127..127


def check_precision(precision: str) -> str:
    """`precision` if it is one of `PRECISIONS`; `ValueError` naming it and the allowed ones otherwise."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is unknown; allowed: {', '.join(PRECISIONS)}")
    return precision


def _resize_buffers(module: nn.Module, state_dict, prefix: str) -> None:
    """Give `module`'s buffers the shapes stored in `state_dict` (ranks chosen from the weights when it was written)."""
    for name, buffer in list(module._buffers.items()):
        stored = state_dict.get(prefix + name)
        if buffer is not None and stored is not None and stored.shape != buffer.shape:
            module._buffers[name] = buffer.new_empty(stored.shape)


class LowPrecisionLinear(nn.Module):
    """
    Base of the low-precision linear layers: y = W x + b with W in `precision`, b in fp32.

    # Parameters

    weight : `torch.Tensor`
        The fp32 weight (out × in) to convert.
    bias : `torch.Tensor`, optional (default = `None`)
    """

    precision = "fp32"

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> None:
        super().__init__()
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    @property
    def in_features(self) -> int:
        return self.weight.shape[1]

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def check_no_gradient(self, inputs: torch.Tensor) -> None:
        """`ValueError` if `inputs` needs a gradient: these layers are frozen and pass none."""
        if torch.is_grad_enabled() and inputs.requires_grad:
            raise ValueError(f"a {self.precision} layer has frozen weights and passes no gradient, but its input needs "
                             f"one (training or fine-tuning?): train in fp32 and convert afterwards (compression "
                             f"precision {self.precision!r}, `allennlp compress --precision {self.precision}`)")

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        _resize_buffers(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def stored_parameter_count(self) -> int:
        return self.weight.numel() + (0 if self.bias is None else self.bias.numel())

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bf16Linear(LowPrecisionLinear):
    """The weight in bfloat16, the bias and the output in fp32 (see the module's docstring)."""

    precision = "bf16"

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> None:
        super().__init__(weight, bias)
        self.register_buffer("weight", weight.detach().to(torch.bfloat16).contiguous())

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.check_no_gradient(inputs)
        outputs = F.linear(inputs.to(torch.bfloat16), self.weight).float()
        return outputs if self.bias is None else outputs.add_(self.bias)

    def reconstruct_weight(self) -> torch.Tensor:
        return self.weight.float()


class Int8Linear(LowPrecisionLinear):
    """The weight in int8 with one fp32 scale per output row, dynamic int8 inputs (see the module's docstring)."""

    precision = "int8"

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> None:
        super().__init__(weight, bias)
        weight = weight.detach().float()
        scale = weight.abs().amax(1) / INT8_LEVELS
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row: any scale
        self.register_buffer("weight", torch.round(weight / scale[:, None]).clamp_(-INT8_LEVELS, INT8_LEVELS)
                             .to(torch.int8))
        self.register_buffer("scale", scale)
        self._packed = None

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._packed = None

    def _apply(self, *args, **kwargs):
        self._packed = None
        return super()._apply(*args, **kwargs)

    def packed_weight(self):
        """The weight packed for `torch.ops.quantized.linear_dynamic` (built once)."""
        if self._packed is None:
            with warnings.catch_warnings():  # torch marks quantized tensor creation deprecated (pytorch#184982)
                warnings.simplefilter("ignore")
                zero_points = torch.zeros(self.out_features, dtype=torch.long)
                quantized = torch._make_per_channel_quantized_tensor(self.weight, self.scale.double(), zero_points, 0)
                self._packed = torch.ops.quantized.linear_prepack(quantized, self.bias)
        return self._packed

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        self.check_no_gradient(inputs)
        return torch.ops.quantized.linear_dynamic(inputs.float().contiguous(), self.packed_weight(), False)

    def reconstruct_weight(self) -> torch.Tensor:
        return self.weight.float() * self.scale[:, None]


LINEAR_CLASSES = {"bf16": Bf16Linear, "int8": Int8Linear}


class LowPrecisionLowRankLinear(nn.Module):
    """
    A `LowRankLinear` x ↦ U(Vx) + b whose factors are low-precision layers: `factor_v` (V, no bias)
    and `factor_u` (U with the bias); the rank-r features pass between them in fp32.

    # Parameters

    factor_v : `LowPrecisionLinear`
    factor_u : `LowPrecisionLinear`
    """

    def __init__(self, factor_v: LowPrecisionLinear, factor_u: LowPrecisionLinear) -> None:
        super().__init__()
        self.factor_v, self.factor_u = factor_v, factor_u

    @property
    def precision(self) -> str:
        return self.factor_u.precision

    @property
    def rank(self) -> int:
        return self.factor_v.out_features

    @property
    def in_features(self) -> int:
        return self.factor_v.in_features

    @property
    def out_features(self) -> int:
        return self.factor_u.out_features

    @property
    def bias(self) -> Optional[torch.Tensor]:
        return self.factor_u.bias

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.factor_u(self.factor_v(inputs))

    def reconstruct_weight(self) -> torch.Tensor:
        return self.factor_u.reconstruct_weight() @ self.factor_v.reconstruct_weight()

    def stored_parameter_count(self) -> int:
        return self.factor_v.stored_parameter_count() + self.factor_u.stored_parameter_count()

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}"


LOW_PRECISION_LAYERS = (LowPrecisionLinear, LowPrecisionLowRankLinear)
# The layers `to_precision` converts: a dense matrix (the baseline) and the low-rank factors of
# svd, semi_nmf, asvd and fisher_svd.
CONVERTIBLE_LAYERS = (nn.Linear, LowRankLinear)


def is_low_precision(layer: nn.Module) -> bool:
    return isinstance(layer, LOW_PRECISION_LAYERS)


def to_precision(layer: nn.Module, precision: str) -> nn.Module:
    """
    A copy of `layer` (a `torch.nn.Linear` or a `LowRankLinear`) computing in `precision`; `layer`
    itself for `"fp32"`. `ValueError` for another precision or layer.
    """
    check_precision(precision)
    if precision == "fp32":
        return layer
    linear_class = LINEAR_CLASSES[precision]
    if type(layer) is nn.Linear:
        return linear_class(layer.weight, layer.bias)
    if type(layer) is LowRankLinear:
        return LowPrecisionLowRankLinear(linear_class(layer.weight_v), linear_class(layer.weight_u, layer.bias))
    raise ValueError(f"precision {precision!r} applies to torch.nn.Linear and LowRankLinear layers (dense matrices "
                     f"and the factors of svd, semi_nmf, asvd, fisher_svd), not to a {type(layer).__name__}")


def stored_bytes(module: nn.Module) -> int:
    """Bytes of `module`'s state dict tensors (what an archive stores, before compression)."""
    return sum(tensor.numel() * tensor.element_size() for tensor in module.state_dict().values()
               if isinstance(tensor, torch.Tensor))

