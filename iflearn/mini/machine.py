"""The machine a measurement ran on, recorded beside every mini-IF figure (training records, evaluation and
benchmark JSON), so that a time can be read against the CPU or GPU that produced it."""

from __future__ import annotations

import os
import platform

import torch

__all__ = ["describe"]


def describe(device: torch.device | str | None = None) -> dict[str, object]:
    """Platform, processor, CPU count, torch's thread count, the device (``"cpu"`` or the GPU's name) and torch.

    >>> sorted(describe())
    ['cpu_count', 'device', 'platform', 'processor', 'torch', 'torch_threads']
    """
    device = torch.device(device or "cpu")
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
    }
