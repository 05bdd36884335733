"""What this machine can do: CUDA, GPU memory, Colab, a Hub token, Hub access. No hard-coded ``"cuda"``."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass

import torch

__all__ = [
    "GpuInfo",
    "SIMULATE_GPU_ENV",
    "default_device",
    "gpu_info",
    "simulated_gpu",
    "checkpoints_cached",
    "in_colab",
    "hub_token_present",
    "hub_reachable",
    "MemoryMonitor",
]

HUB_HOST = "huggingface.co"

#: Tests only: ``IFLEARN_SIMULATE_GPU="15"`` (GB, optionally ``"Tesla T4:15"``) makes :func:`gpu_info` report a GPU
#: of that size while every tensor stays on the CPU, so the ``real`` backend's recipes and placement run in CI
#: against the real-layout fixture (``tests/real_layout.py``).
SIMULATE_GPU_ENV = "IFLEARN_SIMULATE_GPU"


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


def simulated_gpu() -> GpuInfo | None:
    """The GPU described by ``$IFLEARN_SIMULATE_GPU`` (tests only), or ``None`` when it is not set.

    The value is a size in GB (``"15"``) or ``"name:GB"`` (``"Tesla T4:15"``); the whole memory counts as free.
    """
    value = os.environ.get(SIMULATE_GPU_ENV, "").strip()
    if not value:
        return None
    name, _, size = value.rpartition(":")
    try:
        gb = float(size)
    except ValueError:
        raise ValueError(
            f"{SIMULATE_GPU_ENV}={value!r}: expected a size in GB such as '15' or 'Tesla T4:15'. Unset it to use "
            "this machine's real GPU (or none)."
        ) from None
    return GpuInfo(f"{name or 'simulated GPU'} (simulated, tensors stay on the CPU)", int(gb * 1e9), int(gb * 1e9))


def gpu_info() -> GpuInfo | None:
    """The GPU's name and memory, or ``None`` without CUDA (a simulated GPU when ``$IFLEARN_SIMULATE_GPU`` is set)."""
    simulated = simulated_gpu()
    if simulated is not None:
        return simulated
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


def checkpoints_cached(repos: list[str] | tuple[str, ...]) -> bool:
    """True if every repo's ``model_index.json`` is already in the local Hub cache (``$HF_HUB_CACHE``), so the
    pipelines load without the network (after a first download, or from a prepared cache)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return False
    for repo in repos:
        found = try_to_load_from_cache(repo, "model_index.json")
        if not isinstance(found, str):
            return False
    return True


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
