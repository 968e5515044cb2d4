"""allennlp_lstmfact_compat.squad_metric: SquadEmAndF1 with workers that see different numbers of instances."""
import os
import socket

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from allennlp_models.rc.metrics import SquadEmAndF1

# (prediction, gold answers): EM 1 / F1 1; EM 0 / F1 2/3 (precision 1, recall 1/2); EM 0 / F1 0
CALLS = [("Normandy", ["Normandy"]), ("cat", ["cat sat"]), ("Paris", ["France"])]


def test_one_process_scores_as_the_squad_script():
    metric = SquadEmAndF1()
    for prediction, gold in CALLS:
        metric(prediction, gold)
    assert metric.get_metric() == pytest.approx((1 / 3, (1 + 2 / 3) / 3))
    assert metric.get_metric(reset=True) == pytest.approx((1 / 3, (1 + 2 / 3) / 3))
    assert metric.get_metric() == (0, 0)


def _worker(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        metric = SquadEmAndF1()
        for prediction, gold in CALLS[:2] if rank == 0 else CALLS[2:]:  # two calls in one worker, one in the other
            metric(prediction, gold)
        results[rank] = (metric.get_metric(), metric.get_metric(reset=True), metric.get_metric())
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two spawned processes: 8-15 s
def test_workers_with_different_numbers_of_calls_agree_on_the_totals():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    results = mp.Manager().dict()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(_worker, args=(port, results), nprocs=2, join=True)
    expected = pytest.approx((1 / 3, (1 + 2 / 3) / 3))
    for rank in (0, 1):
        before_reset, at_reset, after_reset = results[rank]
        assert before_reset == expected and at_reset == expected and after_reset == (0, 0)
