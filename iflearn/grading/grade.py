"""Grade one submission: read answers from source, score them against the key, run the notebook sandboxed.

The order matters for trust:

1. the answers are read from the submitted file's *source* before anything runs (:mod:`.extract`);
2. they are scored here, in the grader, against the key, which the submission never sees;
3. code exercises run in the sandbox on inputs drawn with a secret seed; only their outputs come back,
   and the grader compares them with the reference maths;
4. the notebook runs in a fresh kernel in a temporary copy, in the sandbox, in a child process with time,
   memory and output limits; that only decides the ``status`` column (does the notebook run?).

Whatever a submission does, :func:`grade_submission` returns a :class:`GradeRow`; it never raises for one, and
one question that cannot be scored (an answer too large to compare, say) costs only that question's points.
Every file read back from a sandbox is opened as a regular file only, size-capped and non-blocking; the
children get a filtered environment and the sandbox a clean one, so no secret of the instructor's
environment is readable inside; text from a submission is stripped of terminal escapes before it reaches
the gradebook or the terminal.

Start costs are paid once per grader process where that is safe: on Linux the notebook runner (which only
drives the kernel and never runs submitted code) is forked from the grader with its modules already loaded
(``IFLEARN_GRADING_NO_FORK=1`` starts it as a new interpreter instead). Whatever runs submitted code (the
kernel, the exercise worker) is always a new interpreter in a new sandbox, one per submission.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iflearn.grading.extract import (NotebookProblem, extract_answers, extract_function, load_json,
                                     read_notebook, read_regular_file)
from iflearn.grading.key import Key
from iflearn.grading.sandbox import Sandbox, detect_sandbox, jail_command, launch_environment

import nbformat  # after .extract, which keeps its import fast  # noqa: E402, I001

__all__ = ["STATUSES", "GradeOptions", "GradeRow", "Submission", "find_submissions", "grade_submission",
           "clean_text", "safe_file_name"]

STATUSES = ("ok", "error", "timeout", "invalid-notebook")
_WORKER = str(Path(__file__).with_name("_exercise_worker.py"))


@dataclass(frozen=True)
class GradeOptions:
    """Limits for running a submission.

    Attributes:
        cell_timeout: seconds one cell may run.
        timeout: seconds the whole notebook may run (kernel start excluded).
        memory_mb: address-space limit of the kernel (0 = none).
        fsize_mb: largest file the kernel may write.
        max_output_kb: outputs kept per notebook; more is counted and dropped.
        max_notebook_mb: larger files are rejected as invalid-notebook without being parsed.
        execute: run the notebook at all (False: score answers only, status ``ok`` if it parses).
        sandbox: ``"auto"`` (bubblewrap if it works), ``"bwrap"`` (required) or ``"none"``.
        keep_executed: a folder to keep each executed notebook in (outputs capped), for the instructor.
    """

    cell_timeout: float = 30.0
    timeout: float = 300.0
    memory_mb: int = 4096
    fsize_mb: int = 256
    max_output_kb: int = 1024
    max_notebook_mb: int = 20
    execute: bool = True
    sandbox: str = "auto"
    keep_executed: str | None = None

    def resolve_sandbox(self) -> Sandbox:
        """The sandbox to use; ``RuntimeError`` if ``"bwrap"`` was required but does not work here."""
        if self.sandbox == "none":
            return Sandbox("none", "disabled with --sandbox none")
        found = detect_sandbox()
        if self.sandbox == "bwrap" and found.kind != "bwrap":
            raise RuntimeError(f"--sandbox bwrap was required but {found.detail}.")
        return found


@dataclass(frozen=True)
class Submission:
    """A notebook to grade: its path and its identity in the gradebook (the path as the instructor gave it)."""

    path: Path
    identity: str


@dataclass
class GradeRow:
    """One gradebook row.

    Attributes:
        submission: identity (relative path, non-UTF-8 bytes escaped as ``\\xNN``).
        status: one of :data:`STATUSES`.
        reason: why the status is not ``ok`` (or a note such as a v3 conversion).
        sandbox: ``bwrap`` or ``none (degraded)``.
        scores: question id -> points earned.
        details: question id -> short reason (``correct``, ``missing``, ``wrong type: ...``).
        total / max_total: points earned / available.
        seconds: wall time spent grading this submission.
        graded_at: ISO timestamp (UTC).
    """

    submission: str
    status: str
    reason: str
    sandbox: str
    scores: dict[str, float] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    total: float = 0.0
    max_total: float = 0.0
    seconds: float = 0.0
    graded_at: str = ""

    def to_json(self) -> str:
        """Serialise (for pytest-xdist workers sending rows back)."""
        return json.dumps(self.__dict__)  # ASCII-escaped: safe to send between processes whatever the text

    @classmethod
    def from_json(cls, text: str) -> GradeRow:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


def _escape_name(raw: bytes) -> str:
    """A file name as printable text, one-to-one: ``\\`` for a backslash, ``\\xNN`` for a byte that is not
    UTF-8 (or an ASCII control character), ``\\uNNNN`` for other invisible characters. So two different names
    never give the same identity, and no name can drive the terminal."""
    out = []
    for char in raw.decode("utf-8", errors="surrogateescape"):
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char == "\\" and os.sep != "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def _identity(path: Path, base: Path) -> str:
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        rel = str(path)
    if rel.startswith(".." + os.sep):
        rel = str(path.resolve())
    return _escape_name(os.fsencode(rel))


def safe_file_name(identity: str, suffix: str = "") -> str:
    """A file name for a submission's own files (executed copy, full details): readable, and never the same
    for two identities (``a/b.ipynb`` and ``a__b.ipynb`` included)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", identity).strip("._")[:80] or "submission"
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug}-{digest}{suffix}"


_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]"        # CSI: colours, cursor moves, clear screen
                      r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
                      r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"       # DCS, SOS, PM, APC strings
                      r"|\x1b[@-Z\\-_]?"                   # other two-character escapes, or a lone ESC
                      r"|\x9b[0-?]*[ -/]*[@-~]")           # 8-bit CSI


def clean_text(text: str) -> str:
    """Text from a submission made safe for a terminal and a CSV cell: terminal escape sequences removed,
    line breaks and tabs as spaces, other control characters shown as ``\\xNN``."""
    text = _ESCAPES.sub("", str(text))
    out = []
    for char in text:
        if char in "\n\r\t":
            out.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cs") or char in "\u2028\u2029":
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def find_submissions(paths: Iterable[str | os.PathLike[str]],
                     base: str | os.PathLike[str] | None = None) -> list[Submission]:
    """Every ``*.ipynb`` under ``paths`` (files are taken as given), sorted, without duplicates.

    Hidden folders (``.ipynb_checkpoints``) are skipped. Identity is the path relative to ``base``
    (default: the current directory), so two learners with the same name in different folders stay apart.
    """
    base_path = Path(base or os.getcwd())
    found: dict[str, Submission] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = [Path(root) / name for root, dirs, names in os.walk(path)
                     for name in names if name.endswith(".ipynb")
                     if not any(part.startswith(".") for part in Path(root).relative_to(path).parts)]
        elif path.exists() or path.is_symlink():
            files = [path]
        else:
            raise FileNotFoundError(f"submission path {str(path)!r} does not exist; pass notebooks or folders.")
        for file in files:
            sub = Submission(file, _identity(file, base_path))
            found.setdefault(sub.identity, sub)
    return [found[k] for k in sorted(found)]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


_PASSED_ON = ("PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT")
_PASSED_ON_PREFIXES = ("LC_", "IFLEARN_", "JUPYTER_", "COVERAGE_")


def child_environment() -> dict[str, str]:
    """The grader's environment, filtered, for the notebook runner: what Python, Jupyter and iflearn need to
    start, without the instructor's tokens and passwords (the runner never needs them)."""
    return {k: v for k, v in os.environ.items() if k in _PASSED_ON or k.startswith(_PASSED_ON_PREFIXES)}


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):  # not yet its own group leader
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _start_child(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)


def _wait_child(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for ``proc``; kill its whole process group when done or at ``timeout``. True if it finished."""
    try:
        proc.wait(timeout=max(0.0, timeout))
        return True
    except subprocess.TimeoutExpired:
        return False
    finally:
        _kill_group(proc)


def _run_child(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> bool:
    """Run ``cmd`` in its own process group; kill the whole group at ``timeout``. True if it finished."""
    return _wait_child(_start_child(cmd, env if env is not None else child_environment()), timeout)


def _read_json(path: Path, max_bytes: int) -> dict[str, Any] | None:
    """A JSON object from a file a child (or a submission) wrote, or None when it is not one.

    Read with :func:`~iflearn.grading.extract.read_regular_file`: a FIFO, a device or a link in its place, a
    huge file, deep nesting or giant numbers give None, never a hang, a memory blow-up or an exception.
    """
    try:
        data, _ = load_json(read_regular_file(path, max_bytes).decode("utf-8"))
    except (OSError, ValueError, RecursionError, MemoryError):
        return None
    return data if isinstance(data, dict) else None


def _runner_command(notebook_path: Path, control: Path, options: GradeOptions, sandbox: Sandbox) -> list[str]:
    executed = control / "executed.ipynb" if options.keep_executed else None
    return [sys.executable, "-m", "iflearn.grading._runner", "--notebook", str(notebook_path),
            "--result", str(control / "result.json"), "--cell-timeout", str(options.cell_timeout),
            "--timeout", str(options.timeout), "--memory-mb", str(options.memory_mb),
            "--fsize-mb", str(options.fsize_mb), "--max-output-kb", str(options.max_output_kb),
            "--sandbox", sandbox.kind, "--parent-pid", str(os.getpid())] + (
                ["--executed", str(executed)] if executed else [])


def _runner_result(control: Path, finished: bool, options: GradeOptions) -> dict[str, Any]:
    result = _read_json(control / "result.json", 1 << 20)
    if not finished:
        return {"status": "timeout", "reason": f"the notebook ran past the {options.timeout:g} s limit"}
    if result is None or result.get("status") not in STATUSES:
        return {"status": "error", "reason": "the notebook runner stopped without a result"}
    return result


class _ForkedRunner:
    """A runner forked from this process (its imports are already loaded), waited for like a ``Popen``."""

    def __init__(self, argv: list[str]) -> None:
        from iflearn.grading import _runner

        _runner.preload()  # once per grader process; a no-op afterwards
        self.pid = os.fork()
        if self.pid == 0:
            _runner.forked_main(argv)  # never returns
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.002
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                return self.returncode
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(["runner"], timeout or 0)
            time.sleep(pause)
            pause = min(pause * 2, 0.02)


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork") and os.environ.get("IFLEARN_GRADING_NO_FORK") != "1"


def _execute(notebook_path: Path, control: Path, options: GradeOptions, sandbox: Sandbox) -> dict[str, Any]:
    """Run the notebook through the runner: forked from this process where possible (no interpreter to start,
    nothing to import), else as ``python -m iflearn.grading._runner``; either way in its own session, killed
    with its whole process group at the deadline."""
    command = _runner_command(notebook_path, control, options, sandbox)
    # the runner enforces the limits itself; this is the backstop if it hangs (kernel start + cleanup slack)
    if _can_fork():
        finished = _wait_child(_ForkedRunner(command[3:]), timeout=options.timeout + 90)  # type: ignore[arg-type]
    else:
        finished = _run_child(command, timeout=options.timeout + 90)
    return _runner_result(control, finished, options)


@dataclass
class _ExerciseRun:
    """Exercise functions being called in the sandbox: the worker process and what to compare afterwards."""

    verdicts: dict[str, tuple[float, str]]
    request: list[dict[str, Any]] = field(default_factory=list)
    plans: dict[str, tuple[Any, list[Any]]] = field(default_factory=dict)
    response_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    deadline: float = 0.0


def _exercise_cases(key: Key, qid: str, exercise: Any) -> list[Any]:
    """The key's hidden cases for this question, else the exercise's edge cases and fresh random ones."""
    return key.hidden_cases(qid) or exercise.cases(secrets.randbits(31))


def _start_exercises(notebook: Any, key: Key, exercises: dict[str, str], workdir: Path, options: GradeOptions,
                     sandbox: Sandbox) -> _ExerciseRun:
    """Start the worker that calls the learner's exercise functions in the sandbox (it runs while the notebook
    does); :func:`_finish_exercises` waits for it and compares the outputs outside."""
    import numpy as np

    from iflearn.quiz.exercises import get_exercise

    run = _ExerciseRun(verdicts={})
    for qid, name in exercises.items():
        try:
            exercise = get_exercise(name)
        except KeyError as exc:
            run.verdicts[qid] = (0.0, f"the key names an unknown exercise: {exc.args[0]}")
            continue
        function = exercise.signature[4:].split("(")[0]
        source = extract_function(notebook, function)
        if source is None:
            run.verdicts[qid] = (0.0, f"no top-level 'def {function}(...)' in the notebook")
            continue
        if not options.execute:
            run.verdicts[qid] = (0.0, "not run: --no-execute runs no submitted code; grade again without it to "
                                      "test this function")
            continue
        cases = _exercise_cases(key, qid, exercise)
        run.plans[qid] = (exercise, cases)
        # arrays (and NumPy scalars) become tensors, plain floats stay floats: as in check_exercise
        encoded = [{k: {"array": np.asarray(v).tolist()} if isinstance(v, (np.ndarray, np.generic))
                    else {"float": float(v)} for k, v in case.items()} for case in cases]
        run.request.append({"qid": qid, "name": name, "function": function, "source": source, "cases": encoded})
    if not run.request:
        return run
    (workdir / "request.json").write_text(json.dumps({"exercises": run.request}), encoding="utf-8")
    run.response_path = workdir / "response.json"
    command = [sys.executable, _WORKER, str(workdir / "request.json"), str(run.response_path)]
    jailed = jail_command(command, str(workdir), sandbox=sandbox, memory_mb=options.memory_mb,
                          fsize_mb=options.fsize_mb)
    run.deadline = time.monotonic() + 30 + 3 * options.cell_timeout
    run.proc = _start_child(jailed, launch_environment())
    return run


def _score_outputs(key: Key, qid: str, exercise: Any, cases: list[Any], entry: Any) -> tuple[float, str]:
    """Points for the worker's answer about one exercise: compared here, case by case (partial credit if the
    key gives it)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("outputs", []), list):
        return 0.0, "the function failed: bad response"
    outputs, error = entry.get("outputs", []), str(entry.get("error") or "")[:300]
    return key.score_exercise(qid, exercise, cases, outputs[:len(cases)], error)


def _finish_exercises(run: _ExerciseRun, key: Key) -> dict[str, tuple[float, str]]:
    """Wait for the worker, then compare its outputs with the reference here. qid -> (points, reason)."""
    verdicts = dict(run.verdicts)
    if run.proc is None or run.response_path is None:
        return verdicts
    finished = _wait_child(run.proc, run.deadline - time.monotonic())
    response = _read_json(run.response_path, 16 << 20) if finished else None
    results = (response or {}).get("results", [])
    for item, entry in zip(run.request, results if isinstance(results, list) else [], strict=False):
        exercise, cases = run.plans[item["qid"]]
        try:
            verdicts[item["qid"]] = _score_outputs(key, item["qid"], exercise, cases, entry)
        except Exception as exc:  # outputs that cannot even be compared (giant numbers, odd nesting)
            verdicts[item["qid"]] = (0.0, f"the function's output could not be compared: {type(exc).__name__}")
    for item in run.request:
        verdicts.setdefault(item["qid"], (0.0, "the function did not finish in time" if not finished
                                          else "the function could not be run (no readable result)"))
    return verdicts


def _grade_exercises(notebook: Any, exercises: dict[str, str], workdir: Path, options: GradeOptions,
                     sandbox: Sandbox, key: Key | None = None) -> dict[str, tuple[bool, str]]:
    """Run the learner's exercise functions in the sandbox; compare outside. qid -> (passed, reason)."""
    from iflearn.quiz.spec import AnswerSpec

    key = key or Key({qid: AnswerSpec(type="exercise", exercise=name) for qid, name in exercises.items()})
    verdicts = _finish_exercises(_start_exercises(notebook, key, exercises, workdir, options, sandbox), key)
    return {qid: (why == "correct", why) for qid, (_, why) in verdicts.items()}


def _score_answer(key: Key, qid: str, value: Any) -> tuple[float, str]:
    """Points and reason for one answer; a value that cannot be compared costs this question only."""
    try:
        return key.score_answer(qid, value)  # partial credit where the key says
    except (OverflowError, RecursionError, MemoryError, ValueError, TypeError) as exc:
        return 0.0, f"wrong: the answer cannot be compared ({type(exc).__name__}: {str(exc)[:80]})"


def grade_submission(submission: Submission, key: Key, options: GradeOptions | None = None,
                     sandbox: Sandbox | None = None) -> GradeRow:
    """Grade one notebook into a :class:`GradeRow`; never raises because of what the submission contains."""
    options = options or GradeOptions()
    sandbox = sandbox or options.resolve_sandbox()
    started = time.monotonic()
    row = GradeRow(submission=submission.identity, status="ok", reason="", sandbox=sandbox.label,
                   scores={qid: 0.0 for qid in key.questions}, details={qid: "missing" for qid in key.questions},
                   max_total=key.max_score, graded_at=_now())
    try:
        _grade_into(row, submission, key, options, sandbox)
    except Exception as exc:  # a grader bug must still give the learner a row, with the reason
        row.status = "error"
        row.reason = "; ".join(r for r in (f"grader error: {type(exc).__name__}: {str(exc)[:200]}", row.reason) if r)
    row.reason = clean_text(row.reason)
    row.details = {qid: clean_text(why) for qid, why in row.details.items()}
    row.total = round(sum(row.scores.values()), 6)
    row.seconds = round(time.monotonic() - started, 3)
    return row


def _grade_into(row: GradeRow, submission: Submission, key: Key, options: GradeOptions, sandbox: Sandbox) -> None:
    # 1. read the answers from the source, before anything runs
    if submission.path.is_symlink():
        row.status, row.reason = "invalid-notebook", "is a symbolic link; submit the notebook file itself"
        return
    try:
        notebook, note = read_notebook(submission.path, max_bytes=options.max_notebook_mb * 2**20)
    except NotebookProblem as exc:
        row.status, row.reason = "invalid-notebook", str(exc)
        return
    row.reason = note
    found = extract_answers(notebook)
    # 2. score them here, against the key
    exercises = {}
    for qid, spec in key.questions.items():
        if spec.type == "exercise":
            exercises[qid] = spec.exercise or ""
            continue
        if qid not in found:
            continue
        answer = found[qid]
        if not answer.literal:
            row.details[qid] = f"not graded: {answer.reason}"
            continue
        row.scores[qid], row.details[qid] = _score_answer(key, qid, answer.value)
    control = Path(tempfile.mkdtemp(prefix="iflearn-grade-"))
    run = None
    try:
        # 3. code exercises: the learner's function runs sandboxed (alongside step 4), the comparison runs here
        if exercises:
            exdir = control / "exercises"
            exdir.mkdir()
            run = _start_exercises(notebook, key, exercises, exdir, options, sandbox)
        # 4. does the notebook run? a fresh kernel on a temporary copy
        if options.execute:
            workdir = control / "work"
            workdir.mkdir()
            copy = workdir / "submission.ipynb"
            nbformat.write(notebook, copy)  # exactly what was graded (v4), even if the file changes meanwhile
            result = _execute(copy, control, options, sandbox)
            row.status = result["status"]
            row.reason = "; ".join(r for r in (str(result.get("reason", ""))[:500], note) if r)
            if isinstance(result.get("outputs_dropped"), int) and result["outputs_dropped"]:
                kib = int(result.get("output_bytes", 0)) // 1024
                row.reason = "; ".join(r for r in (row.reason, f"{kib} KiB of output, most of it dropped") if r)
            if options.keep_executed:
                _keep_executed(control / "executed.ipynb", Path(options.keep_executed), submission.identity)
        if run is not None:
            for qid, (points, why) in _finish_exercises(run, key).items():
                row.scores[qid], row.details[qid] = points, why
            run = None
    finally:
        if run is not None and run.proc is not None:
            _kill_group(run.proc)
        shutil.rmtree(control, ignore_errors=True)  # never follows a link the submission left inside


def _keep_executed(source: Path, folder: Path, identity: str) -> None:
    """Copy the executed notebook (written by the runner, outside the sandbox) for the instructor."""
    try:
        data = read_regular_file(source, 64 << 20)
    except OSError:
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / safe_file_name(identity, ".ipynb")).write_bytes(data)
