"""``iflearn grade``: grade submitted notebooks into a gradebook, or make an answer key.

Examples::

    iflearn grade --make-key quizzes/03_noising.yaml -o key.json
    iflearn grade submissions/ --key key.json --out gradebook.csv --cell-timeout 30 --timeout 300
    iflearn grade submissions/ --key key.json --out gradebook.csv -n 4     # pytest-xdist, 4 workers

``python -m iflearn.grading ...`` is the same command. With ``-n`` above 1 the grading runs through pytest
and pytest-xdist (one test item per submission, see :mod:`iflearn.grading.pytest_plugin`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]

PLUGIN = "iflearn.grading.pytest_plugin"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``iflearn grade --help``)."""
    parser = argparse.ArgumentParser(
        prog="iflearn grade",
        description="Grade learners' notebooks: answers are read from the answer cells' source and compared "
                    "with the key outside the notebook; each notebook also runs in a fresh, sandboxed kernel "
                    "to record whether it runs.",
    )
    parser.add_argument("submissions", nargs="*", help="notebooks or folders of notebooks (*.ipynb)")
    parser.add_argument("--key", help="the answer key (.json or .yaml), e.g. from --make-key")
    parser.add_argument("--out", default="gradebook.csv",
                        help="gradebook CSV to create or update (default %(default)s)")
    parser.add_argument("--cell-timeout", type=float, default=30.0, help="seconds per cell (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per notebook (default %(default)s)")
    parser.add_argument("-n", "--workers", type=int, default=1,
                        help="grade in parallel with pytest-xdist using N workers (default 1: no pytest)")
    parser.add_argument("--memory-mb", type=int, default=4096, help="kernel memory limit in MiB (0: none)")
    parser.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                        help="auto: bubblewrap if it works here, else degraded (reported); bwrap: require it")
    parser.add_argument("--no-execute", action="store_true", help="only read and score answers; do not run")
    parser.add_argument("--keep-executed", metavar="DIR", help="keep each executed notebook (outputs capped) here")
    parser.add_argument("--make-key", metavar="QUIZZES",
                        help="write an answer key from a quizzes/ folder or one quizzes/<notebook>.yaml")
    parser.add_argument("-o", "--output", help="where --make-key writes the key (default key.json)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def _make_key(args: argparse.Namespace) -> int:
    from iflearn.grading.key import make_key, write_key

    key = make_key(args.make_key)
    path = write_key(key, args.output or "key.json")
    print(f"Wrote {len(key.questions)} questions ({key.max_score:g} points) to {path}. Keep it out of the "
          "learners' reach; grade with: iflearn grade SUBMISSIONS --key " + str(path))
    return 0


def _plugin_args() -> list[str]:
    names = {ep.name for ep in importlib.metadata.entry_points(group="pytest11")}
    values = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    return [] if PLUGIN in names or PLUGIN in values else ["-p", PLUGIN]


def _grade_with_pytest(args: argparse.Namespace) -> int:
    """Run the pytest plugin with pytest-xdist in a subprocess (isolated from any project's pytest config)."""
    with tempfile.TemporaryDirectory(prefix="iflearn-pytest-") as ini_dir:
        ini = Path(ini_dir) / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        # no conftest.py of the folder graded from (a course's own test set-up may import torch), and none of
        # the installed plugins grading does not use: each would be loaded by every xdist worker
        unused = [arg for name in ("cacheprovider", "nbval", "anyio", "platformdirs") for arg in ("-p", f"no:{name}")]
        cmd = [sys.executable, "-m", "pytest", *_plugin_args(), *unused, "--noconftest", "-c", str(ini),
               "--rootdir", ini_dir, "-q", "-n", str(args.workers),
               "--iflearn-grade", *[os.path.abspath(s) for s in args.submissions],
               "--iflearn-base", os.getcwd(),
               "--iflearn-key", os.path.abspath(args.key), "--iflearn-gradebook", os.path.abspath(args.out),
               "--iflearn-cell-timeout", str(args.cell_timeout), "--iflearn-timeout", str(args.timeout),
               "--iflearn-memory-mb", str(args.memory_mb), "--iflearn-sandbox", args.sandbox]
        if args.no_execute:
            cmd.append("--iflearn-no-execute")
        if args.keep_executed:
            cmd += ["--iflearn-keep-executed", os.path.abspath(args.keep_executed)]
        code = subprocess.call(cmd)
    # pytest exits 1 when some submission did not run cleanly; the gradebook has its row and reason
    return 0 if code in (0, 1) else code


def grade(args: argparse.Namespace) -> int:
    """Grade sequentially in this process, writing the gradebook after every submission."""
    from tqdm.auto import tqdm

    from iflearn.grading.grade import GradeOptions, find_submissions, grade_submission
    from iflearn.grading.gradebook import Gradebook, write_summary
    from iflearn.grading.key import load_key

    key = load_key(args.key)
    options = GradeOptions(cell_timeout=args.cell_timeout, timeout=args.timeout, memory_mb=args.memory_mb,
                           execute=not args.no_execute, sandbox=args.sandbox, keep_executed=args.keep_executed)
    sandbox = options.resolve_sandbox()
    if sandbox.kind != "bwrap":
        print(f"WARNING: grading WITHOUT a sandbox (degraded): {sandbox.detail}. Submissions can read your files "
              "and use the network while they run; their scores still come only from their answer cells.",
              file=sys.stderr)
    submissions = find_submissions(args.submissions)
    out = Path(args.out)
    book = Gradebook.load(out)
    book.upsert([], key.questions)
    for submission in tqdm(submissions, desc="grading", unit="notebook", disable=args.quiet):
        row = grade_submission(submission, key, options, sandbox)
        book.upsert([row], key.questions)
        book.write(out)
    book.write(out)
    paths = write_summary(book, out, {q: s.points for q, s in key.questions.items()})
    statuses = [book.rows[s.identity]["status"] for s in submissions]
    counts = ", ".join(f"{s} {statuses.count(s)}" for s in sorted(set(statuses))) or "nothing to grade"
    print(f"Graded {len(submissions)} submissions ({counts}); sandbox: {sandbox.label}.\n"
          f"Gradebook: {out}\nSummary: {', '.join(str(p) for p in paths)}")
    return 0


@contextlib.contextmanager
def _term_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM like Ctrl-C while grading: the runners, sandboxes and kernels are killed on the way out."""
    import signal
    import threading

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_gradebook(parser: argparse.ArgumentParser, out: str) -> None:
    """Refuse before grading (not after) a --out file that cannot be updated, so no graded row is lost."""
    from iflearn.grading.gradebook import Gradebook

    try:
        Gradebook.load(Path(out))
    except (ValueError, OSError) as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``argv`` is what follows ``iflearn grade`` (a leading ``"grade"`` is also accepted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["grade"] and not os.path.exists("grade"):
        argv = argv[1:]
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.make_key:
        return _make_key(args)
    if not args.submissions or not args.key:
        parser.error("give SUBMISSIONS and --key KEY (or --make-key QUIZZES to create a key)")
    if not Path(args.key).is_file():
        parser.error(f"--key {args.key!r} does not exist; make one with --make-key quizzes/ -o key.json")
    missing = [s for s in args.submissions if not os.path.lexists(s)]
    if missing:
        parser.error(f"submission path(s) not found: {missing}")
    _check_gradebook(parser, args.out)
    if args.workers > 1:
        if importlib.util.find_spec("xdist") is None:
            parser.error(f"-n {args.workers} grades in parallel with pytest-xdist, which is not installed; "
                         "pip install pytest-xdist, or drop -n to grade one notebook at a time")
        with _term_as_interrupt():
            return _grade_with_pytest(args)
    with _term_as_interrupt():
        return grade(args)


if __name__ == "__main__":
    sys.exit(main())
