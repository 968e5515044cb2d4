"""
(5) `Could not run 'aten::linalg_vector_norm' with arguments from the 'SparseCPU' backend` when
training a sparse embedding with `grad_norm`.

`allennlp.training.util.rescale_gradients` and `GradientDescentTrainer.rescale_gradients`
(`allennlp/training/gradient_descent_trainer.py`) call torch's `clip_grad_norm_`, which cannot
take the norm of sparse gradients. Both modules' `clip_grad_norm_` is replaced by one that
coalesces sparse gradients (merging repeated rows, as the dense gradient would) and uses the norm
of their values, which equals the norm of the dense gradient; dense-only cases go to torch.
"""
from types import ModuleType
from typing import Iterable, Union

import torch


def sparse_aware_clip_grad_norm_(
    parameters: Union[torch.Tensor, Iterable[torch.Tensor]],
    max_norm: float,
    norm_type: float = 2.0,
    **kwargs,
) -> torch.Tensor:
    """
    `torch.nn.utils.clip_grad_norm_` that also accepts sparse gradients.

    # Parameters

    parameters : `Union[torch.Tensor, Iterable[torch.Tensor]]`
        The parameters whose gradients are scaled in place.
    max_norm : `float`
        The largest total norm allowed.
    norm_type : `float`, optional (default = `2.0`)
        The order of the norm (`inf` works).
    **kwargs
        Passed on to torch when no gradient is sparse.

    # Returns

    `torch.Tensor`
        The total norm of the gradients before clipping.
    """
    parameters = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    with_grad = [p for p in parameters if p.grad is not None]
    if not any(p.grad.is_sparse for p in with_grad):
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type, **kwargs)
    for p in with_grad:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
    grads = [(p.grad._values() if p.grad.is_sparse else p.grad).detach() for p in with_grad]
    norms = torch.stack([torch.linalg.vector_norm(g, norm_type) for g in grads])
    total_norm = torch.linalg.vector_norm(norms, norm_type)
    scale = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
    return total_norm


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.training.util` or `allennlp.training.gradient_descent_trainer`.
    """
    module.clip_grad_norm_ = sparse_aware_clip_grad_norm_
