"""
torch's thread count for the `allennlp` commands: `OMP_NUM_THREADS` when it is set (torch reads it
itself), otherwise the physical cores this process may run on. torch alone counts the physical
cores of its CPU affinity (taskset, container cpusets) but not a container's CPU quota
(`docker --cpus`), and more threads than CPUs makes every OpenMP barrier spin against the other
processes.
"""
import math
import os
from pathlib import Path
from typing import Mapping, Optional

import torch


CGROUP_CPU_QUOTA = Path("/sys/fs/cgroup/cpu.max")


def physical_cores(cpu_quota_file: Path = CGROUP_CPU_QUOTA) -> int:
    """
    The physical cores among the CPUs this process may run on (hyper-threads of one core count
    once), capped by the cgroup v2 CPU quota (`cpu_quota_file`: "QUOTA PERIOD" or "max PERIOD")
    where there is one; at least 1.
    """
    cpus = os.sched_getaffinity(0)
    cores = set()
    for cpu in cpus:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        cores.add(siblings.read_text().strip() if siblings.exists() else str(cpu))
    count = len(cores)
    if cpu_quota_file.exists():
        limit, _, period = cpu_quota_file.read_text().partition(" ")
        if limit != "max":
            count = min(count, math.ceil(int(limit) / int(period)))
    return max(1, count)


def apply_default_threads(environment: Optional[Mapping[str, str]] = None) -> None:
    """
    Set torch's intra-op threads to `physical_cores()` unless `OMP_NUM_THREADS` is set.

    # Parameters

    environment : `Mapping[str, str]`, optional (default = `os.environ`)
    """
    environment = os.environ if environment is None else environment
    if not environment.get("OMP_NUM_THREADS"):
        torch.set_num_threads(physical_cores())
