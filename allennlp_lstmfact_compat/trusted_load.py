"""
(3) `Weights only load failed` when resuming training (`allennlp train -r`) or reading a
`TensorCache`.

Since torch 2.6, `torch.load` defaults to `weights_only=True`. allennlp's `Checkpointer.
load_checkpoint` (`allennlp/training/checkpointer.py`) reloads training states that hold numpy
scalars (metrics) and other objects, and `TensorCache.__getitem__` (`allennlp/common/file_utils.py`)
reads tensors pickled with protocol 5; both fail. Both read files allennlp wrote itself, which
torch < 2.6 loaded with `weights_only=False`. These two modules get a module-local `torch` whose
`load` defaults to `weights_only=False`; `torch.load` everywhere else is unchanged.
"""
from types import ModuleType

import torch


class TorchWithTrustedLoad:
    """The `torch` module, except that `load` defaults to `weights_only=False`."""

    def __getattr__(self, name: str):
        return getattr(torch, name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {torch!r}>"

    @staticmethod
    def load(*args, weights_only: bool = False, **kwargs):
        return torch.load(*args, weights_only=weights_only, **kwargs)


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.training.checkpointer` or `allennlp.common.file_utils`.
    """
    if not isinstance(module.torch, TorchWithTrustedLoad):
        module.torch = TorchWithTrustedLoad()
