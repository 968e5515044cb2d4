"""torch's default thread count: OMP_NUM_THREADS when set, else the physical cores this process may use."""
import os
import subprocess
import sys

import pytest
import torch

from allennlp_lstmfact.threads import apply_default_threads, physical_cores


@pytest.fixture
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_omp_num_threads_is_left_to_torch(restore_threads):
    torch.set_num_threads(1)
    apply_default_threads({"OMP_NUM_THREADS": "3"})
    assert torch.get_num_threads() == 1


def test_without_omp_num_threads_torch_gets_the_physical_cores(restore_threads):
    torch.set_num_threads(1)
    apply_default_threads({})
    assert torch.get_num_threads() == physical_cores()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to restrict a process to one")
def test_a_process_restricted_to_one_cpu_gets_one_thread():
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
            "import torch; from allennlp_lstmfact.threads import apply_default_threads\n"
            "apply_default_threads(); print(torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout) == 1


@pytest.mark.parametrize("quota, cores", [("max 100000", None), ("150000 100000", 2), ("50000 100000", 1)])
def test_a_cpu_quota_caps_the_cores(tmp_path, quota, cores):
    """A container limited to 1.5 CPUs (cgroup v2 `cpu.max`) gets at most 2 threads, to 0.5 CPUs 1."""
    (tmp_path / "cpu.max").write_text(quota + "\n")
    unlimited = physical_cores(tmp_path / "missing")
    assert physical_cores(tmp_path / "cpu.max") == (unlimited if cores is None else min(cores, unlimited))
