"""Odd inputs that must cost a learner nothing they earned: answer forms, choice-id case, look-alike names,
giant cells in the gradebook. No kernels except the one ``-n 2`` run, which executes nothing."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from notebook_files import write

from iflearn.grading.cli import main as grade_main
from iflearn.grading.extract import extract_answers, extract_function, read_notebook
from iflearn.grading.grade import GradeOptions, GradeRow, Submission, find_submissions, grade_submission
from iflearn.grading.gradebook import Gradebook
from iflearn.grading.key import load_key
from iflearn.quiz.spec import AnswerSpec, check_answer

DEMO_KEY = Path(__file__).parent / "grading_demo" / "key.json"


def nb(*sources: str) -> nbformat.NotebookNode:
    notebook = v4.new_notebook()
    notebook.cells = [v4.new_code_cell(s) for s in sources]
    return notebook


# -- 11. the answer forms a learner sees working are graded ------------------------------------------------------

@pytest.mark.parametrize("cells", [
    ['answer(qid="q", value=6.66)'],
    ['answer(value=6.66, qid="q")'],
    ['answer("q", value=6.66)'],
    ["%%time\nanswer('q', 6.66)"],
    ["%%capture\nx = 1\nanswer('q', 6.66)"],
    ["%time answer('q', 6.66)"],
    ["from iflearn.quiz import answer as check", "check('q', 6.66)"],
    ["from iflearn.quiz.feedback import answer as a", "%%time\na('q', 6.66)"],
    ["from iflearn import quiz", "quiz.answer('q', 6.66)"],
])
def test_every_answer_form_that_works_in_the_notebook_is_read(cells: list[str]) -> None:
    found = extract_answers(nb(*cells))
    assert found["q"].literal and found["q"].value == 6.66


@pytest.mark.parametrize("cells", [
    ["%%bash\nanswer('q', 6.66)"],  # not Python: the kernel never calls answer()
    ["check('q', 6.66)"],  # no import makes check() the answer function
    ["%%time\nif False:\n    answer('q', 6.66)"],
])
def test_forms_that_do_not_answer_stay_unread(cells: list[str]) -> None:
    assert "q" not in extract_answers(nb(*cells))


def test_a_function_defined_in_a_timed_cell_is_an_exercise_answer() -> None:
    source = extract_function(nb("import torch", "%%time\ndef snr(abar_t):\n    return torch.ones(1)"), "snr")
    assert source is not None and source.startswith("import torch") and "def snr" in source


# -- 10. choice ids are compared without case --------------------------------------------------------------------

def test_upper_case_choice_ids_in_a_key_accept_either_case(tmp_path: Path) -> None:
    key_path = tmp_path / "key.json"
    key_path.write_text(json.dumps({"questions": {
        "pick": {"type": "multiple_choice", "choices": ["A", "B", "C"], "answer": "B"},
        "many": {"type": "multiple_choice", "choices": ["A", "B", "C"], "answer": ["A", "C"], "multiple": True}}}))
    key = load_key(key_path)
    for value, many in (("B", ["A", "C"]), ("b", ["c", "a"]), (" B ", ["a", "C"])):
        path = write(tmp_path / "sub.ipynb", f"answer('pick', {value!r})", f"answer('many', {many!r})")
        row = grade_submission(Submission(path, "sub.ipynb"), key, GradeOptions(execute=False))
        assert row.scores == {"pick": 1.0, "many": 1.0}, row.details
    wrong = check_answer(key.questions["pick"], "a")
    assert not wrong.correct and wrong.valid


def test_choice_ids_that_differ_only_in_case_are_refused_with_a_fix() -> None:
    with pytest.raises(ValueError, match="repeat when upper and lower case"):
        AnswerSpec.from_dict({"type": "multiple_choice", "choices": ["a", "A"], "answer": "a"})


# -- 5. an answer that cannot be compared costs only its own question -------------------------------------------

def test_a_giant_integer_is_a_wrong_number_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path / "giant.ipynb", f'answer("if-01-fid", {"9" * 4000})', 'answer("if-07-looks-3d", True)')
    row = grade_submission(Submission(path, "giant.ipynb"), load_key(DEMO_KEY), GradeOptions(execute=False))
    assert row.status == "ok" and row.scores["if-07-looks-3d"] == 1 and row.scores["if-01-fid"] == 0
    assert "expected a number" in row.details["if-01-fid"]


def test_deeply_nested_json_and_giant_numbers_parse(tmp_path: Path) -> None:
    from iflearn.grading.extract import load_json

    data, pruned = load_json('{"a": ' + "[" * 50_000 + "]" * 50_000 + ', "b": [' + "7" * 5000 + "]}")
    assert pruned == 1 and data["a"] is not None and data["b"] == [float("inf")]
    path = write(tmp_path / "deep.ipynb", 'answer("q", True)')
    text = path.read_text(encoding="utf-8").replace('"metadata": {}', '"metadata": {"x": '
                                                    + "[" * 3000 + "]" * 3000 + "}", 1)
    path.write_text(text, encoding="utf-8")
    notebook, note = read_notebook(path)  # 3,000 levels: json parses it, the schema check would not
    assert extract_answers(notebook)["q"].value is True and "nested deeper than" in note


# -- 6. two names never collide -----------------------------------------------------------------------------------

def test_a_non_utf8_byte_and_its_written_escape_are_two_learners(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path)
    for name, answer in ((b"caf\xe9.ipynb", "6.66"), (b"caf\\xe9.ipynb", "1.0")):
        notebook = nb(f'answer("if-01-fid", {answer})')
        with open(os.path.join(raw, name), "w", encoding="utf-8") as handle:
            nbformat.write(notebook, handle)
    found = find_submissions([tmp_path], base=tmp_path)
    assert sorted(s.identity for s in found) == ["caf\\\\xe9.ipynb", "caf\\xe9.ipynb"]
    key = load_key(DEMO_KEY)
    book = Gradebook([], {})
    book.upsert([grade_submission(s, key, GradeOptions(execute=False)) for s in found], key.questions)
    rows = list(csv.DictReader(book.to_csv().decode("utf-8").splitlines()))
    assert sorted((r["submission"], r["if-01-fid"]) for r in rows) == [("caf\\\\xe9.ipynb", "0"),
                                                                     ("caf\\xe9.ipynb", "1")]


# -- 4. bounded gradebook cells; a poisoned gradebook loses nothing ---------------------------------------------

def _row(name: str, details: str) -> GradeRow:
    return GradeRow(submission=name, status="error", reason=details, sandbox="bwrap", scores={"q": 0.0},
                    details={"q": details}, max_total=1.0)


def test_huge_cells_are_cut_and_kept_in_full_beside_the_gradebook(tmp_path: Path) -> None:
    from iflearn.grading.gradebook import CELL_LIMIT, details_folder

    out = tmp_path / "book.csv"
    book = Gradebook.load(out)
    huge = "x" * 300_000 + " the end"
    book.upsert([_row("a/kim.ipynb", huge), _row("b/lee.ipynb", "short")], ["q"])
    book.write(out)
    rows = {r["submission"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert all(len(v) <= CELL_LIMIT for r in rows.values() for v in r.values())
    assert "full text: book.details/" in rows["a/kim.ipynb"]["details"]
    files = sorted(details_folder(out).iterdir())
    assert len(files) == 2
    full = next(p for p in files if p.name.startswith("a_kim")).read_text(encoding="utf-8")
    assert huge in full and "submission: a/kim.ipynb" in full


def test_an_old_gradebook_with_a_huge_cell_still_loads_and_is_repaired(tmp_path: Path) -> None:
    from iflearn.grading.gradebook import CELL_LIMIT

    out = tmp_path / "book.csv"
    out.write_text("submission,status,score,max_score,q,sandbox,reason,details,seconds,graded_at\n"
                   f"old.ipynb,ok,1,1,1,bwrap,,{'y' * 300_000},1.00,2026-01-01\n", encoding="utf-8")
    book = Gradebook.load(out)
    assert len(book.rows["old.ipynb"]["details"]) == 300_000
    book.upsert([_row("new.ipynb", "fine")], ["q"])
    book.write(out)
    assert max(len(v) for r in csv.DictReader(out.open(encoding="utf-8")) for v in r.values()) <= CELL_LIMIT
    assert csv.field_size_limit() == 131072  # the module-wide limit is left as it was


def test_parallel_grading_into_a_poisoned_gradebook_keeps_every_row(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "book.csv").write_text(
        "submission,status,score,max_score,if-01-fid,sandbox,reason,details,seconds,graded_at\n"
        f"s/old.ipynb,ok,1,7,1,bwrap,,{'z' * 300_000},1.00,2026-01-01\n", encoding="utf-8")
    for index in range(3):
        write(tmp_path / "s" / f"n{index}.ipynb", f'answer("if-01-fid", {6.66 if index else 1.0})')
    assert grade_main(["s", "--key", str(DEMO_KEY), "--out", "book.csv", "--no-execute", "-n", "2", "-q"]) == 0
    rows = {r["submission"]: r for r in csv.DictReader((tmp_path / "book.csv").open(encoding="utf-8"))}
    expected = {os.path.join("s", f"n{i}.ipynb") for i in range(3)} | {"s/old.ipynb"}
    assert set(rows) == expected
    assert [rows[os.path.join("s", f"n{i}.ipynb")]["if-01-fid"] for i in range(3)] == ["0", "1", "1"]


def test_an_unreadable_gradebook_is_refused_before_grading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "marks.csv").write_text("name,mark\nkim,10\n", encoding="utf-8")
    write(tmp_path / "s" / "n.ipynb", 'answer("if-01-fid", 6.66)')
    with pytest.raises(SystemExit) as exit_info:
        grade_main(["s", "--key", str(DEMO_KEY), "--out", "marks.csv", "--no-execute", "-n", "2"])
    assert exit_info.value.code == 2 and "not an iflearn gradebook" in capsys.readouterr().err
    assert (tmp_path / "marks.csv").read_text(encoding="utf-8") == "name,mark\nkim,10\n"
