"""Quizzes with immediate feedback, in the notebook.

Three calls, one per cell type:

* ``ask("if-01-pixel-space")`` -- the question as a widget; Check gives right/wrong and why.
* ``answer("if-01-pixel-space", True)`` -- the graded answer cell (the grader reads this line's literal).
* ``check_exercise("q_sample", q_sample)`` -- test a function you wrote on random tensors.

Importing this module is cheap (no torch, no ipywidgets until a widget is shown), so a notebook that only
answers questions starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from iflearn.quiz.bank import Question, all_questions, get_question, load_bank, quiz_dir, validate_banks
from iflearn.quiz.feedback import Feedback, answer, answer_line, feedback_for, session_answers, start_assignment
from iflearn.quiz.spec import AnswerSpec, Verdict, check_answer

if TYPE_CHECKING:
    from iflearn.quiz.exercises import ExerciseResult
    from iflearn.quiz.widget import QuizWidget

__all__ = [
    "ask",
    "answer",
    "check_exercise",
    "feedback_for",
    "answer_line",
    "session_answers",
    "start_assignment",
    "get_question",
    "load_bank",
    "all_questions",
    "quiz_dir",
    "validate_banks",
    "check_answer",
    "AnswerSpec",
    "Verdict",
    "Question",
    "Feedback",
]


def ask(qid: str) -> QuizWidget:
    """Show quiz question ``qid`` as a widget (see :func:`iflearn.quiz.widget.ask`)."""
    from iflearn.quiz.widget import ask as _ask

    return _ask(qid)


def check_exercise(name: str, fn: Callable[..., Any], seed: int | None = None) -> ExerciseResult:
    """Test your function for exercise ``name`` on random tensors.

    See :func:`iflearn.quiz.exercises.check_exercise`.
    """
    from iflearn.quiz.exercises import check_exercise as _check

    return _check(name, fn, seed=seed)
