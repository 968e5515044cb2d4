"""
What every `compression` block of a config shares — ELMo's (`elmo.ElmoCompression`) and the
language model's (`lm.compression.LanguageModelCompression`): the method, its options, how the
ranks are chosen, which of an LSTM's matrices (W_i, W_h) and layers, staging and calibration; all
validated here once, with `ConfigurationError`s that name the key and the bad value — and the
precision of the compressed (or, without a method, dense) matrices (`core.precision`). Each block
adds only its selectors (ELMo: directions; the LM: its `LstmLayer`s and the vocabulary).
"""
import inspect
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from allennlp.common import Params
from allennlp.common.checks import ConfigurationError

from torch import nn

from allennlp_lstmfact.core import (
    METHODS,
    CompressionReport,
    CompressionSpec,
    compress_modules,
    get_method,
    staged_methods,
)
from allennlp_lstmfact.core.precision import PRECISIONS
from allennlp_lstmfact.core.rank_selection import ranks_depend_on_weights

# W_i (input→gates) and W_h (hidden→gates) as the linear modules of an LSTM cell or layer
# (AllenNLP's `LstmCellWithProjection` and this package's `LstmLayer` use the same names).
TARGET_MODULES = {"W_i": ("input_linearity",), "W_h": ("state_linearity",),
                  "both": ("input_linearity", "state_linearity")}

# The projection of an LSTM cell with one (AllenNLP's `LstmCellWithProjection`: ELMo's h = W_p (o ⊙ tanh c)).
STATE_PROJECTION = "state_projection"

STAND_IN_BUDGET = 0.25  # structure-only builds of spectrally chosen ranks: any valid ranks do


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# What the value of each key of a compression block must be (`None` is always allowed: the default).
# Checked on the raw config before AllenNLP's FromParams sees it, which would turn `true` into 1 where
# an int is expected (a rank-1 compression nobody asked for) and fail with a TypeError that hides the value
# elsewhere; and on the constructor's arguments, for blocks built in Python.
KEY_TYPES: Dict[str, Tuple[str, Callable[[Any], bool]]] = {
    "method": ("a method name", lambda value: isinstance(value, str)),
    "rank": ("a positive integer", _is_int),
    "target": ("one of " + ", ".join(TARGET_MODULES), lambda value: isinstance(value, str)),
    "layers": ("a non-empty list of layer indices (integers)",
               lambda value: isinstance(value, list) and bool(value) and all(map(_is_int, value))),
    "directions": ("a non-empty list of 'forward' and/or 'backward'",
                   lambda value: isinstance(value, list) and bool(value) and all(isinstance(d, str) for d in value)),
    "allow_parameter_increase": ("true or false", lambda value: isinstance(value, bool)),
    "staged": ("true or false", lambda value: isinstance(value, bool)),
    "calibrated": ("true or false", lambda value: isinstance(value, bool)),
    "seed": ("an integer", _is_int),
    "method_options": ("an object (option: value)", lambda value: isinstance(value, Mapping)),
    "budget": ("a number in (0, 1)", _is_number),
    "allocation": ("a string", lambda value: isinstance(value, str)),
    "energy": ("a number in (0, 1]", _is_number),
    "rank_pattern": ("an object mapping regular expressions to positive integer ranks",
                     lambda value: isinstance(value, Mapping) and all(_is_int(rank) for rank in value.values())),
    "precision": ("one of " + ", ".join(PRECISIONS), lambda value: isinstance(value, str)),
}


def check_key_types(values: Mapping[str, Any]) -> None:
    """`ConfigurationError` naming the first key of `values` whose value is not what `KEY_TYPES` allows."""
    for key, value in values.items():
        if value is not None and key in KEY_TYPES and not KEY_TYPES[key][1](value):
            raise ConfigurationError(f"compression.{key} must be {KEY_TYPES[key][0]}, got {value!r}")


def block_parameters(cls: type) -> Dict[str, inspect.Parameter]:
    """
    The named parameters of `cls`'s constructor, with those of its base classes' constructors
    where it passes `**kwargs` on (as AllenNLP's `FromParams` reads them).
    """
    parameters: Dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if "__init__" not in klass.__dict__:
            continue
        own = inspect.signature(klass.__dict__["__init__"]).parameters
        for name, parameter in own.items():
            if name != "self" and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                parameters.setdefault(name, parameter)
        if not any(parameter.kind == parameter.VAR_KEYWORD for parameter in own.values()):
            break
    return parameters


def check_known_keys(keys: Iterable[str], allowed: Iterable[str]) -> None:
    """`ConfigurationError` naming the keys of a compression block that are not in `allowed`."""
    allowed = list(allowed)
    unknown = sorted(key for key in keys if key not in allowed)
    if unknown:
        raise ConfigurationError(f"compression: unknown key{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")


class LstmCompressionBlock:
    """
    The keys shared by the compression blocks; see `ElmoCompression` for their meaning.

    # Parameters

    method : `str`
        A registered method (`core.METHODS`); `None` where the block only changes the precision of
        the dense matrices, or compresses something else (the language model's vocabulary; then
        the LSTM keys are not checked).
    rank, budget, allocation, energy, rank_pattern
        How the ranks are chosen: exactly one of `rank`, `budget` and `energy` (none without a method).
    target : `str`
        `"W_i"`, `"W_h"` or `"both"` (`TARGET_MODULES`).
    layers : `List[int]`, optional
        Indices of the LSTM layers to compress (default all).
    allow_parameter_increase, seed, method_options, staged, calibrated
    precision : `str`, optional (default = `"fp32"`)
        `"bf16"` or `"int8"` (`PRECISIONS`): every W_i and W_h of the selected layers (and
        directions), low rank (svd, semi_nmf, asvd, fisher_svd: the `target`) or dense (the others,
        and all without a method), and the state projection of a cell that has one (ELMo's), is
        stored and multiplied in that precision; for inference only (the layers are frozen), so not
        with `staged`.
    """

    def __init__(self, method: Optional[str], rank: Optional[int], target: str, layers: Optional[List[int]],
                 allow_parameter_increase: bool, seed: int, method_options: Optional[Dict[str, Any]], staged: bool,
                 calibrated: bool, budget: Optional[float], allocation: str, energy: Optional[float],
                 rank_pattern: Optional[Dict[str, int]], precision: str = "fp32") -> None:
        check_key_types(dict(method=method, rank=rank, target=target, layers=layers, seed=seed, staged=staged,
                             allow_parameter_increase=allow_parameter_increase, method_options=method_options,
                             calibrated=calibrated, budget=budget, allocation=allocation, energy=energy,
                             rank_pattern=rank_pattern, precision=precision))
        if precision not in PRECISIONS:
            raise ConfigurationError(f"compression.precision {precision!r} is unknown; allowed: "
                                     f"{', '.join(PRECISIONS)}")
        if staged and precision != "fp32":
            raise ConfigurationError(f"compression.staged trains the compressed layers, and precision {precision!r} "
                                     "freezes them: stage in fp32")
        if method is not None or precision != "fp32":
            self._check_lstm_keys(method, rank, target, layers, staged, budget, allocation, energy, rank_pattern or {},
                                  method_options or {}, precision)
        self.method, self.rank, self.target, self.layers = method, rank, target, layers
        self.allow_parameter_increase, self.seed = allow_parameter_increase, seed
        self.method_options = dict(method_options or {})
        self.staged, self.calibrated = staged, calibrated
        self.budget, self.allocation, self.energy = budget, allocation, energy
        self.rank_pattern = dict(rank_pattern or {})
        self.precision = precision

    @staticmethod
    def _check_lstm_keys(method: Optional[str], rank, target: str, layers, staged: bool, budget, allocation: str,
                         energy, rank_pattern: Dict[str, Any], method_options: Dict[str, Any], precision: str) -> None:
        if method is not None and method not in METHODS:
            raise ConfigurationError(f"compression.method {method!r} is unknown; allowed: {', '.join(METHODS)}")
        if target not in TARGET_MODULES:
            raise ConfigurationError(f"compression.target {target!r} is unknown; allowed: {', '.join(TARGET_MODULES)}")
        try:
            CompressionSpec(method=method, rank=rank, target_regex=".*", rank_pattern=rank_pattern, budget=budget,
                            allocation=allocation, energy=energy, method_options=method_options, precision=precision)
        except ValueError as error:
            raise ConfigurationError(f"compression: {error}") from None
        if layers is not None and len(set(layers)) < len(layers):
            raise ConfigurationError(f"compression.layers {layers!r} names a layer twice")
        if staged and method is not None and not get_method(method).stageable:
            raise ConfigurationError(f"compression.staged supports methods {list(staged_methods())}, not {method!r}")

    @classmethod
    def from_params(cls, params: Params, constructor_to_call=None, constructor_to_inspect=None, **extras):
        """
        AllenNLP's `from_params`, after checking the raw config: every key is a parameter of the
        block and has a value of the right JSON type (`KEY_TYPES`), so that nothing is coerced.
        """
        raw = params.as_dict(quiet=True) if isinstance(params, Params) else params
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"the compression block must be an object (key: value), got {raw!r}")
        parameters = block_parameters(cls)
        allowed = list(parameters)
        if "method" not in raw and parameters["method"].default is inspect.Parameter.empty:
            raise ConfigurationError(f"compression.method is required; allowed: {', '.join(METHODS)}")
        check_known_keys(raw, allowed)
        check_key_types(raw)
        return super().from_params(params, constructor_to_call=constructor_to_call,
                                   constructor_to_inspect=constructor_to_inspect, **extras)

    @property
    def compresses_lstm(self) -> bool:
        """Whether the block changes LSTM matrices: by a method, or by precision alone."""
        return self.method is not None or self.precision != "fp32"

    @property
    def data_aware(self) -> bool:
        return self.method is not None and get_method(self.method).data_aware

    @property
    def ranks_depend_on_weights(self) -> bool:
        return ranks_depend_on_weights(self.budget, self.allocation, self.energy)

    @property
    def target_attributes(self) -> Tuple[str, ...]:
        """The names of the linear modules of an LSTM layer this block compresses (both without a method)."""
        return TARGET_MODULES["both" if self.method is None else self.target]

    def convert_other_matrices(self, root: nn.Module, report: CompressionReport) -> CompressionReport:
        """
        With a low precision: the matrices of the layers in `report` (names in `root`) that are still
        dense fp32 — the W_i or W_h that the method left dense, the state projection of a cell that has
        one (ELMo's) — take the precision too; added to `report`. The precision applies to a layer's
        whole recurrence, `target` only chooses what is factorized.
        """
        if self.precision == "fp32":
            return report
        others: List[str] = []
        for name in report.targeted:
            cell_name = name.rpartition(".")[0]
            for attribute in (*TARGET_MODULES["both"], STATE_PROJECTION):
                other = f"{cell_name}.{attribute}"
                if type(getattr(root.get_submodule(cell_name), attribute, None)) is nn.Linear and other not in others:
                    others.append(other)
        if others:
            part = compress_modules(root, CompressionSpec(method=None, precision=self.precision, targets=others))
            report.matrices.extend(part.matrices)
        return report

    def layer_indices(self, num_layers: int, model_description: str) -> List[int]:
        """The selected layer indices of a model with `num_layers` LSTM layers (all by default)."""
        chosen = list(range(num_layers)) if self.layers is None else self.layers
        bad = [k for k in chosen if not 0 <= k < num_layers]
        if bad:
            raise ConfigurationError(f"compression.layers {bad} out of range; {model_description} 0..{num_layers - 1}")
        return chosen

    def size(self) -> str:
        """
        How the ranks are chosen, in words ("rank 10", "budget 0.1 (spectral)", "energy 0.9", "dense"
        without a method), and the precision unless fp32 ("rank 10, int8").
        """
        precision = "" if self.precision == "fp32" else f", {self.precision}"
        if self.method is None:
            return "dense" + precision
        size = f"rank {self.rank}" if self.rank is not None else \
            f"budget {self.budget:g} ({self.allocation})" if self.budget is not None else f"energy {self.energy:g}"
        return size + (f", ranks {self.rank_pattern}" if self.rank_pattern else "") + precision

    def core_spec(self, calibrating: bool = False, structure_only: bool = False, *,
                  targets: Sequence[str] = (), target_regex: Optional[str] = None) -> CompressionSpec:
        """
        The `CompressionSpec` for `targets` (module names) or `target_regex`. A data-aware block
        (asvd, fisher_svd) builds plain SVD factors of the same shape unless `calibrating`. With
        `structure_only`, ranks that would come from the spectra are stand-ins (a uniform budget):
        the archive's factors resize the layers when it loads.
        """
        method = "svd" if self.data_aware and not calibrating else self.method
        method_options = self.method_options if method == self.method else {}
        sizes = dict(rank=self.rank, budget=self.budget, allocation=self.allocation, energy=self.energy)
        if structure_only and self.ranks_depend_on_weights:
            sizes = dict(budget=self.budget or STAND_IN_BUDGET)
        return CompressionSpec(method=method, rank_pattern=self.rank_pattern,
                               allow_parameter_increase=self.allow_parameter_increase, random_state=self.seed,
                               method_options=method_options, targets=targets, target_regex=target_regex,
                               precision=self.precision, **sizes)
