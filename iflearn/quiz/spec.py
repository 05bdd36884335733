"""What counts as a right answer: one rule per question type, shared by the notebook and the grader.

The notebook calls :func:`check_answer` to give immediate feedback; the grader calls the same function
outside the learner's kernel, with an :class:`AnswerSpec` read from the instructor's key. So a learner sees
exactly the verdict the gradebook will record.

Question types (``AnswerSpec.type``):

* ``true_false`` -- the answer is ``True`` or ``False`` (a Python ``bool``; ``1``/``"yes"`` are wrong types).
* ``multiple_choice`` -- the answer is a choice id such as ``"b"``; with ``multiple=True`` a list of ids,
  all of which must be picked and nothing else.
* ``fill_in`` -- a string, compared with the accepted answers ignoring case, spaces and trailing punctuation.
* ``numeric`` -- an ``int`` or ``float`` within ``tolerance`` of the answer.
* ``exercise`` -- a code exercise; checked by :mod:`iflearn.quiz.exercises`, not by value.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from iflearn.i18n import tr

__all__ = ["QUESTION_TYPES", "AnswerSpec", "Verdict", "normalise_text", "check_answer", "format_value"]

QUESTION_TYPES = ("true_false", "multiple_choice", "fill_in", "numeric", "exercise")

_TRAILING_PUNCTUATION = ".,!?;:。、\"'`"


@dataclass(frozen=True)
class AnswerSpec:
    """The part of a question that decides right or wrong (what an answer key stores).

    Attributes:
        type: one of :data:`QUESTION_TYPES`.
        answer: ``bool`` (true_false), a tuple of choice ids (multiple_choice), a float (numeric), else None.
        accepted: accepted strings for ``fill_in``.
        tolerance: allowed absolute difference for ``numeric``.
        multiple: for ``multiple_choice``, whether the learner must pick a set of choices.
        choices: the valid choice ids for ``multiple_choice``.
        exercise: the exercise name for ``exercise`` questions (e.g. ``"q_sample"``).
        points: what a right answer is worth in the gradebook.
    """

    type: str
    answer: Any = None
    accepted: tuple[str, ...] = ()
    tolerance: float = 0.0
    multiple: bool = False
    choices: tuple[str, ...] = ()
    exercise: str | None = None
    points: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with only the fields this type uses (the format of an answer key entry)."""
        out: dict[str, Any] = {"type": self.type, "points": self.points}
        if self.type == "true_false":
            out["answer"] = bool(self.answer)
        elif self.type == "multiple_choice":
            out.update(answer=list(self.answer), choices=list(self.choices), multiple=self.multiple)
        elif self.type == "fill_in":
            out["accepted"] = list(self.accepted)
        elif self.type == "numeric":
            out.update(answer=float(self.answer), tolerance=float(self.tolerance))
        elif self.type == "exercise":
            out["exercise"] = self.exercise
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "answer spec") -> AnswerSpec:
        """Build a spec from a key entry or a bank question; raise ``ValueError`` that says what to fix."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a mapping with a 'type' field, got {type(data).__name__} {data!r}.")
        kind = data.get("type")
        if kind not in QUESTION_TYPES:
            raise ValueError(f"{where}: type {kind!r} is not one of {QUESTION_TYPES}; fix the 'type' field.")
        points = float(data.get("points", 1.0))
        if kind == "true_false":
            if not isinstance(data.get("answer"), bool):
                raise ValueError(f"{where}: a true_false answer must be true or false, got {data.get('answer')!r}.")
            return cls(type=kind, answer=data["answer"], points=points)
        if kind == "multiple_choice":
            # choice ids compare case-insensitively (a learner's "B" is choice "b"), as check_answer reads them
            choices = tuple(str(c).strip().lower() for c in data.get("choices", ()))
            if len(set(choices)) != len(choices):
                raise ValueError(f"{where}: choice ids {list(data.get('choices', ()))} repeat when upper and lower "
                                 "case are taken as the same; give every choice a different id.")
            raw = data.get("answer")
            answer = tuple(str(a).strip().lower() for a in (raw if isinstance(raw, (list, tuple)) else [raw]))
            multiple = bool(data.get("multiple", len(answer) > 1))
            unknown = [a for a in answer if a not in choices]
            if not choices or unknown or not answer:
                raise ValueError(
                    f"{where}: multiple_choice answer {raw!r} must name choice ids from {list(choices)}; "
                    "list the choices and give the right id(s) in 'answer'."
                )
            if not multiple and len(answer) != 1:
                raise ValueError(f"{where}: answer {raw!r} has several ids; set 'multiple: true' or keep one id.")
            return cls(type=kind, answer=answer, choices=choices, multiple=multiple, points=points)
        if kind == "fill_in":
            accepted = tuple(str(a) for a in data.get("accepted", ()))
            if not accepted or not all(normalise_text(a) for a in accepted):
                raise ValueError(f"{where}: fill_in needs a non-empty 'accepted' list of strings, got {accepted!r}.")
            return cls(type=kind, accepted=accepted, points=points)
        if kind == "numeric":
            answer, tolerance = data.get("answer"), data.get("tolerance", 0.0)
            if not _is_number(answer) or not _is_number(tolerance) or tolerance < 0:
                raise ValueError(
                    f"{where}: numeric needs a number 'answer' and a tolerance >= 0, got answer={answer!r}, "
                    f"tolerance={tolerance!r}."
                )
            return cls(type=kind, answer=float(answer), tolerance=float(tolerance), points=points)
        exercise = data.get("exercise")
        if not isinstance(exercise, str) or not exercise:
            raise ValueError(f"{where}: an exercise question needs 'exercise: <name>', e.g. 'q_sample'.")
        return cls(type=kind, exercise=exercise, points=points)


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one answer.

    Attributes:
        correct: whether the answer earns the points.
        reason: one short sentence: why it is wrong (or ``"correct"``), e.g. ``expected True or False, got str``.
        valid: False when the answer had the wrong type or shape (so it could not be compared at all).
    """

    correct: bool
    reason: str
    valid: bool = field(default=True)


def _is_number(value: Any) -> bool:
    try:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:  # an integer too large for a float: not a usable number
        return False


def normalise_text(text: str) -> str:
    """Fold a fill-in answer for comparison: Unicode NFKC, case-folded, no whitespace, no trailing punctuation.

    >>> normalise_text("  Text Input. ")
    'textinput'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = "".join(folded.split())
    return folded.rstrip(_TRAILING_PUNCTUATION)


def format_value(value: Any, limit: int = 60) -> str:
    """``repr`` of a learner's value, shortened so a huge answer cannot flood feedback or the gradebook."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _wrong_type(expected: str, value: Any) -> Verdict:
    return Verdict(
        False,
        tr(
            f"wrong type: expected {expected}, got {type(value).__name__} {format_value(value)}",
            f"형식 오류: {expected}가 필요하지만 {type(value).__name__} {format_value(value)}를 받았습니다",
        ),
        valid=False,
    )


def check_answer(spec: AnswerSpec, value: Any) -> Verdict:
    """Compare a learner's ``value`` with ``spec``; never raises for a bad value, it returns a wrong Verdict.

    Args:
        spec: what counts as right.
        value: the learner's answer, a plain Python literal (bool, str, number, list of str).

    Returns:
        A :class:`Verdict`; ``reason`` says what was expected when the type is wrong.
    """
    right = Verdict(True, tr("correct", "정답"))
    if value is None:  # the answer cell's placeholder, not an answer yet
        return Verdict(False, tr("not answered yet (None)", "아직 답하지 않음 (None)"), valid=False)
    if spec.type == "true_false":
        if not isinstance(value, bool):
            return _wrong_type("True or False", value)
        return right if value == spec.answer else Verdict(False, tr("wrong", "오답"))
    if spec.type == "multiple_choice":
        ids = [value] if isinstance(value, str) else value
        if not isinstance(ids, (list, tuple, set, frozenset)) or not all(isinstance(i, str) for i in ids):
            expected = "a list of choice ids like ['a', 'c']" if spec.multiple else "one choice id like 'b'"
            return _wrong_type(expected, value)
        picked = {i.strip().lower() for i in ids}
        unknown = sorted(picked - set(spec.choices))
        if unknown:
            return Verdict(
                False,
                tr(f"unknown choice {unknown}; the choices are {list(spec.choices)}",
                   f"없는 보기 {unknown}; 보기는 {list(spec.choices)}입니다"),
                valid=False,
            )
        if not spec.multiple and len(picked) != 1:
            return Verdict(False, tr("pick exactly one choice", "보기 하나만 고르세요"), valid=False)
        return right if picked == set(spec.answer) else Verdict(False, tr("wrong", "오답"))
    if spec.type == "fill_in":
        if not isinstance(value, str):
            return _wrong_type("a string in quotes", value)
        accepted = {normalise_text(a) for a in spec.accepted}
        return right if normalise_text(value) in accepted else Verdict(False, tr("wrong", "오답"))
    if spec.type == "numeric":
        if not _is_number(value):
            return _wrong_type("a number", value)
        return right if abs(float(value) - spec.answer) <= spec.tolerance else Verdict(False, tr("wrong", "오답"))
    return Verdict(
        False,
        tr("this is a code exercise: use check_exercise(name, your_function)",
           "코드 실습 문제입니다: check_exercise(이름, 작성한_함수)를 사용하세요"),
        valid=False,
    )
