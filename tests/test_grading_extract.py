"""Reading answers from notebook source, reading notebooks and keys (no kernels: fast)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from iflearn.grading.extract import NotebookProblem, extract_answers, extract_function, read_notebook
from iflearn.grading.key import Key, load_key, make_key, write_key
from iflearn.quiz.bank import quiz_dir


def nb(*sources: str) -> nbformat.NotebookNode:
    notebook = v4.new_notebook()
    notebook.cells = [v4.new_code_cell(s) for s in sources]
    return notebook


def test_literal_answers_are_read_and_the_last_one_wins() -> None:
    found = extract_answers(nb('answer("q-a", True)', 'answer("q-b", ["a", "c"])\nanswer("q-a", False)',
                               "import iflearn.quiz as quiz\nquiz.answer('q-c', 6.66)"))
    assert {k: v.value for k, v in found.items()} == {"q-a": False, "q-b": ["a", "c"], "q-c": 6.66}
    assert all(v.literal for v in found.values())


@pytest.mark.parametrize("source, why", [
    ("x = True\nanswer('q', x)", "Name"),
    ("answer('q', f'{1}')", "JoinedStr"),
    ("answer('q', open('k').read())", "Call"),
    ("answer('q', True if 1 else False)", "IfExp"),
])
def test_non_literal_values_count_as_wrong_with_a_reason(source: str, why: str) -> None:
    found = extract_answers(nb(source))["q"]
    assert not found.literal and found.value is None
    assert why in found.reason and "not a literal" in found.reason


@pytest.mark.parametrize("source", [
    "if False:\n    answer('q', True)",
    "def f():\n    answer('q', True)",
    "print(\"answer('q', True)\")",
    "exec(\"answer('q', True)\")",
    "# answer('q', True)",
    "answer(q_id, True)",
    "this is not python answer('q', True)",
])
def test_answers_that_are_not_top_level_literal_calls_are_ignored(source: str) -> None:
    assert extract_answers(nb(source)) == {}


def test_markdown_raw_cells_and_outputs_are_ignored() -> None:
    notebook = nb("x = 1")
    notebook.cells[0].outputs = [v4.new_output("stream", name="stdout", text="answer('q', True)\n")]
    notebook.cells += [v4.new_markdown_cell("answer('q', True)"), v4.new_raw_cell("answer('q', True)")]
    assert extract_answers(notebook) == {}


def test_ipython_magics_do_not_hide_answers() -> None:
    found = extract_answers(nb("%matplotlib inline\n!echo hi\nanswer('q', 'text')"))
    assert found["q"].value == "text"


def test_extract_function_keeps_imports_and_the_last_definition() -> None:
    source = extract_function(nb("import math\nimport diffusers\nfrom os import path as p",
                                 "def q_sample(x0, eps, abar_t):\n    return 0",
                                 "def q_sample(x0, eps, abar_t):\n    return math.sqrt(abar_t) * x0"), "q_sample")
    assert source is not None and source.startswith("import math\n")
    assert "diffusers" not in source and "path" not in source  # unused imports are left out
    assert "return 0" not in source and "math.sqrt" in source
    assert extract_function(nb("x = 1"), "q_sample") is None


def test_read_notebook_reports_broken_files(tmp_path: Path) -> None:
    good = tmp_path / "good.ipynb"
    nbformat.write(nb("answer('q', True)"), good)
    notebook, note = read_notebook(good)
    assert note == "" and len(notebook.cells) == 1
    cases = {
        "garbage.ipynb": (b"\xff\xfe not json", "not valid JSON"),
        "truncated.ipynb": (good.read_bytes()[:40], "not valid JSON"),
        "list.ipynb": (b"[1, 2, 3]", "not a Jupyter notebook"),
        "badcells.ipynb": (json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                       "cells": [{"cell_type": "code"}]}).encode(), "not a valid nbformat 4"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(NotebookProblem, match=message):
            read_notebook(path)
    with pytest.raises(NotebookProblem, match="over the 1 MiB limit"):
        big = tmp_path / "big.ipynb"
        big.write_bytes(b" " * (2 * 2**20))
        read_notebook(big, max_bytes=2**20)


def test_a_fifo_named_like_a_notebook_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.ipynb"
    os.mkfifo(fifo)
    with pytest.raises(NotebookProblem, match="not a regular file"):
        read_notebook(fifo)


def test_nbformat_v3_is_converted(tmp_path: Path) -> None:
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""}, "worksheets": [{"metadata": {}, "cells": [
        {"cell_type": "code", "language": "python", "input": "answer('q', 6.66)", "outputs": [], "metadata": {}}]}]}
    path = tmp_path / "v3.ipynb"
    path.write_text(json.dumps(v3))
    notebook, note = read_notebook(path)
    assert "converted from nbformat 3" in note
    assert extract_answers(notebook)["q"].value == 6.66


def test_make_key_from_the_banks_round_trips(tmp_path: Path) -> None:
    key = make_key(quiz_dir() / "03_noising.yaml")
    assert "if-03-noising-extracts" in key.questions
    assert key.questions["if-03-noising-extracts"].answer is True
    path = write_key(key, tmp_path / "key.json")
    assert load_key(path) == key
    everything = make_key(quiz_dir())
    assert set(key.questions) < set(everything.questions)


def test_review_bank_key_includes_referenced_questions() -> None:
    key = make_key(quiz_dir() / "08_review.yaml")
    assert {"if-01-text-input", "if-03-noising-extracts", "if-07-explicit-3d-model"} <= set(key.questions)


@pytest.mark.parametrize("content, message", [
    ({"q": {"type": "essay"}}, "is not one of"),
    ({"q": {"type": "true_false", "answer": "yes"}}, "must be true or false"),
    ({"q": {"type": "multiple_choice", "answer": "z", "choices": ["a", "b"]}}, "must name choice ids"),
    ({"q": {"type": "numeric", "answer": "6.66"}}, "needs a number"),
    ([], "expected a mapping"),
])
def test_bad_keys_say_what_to_fix(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=message):
        load_key(path)


def test_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--make-key"):
        load_key(tmp_path / "nope.json")


def test_key_max_score_counts_points() -> None:
    key = Key({"a": make_key(quiz_dir() / "01_what_is_if.yaml").questions["if-01-fid"]})
    assert key.max_score == 1.0
