"""``iflearn assign`` and its pieces: the private bank, hidden cases, the key's partial credit, assignment mode,
feedback files and LMS exports (their errors included)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest

from assignment_files import BANK, fill_in, write_assignment_sources

from iflearn import i18n
from iflearn.editions import EditionError
from iflearn.grading.assign import build_assignment, hidden_cases, load_private_bank, main
from iflearn.grading.export import ExportError, export_csv, export_rows, learner_id, read_overrides
from iflearn.grading.feedback import learner_feedback, parse_details, render_html, render_markdown
from iflearn.grading.key import Grading, Key, encode_case, load_key, write_key
from iflearn.quiz import feedback as quiz_feedback
from iflearn.quiz.exercises import get_exercise
from iflearn.quiz.spec import AnswerSpec


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    before = i18n._current
    i18n.set_language("en")
    yield
    i18n._current = before
    quiz_feedback.start_assignment(None)


def _edit_solution(path: Path, old: str, new: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.source = cell.source.replace(old, new)
    nbformat.write(notebook, path)


# -- assign -------------------------------------------------------------------------------------------------
def test_assign_with_random_cases_drawn_from_a_seed(tmp_path: Path) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    _edit_solution(solution, "], random=0)", "], random=3)")
    first = build_assignment(solution, bank, "hw1", seed=7)
    again = build_assignment(solution, bank, "hw1", seed=7)
    cases = first.key.grading["if-90-q-sample"].cases
    assert len(cases) == 7 and cases == again.key.grading["if-90-q-sample"].cases
    assert set(cases[6]["inputs"]) == {"x0", "eps", "abar_t"}
    assert first.placed == {"if-90-noise-at-end": 8, "if-90-what-falls": 8, "if-90-schedule": -1, "if-90-q-sample": 3}
    assert build_assignment(solution, bank, "hw1", partial=False).key.grading["if-90-q-sample"].partial is False


@pytest.mark.parametrize("old, new, message", [
    ('answer("if-90-noise-at-end", True)', 'answer("if-90-noise-at-end", False)',
     "the solution answers 'if-90-noise-at-end' with False, which the bank grades as wrong"),
    ("def q_sample(", "def q_sample_v2(", "has no top-level def q_sample"),
    ("return abar_t ** 0.5 * x0", "return abar_t * x0", "the solution's q_sample fails its own hidden cases"),
    ('"abar_t": 0.64}', '"abar_t": torch.tensor(0.64)}', "must list its cases as literal numbers and lists"),
    ('"abar_t": 0.64}', '"abar": 0.64}', "expected the names ['abar_t', 'eps', 'x0'], got ['abar', 'eps', 'x0']"),
    ('hidden_cases("q_sample"', 'hidden_cases("snr"', "the bank has no exercise question for 'snr'"),
])
def test_assign_refuses_a_solution_that_disagrees_with_the_bank(tmp_path: Path, old: str, new: str,
                                                                 message: str) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    _edit_solution(solution, old, new)
    with pytest.raises(EditionError) as info:
        build_assignment(solution, bank, "hw1")
    assert message in str(info.value)


@pytest.mark.parametrize("edit, message", [
    (lambda text: text.replace("id: if-90-schedule", "id: if-03-schedule"),
     "is already a public question (quizzes/03_noising.yaml)"),
    (lambda text: text.replace("type: fill_in", "type: essay"), "questions/2/type"),
    (lambda text: text.replace("id: if-90-schedule", "id: if-90-noise-at-end"), "appear more than once"),
    (lambda text: text + "  - ref: if-99-nothing\n", "'ref: if-99-nothing' is not a question of the public banks"),
    (lambda text: text + "  - {broken\n", "not valid YAML"),
])
def test_a_bad_private_bank_is_explained(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    bank = tmp_path / "hw1.yaml"
    bank.write_text(edit(BANK), encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_private_bank(bank)
    assert message in str(info.value)


def test_a_public_question_reused_by_ref_keeps_its_widget_in_assignment_mode(tmp_path: Path) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    bank.write_text(BANK + "  - ref: if-03-forward-formula\n", encoding="utf-8")
    _edit_solution(solution, 'answer("if-90-what-falls", ["a", "c"])',
                   'answer("if-90-what-falls", ["a", "c"])\nask("if-03-forward-formula")\nask("if-90-schedule")')
    built = build_assignment(solution, bank, "hw1")
    sources = [c.source for c in built.notebook.cells]
    assert any('ask("if-03-forward-formula")' in s for s in sources)  # public: the widget can show it
    assert not any('ask("if-90-schedule")' in s for s in sources)  # private: shown as text instead
    assert any(s.startswith("**Question 4** · `if-90-schedule`") for s in sources)
    assert built.key.questions["if-03-forward-formula"].answer == ("a",)


def test_the_command_line_writes_both_files_and_says_what_to_keep(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    assert main([str(solution), "--bank", str(bank), "-o", str(tmp_path / "out" / "hw1.ipynb"),
                 "--key", str(tmp_path / "key.json")]) == 0
    out = capsys.readouterr().out
    assert "hand it out" in out and "keep it (8 points)" in out
    assert load_key(tmp_path / "key.json").name == "hw1"
    with pytest.raises(SystemExit):
        main([str(solution), "--bank", str(bank), "-o", str(solution)])
    assert "is the solution notebook itself" in capsys.readouterr().err
    assert main([str(solution), "--bank", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_hidden_cases_checks_the_solution_in_the_solution_notebook() -> None:
    def right(x0, eps, abar_t):  # type: ignore[no-untyped-def]
        return abar_t ** 0.5 * x0 + (1 - abar_t) ** 0.5 * eps

    def wrong(x0, eps, abar_t):  # type: ignore[no-untyped-def]
        return abar_t * x0 + (1 - abar_t) * eps

    cases = [{"x0": [[0.5]], "eps": [[1.0]], "abar_t": 0.25}]
    assert hidden_cases("q_sample", right, cases).passed
    with pytest.raises(AssertionError, match="fails its own hidden case"):
        hidden_cases("q_sample", wrong, cases)


# -- the key: partial credit and hidden cases ----------------------------------------------------------------
def _key(partial: bool = True) -> Key:
    multiple = AnswerSpec("multiple_choice", answer=("a", "c"), choices=("a", "b", "c", "d"), multiple=True, points=2)
    exercise = AnswerSpec("exercise", exercise="snr", points=3)
    cases = tuple({"inputs": encode_case({"abar_t": np.array([v], dtype=np.float32)})} for v in (0.5, 0.125, 0.875))
    return Key({"m": multiple, "e": exercise}, {"m": Grading(partial), "e": Grading(partial, cases)}, "hw")


@pytest.mark.parametrize("value, points, why", [
    (["a", "c"], 2.0, "correct"),
    (["A", "c"], 2.0, "correct"),
    (["a"], 1.0, "partial credit: 1 of 2 right choices picked, 0 wrong choices picked"),
    (["a", "b"], 0.0, "partial credit: 1 of 2 right choices picked, 1 wrong choice picked"),
    (["a", "c", "d"], 1.0, "partial credit: 2 of 2 right choices picked, 1 wrong choice picked"),
    (["b", "d"], 0.0, "partial credit: 0 of 2 right choices picked, 2 wrong choices picked"),
    (["z"], 0.0, "unknown choice"),
    ("a", 1.0, "partial credit"),
    (None, 0.0, "not answered yet"),
])
def test_partial_credit_for_several_answers(value: object, points: float, why: str) -> None:
    got = _key().score_answer("m", value)
    assert got[0] == points and why in got[1]
    assert _key(partial=False).score_answer("m", value)[0] == (2.0 if points == 2.0 else 0.0)


def test_partial_credit_per_hidden_case() -> None:
    key, exercise = _key(), get_exercise("snr")
    cases = key.hidden_cases("e")
    assert cases is not None and [float(c["abar_t"][0]) for c in cases] == pytest.approx([0.5, 0.125, 0.875])
    right = [c["abar_t"] / (1 - c["abar_t"]) for c in cases]
    assert key.score_exercise("e", exercise, cases, right) == (3.0, "correct")
    two = [right[0], right[1] * 2, right[2]]
    points, why = key.score_exercise("e", exercise, cases, two)
    assert points == 2.0 and why.startswith("2 of 3 hidden cases match; case 2: max abs error")
    assert "0.125" not in why and "0.875" not in why  # a case is named by its number, never by its inputs
    assert key.score_exercise("e", exercise, cases, right[:1], "ZeroDivisionError: x") == (
        1.0, "1 of 3 hidden cases match; case 2: raised ZeroDivisionError: x; case 3: not run")
    assert _key(partial=False).score_exercise("e", exercise, cases, two)[0] == 0.0


def test_the_key_round_trips_its_grading_fields(tmp_path: Path) -> None:
    key = _key()
    write_key(key, tmp_path / "key.json")
    again = load_key(tmp_path / "key.json")
    assert again == key and again.to_dict()["assignment"] == "hw"
    data = json.loads((tmp_path / "key.json").read_text())
    data["questions"]["m"]["cases"] = [{"inputs": {"abar_t": {"array": [0.5]}}}]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="only exercise questions have hidden 'cases'"):
        load_key(tmp_path / "bad.json")
    data["questions"]["m"].pop("cases")
    data["questions"]["e"]["cases"] = [{"inputs": {"abar_t": [0.5]}}]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="input 'abar_t' must be"):
        load_key(tmp_path / "bad.json")


# -- assignment mode in the learner's kernel ---------------------------------------------------------------
def test_assignment_mode_records_without_judging(capsys: pytest.CaptureFixture[str]) -> None:
    from iflearn.quiz import answer, ask

    quiz_feedback.start_assignment("hw1", graded=["if-03-noising-extracts", "if-90-private"])
    answer("if-03-noising-extracts", False)
    answer("if-90-private", "b")
    answer("if-90-private", None)
    answer("if-01-pixel-space", True)  # not graded by this assignment: practice feedback as usual
    shown = capsys.readouterr().out
    assert "Recorded for hw1: if-03-noising-extracts = False" in shown
    assert "Recorded for hw1: if-90-private = 'b'" in shown
    assert "Not answered yet: replace None in the answer cell of if-90-private" in shown
    assert shown.count("Not quite") + shown.count("Correct") == 1  # only the practice question is judged
    widget = ask("if-03-noising-extracts")
    widget.select(False).check()
    assert widget.correct is None and widget.last is None
    assert "Recorded for hw1" in widget.feedback.value and "answer(" not in widget.feedback.value
    assert widget.feedback_text.startswith("📝 Recorded for hw1")
    quiz_feedback.start_assignment(None)
    assert ask("if-03-noising-extracts").select(False).check() is not None  # practice again


# -- feedback files ------------------------------------------------------------------------------------------
def test_details_are_split_back_per_question() -> None:
    details = "a: wrong; a-b: partial credit: 1 of 2; x; y; c: case 1: max abs error 1 > 0.1"
    assert parse_details(details, ["a", "a-b", "c"]) == {"a": "wrong", "a-b": "partial credit: 1 of 2; x; y",
                                                         "c": "case 1: max abs error 1 > 0.1"}


def test_feedback_escapes_what_a_learner_wrote(tmp_path: Path) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    built = build_assignment(solution, bank, "hw1")
    nbformat.write(built.notebook, tmp_path / "hw1.ipynb")
    fill_in(tmp_path / "hw1.ipynb", tmp_path / "s" / "eve" / "hw1.ipynb", None,
            {"if-90-schedule": "<script>alert(1)</script> [x](http://evil)"})
    row = {"submission": "s/eve/hw1.ipynb", "status": "error", "reason": "cell 3 raised <b>Boom</b>",
           "score": "0", "max_score": "8", "details": "if-90-schedule: wrong", **{q: "0" for q in built.key.questions}}
    feedback = learner_feedback(row, built.key, "en", base=tmp_path)
    page, text = render_html(feedback), render_markdown(feedback)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;Boom" in page
    assert "<script>" not in text and "\\[x\\]" in text and "did not run to the end (error)" in text


# -- LMS exports ---------------------------------------------------------------------------------------------
def _book(tmp_path: Path, rows: dict[str, list[str]]) -> Path:
    path = tmp_path / "book.csv"
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["submission", "status", "score", "max_score", "m", "e", "sandbox", "reason", "details"])
        for submission, (m, e) in rows.items():
            writer.writerow([submission, "ok", float(m) + float(e), "5", m, e, "bwrap", "", ""])
    return path


def test_learner_ids_collisions_and_roster(tmp_path: Path) -> None:
    assert learner_id("sub/kim/hw.ipynb") == "kim" and learner_id("sub/kim.ipynb", "stem") == "kim"
    with pytest.raises(ExportError, match="use --id-from stem"):
        learner_id("kim.ipynb")
    book = _book(tmp_path, {"a/kim/hw.ipynb": ["2", "1"], "b/kim/hw.ipynb": ["1", "1"]})
    with pytest.raises(ExportError, match="learner id 'kim' is given by two submissions"):
        export_rows(book, _key())
    book = _book(tmp_path, {"s/kim/hw.ipynb": ["2", "1.5"], "s/lee/hw.ipynb": ["0", "3"]})
    roster = {"kim": {"Student": "Kim, Ana", "ID": "101", "SIS User ID": "s1", "SIS Login ID": "kim",
                      "Section": "A"},
              "park": {"Student": "Park, Bo", "ID": "102", "SIS User ID": "s2", "SIS Login ID": "park",
                       "Section": "A"}}
    learners, notes = export_rows(book, _key(), roster=roster)
    assert "no submission from 1 learner(s) on the roster: park" in notes[-1]
    assert any("lee" in n and "not in the roster" in n for n in notes)
    rows = list(csv.reader(export_csv(learners, _key(), "canvas", "HW 1", columns="total").splitlines()))
    assert rows == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW 1"],
                    ["Points Possible", "", "", "", "", "5"],
                    ["Kim, Ana", "101", "s1", "kim", "A", "3.5"], ["lee", "", "", "lee", "", "3"],
                    ["Park, Bo", "102", "s2", "park", "A", ""]]


@pytest.mark.parametrize("lines, message", [
    ("nobody,m,1,\n", "learner 'nobody' has no submission"),
    ("kim,q9,1,\n", "question 'q9' is not in the key"),
    ("kim,m,two,\n", "points 'two' is not a number"),
    ("kim,m,-1,\n", "must be a number >= 0"),
    ("kim,m,1,\nkim,m,2,\n", "lines 2 and 3 both override kim/m"),
])
def test_overrides_errors_name_the_line(tmp_path: Path, lines: str, message: str) -> None:
    book = _book(tmp_path, {"s/kim/hw.ipynb": ["2", "1.5"]})
    overrides = tmp_path / "overrides.csv"
    overrides.write_text("learner,question,points,comment\n" + lines, encoding="utf-8")
    with pytest.raises(ExportError, match=message):
        export_rows(book, _key(), overrides=read_overrides(overrides, _key()))


def test_a_korean_assignment(tmp_path: Path) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    sources = [c.source for c in build_assignment(solution, bank, "과제1", language="ko").notebook.cells]
    assert any(s.startswith("**문제 2** · `if-90-noise-at-end` · 1점") for s in sources)
    assert any('raise NotImplementedError("직접 작성할 차례입니다: q_sample' in s for s in sources)
    assert any('answer("if-90-noise-at-end", None)  # True 또는 False' in s for s in sources)
    assert 'start_assignment("과제1", graded=[' in next(s for s in sources if "start_assignment" in s)


def test_feedback_and_export_say_when_there_is_no_gradebook(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from iflearn.grading import export, feedback

    write_key(_key(), tmp_path / "key.json")
    assert feedback.main([str(tmp_path / "none.csv"), "--key", str(tmp_path / "key.json")]) == 2
    assert export.main([str(tmp_path / "none.csv"), "--key", str(tmp_path / "key.json"), "--lms", "moodle"]) == 2
    assert capsys.readouterr().err.count("no such gradebook; grade first") == 2


def test_the_setup_cell_survives_when_the_first_code_cell_is_removed(tmp_path: Path) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    notebook = nbformat.read(solution, as_version=4)
    notebook.cells.insert(1, nbformat.v4.new_code_cell("SECRET = 42", metadata={"tags": ["remove-cell"]}))
    nbformat.write(notebook, solution)
    cells = build_assignment(solution, bank, "hw1").notebook.cells
    code = [c.source for c in cells if c.cell_type == "code"]
    assert "start_assignment" in code[0] and not any("SECRET" in s for s in code)


def test_an_exercise_left_unmarked_would_be_handed_out_solved(tmp_path: Path) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    _edit_solution(solution, "    ### BEGIN SOLUTION\n", "")
    _edit_solution(solution, "    ### END SOLUTION", "")
    with pytest.raises(EditionError, match="the body of def q_sample is not marked as a solution"):
        build_assignment(solution, bank, "hw1")


def test_an_exercise_cell_tagged_solution_is_handed_out_as_a_stub(tmp_path: Path) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    notebook = nbformat.read(solution, as_version=4)
    cell = next(c for c in notebook.cells if "def q_sample" in c.source)
    cell.source = cell.source.replace("    ### BEGIN SOLUTION\n", "").replace("\n    ### END SOLUTION", "")
    cell.metadata["tags"] = ["solution"]
    nbformat.write(notebook, solution)
    sources = [c.source for c in build_assignment(solution, bank, "hw1").notebook.cells]
    assert not any("def q_sample" in s for s in sources) and any("NotImplementedError" in s for s in sources)


def test_questions_are_appended_even_when_the_last_cell_is_removed(tmp_path: Path) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    notebook = nbformat.read(solution, as_version=4)
    hidden = next(c for c in notebook.cells if "hidden-tests" in c.metadata.get("tags", []))
    notebook.cells.remove(hidden)
    notebook.cells.append(hidden)
    notebook.cells.append(nbformat.v4.new_code_cell('ask("if-90-schedule")\nprint("notes")',
                                                    metadata={"tags": ["remove-cell"]}))
    nbformat.write(notebook, solution)
    sources = [c.source for c in build_assignment(solution, bank, "hw1").notebook.cells]
    assert sources[-2].startswith("**Question 4** · `if-90-schedule`")
    assert sources[-1] == 'answer("if-90-schedule", None)  # your answer in quotes'
    assert not any("notes" in s or "hidden_cases" in s for s in sources)


def test_an_answer_written_in_the_prose_is_pointed_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    solution, bank = write_assignment_sources(tmp_path)
    assert build_assignment(solution, bank, "hw1").warnings == ()
    notebook = nbformat.read(solution, as_version=4)
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell("IF uses the SquaredCos_Cap_V2 schedule."))
    nbformat.write(notebook, solution)
    (warning,) = build_assignment(solution, bank, "hw1").warnings
    assert "the answer of if-90-schedule ('squaredcos_cap_v2') appears in cell 1" in warning
    assert main([str(solution), "--bank", str(bank), "-o", str(tmp_path / "hw1.ipynb"),
                 "--key", str(tmp_path / "k" / "key.json")]) == 0
    assert "Warning: the answer of if-90-schedule" in capsys.readouterr().err
