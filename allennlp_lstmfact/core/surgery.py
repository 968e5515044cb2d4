"""
One entry point, `compress_modules`, that replaces the `nn.Linear` layers of a module tree
selected by a `CompressionSpec` with the layers of a registered method (`core.methods`: e.g.
`LowRankLinear` for svd, `MaskedLinear` for prune, `MonarchLinear` for monarch), optionally in low
precision (`core.precision`: bf16 or int8, also for dense matrices without a method), in place; and
`compress_deferred`, which compresses the staged layers it built.
"""
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from allennlp_lstmfact.core.factorize import check_weight, low_rank_parameter_count, relative_error
from allennlp_lstmfact.core.methods import METHODS, MethodOptions, get_method
from allennlp_lstmfact.core.precision import CONVERTIBLE_LAYERS, check_precision, to_precision
from allennlp_lstmfact.core.rank_selection import (
    ALLOCATIONS,
    budget_ranks,
    check_fraction,
    check_positive_rank,
    check_sizes,
    energy_ranks,
    ranks_depend_on_weights,
)


def _names(key: str, value: Union[str, Sequence[str]]) -> Tuple[str, ...]:
    """A module name or a sequence of them as a tuple; `ValueError` naming `key` otherwise."""
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"{key} must be a module name or a list of them, got {value!r}")
    return tuple(names)


@dataclass(frozen=True)
class CompressionSpec:
    """
    What to compress and how.

    # Parameters

    method : `str`
        A registered method (`core.methods.METHODS`; `"prune"`: magnitude pruning at the parameter
        budget of the rank); `None` keeps the matrices dense and changes only their `precision`.
    rank : `int`, optional (default = `None`)
        Rank r for every target (unless `rank_pattern` says otherwise). With a method, exactly one
        of `rank`, `budget` and `energy` is required; without, none.
    targets : `Sequence[str]`, optional (default = `()`)
        Module names matched exactly or as a dotted suffix (`"state_linearity"` matches
        `"...forward_layer_0.state_linearity"`).
    target_regex : `str`, optional (default = `None`)
        A regular expression that must match the whole module name. Either or both may be given.
    exclude : `Sequence[str]`, optional (default = `()`)
        Regular expressions (searched) of module names never to touch.
    rank_pattern : `Dict[str, int]`, optional (default = `{}`)
        Regular expression (searched in the module name) → rank; the first match wins. Matrices
        that a pattern fixes are outside `budget` and `energy`. A pattern that matches none of the
        targets raises `ValueError` when the ranks are resolved.
    budget : `float`, optional (default = `None`)
        Ranks chosen so that the factors of all the (other) targets hold at most this fraction of
        their dense parameters, Σ r(m + n) ≤ budget · Σ mn, by `allocation`.
    allocation : `str`, optional (default = `"uniform"`)
        With `budget`: `"uniform"` (one rank for all) or `"spectral"` (per-matrix ranks that keep the
        most relative spectral energy, see `rank_selection.spectral_ranks_for_budget`).
    energy : `float`, optional (default = `None`)
        Per matrix, the smallest rank keeping this fraction of Σσ².
        For the data-aware methods, `spectral` and `energy` read the spectra of the matrices the
        method factorizes (W·diag(s^α), diag(√I)·W): with fisher_svd the allocation is loss-aware.
    allow_parameter_increase : `bool`, optional (default = `False`)
        Permit ranks with r(m + n) ≥ mn.
    random_state : `int`, optional (default = `0`)
    method_options : `Mapping[str, Any]`, optional (default = `{}`)
        The method's options (its `MethodOptions` fields, e.g. `solver` for SVD; `init`, `max_iter`,
        `tol` for Semi-NMF; `grid` for block_svd); stored validated, as the method's options object.
    precision : `str`, optional (default = `"fp32"`)
        `"bf16"` or `"int8"`: the compressed (or, without a method, dense) matrices are stored and
        multiplied in that precision (`core.precision`); only for the methods whose layer is a
        `LowRankLinear` (svd, semi_nmf, asvd, fisher_svd), and not staged.
    """

    method: Optional[str]
    rank: Optional[int] = None
    targets: Tuple[str, ...] = ()
    target_regex: Optional[str] = None
    exclude: Tuple[str, ...] = ()
    rank_pattern: Dict[str, int] = field(default_factory=dict)
    allow_parameter_increase: bool = False
    random_state: int = 0
    method_options: Union[Mapping[str, Any], MethodOptions] = field(default_factory=dict)
    budget: Optional[float] = None
    allocation: str = "uniform"
    energy: Optional[float] = None
    precision: str = "fp32"

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.method is None:
            self._check_precision_only()
        else:
            object.__setattr__(self, "method_options", get_method(self.method).parse_options(self.method_options))
            check_method_precision(self.method, self.precision)
        object.__setattr__(self, "targets", _names("targets", self.targets))
        object.__setattr__(self, "exclude", _names("exclude", self.exclude))
        if not isinstance(self.rank_pattern, Mapping) or not all(isinstance(p, str) for p in self.rank_pattern):
            raise ValueError(f"rank_pattern must map regular expressions to ranks, got {self.rank_pattern!r}")
        if not self.targets and self.target_regex is None:
            raise ValueError("a CompressionSpec needs `targets` or `target_regex` (which modules to compress)")
        if self.method is None:
            return
        given = check_sizes(rank=self.rank, budget=self.budget, energy=self.energy)
        for key, rank in [("rank", self.rank), *((f"rank_pattern[{p!r}]", r) for p, r in self.rank_pattern.items())]:
            if rank is not None:
                check_positive_rank(key, rank)
        if self.budget is not None:
            check_fraction("budget", self.budget, upper_inclusive=False)
        if self.energy is not None:
            check_fraction("energy", self.energy, upper_inclusive=True)
        if self.allocation not in ALLOCATIONS:
            raise ValueError(f"unknown rank allocation {self.allocation!r}; allowed: {', '.join(ALLOCATIONS)}")
        if self.allocation != "uniform" and self.budget is None:
            raise ValueError(f"allocation {self.allocation!r} allocates a budget; give budget instead of {given}")
        for pattern in (self.target_regex, *self.exclude, *self.rank_pattern):
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise ValueError(f"invalid regular expression {pattern!r}: {error}") from None

    def _check_precision_only(self) -> None:
        """The checks of a spec without a method: it changes the precision of dense matrices, nothing else."""
        if self.precision == "fp32":
            raise ValueError("a CompressionSpec without a method changes only the precision: give precision bf16 or "
                             "int8, or a method")
        sizes = {key: value for key, value in (("rank", self.rank), ("budget", self.budget), ("energy", self.energy))
                 if value is not None}
        if sizes or self.rank_pattern or self.method_options:
            given = sizes or ({"rank_pattern": self.rank_pattern} if self.rank_pattern else
                              {"method_options": self.method_options})
            raise ValueError(f"{', '.join(f'{k}={v!r}' for k, v in given.items())} needs a method (without one the "
                             f"matrices stay dense, in precision {self.precision!r})")

    def matches(self, name: str) -> bool:
        if any(re.search(pattern, name) for pattern in self.exclude):
            return False
        by_name = any(name == target or name.endswith("." + target) for target in self.targets)
        by_regex = self.target_regex is not None and re.fullmatch(self.target_regex, name) is not None
        return by_name or by_regex

    @property
    def ranks_depend_on_weights(self) -> bool:
        """Whether the ranks come from the matrices' spectra (`energy`, or `budget` allocated spectrally)."""
        return ranks_depend_on_weights(self.budget, self.allocation, self.energy)

    def check_rank_pattern(self, names: Sequence[str]) -> None:
        """`ValueError` naming every `rank_pattern` entry that matches none of the matrices `names` (and them)."""
        unmatched = [pattern for pattern in self.rank_pattern if not any(re.search(pattern, name) for name in names)]
        if unmatched:
            raise ValueError(f"rank_pattern {', '.join(map(repr, unmatched))} matches none of the compressed matrices "
                             f"{list(names)}")

    def ranks(self, weights: Dict[str, torch.Tensor]) -> Dict[str, int]:
        """
        The rank of each named target matrix: `rank_pattern` first, then `rank`, `budget` or `energy`.
        A `rank_pattern` entry that matches none of the matrices raises `ValueError` (a rank the
        user asked for would otherwise be silently ignored).
        """
        self.check_rank_pattern(list(weights))
        fixed = {}
        for name in weights:
            pattern = next((pattern for pattern in self.rank_pattern if re.search(pattern, name)), None)
            if pattern is not None:
                fixed[name] = self.rank_pattern[pattern]
        rest = {name: weight for name, weight in weights.items() if name not in fixed}
        if not rest or self.rank is not None:
            chosen = dict.fromkeys(rest, self.rank)
        elif self.budget is not None:
            chosen = budget_ranks(rest, self.budget, self.allocation, self.allow_parameter_increase)
        else:
            chosen = energy_ranks(rest, self.energy, self.allow_parameter_increase)
        return {name: fixed.get(name, chosen.get(name)) for name in weights}


@dataclass
class CompressedMatrix:
    """One row of a `CompressionReport`."""

    name: str
    shape: Tuple[int, int]
    method: str
    rank: int
    params_before: int
    params_after: int
    relative_error: float
    precision: str = "fp32"


@dataclass
class CompressionReport:
    """What `compress_modules` did: one `CompressedMatrix` per replaced layer."""

    matrices: List[CompressedMatrix] = field(default_factory=list)

    @property
    def targeted(self) -> List[str]:
        return [matrix.name for matrix in self.matrices]

    @property
    def params_before(self) -> int:
        return sum(matrix.params_before for matrix in self.matrices)

    @property
    def params_after(self) -> int:
        return sum(matrix.params_after for matrix in self.matrices)

    def to_markdown(self) -> str:
        lines = ["| matrix | shape | method | rank | params before | params after | rel. error |",
                 "|---|---|---|---:|---:|---:|---:|"]
        for m in self.matrices:
            method = m.method if m.precision == "fp32" else f"{m.method} ({m.precision})"
            lines.append(f"| {m.name} | {m.shape[0]}x{m.shape[1]} | {method} | {m.rank} | "
                         f"{m.params_before:,} | {m.params_after:,} | {m.relative_error:.4f} |")
        lines.append(f"| **total** | | | | {self.params_before:,} | {self.params_after:,} | |")
        return "\n".join(lines)


def _weight_count(layer: nn.Module) -> int:
    return layer.stored_parameter_count() - (layer.bias.numel() if layer.bias is not None else 0)


def _report_row(name: str, layer: nn.Module, method: str, rank: int, dense_weight,
                precision: str = "fp32") -> CompressedMatrix:
    return CompressedMatrix(name=name, shape=tuple(dense_weight.shape), method=method, rank=rank,
                            params_before=dense_weight.numel(), params_after=_weight_count(layer),
                            relative_error=relative_error(dense_weight.data, layer.reconstruct_weight().data),
                            precision=precision)


def compress_deferred(root: nn.Module, names: Optional[Sequence[str]] = None) -> CompressionReport:
    """
    Run `compress_()` on the deferred layers of `root` (all, or those named), in place; layers
    already compressed are left as they are (and reported again).
    """
    layers = {name: module for name, module in root.named_modules() if hasattr(module, "compress_")}
    unknown = sorted(set(names or ()) - set(layers))
    if unknown:
        raise ValueError(f"not deferred compressed layers: {unknown}; deferred layers: {sorted(layers)}")
    report = CompressionReport()
    for name in (names if names is not None else layers):
        layer = layers[name]
        layer.compress_()
        report.matrices.append(_report_row(name, layer, layer.method, layer.rank, layer.weight))
    return report


def find_targets(root: nn.Module, spec: CompressionSpec) -> List[str]:
    """Names of the modules of `root` that `spec` selects; raises if one is not a plain `nn.Linear`."""
    names = []
    for name, module in root.named_modules():
        if not name or not spec.matches(name):
            continue
        if type(module) is not nn.Linear:
            raise ValueError(f"module {name!r} matched the compression targets but is a "
                             f"{type(module).__name__}; only plain torch.nn.Linear layers can be compressed")
        names.append(name)
    return names


def check_method_precision(method: str, precision: str) -> None:
    """`ValueError` unless the layers of `method` convert to `precision` (`core.precision.to_precision`)."""
    if precision != "fp32" and get_method(method).layer not in CONVERTIBLE_LAYERS:
        convertible = [name for name, m in METHODS.items() if m.layer in CONVERTIBLE_LAYERS]
        raise ValueError(f"precision {precision!r} applies to dense matrices and to the low-rank methods "
                         f"{', '.join(convertible)}; not to method {method!r}")


def compress_modules(root: nn.Module, spec: CompressionSpec, progress: bool = False, deferred: bool = False,
                     data_scales: Optional[Dict[str, torch.Tensor]] = None,
                     shapes_only: bool = False) -> CompressionReport:
    """
    Replace every `nn.Linear` of `root` selected by `spec`, in place, and report what changed.

    All targets are factorized before any is replaced, so an error (bad rank, NaN weights) leaves
    `root` untouched. Raises `ValueError` when nothing matched. With `deferred=True` the layers get
    their compressed structure but compute densely until `compress_deferred` (staged compression);
    the report then gives the budget, with NaN errors. `data_scales` (module name → calibration
    statistics, see `CompressionMethod.calibration`) feed the data-aware methods. With `shapes_only`
    the values of the new layers are left uninitialized: a state dict holding them (an archive's) must be
    loaded next; nothing is factorized, the weights are not read, and the report gives the budget with
    NaN errors. The ranks must then not depend on the weights (`ValueError` otherwise). With a
    `spec.precision` other than fp32 the new layers (or, without a method, the dense matrices) are
    converted to it; staged layers cannot be.
    """
    if deferred and spec.precision != "fp32":
        raise ValueError(f"staged (deferred) compression trains its layers, which precision {spec.precision!r} "
                         "freezes; stage in fp32 and convert afterwards")
    names = find_targets(root, spec)
    if not names:
        available = [name for name, module in root.named_modules() if isinstance(module, nn.Linear)]
        raise ValueError(f"no module matched targets={list(spec.targets)} target_regex={spec.target_regex!r}; "
                         f"nn.Linear modules available: {available[:20]}{' ...' if len(available) > 20 else ''}")
    if shapes_only and spec.ranks_depend_on_weights:
        raise ValueError("a shapes-only compression needs ranks that do not depend on the weights "
                         f"(rank, or a uniform budget), got {spec.budget=} {spec.allocation=} {spec.energy=}")
    weights = {name: root.get_submodule(name).weight.data for name in names}
    for name, weight in weights.items():
        try:
            if not shapes_only:
                check_weight(weight)
        except ValueError as error:
            raise ValueError(f"cannot compress {name!r}: {error}") from None
    if spec.method is None:
        replacements = {name: to_precision(root.get_submodule(name), spec.precision) for name in names}
        report = CompressionReport([_report_row(name, layer, "dense", min(layer.weight.shape),
                                                root.get_submodule(name).weight, spec.precision)
                                    for name, layer in replacements.items()])
        _replace(root, replacements)
        return report
    method = get_method(spec.method)
    if progress:
        from tqdm import tqdm

        names_iter = tqdm(names, desc=f"{spec.method} compression")
    else:
        names_iter = names
    spec.check_rank_pattern(names)
    try:
        if method.data_aware and spec.ranks_depend_on_weights:
            missing = sorted(set(names) - set(data_scales or {}))
            if missing:
                raise ValueError(f"method {spec.method!r} has no calibration statistics for {missing}")
            weights = {name: method.weighted(weight, data_scales[name], spec.method_options)
                       for name, weight in weights.items()}
        ranks = spec.ranks(weights)
    except ValueError as error:
        raise ValueError(f"cannot choose the ranks of {names}: {error}") from None
    replacements, report = {}, CompressionReport()
    for name in names_iter:
        linear = root.get_submodule(name)
        rank = ranks[name]
        try:
            layer = method.from_linear(linear, rank, spec.method_options, deferred=deferred,
                                       allow_parameter_increase=spec.allow_parameter_increase,
                                       random_state=spec.random_state, data_scale=(data_scales or {}).get(name),
                                       shapes_only=shapes_only)
        except ValueError as error:
            raise ValueError(f"cannot compress {name!r}: {error}") from None
        layer = to_precision(layer, spec.precision)
        replacements[name] = layer
        if deferred or shapes_only:
            row = CompressedMatrix(name=name, shape=tuple(linear.weight.shape), method=spec.method, rank=rank,
                                   params_before=linear.weight.numel(),
                                   params_after=low_rank_parameter_count(tuple(linear.weight.shape), rank),
                                   relative_error=float("nan"), precision=spec.precision)
        else:
            row = _report_row(name, layer, spec.method, rank, linear.weight, spec.precision)
        report.matrices.append(row)
    _replace(root, replacements)
    return report


def _replace(root: nn.Module, replacements: Dict[str, nn.Module]) -> None:
    for name, layer in replacements.items():
        parent_name, _, child_name = name.rpartition(".")
        setattr(root.get_submodule(parent_name), child_name, layer)
