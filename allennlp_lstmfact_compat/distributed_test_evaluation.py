"""
(7) Distributed training with `evaluate_on_test: true` crashes after the last epoch
(`gloo ... all_reduce: Connection closed by peer`) and writes no archive.

In `_train_worker` (`allennlp/commands/train.py`) only the primary worker calls
`TrainModel.finish`, which evaluates the test set, while the other workers return and exit. The
process group is still up in the primary, so every metric all-reduces with workers that are gone;
and the test data loader, built while the group was up, holds only the primary's shard of the test
set (`MultiProcessDataLoader` reads its instances when it is built, through a reader that shards
them by worker). The replacement `finish` leaves the process group, drops the reader's shard and
the loader's instances before evaluating, so the primary reads and evaluates the whole test set
alone, as a one-process run does.
"""
import functools
from types import ModuleType

import torch.distributed as dist


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.commands.train`.
    """
    original = module.TrainModel.finish
    if getattr(original, "__lstmfact_compat__", False):
        return

    @functools.wraps(original)
    def finish(self, metrics):
        if self.evaluate_on_test and self.evaluation_data_loader is not None and dist.is_initialized():
            dist.destroy_process_group()  # the other workers have finished and left
            loader = self.evaluation_data_loader
            if getattr(loader, "reader", None) is not None:
                loader.reader._distributed_info = None
            if getattr(loader, "_instances", None) is not None:
                loader._instances = None  # this worker's shard: read again, all of it
        return original(self, metrics)

    finish.__lstmfact_compat__ = True
    module.TrainModel.finish = finish
