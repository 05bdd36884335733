"""A small instructor's assignment the tests share: a solution notebook and a private bank, written to disk."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import v4

#: Numbers that appear only in the hidden cases: no learner-facing file may contain them.
HIDDEN_MARKS = ("0.3125", "0.8125", "1.6875", "0.4375")

BANK = """\
notebook: 90_homework
title: {ko: "과제 1", en: "Homework 1"}
questions:
  - id: if-90-noise-at-end
    type: true_false
    text: {ko: "t = T에서 x_t는 거의 순수한 노이즈인가요?", en: "Is x_t almost pure noise at t = T?"}
    answer: true
    feedback:
      correct: {ko: "맞습니다: abar_T는 0에 가깝습니다.", en: "Right: abar_T is close to 0."}
      wrong: {ko: "abar_T가 0에 가까워 신호가 거의 남지 않습니다.", en: "abar_T is close to 0, so almost no signal is left."}
    source: {section: "03_noising § The forward formula"}
  - id: if-90-what-falls
    type: multiple_choice
    multiple: true
    points: 2
    text: {ko: "t가 커지면 줄어드는 것은?", en: "Which fall as t grows?"}
    choices:
      - {id: a, ko: "abar_t", en: "abar_t"}
      - {id: b, ko: "노이즈의 비중", en: "the weight of the noise"}
      - {id: c, ko: "SNR", en: "the SNR"}
    answer: [a, c]
    feedback:
      correct: {ko: "abar_t와 SNR이 줄어듭니다.", en: "abar_t and the SNR fall."}
      wrong: {ko: "신호의 비중 abar_t와 SNR이 함께 줄어듭니다.", en: "The signal's weight abar_t and the SNR fall together."}
    source: {section: "03_noising § SNR"}
  - id: if-90-schedule
    type: fill_in
    text: {ko: "IF의 beta_schedule 이름은?", en: "What is the name of IF's beta_schedule?"}
    accepted: [squaredcos_cap_v2]
    feedback:
      correct: {ko: "맞습니다: 코사인 스케줄입니다.", en: "Right: the cosine schedule."}
      wrong: {ko: "diffusers 설정값은 squaredcos_cap_v2입니다.", en: "The diffusers value is squaredcos_cap_v2."}
    source: {section: "03_noising § IF's schedule"}
  - id: if-90-q-sample
    type: exercise
    exercise: q_sample
    points: 4
    text: {ko: "q_sample을 작성하세요.", en: "Write q_sample: x_t from x_0 and eps."}
    feedback:
      correct: {ko: "맞습니다.", en: "Right: sqrt(abar_t) x0 + sqrt(1 - abar_t) eps."}
      wrong: {ko: "두 계수 모두 제곱근입니다.", en: "Both weights are square roots."}
    source: {section: "03_noising § The forward formula"}
"""

SOLUTION_CELLS = [
    ("markdown", "# Homework 1: noising\n\nWrite the code, answer the questions, hand in the notebook.", None),
    ("code", "import torch\n\nfrom iflearn.quiz import answer, check_exercise", None),
    ("markdown", "## 1. The forward formula", None),
    ("code", 'def q_sample(x0, eps, abar_t):\n    """x_t from x_0 and the noise eps (DDPM eq. 4)."""\n'
             "    ### BEGIN SOLUTION\n    return abar_t ** 0.5 * x0 + (1 - abar_t) ** 0.5 * eps\n"
             "    ### END SOLUTION", None),
    ("code", 'check_exercise("q_sample", q_sample)', None),
    ("code", "from iflearn.grading import hidden_cases\n\n"
             'hidden_cases("q_sample", q_sample, [\n'
             '    {"x0": [[0.3125, -0.8125]], "eps": [[1.6875, 0.4375]], "abar_t": 1.0},   # no noise at all\n'
             '    {"x0": [[0.3125, -0.8125]], "eps": [[1.6875, 0.4375]], "abar_t": 0.0},   # nothing but noise\n'
             '    {"x0": [[0.3125, -0.8125]], "eps": [[1.6875, 0.4375]], "abar_t": 0.25},\n'
             '    {"x0": [[0.3125, -0.8125]], "eps": [[1.6875, 0.4375]], "abar_t": 0.64},\n'
             "], random=0)", ["hidden-tests"]),
    ("code", "# the instructor's notes: not for learners\nprint('answers: True, [a, c]')", ["remove-cell"]),
    ("markdown", "## 2. Questions", None),
    ("code", 'answer("if-90-noise-at-end", True)\nanswer("if-90-what-falls", ["a", "c"])', None),
]


def write_assignment_sources(folder: Path) -> tuple[Path, Path]:
    """Write ``solution.ipynb`` and ``hw1.yaml`` into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = v4.new_notebook()
    for kind, source, tags in SOLUTION_CELLS:
        cell = v4.new_code_cell(source) if kind == "code" else v4.new_markdown_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    solution, bank = folder / "solution.ipynb", folder / "hw1.yaml"
    nbformat.write(notebook, solution)
    bank.write_text(BANK, encoding="utf-8")
    return solution, bank


def fill_in(assignment: Path, out: Path, body: str | None, answers: dict[str, object]) -> Path:
    """Do the assignment as a learner would: write the function's body, replace None in the answer cells."""
    notebook = nbformat.read(assignment, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.split("\n")
        if body is not None:
            lines = [line[: len(line) - len(line.lstrip())] + body if "raise NotImplementedError" in line else line
                     for line in lines if "✏️ Your turn" not in line]
        for qid, value in answers.items():
            lines = [line.split("  #")[0].replace("None", repr(value)) if f'answer("{qid}", None)' in line else line
                     for line in lines]
        cell.source = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out)
    return out
