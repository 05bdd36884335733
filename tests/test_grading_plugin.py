"""The pytest plugin: ordinary runs are unchanged; grading runs make one item per submission, with xdist."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path


from notebook_files import write

from iflearn.grading.cli import _plugin_args

DEMO_KEY = Path(__file__).parent / "grading_demo" / "key.json"


def run_pytest(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    (cwd / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "pytest", *_plugin_args(), "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240)


def test_ordinary_test_runs_are_unchanged(tmp_path: Path) -> None:
    (tmp_path / "test_ordinary.py").write_text("def test_one():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    write(tmp_path / "not_a_test.ipynb", "raise SystemExit('must not be run')")
    done = run_pytest(["test_ordinary.py", "--collect-only"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 test collected" in done.stdout and "grade::" not in done.stdout
    helped = run_pytest(["--help"], tmp_path)
    assert "--iflearn-grade" in helped.stdout and "--iflearn-key" in helped.stdout


def test_grading_through_pytest_xdist_one_item_per_submission(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    write(subs / "a" / "lee.ipynb", "from iflearn.quiz import answer", 'answer("if-01-fid", 6.66)',
          'answer("if-07-looks-3d", True)')
    write(subs / "b" / "lee.ipynb", "from iflearn.quiz import answer", 'answer("if-01-fid", 7)', "1 / 0")
    (subs / os.fsdecode(b"c\xe9.ipynb")).write_text("{broken", encoding="utf-8")  # a non-UTF-8 name
    (tmp_path / "test_ordinary.py").write_text("def test_never_collected():\n    assert False\n")
    done = run_pytest(["-n", "2", "--iflearn-grade", "subs", "--iflearn-key", str(DEMO_KEY),
                       "--iflearn-gradebook", "out/book.csv", "--iflearn-cell-timeout", "10"], tmp_path)
    output = done.stdout + done.stderr
    assert "1 passed" in output and "2 failed" in output, output  # failures = submissions that did not run
    assert "ZeroDivisionError" in output and "invalid-notebook" in output
    assert "test_never_collected" not in output
    rows = {r["submission"]: r for r in csv.DictReader((tmp_path / "out" / "book.csv").open(encoding="utf-8"))}
    a, b, c = (os.path.join("subs", "a", "lee.ipynb"), os.path.join("subs", "b", "lee.ipynb"),
               os.path.join("subs", "c\\xe9.ipynb"))
    assert sorted(rows) == sorted([a, b, c])
    assert (rows[a]["status"], rows[a]["score"]) == ("ok", "2")
    assert (rows[b]["status"], rows[b]["score"], rows[b]["if-01-fid"]) == ("error", "0", "0")
    assert rows[c]["status"] == "invalid-notebook"
    assert (tmp_path / "out" / "book.summary.png").exists()


def test_grading_mode_without_a_key_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path / "x.ipynb", "1")
    done = run_pytest(["--iflearn-grade", "x.ipynb"], tmp_path)
    assert done.returncode == 4 and "--iflearn-key" in done.stderr
