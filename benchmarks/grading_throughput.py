"""Grading throughput: submissions per minute with 1 worker and with pytest-xdist ``-n 2``, today's code and a
baseline checkout side by side, in alternating rounds so both see the same machine load.

    python benchmarks/grading_throughput.py [--submissions 12] [--rounds 2] [--note "..."]
    git worktree add /tmp/baseline <commit>        # the code to compare with, made before changing anything
    python benchmarks/grading_throughput.py --baseline /tmp/baseline --baseline-python /path/to/python

Makes small learner notebooks (quiz answers, some wrong, and a ``q_sample`` exercise in every third), grades
them with ``python -m iflearn.grading`` (each notebook in a fresh sandboxed kernel, each exercise in a fresh
sandboxed process) and writes ``benchmarks/results/grading_throughput.json`` with the machine's details. Both
versions must give every notebook the same score, or the benchmark stops.

The baseline runs from its own checkout with its own interpreter: ``--baseline-python`` must import
``iflearn`` from that checkout (a virtual environment with it installed in editable mode, or a copy of this
one whose editable-install finder points there). With ``--cpu-seconds`` (Linux, root, cgroup v1 ``cpuacct``)
each run is also measured in CPU seconds over every process it starts, kernels included: a figure that other
load on the machine barely changes.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat import v4

ROOT = Path(__file__).resolve().parents[1]
KEY = ROOT / "tests" / "grading_demo" / "key.json"
OUT = ROOT / "benchmarks" / "results" / "grading_throughput.json"
CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def make_submissions(folder: Path, count: int) -> None:
    """``count`` notebooks: answers (some wrong), every third one with a q_sample exercise."""
    for index in range(count):
        cells = ["from iflearn.quiz import answer",
                 f'answer("if-01-text-input", {"text" if index % 2 else "image"!r})',
                 'answer("if-01-fid", 6.66)', 'answer("if-03-noising-extracts", True)',
                 'answer("if-07-explicit-3d-model", False)']
        if index % 3 == 0:
            cells.append("def q_sample(x0, eps, abar_t):\n    return abar_t ** 0.5 * x0 + (1 - abar_t) ** 0.5 * eps")
        notebook = v4.new_notebook()
        notebook.cells = [v4.new_code_cell(c) for c in cells]
        nbformat.write(notebook, folder / f"learner_{index:03d}.ipynb")


class CpuAccount:
    """CPU time of a command and every process it starts (a cgroup v1 ``cpuacct`` group of its own)."""

    def __init__(self) -> None:
        self.group = CPUACCT / f"iflearn-bench-{os.getpid()}"

    @staticmethod
    def available() -> bool:
        return CPUACCT.is_dir() and os.access(CPUACCT, os.W_OK)

    def command(self, cmd: list[str]) -> list[str]:
        self.group.mkdir(exist_ok=True)
        (self.group / "cpuacct.usage").write_text("0")
        enter = f'echo $$ > {self.group / "cgroup.procs"} && exec "$@"'
        return ["sh", "-c", enter, "sh", *cmd]

    def seconds(self) -> float:
        return int((self.group / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        for _ in range(50):
            try:
                self.group.rmdir()
                return
            except OSError:  # the last processes are still leaving
                time.sleep(0.1)


def grade(python: str, tree: Path, folder: Path, workers: int, out: Path,
          account: CpuAccount | None) -> tuple[float, float | None]:
    """Seconds (and CPU seconds) to grade ``folder`` with ``workers`` (1: in one process; more: pytest-xdist)."""
    cmd = [python, "-m", "iflearn.grading", "grade", str(folder), "--key", str(KEY), "--out", str(out),
           "--cell-timeout", "30", "--timeout", "120", "-n", str(workers), "-q"]
    env = dict(os.environ, PYTHONPATH=str(tree))
    if account:
        cmd = account.command(cmd)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=folder.parent, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"grading failed ({python} in {tree}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, (account.seconds() if account else None)


def scores(book: Path) -> dict[str, tuple[str, str]]:
    rows = csv.DictReader(book.open(encoding="utf-8"))
    return {Path(r["submission"]).name: (r["status"], r["score"]) for r in rows}


def commit(tree: Path) -> str:
    done = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no", "--",
                            "iflearn", "benchmarks", ":!benchmarks/results"], capture_output=True, text=True).stdout.strip()
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def machine() -> dict[str, object]:
    """CPU model and count, memory, platform, Python, load and the sandbox in use."""
    from iflearn.grading.sandbox import detect_sandbox

    info: dict[str, object] = {
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "machine": platform.machine(), "sandbox": detect_sandbox().label,
    }
    try:
        text = Path("/proc/cpuinfo").read_text()
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                                 if line.startswith("model name"))
        mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        info["memory_gib"] = round(int(mem.split()[1]) / 2**20, 1)
    except (OSError, StopIteration):
        pass
    if hasattr(os, "getloadavg"):
        info["load_average_1_5_15_min_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1, help="repeat each measurement (alternating versions)")
    parser.add_argument("--baseline", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--baseline-python", default=sys.executable,
                        help="the interpreter that imports iflearn from --baseline")
    parser.add_argument("--cpu-seconds", action="store_true", help="also measure CPU seconds (cgroup v1, root)")
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.cpu_seconds and not CpuAccount.available():
        parser.error("--cpu-seconds needs a writable cgroup v1 cpuacct hierarchy at /sys/fs/cgroup/cpuacct (root)")
    versions = [("current", sys.executable, ROOT)]
    if args.baseline:
        versions.insert(0, ("baseline", args.baseline_python, args.baseline.resolve()))
    result: dict[str, object] = {
        "benchmark": "grading_throughput", "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(), "submissions": args.submissions, "rounds": args.rounds, "note": args.note,
        "notebooks": "quiz answers (some wrong) in every notebook, a q_sample exercise in every third",
        "versions": {name: {"commit": commit(tree), "python": python} for name, python, tree in versions},
        "runs": [],
    }
    runs: list[dict[str, object]] = result["runs"]  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="iflearn-bench-") as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        make_submissions(folder, args.submissions)
        expected: dict[str, tuple[str, str]] | None = None
        for round_index in range(args.rounds):
            for workers in args.workers:
                for name, python, tree in versions:
                    book = Path(tmp) / f"book-{name}-{workers}-{round_index}.csv"
                    account = CpuAccount() if args.cpu_seconds else None
                    try:
                        seconds, cpu = grade(python, tree, folder, workers, book, account)
                    finally:
                        if account:
                            account.close()
                    got = scores(book)
                    if len(got) != args.submissions:
                        raise SystemExit(f"{name}: expected {args.submissions} gradebook rows, got {len(got)}")
                    if expected is None:
                        expected = got
                    elif got != expected:
                        raise SystemExit(f"{name} -n {workers} graded differently: {got} != {expected}")
                    run = {"version": name, "workers": workers, "round": round_index + 1,
                           "seconds": round(seconds, 2),
                           "submissions_per_minute": round(60 * args.submissions / seconds, 1)}
                    if cpu is not None:
                        run["cpu_seconds"] = round(cpu, 2)
                        run["cpu_seconds_per_submission"] = round(cpu / args.submissions, 3)
                    runs.append(run)
                    print(json.dumps(run), flush=True)
    summary = {}
    for name, _, _ in versions:
        for workers in args.workers:
            mine = [r for r in runs if r["version"] == name and r["workers"] == workers]
            entry = {"median_submissions_per_minute":
                     round(statistics.median(float(r["submissions_per_minute"]) for r in mine), 1)}  # type: ignore
            if all("cpu_seconds_per_submission" in r for r in mine):
                cpu = statistics.median(float(r["cpu_seconds_per_submission"]) for r in mine)  # type: ignore
                entry["median_cpu_seconds_per_submission"] = round(cpu, 3)
                # what the CPU work allows on idle cores (an upper bound: no waiting, perfect sharing)
                entry["cpu_bound_submissions_per_minute_on_idle_cores"] = round(60 * (os.cpu_count() or 1) / cpu, 1)
            summary[f"{name} -n {workers}"] = entry
    result["summary"] = summary
    if hasattr(os, "getloadavg"):
        result["machine"]["load_average_1_5_15_min_at_end"] = [round(x, 2) for x in os.getloadavg()]  # type: ignore
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
