"""Execute one notebook copy in a fresh, sandboxed kernel (runs as a child process of the grader).

Usage: ``python -m iflearn.grading._runner --notebook W/submission.ipynb --result R.json [limits]``

The grader starts this in its own process group and kills it if it overruns, so nothing the notebook does
can take the grader down. This process drives nbclient; only the kernel runs inside the sandbox. It talks
to the kernel over Unix sockets in the work folder (the sandbox has no network, not even loopback to us).
Outputs are counted and dropped beyond a cap; the grader never looks at them for scores.

The kernel's work folder is the submission's: anything in it may be a link the notebook left. So this process
never deletes files there (jupyter_client's own clean-up removes the connection and socket files by path, which
follows a linked ``ipc`` folder out of the sandbox); the grader removes the whole folder afterwards with
``shutil.rmtree``, which never follows links. It dies with the grader (``PR_SET_PDEATHSIG``), so a
SIGTERM to the grader cannot leave it, bubblewrap or the kernel running.
Writes ``{"status": "ok"|"error"|"timeout", "reason": ..., "cells_run": ..., ...}`` to ``R.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import time
from typing import Any

__all__ = ["main"]


def _write(path: str, result: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(result, out)
    os.replace(tmp, path)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the grader dies (bubblewrap and the kernel follow it)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the grader's process-group kill still applies
        pass


def _skip_slow_optional_imports() -> None:
    """jsonschema optionally imports ``rfc3987_syntax`` (an IRI grammar, seconds to build) for a format check
    nbformat never uses; mark it missing so this short-lived process starts fast."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> dict[str, Any]:
    _skip_slow_optional_imports()
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from iflearn.grading.sandbox import Sandbox, jail_command, launch_environment

    workdir = os.path.dirname(os.path.abspath(args.notebook))
    sandbox = Sandbox(args.sandbox, "chosen by the grader")

    class SandboxedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            # always this Python's ipykernel (whatever kernelspec the notebook or the machine names),
            # so the sandbox's read-only binds match the interpreter that runs
            command = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file, *(extra_arguments or [])]
            return jail_command(command, workdir, sandbox=sandbox, memory_mb=args.memory_mb, fsize_mb=args.fsize_mb)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            # bwrap is process 1 in the sandbox: its /proc/1/environ must hold nothing of the grader's
            kw["env"] = launch_environment()
            await super()._async_launch_kernel(kernel_cmd, **kw)

        def cleanup_connection_file(self) -> None:
            """Leave it: the path may now lead out of the sandbox; the grader removes the work folder."""

        def cleanup_ipc_files(self) -> None:
            """Leave them, as the connection file."""

    stats = {"bytes": 0, "dropped": 0}
    cap = args.max_output_kb * 1024

    class CappedClient(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):  # type: ignore[no-untyped-def]
            size = len(json.dumps(msg.get("content", {}), default=str))
            stats["bytes"] += size
            if stats["bytes"] > cap:
                stats["dropped"] += 1
                return None
            return super().output(outs, msg, display_id, cell_index)

    notebook = nbformat.read(args.notebook, as_version=4)
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    deadline = time.monotonic() + args.timeout
    state = {"cell": -1, "notebook_limit": False}

    def cell_timeout(cell: Any) -> int:
        left = deadline - time.monotonic()
        state["notebook_limit"] = left < args.cell_timeout
        return max(1, int(min(args.cell_timeout, left)))

    km = SandboxedKernelManager(kernel_name="python3", transport="ipc",
                                ip=os.path.join(workdir, "ipc", "kernel"),
                                connection_file=os.path.join(workdir, "ipc", "kernel.json"))
    os.makedirs(os.path.join(workdir, "ipc"), exist_ok=True)
    client = CappedClient(notebook, km=km, timeout_func=cell_timeout, startup_timeout=min(60, args.timeout),
                          allow_errors=False, shutdown_kernel="immediate", record_timing=False,
                          store_widget_state=False,
                          kernel_name="python3", resources={"metadata": {"path": workdir}})

    def on_cell_start(cell: Any, cell_index: int) -> None:
        state["cell"] = cell_index

    client.on_cell_start = on_cell_start
    result: dict[str, Any] = {"status": "ok", "reason": "", "cells_total": len(code), "sandbox": sandbox.kind}
    started = time.monotonic()
    try:
        client.execute(cleanup_kc=True)
    except CellTimeoutError:
        which = "notebook" if state["notebook_limit"] else "cell"
        limit = args.timeout if which == "notebook" else args.cell_timeout
        result.update(status="timeout", reason=f"cell {state['cell']} ran past the {which} time limit ({limit:g} s)")
    except DeadKernelError:
        result.update(status="error", reason=f"the kernel died in cell {state['cell']} "
                                             "(os._exit, a crash, or the memory/file-size limit)")
    except CellExecutionError as exc:
        ename = getattr(exc, "ename", "Error")
        evalue = str(getattr(exc, "evalue", ""))[:200]
        result.update(status="error", reason=f"cell {state['cell']} raised {ename}: {evalue}")
    except Exception as exc:  # kernel failed to start, etc.
        result.update(status="error", reason=f"could not run the notebook: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        try:
            if km.has_kernel:
                client._cleanup_kernel()  # noqa: SLF001 - nbclient's own cleanup, kills the kernel now
        except Exception:
            pass
    if args.executed:
        try:
            nbformat.write(notebook, args.executed)
        except Exception:
            pass
    result["cells_run"] = sum(1 for i in code if i <= state["cell"])
    result["output_bytes"] = stats["bytes"]
    result["outputs_dropped"] = stats["dropped"]
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notebook", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--cell-timeout", type=float, default=30)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--memory-mb", type=int, default=4096)
    parser.add_argument("--fsize-mb", type=int, default=256)
    parser.add_argument("--max-output-kb", type=int, default=1024)
    parser.add_argument("--runner-memory-mb", type=int, default=2048)
    parser.add_argument("--executed", help="also write the executed notebook (capped outputs) here")
    parser.add_argument("--sandbox", choices=("bwrap", "none"), default="none")
    parser.add_argument("--parent-pid", type=int, default=0, help="the grader's pid: exit if it is gone")
    args = parser.parse_args(argv)
    if args.parent_pid:
        _die_with_parent()
        if os.getppid() != args.parent_pid:  # the grader died before the line above took effect
            return 1
    # cap this process too (soft limit only, so the kernel's own limit can still be set above it)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (args.runner_memory_mb * 2**20, hard))
    try:
        result = run(args)
    except Exception as exc:  # report, never leave the grader without a result
        result = {"status": "error", "reason": f"grader runner failed: {type(exc).__name__}: {str(exc)[:200]}"}
    _write(args.result, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
