"""The course's editions: notebooks/ (what a learner opens) is generated from solutions/ and in sync with it;
nothing of a solution or an answer reaches the learner; no question's answer is printed just before it."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from iflearn import editions
from iflearn.quiz.bank import load_bank

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_learner_edition_is_generated_and_in_sync(source: Path) -> None:
    learner = ROOT / "notebooks" / source.name
    assert learner.exists(), f"{learner} is missing: run python -m iflearn.nbtools build"
    built = editions.build_edition(source, editions.LEARNER).notebook
    problems = editions.out_of_sync(built, nbformat.read(learner, as_version=4))
    assert not problems, f"{learner.name} is out of date ({problems[:3]}): run python -m iflearn.nbtools build"


@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_nothing_of_the_solution_reaches_the_learner(source: Path) -> None:
    learner = nbformat.read(ROOT / "notebooks" / source.name, as_version=4)
    assert editions.find_leaks(learner, allow_outputs=True) == []


def _sections(nb: nbformat.NotebookNode) -> list[int]:
    """Index of each cell's section: a new section starts at a markdown cell whose first line is a # or ## heading."""
    section, out = 0, []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and re.match(r"#{1,2} ", cell.source.lstrip()):
            section += 1
        out.append(section)
    return out


def _shown(cell: nbformat.NotebookNode) -> tuple[str, str]:
    """(prose, printed): a markdown cell's text, or a code cell's printed outputs."""
    if cell.cell_type == "markdown":
        return cell.source, ""
    printed = []
    for output in cell.get("outputs", []):
        printed.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "", "\n".join(printed)


def _needles(question) -> list[tuple[str, str]]:
    """(pattern, what) pairs that would give the answer away; true/false answers are not searched."""
    spec = question.spec
    if spec.type == "numeric":
        value = float(spec.answer)
        forms = {f"{value:g}", f"{value:,.0f}"} if value == int(value) else {f"{value:g}"}
        return [(rf"(?<![\w.,]){re.escape(f)}(?![\w]|[.,]\d)", f"the number {f}") for f in forms]
    if spec.type == "fill_in":
        word = re.escape(spec.accepted[0])
        return [(rf"\*\*{word}\*\*|`{word}`|^\s*{word}\s*$", f"the answer '{spec.accepted[0]}' shown as such")]
    if spec.type == "multiple_choice":
        texts = [c.text["en"] for c in question.choices if c.id in spec.answer]
        return [(re.escape(t), f"the right choice '{t}'") for t in texts if len(t.split()) >= 4]
    return []


@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_no_answer_is_shown_just_before_its_question(source: Path) -> None:
    """Ask first, reveal after: a question's answer (a number, a fill-in word shown in bold, as code or printed on
    its own line, or a right choice's text) must not appear in the prose or printed outputs of the section the
    question is in or the section before it."""
    nb = nbformat.read(source, as_version=4)
    questions = {q.id: q for stem in {p.stem for p in SOLUTIONS} for q in load_bank(stem)}
    sections = _sections(nb)
    problems = []
    for index, cell in enumerate(nb.cells):
        asked = re.findall(r'^ask\("([^"]+)"\)', cell.source, flags=re.M) if cell.cell_type == "code" else []
        for qid in asked:
            window = [c for c, s in zip(nb.cells[:index], sections[:index]) if s >= sections[index] - 1]
            for pattern, what in _needles(questions[qid]):
                for other in window:
                    prose, printed = _shown(other)
                    for text in (prose, printed):
                        if text and re.search(pattern, text, flags=re.M | re.I):
                            problems.append(f"{qid}: {what} appears just before the question")
    assert not sorted(set(problems)), sorted(set(problems))
