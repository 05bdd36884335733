"""Grade one submission: read answers from source, score them against the key, run the notebook sandboxed.

The order matters for trust:

1. the answers are read from the submitted file's *source* before anything runs (:mod:`.extract`);
2. they are scored here, in the grader, against the key, which the submission never sees;
3. code exercises run in the sandbox on inputs drawn with a secret seed; only their outputs come back,
   and the grader compares them with the reference maths;
4. the notebook runs in a fresh kernel in a temporary copy, in the sandbox, in a child process with time,
   memory and output limits; that only decides the ``status`` column (does the notebook run?).

Whatever a submission does, :func:`grade_submission` returns a :class:`GradeRow`; it never raises for one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from iflearn.grading.extract import NotebookProblem, extract_answers, extract_function, read_notebook
from iflearn.grading.key import Key
from iflearn.grading.sandbox import Sandbox, detect_sandbox, jail_command
from iflearn.quiz.spec import check_answer

__all__ = ["STATUSES", "GradeOptions", "GradeRow", "Submission", "find_submissions", "grade_submission"]

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


def _identity(path: Path, base: Path) -> str:
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        rel = str(path)
    if rel.startswith(".." + os.sep):
        rel = str(path.resolve())
    raw = os.fsencode(rel)
    return raw.decode("utf-8", errors="backslashreplace")


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


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _run_child(cmd: list[str], timeout: float) -> bool:
    """Run ``cmd`` in its own process group; kill the whole group at ``timeout``. True if it finished."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        return False
    finally:
        _kill_group(proc)


def _read_json(path: Path, max_bytes: int) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > max_bytes:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _execute(notebook_path: Path, control: Path, options: GradeOptions, sandbox: Sandbox) -> dict[str, Any]:
    result_path = control / "result.json"
    executed = None
    if options.keep_executed:
        executed = control / "executed.ipynb"
    cmd = [sys.executable, "-m", "iflearn.grading._runner", "--notebook", str(notebook_path),
           "--result", str(result_path), "--cell-timeout", str(options.cell_timeout),
           "--timeout", str(options.timeout), "--memory-mb", str(options.memory_mb),
           "--fsize-mb", str(options.fsize_mb), "--max-output-kb", str(options.max_output_kb),
           "--sandbox", sandbox.kind] + (["--executed", str(executed)] if executed else [])
    # the runner enforces the limits itself; this is the backstop if it hangs (kernel start + cleanup slack)
    finished = _run_child(cmd, timeout=options.timeout + 90)
    result = _read_json(result_path, 1 << 20)
    if not finished:
        return {"status": "timeout", "reason": f"the notebook ran past the {options.timeout:g} s limit"}
    if result is None or result.get("status") not in STATUSES:
        return {"status": "error", "reason": "the notebook runner stopped without a result"}
    return result


def _grade_exercises(notebook: Any, exercises: dict[str, str], workdir: Path, options: GradeOptions,
                     sandbox: Sandbox, key: Key | None = None) -> dict[str, tuple[float, str]]:
    """Run the learner's exercise functions in the sandbox; compare outside. qid -> (passed, reason).

    Where ``key`` states hidden cases or partial credit for a question, those cases are used and ``passed`` is
    the fraction of the points earned (:meth:`Key.score_exercise`).
    """
    import numpy as np

    from iflearn.quiz.exercises import compare_outputs, get_exercise

    verdicts: dict[str, tuple[bool, str]] = {}
    request, plans = [], {}
    for qid, name in exercises.items():
        exercise = get_exercise(name)
        function = exercise.signature[4:].split("(")[0]
        source = extract_function(notebook, function)
        if source is None:
            verdicts[qid] = (False, f"no top-level 'def {function}(...)' in the notebook")
            continue
        cases = (key.hidden_cases(qid) if key is not None else None) or exercise.cases(secrets.randbits(31))
        plans[qid] = (exercise, cases)
        # arrays (and NumPy scalars) become tensors, plain floats stay floats: as in check_exercise
        encoded = [{k: {"array": v.tolist()} if isinstance(v, (np.ndarray, np.generic)) else {"float": float(v)}
                    for k, v in case.items()} for case in cases]
        request.append({"qid": qid, "name": name, "function": function, "source": source, "cases": encoded})
    if not request:
        return verdicts
    (workdir / "request.json").write_text(json.dumps({"exercises": request}), encoding="utf-8")
    response_path = workdir / "response.json"
    command = [sys.executable, _WORKER, str(workdir / "request.json"), str(response_path)]
    jailed = jail_command(command, str(workdir), sandbox=sandbox, memory_mb=options.memory_mb,
                          fsize_mb=options.fsize_mb)
    finished = _run_child(jailed, timeout=30 + 3 * options.cell_timeout)
    response = _read_json(response_path, 16 << 20) if finished else None
    results = (response or {}).get("results", [])
    for item, entry in zip(request, results if isinstance(results, list) else [], strict=False):
        exercise, cases = plans[item["qid"]]
        if key is not None and item["qid"] in key.grading and isinstance(entry, dict) \
                and isinstance(entry.get("outputs"), list) and (entry["outputs"] or not entry.get("error")):
            points, why = key.score_exercise(item["qid"], exercise, cases, entry["outputs"][:len(cases)],
                                             str(entry.get("error") or ""))
            verdicts[item["qid"]] = (points / (key.questions[item["qid"]].points or 1.0), why)
            continue
        if not isinstance(entry, dict) or entry.get("error") or len(entry.get("outputs", [])) != len(cases):
            error = entry.get("error") if isinstance(entry, dict) else "bad response"
            verdicts[item["qid"]] = (False, f"the function failed: {error or 'no outputs'}")
            continue
        result = compare_outputs(exercise, cases, entry["outputs"])
        verdicts[item["qid"]] = (result.passed, "correct" if result.passed else result.message.lstrip("❌ "))
    for item in request:
        verdicts.setdefault(item["qid"], (False, "the function did not finish in time" if not finished
                                          else "the function could not be run"))
    return verdicts


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
        row.status, row.reason = "error", f"grader error: {type(exc).__name__}: {str(exc)[:200]}"
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
        row.scores[qid], row.details[qid] = key.score_answer(qid, answer.value)  # partial credit if the key says
    control = Path(tempfile.mkdtemp(prefix="iflearn-grade-"))
    try:
        workdir = control / "work"
        workdir.mkdir()
        # 3. code exercises: the learner's function runs sandboxed, the comparison runs here
        if exercises:
            exdir = control / "exercises"
            exdir.mkdir()
            for qid, (passed, why) in _grade_exercises(notebook, exercises, exdir, options, sandbox, key).items():
                row.scores[qid] = round(key.questions[qid].points * float(passed), 6)
                row.details[qid] = why
        # 4. does the notebook run? a fresh kernel on a temporary copy
        if options.execute:
            copy = workdir / "submission.ipynb"
            nbformat.write(notebook, copy)  # exactly what was graded (v4), even if the file changes meanwhile
            result = _execute(copy, control, options, sandbox)
            row.status = result["status"]
            row.reason = "; ".join(r for r in (result.get("reason", ""), note) if r)
            if result.get("outputs_dropped"):
                row.reason = "; ".join(r for r in (row.reason, f"{result['output_bytes'] // 1024} KiB of output, "
                                                   "most of it dropped") if r)
            if options.keep_executed and (control / "executed.ipynb").exists():
                target = Path(options.keep_executed) / (submission.identity.replace(os.sep, "__"))
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(control / "executed.ipynb", target)
    finally:
        shutil.rmtree(control, ignore_errors=True)
