"""
(11) The train log lists every weight of ELMo's biLM under "the following parameters are using
their default initialization from their code", which reads as if ELMo had not been loaded.

`InitializerApplicator.__call__` (`allennlp/nn/initializers.py`) lists every parameter that no
initializer regex matched; ELMo's biLM (`_ElmoBiLm`: character CNN, highways, LSTMs) loads its
weights from the weight file when it is built, before the model's initializer runs. The wrapper
leaves those parameters out of that list and says in one line how many were loaded from the
weight file.
"""
import functools
import logging
from types import ModuleType
from typing import Set

import torch


class _SkipParameters(logging.Filter):
    """Drops the initializer's per-parameter lines that name one of `names`."""

    def __init__(self, names: Set[str]) -> None:
        super().__init__()
        self.names = names
        self.skipped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        skip = record.msg == "   %s" and bool(record.args) and record.args[0] in self.names
        self.skipped += skip
        return not skip


def elmo_bilm_parameters(module: torch.nn.Module) -> Set[str]:
    """The names of the parameters of every ELMo biLM (`_ElmoBiLm`) inside `module`."""
    from allennlp.modules.elmo import _ElmoBiLm

    return {f"{prefix}.{name}" if prefix else name
            for prefix, submodule in module.named_modules() if isinstance(submodule, _ElmoBiLm)
            for name, _ in submodule.named_parameters()}


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.nn.initializers`.
    """
    applicator = module.InitializerApplicator
    original = applicator.__call__
    if getattr(original, "__lstmfact_compat__", False):
        return

    @functools.wraps(original)
    def __call__(self, model: torch.nn.Module) -> None:
        skip = _SkipParameters(elmo_bilm_parameters(model))
        module.logger.addFilter(skip)
        try:
            original(self, model)
        finally:
            module.logger.removeFilter(skip)
        if skip.skipped:
            module.logger.info("   (and %d parameters of ELMo's biLM, loaded from its weight file)", skip.skipped)

    __call__.__lstmfact_compat__ = True
    applicator.__call__ = __call__
