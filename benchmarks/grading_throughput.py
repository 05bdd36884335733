"""Grading throughput: submissions per minute with 1 worker and with pytest-xdist ``-n 2``.

    python benchmarks/grading_throughput.py [--submissions 12] [--note "..."]

Makes small learner notebooks (quiz answers plus a q_sample exercise in some), grades them with
``python -m iflearn.grading`` once per worker count (each notebook runs in a fresh sandboxed kernel), and
writes ``benchmarks/results/grading_throughput.json`` with the machine's details.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
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


def grade(folder: Path, workers: int, out: Path) -> float:
    """Seconds to grade ``folder`` with ``workers`` (1: in one process; more: pytest-xdist)."""
    cmd = [sys.executable, "-m", "iflearn.grading", "grade", str(folder), "--key", str(KEY), "--out", str(out),
           "--cell-timeout", "30", "--timeout", "120", "-n", str(workers), "-q"]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def machine() -> dict[str, object]:
    """CPU count, platform, Python, load and the sandbox in use."""
    from iflearn.grading.sandbox import detect_sandbox

    info: dict[str, object] = {
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "machine": platform.machine(), "sandbox": detect_sandbox().label,
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1_5_15_min_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = {"benchmark": "grading_throughput", "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "submissions": args.submissions, "note": args.note, "runs": []}
    with tempfile.TemporaryDirectory(prefix="iflearn-bench-") as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        make_submissions(folder, args.submissions)
        for workers in args.workers:
            seconds = grade(folder, workers, Path(tmp) / f"book-{workers}.csv")
            rows = (Path(tmp) / f"book-{workers}.csv").read_text(encoding="utf-8").count("\n") - 1
            assert rows == args.submissions, f"expected {args.submissions} gradebook rows, got {rows}"
            run = {"workers": workers, "seconds": round(seconds, 2),
                   "submissions_per_minute": round(60 * args.submissions / seconds, 1)}
            result["runs"].append(run)
            print(json.dumps(run))
    if hasattr(os, "getloadavg"):
        result["machine"]["load_average_1_5_15_min_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
