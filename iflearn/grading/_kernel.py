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


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    # like ipykernel_launcher: leave the working folder off sys.path while loading (init_path adds it back)
    if sys.path and (sys.path[0] in ("", ".") or os.path.abspath(sys.path[0]) == os.getcwd()):
        del sys.path[0]
    sys.modules["debugpy"] = None  # type: ignore[assignment]  # ipykernel then starts without a debugger
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv + KERNEL_ARGS)


if __name__ == "__main__":
    main()
