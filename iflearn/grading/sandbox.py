"""Where submission code runs: a bubblewrap sandbox when ``bwrap`` works, else a degraded jail.

With bubblewrap the code sees only its own work folder (read-write), the Python installation and the
``iflearn`` package and quiz banks (read-only), a private ``/tmp``, no network (``--unshare-net``) and no other
processes (``--unshare-pid``); it dies with the grader. Without bubblewrap it still gets a clean environment,
dead proxies, offline Hugging Face settings, memory and file-size limits and its own working folder, but it
can read the user's files and open sockets: the gradebook says ``sandbox=none (degraded)`` then.

``bwrap`` itself is started with :func:`launch_environment` (a path and a locale, nothing of the grader's
environment): inside the sandbox it is process 1, and ``/proc/1/environ`` would otherwise show a submission
every variable of the instructor's shell (tokens included).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sandbox", "detect_sandbox", "jail_command", "launch_environment"]

_JAIL = str(Path(__file__).with_name("_jail.py"))


@dataclass(frozen=True)
class Sandbox:
    """How submissions are isolated.

    Attributes:
        kind: ``"bwrap"`` or ``"none"``.
        detail: one sentence for the CLI and the gradebook (why degraded, or the bwrap version).
    """

    kind: str
    detail: str

    @property
    def label(self) -> str:
        """``"bwrap"`` or ``"none (degraded)"``: the gradebook's sandbox column."""
        return "bwrap" if self.kind == "bwrap" else "none (degraded)"


def _readonly_roots() -> list[str]:
    """Folders the kernel needs to read: the Python installation, the venv, iflearn and the quiz banks."""
    import iflearn

    roots = [sys.base_prefix, sys.prefix, str(Path(iflearn.__file__).resolve().parent)]
    try:
        from iflearn.quiz.bank import quiz_dir

        roots.append(str(quiz_dir().resolve()))
    except FileNotFoundError:
        pass
    roots = [os.path.realpath(r) for r in roots]
    # keep the outermost folders only, and nothing the standard system binds already cover
    roots = sorted(set(roots), key=len)
    kept: list[str] = []
    for root in roots:
        if root.startswith("/usr/") or any(root == k or root.startswith(k + os.sep) for k in kept):
            continue
        kept.append(root)
    return kept


def _bwrap_prefix(workdir: str) -> list[str]:
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-all", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives"):
        args += ["--ro-bind-try", etc, etc]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for root in _readonly_roots():
        args += ["--ro-bind", root, root]
    args += ["--bind", workdir, workdir, "--chdir", workdir, "--"]
    return args


def launch_environment() -> dict[str, str]:
    """The environment to start a jailed command with: what ``bwrap`` and ``_jail.py`` need, no more.

    The jail then builds the submission's own environment (see ``_jail.py``); ``IFLEARN_LANG`` is passed on so
    feedback stays in the learner's language.
    """
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    if "IFLEARN_LANG" in os.environ:
        env["IFLEARN_LANG"] = os.environ["IFLEARN_LANG"]
    return env


@functools.lru_cache(maxsize=1)
def detect_sandbox() -> Sandbox:
    """Probe once whether bubblewrap can start a sandboxed Python here."""
    if os.environ.get("IFLEARN_GRADING_NO_BWRAP") == "1":
        return Sandbox("none", "bubblewrap disabled by IFLEARN_GRADING_NO_BWRAP=1")
    if not shutil.which("bwrap"):
        return Sandbox("none", "bubblewrap (bwrap) is not installed; install it (apt-get install bubblewrap) to "
                               "isolate submissions from the network and your files")
    probe_dir = os.path.realpath(os.environ.get("TMPDIR", "/tmp"))
    cmd = _bwrap_prefix(probe_dir) + [sys.executable, "-c", "import socket; print('ok')"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                              env=launch_environment())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Sandbox("none", f"bwrap is installed but could not start ({exc})")
    if done.returncode != 0 or done.stdout.strip() != "ok":
        why = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return Sandbox("none", f"bwrap is installed but failed here ({why}); user namespaces may be disabled")
    version = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
    return Sandbox("bwrap", f"{version or 'bwrap'}: own folder only, no network, private /tmp and process list")


def jail_command(command: list[str], workdir: str, *, sandbox: Sandbox, memory_mb: int, fsize_mb: int) -> list[str]:
    """Wrap ``command`` so it runs in ``workdir`` under the sandbox and the resource limits."""
    try:
        from iflearn.quiz.bank import quiz_dir

        quiz = str(quiz_dir().resolve())
    except FileNotFoundError:
        quiz = ""
    jail = [sys.executable, "-I", _JAIL, "--workdir", workdir, "--memory-mb", str(memory_mb),
            "--fsize-mb", str(fsize_mb)] + (["--quiz-dir", quiz] if quiz else []) + ["--", *command]
    if sandbox.kind == "bwrap":
        return _bwrap_prefix(workdir) + jail
    return jail
