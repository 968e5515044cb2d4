"""
The method registry: every compression method of one `nn.Linear` is a `CompressionMethod` —
its name, a frozen options dataclass (validated when a spec is built), the layer it produces,
whether it can be staged and whether it needs calibration data — built by one constructor with
one signature for all methods, `CompressionMethod.from_linear`.
"""
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Type

import torch
from torch import nn

from allennlp_lstmfact.core.factorize import check_rank


@dataclass(frozen=True)
class MethodOptions:
    """
    Base of every method's options: a frozen dataclass whose fields are the method's options,
    each checked in `__post_init__` (a bad value raises `ValueError` naming it).
    """

    @classmethod
    def from_mapping(cls, method: str, options: Optional[Mapping[str, Any]]) -> "MethodOptions":
        """The options of `method` from a plain mapping; an unknown key raises `ValueError` naming it."""
        if isinstance(options, cls):
            return options
        if options is not None and not isinstance(options, Mapping):
            raise ValueError(f"the options of method {method!r} must be a mapping (option -> value), got {options!r}")
        options = dict(options or {})
        allowed = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(key for key in options if key not in allowed)
        if unknown:
            raise ValueError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for "
                             f"method {method!r}; allowed: {', '.join(allowed) if allowed else 'none'}")
        return cls(**options)

    def as_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def positive_int_pair(name: str, value: Any, meaning: str) -> Tuple[int, int]:
    """`value` as a pair of positive integers; `ValueError` naming `name`, the value and its `meaning` otherwise."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2 or \
            any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in value):
        raise ValueError(f"{name} must be two positive integers ({meaning}), got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class BuildContext:
    """
    What every method's builder receives besides the layer, its rank and its options.

    # Parameters

    allow_parameter_increase : `bool`, optional (default = `False`)
        Permit ranks with r(m + n) ≥ mn.
    random_state : `int`, optional (default = `0`)
        Seed of randomized solvers and random initialisations.
    data_scale : `torch.Tensor`, optional (default = `None`)
        A data-aware method's calibration statistics for this layer (see `CompressionMethod.calibration`).
    deferred : `bool`, optional (default = `False`)
        Build the staged variant: compressed structure, dense computation until `compress_()`.
    """

    allow_parameter_increase: bool = False
    random_state: int = 0
    data_scale: Optional[torch.Tensor] = None
    deferred: bool = False


ShapesBuilder = Callable[[nn.Linear, int, "MethodOptions"], nn.Module]


Builder = Callable[[nn.Linear, int, MethodOptions, BuildContext], nn.Module]


@dataclass(frozen=True)
class CompressionMethod:
    """
    One compression method of a weight matrix at the parameter budget of a rank-r factorization.

    # Parameters

    name : `str`
    summary : `str`
        One line for help texts.
    options : `Type[MethodOptions]`
    layer : `Type[nn.Module]`
        The layer `from_linear` returns.
    build : `Builder`
        `(linear, rank, options, context) -> layer`.
    staged_layer : `Type[nn.Module]`, optional (default = `None`)
        The deferred variant for staged compression; `None`: the method cannot be staged.
    calibration : `str`, optional (default = `None`)
        For data-aware methods, what their calibration statistics weight: `"input columns"` (the
        mean |input| of each column) or `"output rows"` (the Fisher information of each row).
    weighting : `Callable`, optional (default = `None`)
        Data-aware methods: `(weight, data_scale, options) -> the matrix the method factorizes`, whose
        spectrum chooses the ranks when they come from the spectra.
    shapes : `ShapesBuilder`, optional (default = `None`)
        `(linear, rank, options) -> layer`: a `layer` of the shapes `build` would give, its values
        left as they are (`from_linear(..., shapes_only=True)` builds it on the meta device); `None`:
        the layer's shapes depend on the weight's values, and `shapes_only` builds it with `build`.
    """

    name: str
    summary: str
    options: Type[MethodOptions]
    layer: Type[nn.Module]
    build: Builder
    staged_layer: Optional[Type[nn.Module]] = None
    calibration: Optional[str] = None
    weighting: Optional[Callable[[torch.Tensor, torch.Tensor, MethodOptions], torch.Tensor]] = None
    shapes: Optional[ShapesBuilder] = None

    @property
    def data_aware(self) -> bool:
        return self.calibration is not None

    @property
    def stageable(self) -> bool:
        return self.staged_layer is not None

    def parse_options(self, options: Optional[Mapping[str, Any]]) -> MethodOptions:
        """This method's validated options from a mapping (`ValueError` for an unknown key or a bad value)."""
        return self.options.from_mapping(self.name, options)

    def from_linear(self, linear: nn.Linear, rank: int, options: Optional[Mapping[str, Any]] = None, *,
                    allow_parameter_increase: bool = False, random_state: int = 0,
                    data_scale: Optional[torch.Tensor] = None, deferred: bool = False,
                    shapes_only: bool = False) -> nn.Module:
        """
        A compressed copy of `linear` at the parameter budget of rank `rank`; `linear` is left untouched.
        The bias is copied and `requires_grad` follows the original weight and bias. With `shapes_only`
        (a state dict that holds the compressed values is loaded next), nothing is computed: the layer
        has the shapes (up to the rank, which `ShapesFromStateDict` layers take from the state dict) and
        uninitialized values; a deferred layer is built as usual (that computes nothing either).
        """
        if deferred and not self.stageable:
            raise ValueError(f"staged (deferred) compression supports {', '.join(staged_methods())}, "
                             f"not {self.name!r}")
        if shapes_only and not deferred and self.shapes is not None:
            check_rank(rank, tuple(linear.weight.shape), allow_parameter_increase=allow_parameter_increase)
            options = self.parse_options(options)
            return uninitialized_like(lambda: self.shapes(linear, rank, options), linear)
        if self.data_aware and data_scale is None:
            raise ValueError(f"method {self.name!r} needs statistics of its {self.calibration} from calibration data")
        context = BuildContext(allow_parameter_increase, random_state, data_scale, deferred)
        return self.build(linear, rank, self.parse_options(options), context)

    def weighted(self, weight: torch.Tensor, data_scale: torch.Tensor,
                 options: Optional[Mapping[str, Any]] = None) -> torch.Tensor:
        """The matrix a data-aware method factorizes (plain `weight` for the others)."""
        if self.weighting is None:
            return weight
        return self.weighting(weight, data_scale, self.parse_options(options))


def uninitialized_like(build: Callable[[], nn.Module], linear: nn.Linear) -> nn.Module:
    """
    The layer `build()` returns, built on the meta device (no initialisation runs), then given
    uninitialized memory on `linear`'s device and dtype; each parameter's `requires_grad` is that of
    `linear`'s bias (for `bias`) or weight (the others). Its values must be loaded before use.
    """
    with torch.device("meta"):
        layer = build()
    layer = layer.to_empty(device=linear.weight.device).to(linear.weight.dtype)
    for name, parameter in layer.named_parameters():
        source = linear.bias if name == "bias" and linear.bias is not None else linear.weight
        parameter.requires_grad_(source.requires_grad)
    return layer


METHODS: Dict[str, CompressionMethod] = {}


def register(method: CompressionMethod) -> CompressionMethod:
    """Add `method` to `METHODS` (a name can be registered once)."""
    if method.name in METHODS:
        raise ValueError(f"compression method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def get_method(name: str) -> CompressionMethod:
    """The registered method `name`; `ValueError` naming the allowed ones otherwise."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"unknown compression method {name!r}; allowed: {', '.join(METHODS)}")
    return METHODS[name]


def data_aware_methods() -> Tuple[str, ...]:
    """The methods that need calibration data."""
    return tuple(name for name, method in METHODS.items() if method.data_aware)


def staged_methods() -> Tuple[str, ...]:
    """The methods that staged compression supports."""
    return tuple(name for name, method in METHODS.items() if method.stageable)
