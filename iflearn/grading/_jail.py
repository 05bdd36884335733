"""Start a command with a clean environment and resource limits (run as a script, stdlib only).

Usage: ``python _jail.py --workdir W --memory-mb M --fsize-mb F [--quiz-dir Q] -- CMD ...``

It sets ``HOME``/``TMPDIR`` to the work folder, points every proxy variable at a closed local port and
turns Hugging Face / transformers offline, caps address space and file size, asks the kernel to kill this
process when its parent dies, sends stdout/stderr to /dev/null and then ``exec``s ``CMD``. Inside bubblewrap it
adds the limits; without bubblewrap it is all the isolation there is (the grader reports that).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import signal
import sys

__all__ = ["main"]

_DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, connections fail at once


def _environment(workdir: str, quiz_dir: str | None) -> dict[str, str]:
    env = {
        "HOME": workdir,
        "TMPDIR": os.path.join(workdir, "tmp"),
        "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(workdir, "tmp"),
        "IPYTHONDIR": os.path.join(workdir, "tmp", "ipython"),
        "JUPYTER_RUNTIME_DIR": os.path.join(workdir, "tmp", "jupyter"),
        "JUPYTER_CONFIG_DIR": os.path.join(workdir, "tmp", "jupyter"),
        "JUPYTER_DATA_DIR": os.path.join(workdir, "tmp", "jupyter"),
        "HF_HOME": os.path.join(workdir, "tmp", "hf"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "NO_PROXY": "",
        "no_proxy": "",
    }
    for var in ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy"):
        env[var] = env[var.upper()] = _DEAD_PROXY
    for var in ("IFLEARN_LANG",):
        if var in os.environ:
            env[var] = os.environ[var]
    if quiz_dir:
        env["IFLEARN_QUIZ_DIR"] = quiz_dir
    return env


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the grader's process-group kill still applies
        pass


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--memory-mb", type=int, default=4096)
    parser.add_argument("--fsize-mb", type=int, default=256)
    parser.add_argument("--quiz-dir")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    os.makedirs(os.path.join(args.workdir, "tmp"), exist_ok=True)
    os.chdir(args.workdir)
    if args.memory_mb > 0:
        limit = args.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    else:  # no limit asked: lift the soft limit inherited from the grader's runner
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    limit = args.fsize_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _die_with_parent()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.execve(command[0], command, _environment(args.workdir, args.quiz_dir))


if __name__ == "__main__":
    main(sys.argv[1:])
