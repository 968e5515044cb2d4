"""
(13) Distributed BiDAF training dies in its first uneven batch with gloo's "Received data size
doesn't match expected size ... Is there a distributed collective mismatch".

`SquadEmAndF1.__call__` (`allennlp_models/rc/metrics/squad_em_and_f1.py`) sums its counts over
the workers (`dist_reduce_sum`) on every call, and BiDAF calls it once per instance of a batch, so
two workers whose batches differ in size (the last batch of a shard, always on small data) make
different numbers of collective calls. The patch makes `__call__` sum this worker's counts only and
`get_metric` sum them over the workers, which every worker calls once per batch, as allennlp's own
metrics are reduced; one process computes exactly what it did before.
"""
import functools
from types import ModuleType

from allennlp.nn.util import dist_reduce_sum


def _this_worker_only(value):
    return value


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp_models.rc.metrics.squad_em_and_f1`.
    """
    metric = module.SquadEmAndF1
    original = metric.get_metric
    if getattr(original, "__lstmfact_compat__", False):
        return
    module.dist_reduce_sum = _this_worker_only  # what `__call__` sums with

    @functools.wraps(original)
    def get_metric(self, reset: bool = False):
        local = self._total_em, self._total_f1, self._count
        self._total_em, self._total_f1, self._count = (dist_reduce_sum(value) for value in local)
        try:
            return original(self, reset)
        finally:
            if not reset:
                self._total_em, self._total_f1, self._count = local

    get_metric.__lstmfact_compat__ = True
    metric.get_metric = get_metric
