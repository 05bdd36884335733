"""Execute one notebook copy in a fresh, sandboxed kernel (runs as a child process of the grader).

Usage: ``python -m iflearn.grading._runner --notebook W/submission.ipynb --result R.json [limits]``

On Linux the grader forks this process from itself (:func:`forked_main`, with :func:`preload` done once), so
no interpreter starts and nothing is imported per submission; elsewhere it runs as the command above. Either
way it is in its own session and process group, and the grader kills it if it overruns, so nothing the
notebook does can take the grader down. Its own start-up is cut further: the kernel is launched first (it
boots while nbclient loads), with ``iflearn.grading._kernel`` (no debugger), without a kernelspec search and
without jupyter_client's 0.2 s wait for IOPub to fall silent; outputs are only built when kept. This process drives nbclient; only the kernel runs inside the sandbox. It talks
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
import contextlib
import json
import os
import resource
import signal
import sys
import time
from queue import Empty
from typing import Any

__all__ = ["main", "preload", "forked_main"]


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


def _kernel_classes() -> tuple[type, type]:
    """The kernel manager and client for one sandboxed kernel (imported here: jupyter_client takes a while)."""
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager

    from iflearn.grading.sandbox import launch_environment

    class ReadyClient(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
            """jupyter_client's check (a kernel_info reply on shell, then a message on IOPub), without its final
            0.2 s wait for IOPub to fall silent: nbclient ignores messages that answer no request of its own."""
            deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
            while True:
                self.kernel_info()
                try:
                    msg = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    msg = None
                if msg is not None and msg["msg_type"] == "kernel_info_reply":
                    try:
                        await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(msg)
                        break
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
            while True:  # drain what is already there
                try:
                    await self.iopub_channel.get_msg(timeout=0.005)
                except Empty:
                    break

    class SandboxedKernelManager(AsyncKernelManager):
        jail: Any = None  # (workdir, sandbox, memory_mb, fsize_mb), set before start

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            from iflearn.grading.sandbox import jail_command

            # always this Python's ipykernel (whatever kernelspec the notebook or the machine names),
            # so the sandbox's read-only binds match the interpreter that runs
            workdir, sandbox, memory_mb, fsize_mb = self.jail
            command = [sys.executable, "-m", "iflearn.grading._kernel", "-f", self.connection_file,
                       *(extra_arguments or [])]
            return jail_command(command, workdir, sandbox=sandbox, memory_mb=memory_mb, fsize_mb=fsize_mb)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            # bwrap is process 1 in the sandbox: its /proc/1/environ must hold nothing of the grader's
            kw["env"] = launch_environment()
            await super()._async_launch_kernel(kernel_cmd, **kw)

        async def _async_wait(self, pollinterval: float = 0.1) -> None:
            await super()._async_wait(pollinterval=0.01)  # a killed kernel is gone within milliseconds

        def cleanup_connection_file(self) -> None:
            """Leave it: the path may now lead out of the sandbox; the grader removes the work folder."""

        def cleanup_ipc_files(self) -> None:
            """Leave them, as the connection file."""

    return SandboxedKernelManager, ReadyClient


def run(args: argparse.Namespace) -> dict[str, Any]:
    _skip_slow_optional_imports()
    from jupyter_core.utils import run_sync

    from iflearn.grading.sandbox import Sandbox

    workdir = os.path.dirname(os.path.abspath(args.notebook))
    sandbox = Sandbox(args.sandbox, "chosen by the grader")
    manager_class, client_class = _kernel_classes()
    from jupyter_client.kernelspec import KernelSpec

    kernel_spec = KernelSpec(argv=[sys.executable, "-m", "iflearn.grading._kernel", "-f", "{connection_file}"],
                             display_name="Python 3 (grading)", language="python")
    km = manager_class(kernel_name="python3", transport="ipc", ip=os.path.join(workdir, "ipc", "kernel"),
                       connection_file=os.path.join(workdir, "ipc", "kernel.json"))
    km.jail = (workdir, sandbox, args.memory_mb, args.fsize_mb)
    km.client_factory = client_class
    km._kernel_spec = kernel_spec  # noqa: SLF001 - the command is ours (format_kernel_cmd): no kernelspec search
    os.makedirs(os.path.join(workdir, "ipc"), exist_ok=True)
    with open(args.notebook, encoding="utf-8") as handle:  # before the kernel (and anything it runs) starts
        args.notebook_text = handle.read()
    result: dict[str, Any] = {"status": "ok", "reason": "", "sandbox": sandbox.kind}
    started = time.monotonic()
    try:
        # start the kernel first: it boots in its sandbox while this process loads nbformat and nbclient
        run_sync(km.start_kernel)(cwd=workdir, extra_arguments=["--HistoryManager.hist_file=:memory:"])
    except Exception as exc:
        result.update(status="error", reason=f"could not start the kernel: {type(exc).__name__}: {str(exc)[:200]}")
        return result
    try:
        return _execute(args, km, workdir, result, started)
    finally:
        with contextlib.suppress(Exception):
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)


def _execute(args: argparse.Namespace, km: Any, workdir: str, result: dict[str, Any],
             started: float) -> dict[str, Any]:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    stats = {"bytes": 0, "dropped": 0}
    cap = args.max_output_kb * 1024

    class CappedClient(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):  # type: ignore[no-untyped-def]
            size = len(json.dumps(msg.get("content", {}), default=str))
            stats["bytes"] += size
            if stats["bytes"] > cap:
                stats["dropped"] += 1
                return None
            if not args.executed:  # nobody will read the outputs: count them, do not build (and validate) them
                return None
            return super().output(outs, msg, display_id, cell_index)

    # the grader wrote this copy from a notebook it had validated: read it back without validating again
    notebook = nbformat.v4.reads(args.notebook_text)
    code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    deadline = time.monotonic() + args.timeout
    state = {"cell": -1, "notebook_limit": False}

    def cell_timeout(cell: Any) -> int:
        left = deadline - time.monotonic()
        state["notebook_limit"] = left < args.cell_timeout
        return max(1, int(min(args.cell_timeout, left)))

    client = CappedClient(notebook, km=km, timeout_func=cell_timeout, startup_timeout=min(60, args.timeout),
                          allow_errors=False, shutdown_kernel="immediate", record_timing=False,
                          store_widget_state=False,
                          kernel_name="python3", resources={"metadata": {"path": workdir}})

    def on_cell_start(cell: Any, cell_index: int) -> None:
        state["cell"] = cell_index

    client.on_cell_start = on_cell_start
    result["cells_total"] = len(code)
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


def _address_space() -> int:
    """Bytes of address space this process uses now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def preload() -> None:
    """Import what :func:`run` needs, in the grader, so that a runner forked from it starts at once.

    The runner only drives the kernel; no submitted code ever runs in it (the kernel is a new process in the
    sandbox), so nothing of one learner's run can reach the next one through these modules.
    """
    _skip_slow_optional_imports()
    import jupyter_client.asynchronous.client  # noqa: F401
    import jupyter_client.kernelspec  # noqa: F401
    import jupyter_client.manager  # noqa: F401
    import jupyter_core.utils  # noqa: F401
    import nbclient  # noqa: F401
    import nbclient.exceptions  # noqa: F401
    import nbformat  # noqa: F401


def forked_main(argv: list[str]) -> None:
    """The body of a runner forked from the grader (``os.fork``): new session, no inherited output, a fresh
    event loop; never returns."""
    code = 1
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        import asyncio

        from iflearn.grading.grade import child_environment

        keep = child_environment()  # what a runner started as a new process would get, and no more
        os.environ.clear()
        os.environ.update(keep)
        asyncio.set_event_loop(asyncio.new_event_loop())
        code = main(argv)
    except BaseException:  # noqa: BLE001 - a forked child must never return into the grader's code
        pass
    finally:
        os._exit(code)


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
    # cap this process too (soft limit only, so the kernel's own limit can still be set above it); a runner
    # forked from the grader starts with the grader's address space, so the cap comes on top of that
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + args.runner_memory_mb * 2**20
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        result = run(args)
    except Exception as exc:  # report, never leave the grader without a result
        result = {"status": "error", "reason": f"grader runner failed: {type(exc).__name__}: {str(exc)[:200]}"}
    _write(args.result, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
