"""Start a grading kernel: IPython's own kernel, minus what grading never uses (runs inside the sandbox).

Usage: ``python -m iflearn.grading._kernel -f connection.json``

Every submission gets a fresh kernel, so its start-up is paid once per learner. Two parts of it serve an
interactive user and not a grader: the debugger (``debugpy``, about a tenth of a second to import, and a
thread) and IPython's history database (an SQLite file written in the sandbox's home). This launcher starts
``ipykernel`` without them; the notebook's code runs exactly as under ``python -m ipykernel_launcher``.
"""

from __future__ import annotations

import os
import sys

__all__ = ["main", "KERNEL_ARGS"]

KERNEL_ARGS = ["--HistoryManager.enabled=False"]  # no history.sqlite to create and lock at start-up


def _lazy_jupyter_client() -> None:
    """Register ``jupyter_client`` without running its ``__init__`` (which loads the client side: managers,
    provisioners, asyncio clients, a third of the kernel's start-up). The kernel needs only submodules
    (``session``, ``connect``, ...) and two names from the package; any other name loads the full package."""
    import importlib.util

    spec = importlib.util.find_spec("jupyter_client")
    if spec is None or spec.loader is None or "jupyter_client" in sys.modules:
        return
    module = importlib.util.module_from_spec(spec)
    loaded = []

    def __getattr__(name: str) -> object:
        if not loaded and not name.startswith("__"):
            loaded.append(True)
            spec.loader.exec_module(module)  # type: ignore[union-attr]  # the package's own __init__, now
            return getattr(module, name)
        raise AttributeError(f"module 'jupyter_client' has no attribute {name!r}")

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules["jupyter_client"] = module
    from jupyter_client import connect

    module.write_connection_file = connect.write_connection_file  # type: ignore[attr-defined]
    module.find_connection_file = connect.find_connection_file  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    # like ipykernel_launcher: leave the working folder off sys.path while loading (init_path adds it back)
    if sys.path and (sys.path[0] in ("", ".") or os.path.abspath(sys.path[0]) == os.getcwd()):
        del sys.path[0]
    sys.modules["debugpy"] = None  # type: ignore[assignment]  # ipykernel then starts without a debugger
    _lazy_jupyter_client()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv + KERNEL_ARGS)


if __name__ == "__main__":
    main()
