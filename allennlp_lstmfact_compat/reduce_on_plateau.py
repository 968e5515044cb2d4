"""
(2) `ReduceLROnPlateau.__init__() got an unexpected keyword argument 'verbose'`.

allennlp's `reduce_on_plateau` scheduler
(`allennlp/training/learning_rate_schedulers/pytorch_lr_schedulers.py`,
`ReduceOnPlateauLearningRateScheduler.__init__`) passes `verbose` to torch, which removed it.
The constructor is wrapped to build torch's scheduler from the same arguments less `verbose`. The
wrapper keeps the original signature (`functools.wraps`), so `from_params` still accepts
`verbose` in configs and ignores it; it only ever switched on log messages.
"""
import functools
import inspect
from types import ModuleType

import torch


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.training.learning_rate_schedulers.pytorch_lr_schedulers`.
    """
    scheduler_class = module.ReduceOnPlateauLearningRateScheduler
    original = scheduler_class.__init__
    if getattr(original, "__lstmfact_compat__", False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self, *args, **kwargs) -> None:
        arguments = signature.bind(self, *args, **kwargs)
        arguments.apply_defaults()
        torch_arguments = dict(arguments.arguments)
        del torch_arguments["self"], torch_arguments["verbose"]
        lr_scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(**torch_arguments)
        super(scheduler_class, self).__init__(lr_scheduler)

    __init__.__lstmfact_compat__ = True
    scheduler_class.__init__ = __init__
