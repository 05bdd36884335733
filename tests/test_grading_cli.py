"""``iflearn grade``: making a key, argument errors, degraded mode, answers-only grading."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbformat import v4

from notebook_files import write

from iflearn.grading.cli import main
from iflearn.grading.grade import GradeOptions
from iflearn.grading.sandbox import detect_sandbox

DEMO = Path(__file__).parent / "grading_demo"


def test_make_key_from_the_quizzes_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quizzes = Path(__file__).parents[1] / "quizzes"
    assert main(["--make-key", str(quizzes / "03_noising.yaml"), "-o", str(tmp_path / "key.json")]) == 0
    key = json.loads((tmp_path / "key.json").read_text(encoding="utf-8"))
    assert key["format"] == "iflearn-key/1"
    assert key["questions"]["if-03-noising-extracts"] == {"type": "true_false", "points": 1.0, "answer": True}
    assert "Keep it out of the learners' reach" in capsys.readouterr().out
    assert main(["grade", "--make-key", str(quizzes), "-o", str(tmp_path / "all.json")]) == 0
    assert len(json.loads((tmp_path / "all.json").read_text())["questions"]) > 40


@pytest.mark.parametrize("argv, message", [
    (["subs"], "give SUBMISSIONS and --key"),
    (["subs", "--key", "missing.json"], "does not exist; make one with --make-key"),
    (["nowhere", "--key", "key.json"], "submission path(s) not found"),
])
def test_argument_errors_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "subs").mkdir()
    (tmp_path / "key.json").write_text((DEMO / "key.json").read_text())
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_answers_only_grading_with_two_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "s" / "one.ipynb", 'answer("if-01-fid", 6.66)')
    write(tmp_path / "s" / "two.ipynb", 'answer("if-01-fid", 6.0)')
    assert main(["s", "--key", str(DEMO / "key.json"), "--out", "book.csv", "--no-execute", "-n", "2"]) == 0
    rows = {r["submission"]: r for r in csv.DictReader((tmp_path / "book.csv").open(encoding="utf-8"))}
    assert rows[os.path.join("s", "one.ipynb")]["if-01-fid"] == "1"
    assert rows[os.path.join("s", "two.ipynb")]["if-01-fid"] == "0"


def test_degraded_mode_is_announced_and_recorded(tmp_path: Path) -> None:
    write(tmp_path / "s" / "one.ipynb", "from iflearn.quiz import answer", 'answer("if-01-fid", 6.66)')
    env = dict(os.environ, IFLEARN_GRADING_NO_BWRAP="1")
    done = subprocess.run([sys.executable, "-m", "iflearn.grading", "grade", "s", "--key", str(DEMO / "key.json"),
                           "--out", "book.csv", "--cell-timeout", "10", "-q"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "WITHOUT a sandbox (degraded)" in done.stderr and "IFLEARN_GRADING_NO_BWRAP" in done.stderr
    (row,) = csv.DictReader((tmp_path / "book.csv").open(encoding="utf-8"))
    assert (row["status"], row["sandbox"], row["score"]) == ("ok", "none (degraded)", "1")
    assert "sandbox: none (degraded)" in (tmp_path / "book.summary.md").read_text(encoding="utf-8")


def test_requiring_bwrap_fails_loudly_where_it_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IFLEARN_GRADING_NO_BWRAP", "1")
    detect_sandbox.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="--sandbox bwrap was required"):
            GradeOptions(sandbox="bwrap").resolve_sandbox()
    finally:
        detect_sandbox.cache_clear()


def test_exercise_runs_sandboxed_with_tensor_inputs_and_is_compared_outside(tmp_path: Path) -> None:
    from iflearn.grading.grade import _grade_exercises

    notebook = v4.new_notebook()
    notebook.cells = [v4.new_code_cell("import torch"),
                      v4.new_code_cell("def q_sample(x0, eps, abar_t):\n"
                                       "    return torch.sqrt(abar_t) * x0 + torch.sqrt(1 - abar_t) * eps"),
                      v4.new_code_cell("def snr(abar_t):\n    return (1 - abar_t) / abar_t")]
    verdicts = _grade_exercises(notebook, {"q": "q_sample", "s": "snr", "g": "guidance"}, tmp_path,
                                GradeOptions(cell_timeout=20), detect_sandbox())
    assert verdicts["q"] == (True, "correct")
    assert verdicts["s"][0] is False and "max abs error" in verdicts["s"][1]
    assert verdicts["g"] == (False, "no top-level 'def guidance(...)' in the notebook")


def test_memory_hog_hits_the_kernel_memory_limit(tmp_path: Path) -> None:
    from iflearn.grading.grade import Submission, grade_submission
    from iflearn.grading.key import load_key

    path = write(tmp_path / "hog.ipynb", "from iflearn.quiz import answer", 'answer("if-01-fid", 6.66)',
                 "hog = bytearray(3 * 2**30)  # 3 GiB")
    row = grade_submission(Submission(path, "hog.ipynb"), load_key(DEMO / "key.json"),
                           GradeOptions(cell_timeout=20, memory_mb=1024))
    assert (row.status, row.total) == ("error", 1.0)
    assert "MemoryError" in row.reason
