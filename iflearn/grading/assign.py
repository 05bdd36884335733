"""``iflearn assign``: a learner's assignment notebook and the grader's key, from a solution notebook and a bank.

The instructor writes (or takes from the course) a *solution* notebook and keeps a private question bank (YAML in
the format of ``quizzes/*.yaml``). One command writes the two halves::

    iflearn assign solution.ipynb --bank hw1.yaml -o hw1.ipynb --key key-hw1.json

* ``hw1.ipynb`` is handed out (it works in Colab and JupyterLab alike: nothing runs on a server). It is the
  solution notebook's *assignment edition* (:mod:`iflearn.editions`): solution regions become "your turn" stubs,
  every answer cell is ``answer("<id>", None)`` with a comment saying what kind of value it takes, hidden-test
  cells and ``remove-cell`` cells are gone, outputs are cleared. The bank's questions appear as text where the
  solution asks or answers them (or at the end), and a first cell switches ``answer()`` and the widgets to
  assignment mode: an answer is *recorded*, never judged, and no answer line is printed. The kernel has no key
  to reveal: the bank's answers exist only in the key.
* ``key-hw1.json`` stays with the instructor: the bank's answers, partial credit, and each exercise's hidden
  cases (the solution's ``hidden_cases(...)`` calls plus random ones drawn here), checked against the solution
  before anything is written.

In the solution notebook, hidden grading cases for an exercise sit in a hidden-test cell (tagged
``hidden-tests``, or between nbgrader's ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``)::

    from iflearn.grading import hidden_cases
    hidden_cases("q_sample", q_sample, [
        {"x0": [[0.5, -1.0]], "eps": [[1.0, 2.0]], "abar_t": 1.0},    # no noise at all
        {"x0": [[0.5, -1.0]], "eps": [[1.0, 2.0]], "abar_t": 0.0},    # nothing but noise
    ], random=4)

Run in the solution notebook, the call checks the solution on those cases; ``iflearn assign`` reads the
literal values from the source (it does not run the notebook).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode, v4

from iflearn.editions import (
    TAG_HIDDEN_TESTS,
    TAG_REMOVE,
    CellContext,
    CellTransform,
    Edition,
    EditionError,
    answer_calls,
    blank_answers,
    build_edition,
    clear_outputs,
    drop_tagged,
    find_leaks,
    hidden_test_sources,
    prepend_cell,
    read_source_notebook,
    strip_hidden_tests,
    strip_solutions,
)
from iflearn.grading.key import Grading, Key, encode_case, write_key
from iflearn.quiz.bank import Question

__all__ = ["Assignment", "load_private_bank", "hidden_cases", "build_assignment", "write_assignment", "main"]


@dataclass(frozen=True)
class Assignment:
    """What ``iflearn assign`` builds.

    Attributes:
        name: the assignment's name (shown to learners, written in the key).
        notebook: the learner's notebook.
        key: the grader's key (answers, partial credit, hidden cases).
        questions: the bank's questions, in order.
        placed: question id -> the solution cell it was shown at (-1: appended at the end).
        warnings: answers that appear word for word in the learner's notebook (check they do not give one away).
    """

    name: str
    notebook: NotebookNode
    key: Key
    questions: tuple[Question, ...]
    placed: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


# -- the private bank ---------------------------------------------------------------------------------------
def load_private_bank(path: str | os.PathLike[str]) -> list[Question]:
    """Read an instructor's bank: ``quizzes/*.yaml``'s format (``ref:`` entries reuse public questions).

    Checked against ``quizzes/schema.json`` (a private bank may hold fewer than the public banks' four
    questions). A private id that is also a public question's id is refused: learners could read its answer.

    Raises:
        ValueError: what is wrong, where, and how to fix it.
    """
    import jsonschema
    import yaml

    from iflearn.quiz.bank import _build_question, all_questions, quiz_dir

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"--bank {str(path)!r}: cannot read it ({exc.strerror or exc}); give the path of your "
                         "bank (YAML in the format of quizzes/*.yaml).") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"--bank {str(path)!r}: not valid YAML ({str(exc).splitlines()[0]}).") from exc
    schema = json.loads((quiz_dir() / "schema.json").read_text(encoding="utf-8"))
    schema["properties"]["questions"]["minItems"] = 1
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        # an entry failing 'oneOf: [question, ref]' is clearer as the errors of the branch it meant
        branch = 1 if isinstance(error.instance, dict) and "ref" in error.instance else 0
        details = [e for e in error.context if list(e.relative_schema_path)[:1] == [branch]] or [error]
        detail = min(details, key=lambda e: len(e.message))
        where = "/".join(str(p) for p in detail.absolute_path) or "<top>"
        raise ValueError(f"--bank {str(path)!r}: {where}: {detail.message[:300]} (the format is quizzes/schema.json; "
                         f"{len(errors)} problem(s) in all).")
    public = all_questions()
    questions: list[Question] = []
    for entry in data["questions"]:
        if "ref" in entry:
            if entry["ref"] not in public:
                raise ValueError(f"--bank {str(path)!r}: 'ref: {entry['ref']}' is not a question of the public banks.")
            questions.append(public[entry["ref"]])
            continue
        if entry["id"] in public:
            raise ValueError(f"--bank {str(path)!r}: id {entry['id']!r} is already a public question "
                             f"(quizzes/{public[entry['id']].notebook}.yaml), whose answer learners can read; give "
                             "your question its own id, or write 'ref: <id>' to reuse the public one knowingly.")
        questions.append(_build_question(entry, str(data["notebook"])))
    ids = [q.id for q in questions]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"--bank {str(path)!r}: ids {repeated} appear more than once; each question once.")
    return questions


# -- hidden cases -------------------------------------------------------------------------------------------
def _typed_case(exercise: Any, literal: Any, where: str) -> dict[str, Any]:
    """A literal case (lists and numbers) as the exercise's own input types (float32 arrays, floats)."""
    import numpy as np

    sample = exercise.make_inputs(np.random.default_rng(0))
    if not isinstance(literal, dict) or set(literal) != set(sample):
        got = sorted(literal) if isinstance(literal, dict) else type(literal).__name__
        raise EditionError(f"{where}: a case of {exercise.name!r} maps each input name to a value: expected "
                           f"the names {sorted(sample)}, got {got}.")
    case: dict[str, Any] = {}
    for name, value in literal.items():
        try:
            array = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EditionError(f"{where}: input {name!r} must be a number or nested lists of numbers.") from exc
        case[name] = array if isinstance(sample[name], (np.ndarray, np.generic)) else float(array)
    try:
        exercise.reference(**case)
    except Exception as exc:  # shapes that do not fit the reference maths
        raise EditionError(f"{where}: this case does not fit {exercise.name!r}'s reference maths "
                           f"({type(exc).__name__}: {exc}); check the shapes.") from exc
    return case


def _run_solution(fn: Callable[..., Any], exercise: Any, cases: list[dict[str, Any]]) -> Any:
    from iflearn.quiz.exercises import compare_outputs, to_numpy, to_torch

    outputs = [to_numpy(fn(**to_torch(case))) for case in cases]
    return compare_outputs(exercise, cases, outputs)


def hidden_cases(name: str, fn: Callable[..., Any], cases: Sequence[dict[str, Any]] = (), random: int = 0) -> Any:
    """Declare an exercise's hidden grading cases in a solution notebook, and check the solution on them.

    ``iflearn assign`` reads this call's literal arguments from the source and writes the cases into the key;
    the learner's notebook never contains them.

    Args:
        name: the exercise, e.g. ``"q_sample"``.
        fn: the solution's function (run on the cases now, as a check).
        cases: input name -> a number or nested lists of numbers, e.g. ``{"x0": [[1.0]], "eps": [[0.5]],
            "abar_t": 1.0}``.
        random: how many random cases ``iflearn assign`` adds (drawn there, with a seed no one keeps).

    Returns:
        The :class:`~iflearn.quiz.exercises.ExerciseResult` of the solution on the fixed cases.

    Raises:
        AssertionError: the solution does not match the reference on a case.
    """
    from iflearn.quiz.exercises import get_exercise

    exercise = get_exercise(name)
    typed = [_typed_case(exercise, c, f"hidden_cases({name!r}) case {i + 1}") for i, c in enumerate(cases)]
    result = _run_solution(fn, exercise, typed) if typed else None
    if result is not None and not result.passed:
        raise AssertionError(f"the solution fails its own hidden case: {result.message}")
    return result


@dataclass(frozen=True)
class _Declared:
    name: str
    cases: list[Any]
    random: int
    where: str


def _declared_cases(notebook: NotebookNode, notebook_name: str) -> dict[str, _Declared]:
    """The ``hidden_cases(...)`` calls of the solution's hidden-test cells, read from source (never run)."""
    found: dict[str, _Declared] = {}
    for index, source in hidden_test_sources(notebook, notebook_name):
        try:
            module = ast.parse("\n".join("#" + line if line.lstrip()[:1] in "%!" and line.strip() else line
                                         for line in source.split("\n")))
        except SyntaxError as exc:
            raise EditionError(f"{notebook_name}, cell {index}: the hidden tests do not parse ({exc.msg}, line "
                               f"{exc.lineno}).") from exc
        for node in ast.walk(module):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called != "hidden_cases":
                continue
            where = f"{notebook_name}, cell {index}, line {node.lineno}"
            if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
                raise EditionError(f"{where}: hidden_cases(...) takes the exercise name first, as a string.")
            exercise = node.args[0].value
            cases_node = node.args[2] if len(node.args) > 2 else next(
                (k.value for k in node.keywords if k.arg == "cases"), None)
            random_node = node.args[3] if len(node.args) > 3 else next(
                (k.value for k in node.keywords if k.arg == "random"), None)
            try:
                cases = ast.literal_eval(cases_node) if cases_node is not None else []
                random = ast.literal_eval(random_node) if random_node is not None else 0
            except (ValueError, TypeError, SyntaxError) as exc:
                raise EditionError(f"{where}: hidden_cases({exercise!r}, ...) must list its cases as literal "
                                   "numbers and lists (iflearn assign reads them without running the notebook); "
                                   "write the values out, or draw random ones with random=N.") from exc
            if not isinstance(cases, list) or not isinstance(random, int) or isinstance(random, bool) or random < 0:
                raise EditionError(f"{where}: hidden_cases(name, fn, [case, ...], random=N): cases a list, N >= 0.")
            if exercise in found:
                raise EditionError(f"{where}: a second hidden_cases({exercise!r}, ...); put all its cases in one call.")
            found[exercise] = _Declared(exercise, cases, random, where)
    return found


def _exercise_cases(question: Question, solution: NotebookNode, declared: dict[str, _Declared],
                    random_default: int, seed: int | None, notebook_name: str) -> list[dict[str, Any]]:
    """The hidden cases of one exercise question, checked against the solution's own function."""
    import numpy as np

    from iflearn.grading.extract import extract_function
    from iflearn.quiz.exercises import get_exercise

    exercise = get_exercise(question.spec.exercise or "")
    function = exercise.signature[4:].split("(")[0]
    source = extract_function(solution, function)
    if source is None:
        raise EditionError(f"{notebook_name}: the bank's exercise {question.id!r} asks for "
                           f"'{exercise.signature}' but the solution notebook has no top-level def {function}; "
                           "write the solution there (its body between ### BEGIN SOLUTION and ### END SOLUTION).")
    entry = declared.get(exercise.name)
    cases = ([_typed_case(exercise, c, f"{entry.where} case {i + 1}") for i, c in enumerate(entry.cases)]
             if entry else [])
    count = entry.random if entry else random_default
    rng = np.random.default_rng(secrets.randbits(63) if seed is None else seed)
    cases += [exercise.make_inputs(rng) for _ in range(count)]
    if not cases:
        raise EditionError(f"{question.id!r}: no hidden cases (hidden_cases(..., random=0) and no fixed cases); "
                           "give some, or random=N.")
    namespace: dict[str, Any] = {"__name__": "solution"}
    exec(compile(source, f"<{notebook_name}: {function}>", "exec"), namespace)  # noqa: S102 - the instructor's code
    result = _run_solution(namespace[function], exercise, cases)
    if not result.passed:
        raise EditionError(f"{notebook_name}: the solution's {function} fails its own hidden cases "
                           f"({result.message}); fix the solution or the cases.")
    return cases


# -- the learner's notebook ---------------------------------------------------------------------------------
def _question_markdown(question: Question, number: int, language: str) -> str:
    points = question.spec.points
    head = (f"**문제 {number}** · `{question.id}` · {points:g}점" if language == "ko" else
            f"**Question {number}** · `{question.id}` · {points:g} {'point' if points == 1 else 'points'}")
    lines = [head, "", question.prompt(language)]
    if question.choices:
        lines.append("")
        lines += [f"- {choice.label(language)}" for choice in question.choices]
    if question.type == "exercise":
        exercise = question.spec.exercise
        lines += ["", (f"`{exercise}` 함수를 작성하세요. `check_exercise(\"{exercise}\", ...)`는 무작위 사례로 지금 확인해 "
                       "주고, 채점은 제출 후 공개되지 않은 사례로 합니다.") if language == "ko" else
                  (f"Write `{exercise}`. `check_exercise(\"{exercise}\", ...)` tries it on random cases now; it is "
                   "graded after you hand in, on cases you do not see.")]
    else:
        kind = question.answer_kind()[1 if language == "ko" else 0]
        lines += ["", f"*아래 답안 셀에 답하세요: {kind}.*" if language == "ko" else
                  f"*Answer in the cell below with {kind}.*"]
    return "\n".join(lines)


def _ask_lines(source: str, ids: set[str]) -> set[int]:
    """Line numbers (1-based) of top-level ``ask("<id>")`` calls for ``ids``."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        return set()
    lines = set()
    for node in module.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            args = node.value.args
            if name == "ask" and args and isinstance(args[0], ast.Constant) and args[0].value in ids:
                lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _placements(solution: NotebookNode, questions: Sequence[Question]) -> dict[str, int]:
    """Where each question is shown: the first solution cell that asks or answers it (exercises: defines it)."""
    from iflearn.quiz.exercises import get_exercise

    wanted = {q.id for q in questions}
    functions = {get_exercise(q.spec.exercise or "").signature[4:].split("(")[0]: q.id
                 for q in questions if q.type == "exercise"}
    placed: dict[str, int] = {}
    for index, cell in enumerate(solution.cells):
        tags = set(cell.get("metadata", {}).get("tags", []) or [])
        if cell.cell_type != "code" or tags & {TAG_REMOVE, TAG_HIDDEN_TESTS}:
            continue  # not in the learner's notebook: a question cannot be shown there
        source = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        for qid, _, _ in answer_calls(source):
            if qid in wanted:
                placed.setdefault(qid, index)
        for qid in wanted:
            if f'ask("{qid}")' in source or f"ask('{qid}')" in source:
                placed.setdefault(qid, index)
        try:
            module = ast.parse(source)
        except SyntaxError:
            continue
        for node in module.body:
            if isinstance(node, ast.FunctionDef) and node.name in functions:
                placed.setdefault(functions[node.name], index)
    return placed


def _show_questions(questions: Sequence[Question], placed: dict[str, int], public: set[str],
                    language: str) -> CellTransform:
    """Show each question's text at its place; private questions' ``ask()`` lines become that text."""
    order = sorted(questions, key=lambda q: (placed.get(q.id, 1 << 30), questions.index(q)))
    numbers = {q.id: n for n, q in enumerate(order, start=1)}  # numbered as the learner meets them
    at: dict[int, list[Question]] = {}
    for question in questions:
        if question.id in placed:
            at.setdefault(placed[question.id], []).append(question)
    private = {q.id for q in questions} - public
    unplaced = [q for q in questions if q.id not in placed]

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        out: list[NotebookNode] = []
        if context.index in at:
            for question in at[context.index]:
                if question.id in public and f'ask("{question.id}")' in cell.source:
                    continue  # the public widget shows it (in assignment mode)
                out.append(v4.new_markdown_cell(_question_markdown(question, numbers[question.id], language)))
        kept = cell
        if cell.cell_type == "code" and "ask" in cell.source:
            drop = _ask_lines(cell.source, private)  # the kernel cannot show a private question: its text is above
            if drop:
                remaining = "\n".join(line for n, line in enumerate(cell.source.split("\n"), start=1) if n not in drop)
                kept = None
                if remaining.strip():
                    kept = copy.deepcopy(cell)  # keeps its tags: a remove-cell cell is still removed after this
                    kept.source = remaining.strip("\n")
        if kept is not None:
            out.append(kept)
        if context.index == context.total - 1 and unplaced:
            out.append(v4.new_markdown_cell("## " + ("채점 문제" if language == "ko" else "Graded questions")))
            for question in unplaced:
                out.append(v4.new_markdown_cell(_question_markdown(question, numbers[question.id], language)))
                if question.type != "exercise":
                    out.append(v4.new_code_cell(f'answer("{question.id}", None)'))
        return out

    return transform


def _setup_source(name: str, graded: Sequence[str], language: str) -> str:
    comment = (f"# 과제 {name!r}: 답은 기록만 되고, 이 노트북을 제출한 뒤 채점됩니다. 이 셀을 먼저 실행하세요." if language == "ko"
               else f"# Assignment {name!r}: answers are recorded here and graded after you hand in this notebook. "
                    "Run this cell first.")
    ids = ", ".join(json.dumps(q) for q in graded)
    return (f"{comment}\nfrom iflearn.quiz import answer, check_exercise, start_assignment\n\n"
            f"start_assignment({json.dumps(name, ensure_ascii=False)}, graded=[{ids}])")


def build_assignment(solution: str | os.PathLike[str] | NotebookNode, bank: str | os.PathLike[str] | Sequence[Question],
                     name: str | None = None, *, language: str = "en", random_cases: int = 4, partial: bool = True,
                     seed: int | None = None) -> Assignment:
    """Build the learner's notebook and the key (nothing is written; see :func:`write_assignment`).

    Args:
        solution: the solution notebook (path or notebook).
        bank: the private bank (path, or its questions).
        name: the assignment's name (default: the bank file's stem).
        language: ``"en"`` or ``"ko"``: the questions' text and the stubs in the learner's notebook.
        random_cases: random hidden cases per exercise that has no ``hidden_cases(...)`` call.
        partial: partial credit for exercises and multiple-answer questions.
        seed: draw the random hidden cases from this seed (default: a fresh secret one).

    Raises:
        EditionError: the solution and the bank disagree, or a marker is broken (the message says where).
        ValueError: the bank is malformed.
    """
    from iflearn.quiz.bank import all_questions
    from iflearn.quiz.exercises import get_exercise
    from iflearn.quiz.spec import check_answer

    notebook_name = Path(solution).name if isinstance(solution, (str, os.PathLike)) else "solution notebook"
    source = read_source_notebook(solution) if isinstance(solution, (str, os.PathLike)) else solution
    questions = tuple(load_private_bank(bank) if isinstance(bank, (str, os.PathLike)) else bank)
    if not name:
        name = Path(bank).stem if isinstance(bank, (str, os.PathLike)) else "assignment"
    public = set(all_questions()) & {q.id for q in questions}

    # the solution's answers must agree with the bank (as otter checks the solution passes its tests)
    for index, cell in enumerate(source.cells):
        if cell.cell_type != "code":
            continue
        for qid, value, _ in answer_calls(cell.source if isinstance(cell.source, str) else "".join(cell.source)):
            question = next((q for q in questions if q.id == qid), None)
            if question is None or value is None:
                continue
            try:
                literal = ast.literal_eval(value)
            except ValueError:
                continue
            if literal is not None and not check_answer(question.spec, literal).correct:
                raise EditionError(f"{notebook_name}, cell {index}: the solution answers {qid!r} with {literal!r}, "
                                   "which the bank grades as wrong; fix the solution's answer or the bank.")

    declared = _declared_cases(source, notebook_name)
    exercises = {q.spec.exercise for q in questions if q.type == "exercise"}
    stray = sorted(set(declared) - exercises)
    if stray:
        raise EditionError(f"{declared[stray[0]].where}: hidden_cases({stray[0]!r}, ...) but the bank has no exercise "
                           f"question for {stray[0]!r}; add one (type: exercise, exercise: {stray[0]}).")
    grading: dict[str, Grading] = {}
    for question in questions:
        about = {"text": question.text, "feedback": question.feedback, "source": question.source.describe()}
        cases: list[dict[str, Any]] = []
        if question.type == "exercise":
            exercise = get_exercise(question.spec.exercise or "")
            about["hint"] = dict(exercise.hint)
            cases = _exercise_cases(question, source, declared, random_cases, seed, notebook_name)
        use_partial = partial and (question.type == "exercise" or question.spec.multiple)
        grading[question.id] = Grading(use_partial, tuple({"inputs": encode_case(c)} for c in cases), about)

    placed = _placements(source, questions)
    hints = {q.id: q.answer_kind()[1 if language == "ko" else 0] for q in questions}
    graded = [q.id for q in questions]
    edition = Edition("assignment", (
        prepend_cell(_setup_source(name, graded, language)),  # first: it survives the removal of that cell
        _show_questions(questions, placed, public, language),  # before removals: the last cell may be removed
        drop_tagged(TAG_REMOVE),
        strip_hidden_tests(),
        strip_solutions(language),
        blank_answers(hints),
        clear_outputs(),
    ))
    built = build_edition(source, edition, notebook_name)
    notebook = built.notebook
    from iflearn.grading.extract import extract_function

    for question in questions:  # an exercise handed out solved would be free points
        if question.type == "exercise":
            function = get_exercise(question.spec.exercise or "").signature[4:].split("(")[0]
            handed_out = extract_function(notebook, function)
            if handed_out is not None and "NotImplementedError" not in handed_out:
                raise EditionError(f"{notebook_name}: the body of def {function} is not marked as a solution, so the "
                                   f"learner would get it; put it between ### BEGIN SOLUTION and ### END SOLUTION.")
    if not any(c.cell_type == "code" for c in source.cells):  # nowhere to prepend: the setup cell goes first
        notebook.cells.insert(0, v4.new_code_cell(_setup_source(name, graded, language)))
    leaks = find_leaks(notebook)
    if leaks or any("hidden_cases" in "".join(c.source) for c in notebook.cells):
        raise EditionError(f"{notebook_name}: the assignment would give away {leaks or ['hidden_cases(...)']}; "
                           "put hidden cases in a hidden-tests cell and solutions between the markers.")
    key = Key({q.id: q.spec for q in questions}, {k: g for k, g in grading.items() if g != Grading()}, name)
    return Assignment(name, notebook, key, questions, {q.id: placed.get(q.id, -1) for q in questions},
                      _visible_answers(notebook, questions))


def _visible_answers(notebook: NotebookNode, questions: Sequence[Question]) -> tuple[str, ...]:
    """Fill-in and numeric answers that appear word for word in the learner's notebook (prose included)."""
    import re

    found = []
    for question in questions:
        spec = question.spec
        answers = (list(spec.accepted) if spec.type == "fill_in" else
                   [f"{spec.answer:g}"] if spec.type == "numeric" else [])
        for text in answers:
            if len(text) < 3:
                continue  # too short to tell an answer from ordinary text
            pattern = re.compile(rf"(?<![\w.]){re.escape(text)}(?![\w.])", re.IGNORECASE)
            for index, cell in enumerate(notebook.cells):
                if pattern.search(cell.source):
                    found.append(f"the answer of {question.id} ({text!r}) appears in cell {index} of the learner's "
                                 "notebook; check that it does not give the answer away")
                    break
    return tuple(found)


def write_assignment(assignment: Assignment, notebook_out: str | os.PathLike[str],
                     key_out: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the learner's notebook and the key; returns their paths."""
    notebook_path, key_path = Path(notebook_out), Path(key_out)
    notebook_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(assignment.notebook, notebook_path)
    write_key(assignment.key, key_path)
    return notebook_path, key_path


# -- command line -------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """``iflearn assign --help``."""
    parser = argparse.ArgumentParser(
        prog="iflearn assign",
        description="Build a learner's assignment notebook (answers recorded, not revealed; hidden cases kept out) "
                    "and the grader's key, from a solution notebook and your private question bank.")
    parser.add_argument("solution", help="the solution notebook (the course's own from solutions/, or yours)")
    parser.add_argument("--bank", required=True, help="your private bank: YAML in the format of quizzes/*.yaml")
    parser.add_argument("-o", "--out", help="the learner's notebook to write (default: <name>.ipynb)")
    parser.add_argument("--key", help="the key to write, kept by you (default: key-<name>.json)")
    parser.add_argument("--name", help="the assignment's name (default: the bank's file name)")
    parser.add_argument("--language", choices=("en", "ko"), default=None,
                        help="language of the questions and stubs (default: IFLEARN_LANG, else en)")
    parser.add_argument("--random-cases", type=int, default=4,
                        help="random hidden cases per exercise without hidden_cases(...) (default %(default)s)")
    parser.add_argument("--no-partial", action="store_true",
                        help="all-or-nothing scoring (default: partial credit for exercises and multiple answers)")
    parser.add_argument("--seed", type=int, default=None, help="seed for the random hidden cases (default: secret)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``iflearn assign``."""
    from iflearn.i18n import get_language

    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.random_cases < 0:
        parser.error(f"--random-cases {args.random_cases}: give 0 or more")
    name = args.name or Path(args.bank).stem
    out = Path(args.out or f"{name}.ipynb")
    key = Path(args.key or f"key-{name}.json")
    if out.resolve() == Path(args.solution).resolve():
        parser.error(f"-o {str(out)!r} is the solution notebook itself; write the assignment to another file")
    if out.suffix != ".ipynb":
        parser.error(f"-o {str(out)!r}: the learner's notebook needs the .ipynb suffix")
    try:
        assignment = build_assignment(args.solution, args.bank, name, language=args.language or get_language(),
                                      random_cases=args.random_cases, partial=not args.no_partial, seed=args.seed)
    except (EditionError, ValueError, KeyError) as exc:
        print(f"iflearn assign: {exc.args[0] if isinstance(exc, KeyError) else exc}", file=sys.stderr)
        return 2
    write_assignment(assignment, out, key)
    for warning in assignment.warnings:
        print(f"Warning: {warning}.", file=sys.stderr)
    exercises = sum(q.type == "exercise" for q in assignment.questions)
    appended = sum(v == -1 for v in assignment.placed.values())
    print(f"Wrote {out}: hand it out ({len(assignment.questions)} graded questions, {exercises} code "
          f"exercise(s); {appended} shown at the end; answers blank; no answers or hidden cases inside).\n"
          f"Wrote {key}: keep it ({assignment.key.max_score:g} points). After collecting the notebooks:\n"
          f"  iflearn grade SUBMISSIONS --key {key} --out gradebook.csv")
    if out.resolve().parent == key.resolve().parent:
        print(f"Note: the key is in the same folder as {out.name}; hand out the notebook only, not the folder.",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
