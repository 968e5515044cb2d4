"""
(4) `A SemLock created in a fork context is being shared with a process in a spawn context`.

`MultiProcessDataLoader._start_instance_workers` and `_start_batch_workers`
(`allennlp/data/data_loaders/multiprocess_data_loader.py`) make the tqdm lock handed to the
workers with `torch.multiprocessing.RLock()`, i.e. in the default (fork) context, while the
workers are started from `mp.get_context(start_method)`. Both methods are replaced by one that
does the same but makes the lock from that context, like the queue and pipes already are.
"""
from types import ModuleType
from typing import Callable

from allennlp.common.tqdm import Tqdm


def _start_workers(loader, target: Callable, queue, ctx):
    """
    Start `loader.num_workers` daemon processes running `target`, as allennlp does.

    # Parameters

    loader : `MultiProcessDataLoader`
    target : `Callable`
        `loader._instance_worker` or `loader._batch_worker`.
    queue : `multiprocessing.JoinableQueue`
        The queue the workers put their results in.
    ctx : `multiprocessing.context.BaseContext`
        The context for `loader.start_method`.
    """
    Tqdm.set_lock(ctx.RLock())
    workers, txs = [], []
    for worker_id in range(loader.num_workers):
        rx, tx = ctx.Pipe(duplex=False)
        worker = ctx.Process(
            target=target, args=(worker_id, queue, Tqdm.get_lock(), rx), daemon=True
        )
        worker.start()
        workers.append(worker)
        txs.append(tx)
    return workers, txs


def _start_instance_workers(self, queue, ctx):
    return _start_workers(self, self._instance_worker, queue, ctx)


def _start_batch_workers(self, queue, ctx):
    return _start_workers(self, self._batch_worker, queue, ctx)


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.data.data_loaders.multiprocess_data_loader`.
    """
    module.MultiProcessDataLoader._start_instance_workers = _start_instance_workers
    module.MultiProcessDataLoader._start_batch_workers = _start_batch_workers
