"""The same cycle through pytest: grading, feedback files and the LMS export in one pytest session."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from assignment_files import fill_in, write_assignment_sources

from iflearn.grading.assign import build_assignment, write_assignment
from iflearn.grading.cli import _plugin_args


def test_pytest_grades_then_writes_feedback_and_the_moodle_export(tmp_path: Path) -> None:
    solution, bank = write_assignment_sources(tmp_path / "instructor")
    write_assignment(build_assignment(solution, bank, "hw1"), tmp_path / "hw1.ipynb", tmp_path / "key.json")
    fill_in(tmp_path / "hw1.ipynb", tmp_path / "subs" / "ana" / "hw1.ipynb", None,
            {"if-90-noise-at-end": True, "if-90-what-falls": ["c"], "if-90-schedule": "cosine"})
    fill_in(tmp_path / "hw1.ipynb", tmp_path / "subs" / "ben" / "hw1.ipynb", None, {"if-90-noise-at-end": False})
    (tmp_path / "overrides.csv").write_text("learner,question,points,comment\nben,if-90-schedule,1,oral exam\n",
                                            encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *_plugin_args(), "-p", "no:cacheprovider", "-q",
         "--iflearn-grade", "subs", "--iflearn-key", "key.json", "--iflearn-gradebook", "book.csv",
         "--iflearn-no-execute", "--iflearn-feedback", "feedback", "--iflearn-feedback-format", "md",
         "--iflearn-export", "moodle", "--iflearn-export-out", "hw1-moodle.csv",
         "--iflearn-overrides", "overrides.csv"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "iflearn: 2 feedback files" in done.stdout and "override: ben if-90-schedule 0 -> 1" in done.stdout
    rows = list(csv.DictReader(open(tmp_path / "hw1-moodle.csv", encoding="utf-8")))
    assert [(r["ID number"], r["hw1: if-90-noise-at-end"], r["hw1: if-90-what-falls"], r["hw1: if-90-schedule"])
            for r in rows] == [("ana", "1", "1", "0"), ("ben", "0", "0", "1")]
    ana = (tmp_path / "feedback" / "subs" / "ana" / "hw1.md").read_text(encoding="utf-8")
    assert "partial credit: 1 of 2 right choices picked" in ana and "The diffusers value is squaredcos" in ana
