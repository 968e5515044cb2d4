"""
Calibration statistics of the data-aware methods, gathered while the caller's model runs on
calibration batches (torch only; reading the batches is `allennlp_lstmfact.calibration`'s job):
`InputStatistics` (the mean absolute input of each column, for asvd) and `fisher_row_importance`
(the Fisher information of each row, for fisher_svd).
"""
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

# Where a matrix's inputs can be observed: (the module to hook, which of its tensors are the inputs).
InputSource = Tuple[str, Callable[[tuple, object], torch.Tensor]]


def module_inputs(inputs: tuple, output: object) -> torch.Tensor:
    """The first positional input of a hooked module: an `nn.Linear`'s own input."""
    return inputs[0]


def _submodule(root: torch.nn.Module, name: str) -> torch.nn.Module:
    try:
        return root.get_submodule(name)
    except AttributeError:
        raise ValueError(f"{type(root).__name__} has no module {name!r}") from None


def fisher_row_importance(root: torch.nn.Module, names: Sequence[str], batches: Iterable,
                          loss: Callable[[object], torch.Tensor]) -> Dict[str, torch.Tensor]:
    """
    Per-row Fisher information of the weights of the `nn.Linear` modules `names` of `root`: the mean
    over `batches` of Σ_j (∂ loss(batch) / ∂W_ij)² (an empirical Fisher per batch). The weights get
    gradients for the duration even if they are frozen; no `.grad` of `root` is touched.
    """
    weights = [_submodule(root, name).weight for name in names]
    frozen = [not weight.requires_grad for weight in weights]
    sums = [torch.zeros(weight.shape[0], dtype=torch.float64) for weight in weights]
    count = 0
    try:
        for weight in weights:
            weight.requires_grad_(True)
        with torch.enable_grad():
            for batch in batches:
                gradients = torch.autograd.grad(loss(batch), weights, allow_unused=True)
                for name, total, gradient in zip(names, sums, gradients):
                    if gradient is None:
                        raise ValueError(f"the calibration loss does not depend on {name!r}")
                    total += gradient.detach().double().pow(2).sum(1).cpu()
                count += 1
    finally:
        for weight, was_frozen in zip(weights, frozen):
            weight.requires_grad_(not was_frozen)
    if not count:
        raise ValueError("no calibration batches for the Fisher information")
    return {name: total / count for name, total in zip(names, sums)}


class InputStatistics:
    """
    Mean absolute input of selected `nn.Linear` modules, collected with forward hooks while the
    caller runs calibration batches.

    ```python
    with InputStatistics(model, ["encoder.input_linearity"]) as statistics:
        for batch in batches:
            model(**batch)
    scales = statistics.scales()   # {name: tensor of shape (in_features,)}
    ```

    # Parameters

    root : `torch.nn.Module`
    names : `List[str]`
        The matrices (module names in `root`) whose input statistics are wanted.
    sources : `Mapping[str, InputSource]`, optional (default = `None`)
        Where to observe a matrix's inputs when its module is not called with them (e.g. an LSTM
        layer that feeds its hidden states to W_h's weight directly): name → (the module to hook,
        a function of that module's `(inputs, output)` returning the matrix's inputs). Matrices not
        listed are observed on their own module's input.
    """

    def __init__(self, root: torch.nn.Module, names: List[str],
                 sources: Optional[Mapping[str, InputSource]] = None) -> None:
        self.root, self.names = root, list(names)
        self.sources = {name: (sources or {}).get(name, (name, module_inputs)) for name in self.names}
        self._sums: Dict[str, torch.Tensor] = {}
        self._counts: Dict[str, int] = {}
        self._handles: List = []

    def _record(self, name: str, values: torch.Tensor) -> None:
        values = values.detach().abs().reshape(-1, values.shape[-1]).double()
        self._sums[name] = self._sums.get(name, 0) + values.sum(0)
        self._counts[name] = self._counts.get(name, 0) + values.shape[0]

    def _hook(self, observed: List[Tuple[str, Callable]]):
        def record(module, inputs, output):
            for name, select in observed:
                self._record(name, select(inputs, output))
        return record

    def __enter__(self) -> "InputStatistics":
        by_module: Dict[str, List[Tuple[str, Callable]]] = {}
        for name, (module_name, select) in self.sources.items():
            by_module.setdefault(module_name, []).append((name, select))
        self._handles = [_submodule(self.root, module_name).register_forward_hook(self._hook(observed))
                         for module_name, observed in by_module.items()]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()

    def scales(self, floor: float = 1e-6) -> Dict[str, torch.Tensor]:
        """The mean absolute input per column of each matrix, floored at `floor`."""
        missing = [name for name in self.names if name not in self._counts]
        if missing:
            raise ValueError(f"no calibration input reached {missing}")
        return {name: (self._sums[name] / self._counts[name]).clamp_min(floor).float() for name in self.names}
