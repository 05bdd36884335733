"""What this machine can do: CUDA, GPU memory, Colab, a Hub token, Hub access. No hard-coded ``"cuda"``."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass

import torch

__all__ = [
    "GpuInfo",
    "default_device",
    "gpu_info",
    "in_colab",
    "hub_token_present",
    "hub_reachable",
    "MemoryMonitor",
]

HUB_HOST = "huggingface.co"


@dataclass(frozen=True)
class GpuInfo:
    """The first CUDA GPU: name, free and total memory in bytes."""

    name: str
    free_bytes: int
    total_bytes: int

    @property
    def free_gb(self) -> float:
        return self.free_bytes / 1e9


def default_device() -> torch.device:
    """``cuda`` when a CUDA GPU is present, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def gpu_info() -> GpuInfo | None:
    """The GPU's name and memory, or ``None`` without CUDA."""
    if not torch.cuda.is_available():
        return None
    free, total = torch.cuda.mem_get_info()
    return GpuInfo(torch.cuda.get_device_name(0), int(free), int(total))


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def hub_token_present() -> bool:
    """True if a Hugging Face token is configured (environment variable or ``huggingface-cli login``)."""
    if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        return True
    try:
        from huggingface_hub import get_token

        return get_token() is not None
    except Exception:  # pragma: no cover - very old huggingface_hub
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """True if the Hub answers a TCP connection within ``timeout`` seconds and offline mode is off."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


class MemoryMonitor:
    """Peak memory while a block runs: CUDA allocated bytes on a GPU, process resident memory on a CPU.

    Example::

        with MemoryMonitor(device) as memory:
            run_stage()
        print(memory.peak_bytes, memory.kind)
    """

    def __init__(self, device: torch.device | str = "cpu", interval: float = 0.01) -> None:
        self.device = torch.device(device)
        self.interval = interval
        self.peak_bytes = 0
        self.kind = "cuda allocated" if self.device.type == "cuda" else "process RSS"
        self._stop = None
        self._thread = None

    @staticmethod
    def _rss() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: fall back to the lifetime maximum
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def __enter__(self) -> MemoryMonitor:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return self
        import threading

        self.peak_bytes = self._rss()
        self._stop = threading.Event()

        def poll() -> None:
            while not self._stop.wait(self.interval):
                self.peak_bytes = max(self.peak_bytes, self._rss())

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak_bytes = int(torch.cuda.max_memory_allocated())
            return
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._rss())
