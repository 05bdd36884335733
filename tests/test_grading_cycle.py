"""The instructor's whole cycle, end to end: assign -> fill in as a learner -> grade -> feedback -> LMS CSV.

Four learners do the assignment of ``assignment_files`` (a solution notebook and a private bank):

=======  ==========================  ===================  ============  =====================  =====
learner  true/false (1)              several answers (2)  fill-in (1)   q_sample, 4 cases (4)  total
=======  ==========================  ===================  ============  =====================  =====
ana      True: 1                     [a, c]: 2            1             right: 4               8
ben      False: 0                    [a]: 1 (1 of 2)      1             abar*x0+(1-abar)*eps:  4
                                                                        2 of 4 cases: 2
cy       nothing: 0                  nothing: 0           0             the stub: 0            0
dee      True: 1                     [a, b, c]: 1         1 (case)      torch.sqrt: 4          7
=======  ==========================  ===================  ============  =====================  =====

and the instructor overrides ben's true/false (1 point) and cy's total (2 points).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest

from assignment_files import HIDDEN_MARKS, fill_in, write_assignment_sources

from iflearn.cli import main

QIDS = ["if-90-noise-at-end", "if-90-what-falls", "if-90-schedule", "if-90-q-sample"]
RIGHT = "return abar_t ** 0.5 * x0 + (1 - abar_t) ** 0.5 * eps"
TEXTBOOK_MISTAKE = "return abar_t * x0 + (1 - abar_t) * eps"
WITH_TORCH = "return torch.sqrt(abar_t) * x0 + torch.sqrt(1 - abar_t) * eps"


def _text(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in notebook.cells) + json.dumps(notebook.metadata)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the whole cycle once in a fresh folder; the tests below read what it wrote."""
    import os

    root = tmp_path_factory.mktemp("cycle")
    solution, bank = write_assignment_sources(root / "instructor")
    before = os.getcwd()
    os.chdir(root)
    try:
        # 1. assign
        assert main(["assign", str(solution), "--bank", str(bank), "--name", "hw1", "-o", "handout/hw1.ipynb",
                     "--key", "instructor/key-hw1.json", "--language", "en"]) == 0
        # 2. fill in, as four learners would
        handout = root / "handout" / "hw1.ipynb"
        fill_in(handout, root / "submitted/ana/hw1.ipynb", RIGHT,
                {"if-90-noise-at-end": True, "if-90-what-falls": ["a", "c"], "if-90-schedule": "squaredcos_cap_v2"})
        fill_in(handout, root / "submitted/ben/hw1.ipynb", TEXTBOOK_MISTAKE,
                {"if-90-noise-at-end": False, "if-90-what-falls": ["a"], "if-90-schedule": "squaredcos_cap_v2"})
        fill_in(handout, root / "submitted/cy/hw1.ipynb", None, {})
        fill_in(handout, root / "submitted/dee/hw1.ipynb", WITH_TORCH,
                {"if-90-noise-at-end": True, "if-90-what-falls": ["a", "b", "c"],
                 "if-90-schedule": " SquaredCos_Cap_V2 "})
        # 3. grade (each notebook runs in its own sandboxed kernel)
        assert main(["grade", "submitted", "--key", "instructor/key-hw1.json", "--out", "gradebook.csv",
                     "--cell-timeout", "60", "--keep-executed", "executed", "-q"]) == 0
        # 4. feedback files, 5. LMS exports with the instructor's overrides
        assert main(["feedback", "gradebook.csv", "--key", "instructor/key-hw1.json", "--out", "feedback",
                     "--language", "en"]) == 0
        assert main(["feedback", "gradebook.csv", "--key", "instructor/key-hw1.json", "--out", "feedback-md",
                     "--format", "md", "--language", "en"]) == 0
        assert main(["export", "gradebook.csv", "--key", "instructor/key-hw1.json", "--lms", "canvas",
                     "--out", "hw1-canvas.csv", "--overrides", "overrides.csv"]) == 0  # creates the template
        with open("overrides.csv", "a", encoding="utf-8") as out:
            out.write("ben,if-90-noise-at-end,1,argued well in office hours\ncy,total,2,illness: partial marks\n")
        assert main(["export", "gradebook.csv", "--key", "instructor/key-hw1.json", "--lms", "canvas",
                     "--out", "hw1-canvas.csv", "--overrides", "overrides.csv"]) == 0
        assert main(["export", "gradebook.csv", "--key", "instructor/key-hw1.json", "--lms", "moodle",
                     "--out", "hw1-moodle.csv", "--overrides", "overrides.csv"]) == 0
    finally:
        os.chdir(before)
    return root


def test_the_handout_hides_answers_solutions_and_hidden_cases(cycle: Path) -> None:
    handout = nbformat.read(cycle / "handout" / "hw1.ipynb", as_version=4)
    nbformat.validate(handout)
    text = _text(handout)
    for secret in (*HIDDEN_MARKS, "hidden_cases", "BEGIN SOLUTION", "instructor's notes", RIGHT,
                   '["a", "c"]', "squaredcos_cap_v2"):
        assert secret not in text, secret
    code = [c.source for c in handout.cells if c.cell_type == "code"]
    assert code[0].startswith("# Assignment 'hw1'") and 'start_assignment("hw1", graded=[' in code[0]
    assert 'raise NotImplementedError("Your turn: q_sample is not written yet.' in text
    assert 'answer("if-90-noise-at-end", None)  # True or False' in text
    assert 'answer("if-90-schedule", None)  # your answer in quotes' in text  # appended: the solution never asks it
    assert "Is x_t almost pure noise at t = T?" in text and "- c) the SNR" in text
    assert all(not c.get("outputs") for c in handout.cells if c.cell_type == "code")


def test_the_key_holds_the_hidden_cases_and_partial_credit(cycle: Path) -> None:
    key = json.loads((cycle / "instructor" / "key-hw1.json").read_text(encoding="utf-8"))
    assert key["assignment"] == "hw1" and list(key["questions"]) == QIDS
    exercise = key["questions"]["if-90-q-sample"]
    assert exercise["partial"] is True and len(exercise["cases"]) == 4
    assert exercise["cases"][2]["inputs"]["abar_t"] == {"array": 0.25}
    assert key["questions"]["if-90-what-falls"]["partial"] is True
    assert "partial" not in key["questions"]["if-90-noise-at-end"]


def test_the_gradebook_has_exact_scores(cycle: Path) -> None:
    rows = {r["submission"].split("/")[1]: r for r in csv.DictReader(open(cycle / "gradebook.csv", encoding="utf-8"))}
    assert sorted(rows) == ["ana", "ben", "cy", "dee"]
    scores = {who: [row[q] for q in QIDS] + [row["score"], row["max_score"]] for who, row in rows.items()}
    assert scores == {"ana": ["1", "2", "1", "4", "8", "8"], "ben": ["0", "1", "1", "2", "4", "8"],
                      "cy": ["0", "0", "0", "0", "0", "8"], "dee": ["1", "1", "1", "4", "7", "8"]}
    assert all(row["status"] == "ok" for row in rows.values()), {w: r["reason"] for w, r in rows.items()}
    assert "2 of 4 hidden cases match; case 3: max abs error" in rows["ben"]["details"]
    assert "partial credit: 1 of 2 right choices picked, 0 wrong choices picked" in rows["ben"]["details"]
    assert "raised NotImplementedError: Your turn: q_sample is not written yet" in rows["cy"]["details"]


def test_answer_cells_recorded_without_revealing(cycle: Path) -> None:
    executed = list((cycle / "executed").rglob("*.ipynb"))
    assert len(executed) == 4
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        cell = next(c for c in notebook.cells if 'answer("if-90-noise-at-end"' in c.source)
        shown = json.dumps(cell.outputs, ensure_ascii=False)
        assert "Recorded for hw1" in shown or "Not answered yet" in shown, shown
        assert "Correct" not in shown and "Not quite" not in shown and "answer(" not in shown


def test_one_feedback_file_per_learner_never_with_hidden_cases(cycle: Path) -> None:
    html_files = sorted(p.relative_to(cycle / "feedback").as_posix() for p in (cycle / "feedback").rglob("*.html"))
    assert html_files == [f"submitted/{who}/hw1.html" for who in ("ana", "ben", "cy", "dee")]
    ben = (cycle / "feedback" / "submitted" / "ben" / "hw1.html").read_text(encoding="utf-8")
    assert "<b>Score:</b> 4 / 8" in ben
    assert "abar_T is close to 0, so almost no signal is left." in ben  # the bank's "wrong" feedback
    assert "squares must add up to 1" in ben  # the exercise's hint (a direction, not the formula)
    assert "2 of 4 hidden cases match" in ben and "Your answer:</b> False" in ben
    ana = (cycle / "feedback-md" / "submitted" / "ana" / "hw1.md").read_text(encoding="utf-8")
    assert "**Score:** 8 / 8" in ana and "Right: the cosine schedule." in ana and "Hint" not in ana
    for path in [*(cycle / "feedback").rglob("*.html"), *(cycle / "feedback-md").rglob("*.md")]:
        text = path.read_text(encoding="utf-8")
        assert not any(mark in text for mark in HIDDEN_MARKS), path


def test_lms_exports_apply_the_overrides(cycle: Path) -> None:
    canvas = list(csv.reader(open(cycle / "hw1-canvas.csv", encoding="utf-8")))
    assert canvas == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *[f"hw1: {q}" for q in QIDS], "hw1"],
        ["Points Possible", "", "", "", "", "1", "2", "1", "4", "8"],
        ["ana", "", "", "ana", "", "1", "2", "1", "4", "8"],
        ["ben", "", "", "ben", "", "1", "1", "1", "2", "5"],
        ["cy", "", "", "cy", "", "0", "0", "0", "0", "2"],
        ["dee", "", "", "dee", "", "1", "1", "1", "4", "7"],
    ]
    moodle = list(csv.reader(open(cycle / "hw1-moodle.csv", encoding="utf-8")))
    assert moodle == [
        ["ID number", *[f"hw1: {q}" for q in QIDS], "hw1"],
        ["ana", "1", "2", "1", "4", "8"],
        ["ben", "1", "1", "1", "2", "5"],
        ["cy", "0", "0", "0", "0", "2"],
        ["dee", "1", "1", "1", "4", "7"],
    ]
    assert (cycle / "overrides.csv").read_text(encoding="utf-8").startswith("learner,question,points,comment\n")
