"""
(6) `cuda_device: 0` on a CPU-only machine fails with torch's `RuntimeError: Cannot access
accelerator device when none is available` instead of allennlp's `ConfigurationError`.

`int_to_device` (`allennlp/common/util.py`) turns a device index into `torch.device(index)`.
On torch < 1.13, which allennlp 2.10 was written for, that meant `cuda:index`; torch 2.13 instead
looks up the current accelerator and raises when there is none, before allennlp's
`check_for_gpu` (which calls `int_to_device` at call time) can raise its own ConfigurationError
("Experiment specified a GPU but none is available"). The replacement makes the CUDA device
explicitly, restoring that check.
"""
from types import ModuleType
from typing import Union

import torch


def int_to_device(device: Union[int, torch.device]) -> torch.device:
    """
    allennlp's `int_to_device`: a negative index means the CPU, any other the CUDA device.

    # Parameters

    device : `Union[int, torch.device]`
    """
    if isinstance(device, torch.device):
        return device
    if device < 0:
        return torch.device("cpu")
    return torch.device("cuda", device)


def apply(module: ModuleType) -> None:
    """
    # Parameters

    module : `ModuleType`
        `allennlp.common.util`. Modules that imported `int_to_device` before this ran keep the
        original, but allennlp calls `check_for_gpu` first, which looks it up afresh.
    """
    module.int_to_device = int_to_device
