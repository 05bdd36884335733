"""The answer key: question id -> what counts as right, held by the instructor and read only by the grader.

A key is JSON (or YAML) of the form::

    {"format": "iflearn-key/1",
     "questions": {"if-03-noising-extracts": {"type": "true_false", "answer": true, "points": 1.0}, ...}}

``make_key`` builds one from the quiz banks (``iflearn grade --make-key quizzes/ -o key.json``); an instructor
may also write one by hand, e.g. with questions that are not in the public banks. ``iflearn assign`` writes one
for an assignment. The key is never copied into a submission's sandbox.

Optional fields of an entry (all written by ``iflearn assign``; a key without them grades all-or-nothing):

* ``"partial": true`` -- partial credit. A multiple-answer question earns
  ``points * max(0, (right choices picked - wrong choices picked) / number of right choices)``; an exercise
  earns each hidden case's share of the points (``points / number of cases``, or the case's own ``points``).
* ``"cases": [{"inputs": {"x0": {"array": [[...]]}, "abar_t": {"float": 1.0}}, "points": 1.0}, ...]`` --
  an exercise's hidden grading cases, used instead of freshly drawn random ones. They live only in the key:
  the learner's notebook never has them, and the feedback files never show them.
* ``"about": {"text": {...}, "feedback": {"correct": {...}, "wrong": {...}}, "source": "...", "hint": {...}}``
  -- the question's text and teaching feedback, for the feedback files of questions not in the public banks.

and, at the top level, ``"assignment": "<name>"``.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iflearn.quiz.spec import AnswerSpec, check_answer

__all__ = ["KEY_FORMAT", "Grading", "Key", "make_key", "load_key", "write_key", "encode_case", "decode_case"]

KEY_FORMAT = "iflearn-key/1"


def encode_case(inputs: dict[str, Any]) -> dict[str, Any]:
    """Exercise inputs as JSON: arrays (and NumPy scalars) -> ``{"array": [...]}``, numbers -> ``{"float": x}``."""
    import numpy as np

    return {name: {"array": np.asarray(v).tolist()} if isinstance(v, (np.ndarray, np.generic)) else {"float": float(v)}
            for name, v in inputs.items()}


def decode_case(encoded: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`encode_case`: float32 NumPy arrays (0-d for scalars) and plain floats."""
    import numpy as np

    return {name: np.asarray(v["array"], dtype=np.float32) if "array" in v else float(v["float"])
            for name, v in encoded.items()}


def _check_case(case: Any, where: str) -> dict[str, Any]:
    if not isinstance(case, dict) or not isinstance(case.get("inputs"), dict) or not case["inputs"]:
        raise ValueError(f"{where}: a hidden case is {{'inputs': {{name: {{'array': [...]}} or {{'float': x}}}}, "
                         f"'points': p}}, got {str(case)[:80]}.")
    for name, value in case["inputs"].items():
        if not isinstance(value, dict) or len(value) != 1 or not ({"array", "float"} & set(value)):
            raise ValueError(f"{where}: input {name!r} must be {{'array': [...]}} or {{'float': x}}, "
                             f"got {str(value)[:80]}.")
    points = case.get("points")
    if points is not None and (not isinstance(points, (int, float)) or isinstance(points, bool) or points < 0):
        raise ValueError(f"{where}: a case's points must be a number >= 0, got {points!r}.")
    return {"inputs": case["inputs"], **({"points": float(points)} if points is not None else {})}


@dataclass(frozen=True)
class Grading:
    """How a question is scored beyond right/wrong (the optional key fields, see the module docstring).

    Attributes:
        partial: partial credit (multiple-answer questions and exercises).
        cases: an exercise's hidden cases, ``{"inputs": {...}, "points": p}`` in the JSON encoding.
        about: text, feedback, source and hint, for feedback files.
    """

    partial: bool = False
    cases: tuple[dict[str, Any], ...] = ()
    about: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str) -> Grading:
        """Read the optional fields of a key entry; ``ValueError`` saying what to fix."""
        partial = data.get("partial", False)
        if not isinstance(partial, bool):
            raise ValueError(f"{where}: 'partial' must be true or false, got {partial!r}.")
        cases = data.get("cases", [])
        if not isinstance(cases, list):
            raise ValueError(f"{where}: 'cases' must be a list of hidden cases, got {type(cases).__name__}.")
        if cases and data.get("type") != "exercise":
            raise ValueError(f"{where}: only exercise questions have hidden 'cases'.")
        about = data.get("about", {})
        if not isinstance(about, dict):
            raise ValueError(f"{where}: 'about' must be a mapping (text, feedback, source, hint).")
        return cls(partial, tuple(_check_case(c, f"{where} case {i + 1}") for i, c in enumerate(cases)), about)

    def to_dict(self) -> dict[str, Any]:
        """Only the fields that are set."""
        out: dict[str, Any] = {}
        if self.partial:
            out["partial"] = True
        if self.cases:
            out["cases"] = list(self.cases)
        if self.about:
            out["about"] = self.about
        return out


_NO_GRADING = Grading()


@dataclass(frozen=True)
class Key:
    """An answer key.

    Attributes:
        questions: question id -> :class:`~iflearn.quiz.spec.AnswerSpec`, in gradebook column order.
        grading: question id -> :class:`Grading` (partial credit, hidden cases, feedback text), where set.
        name: the assignment's name (empty for a key made from the banks).
    """

    questions: dict[str, AnswerSpec]
    grading: dict[str, Grading] = field(default_factory=dict)
    name: str = ""

    @property
    def max_score(self) -> float:
        """The total points available."""
        return sum(spec.points for spec in self.questions.values())

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        questions = {qid: {**s.to_dict(), **self.grading.get(qid, _NO_GRADING).to_dict()}
                     for qid, s in self.questions.items()}
        return {"format": KEY_FORMAT, **({"assignment": self.name} if self.name else {}), "questions": questions}

    # -- scoring (in the grader, outside the learner's kernel) --------------------------------------------
    def score_answer(self, qid: str, value: Any) -> tuple[float, str]:
        """Points for a learner's literal ``value`` to question ``qid``, and the reason (``"correct"``, ...)."""
        spec = self.questions[qid]
        verdict = check_answer(spec, value)
        if verdict.correct:
            return spec.points, verdict.reason
        if not (verdict.valid and spec.type == "multiple_choice" and spec.multiple
                and self.grading.get(qid, _NO_GRADING).partial):
            return 0.0, verdict.reason
        picked = {str(i).strip().lower() for i in ([value] if isinstance(value, str) else value)}
        right = set(spec.answer)
        hits, false = len(picked & right), len(picked - right)
        fraction = max(0.0, (hits - false) / len(right))
        return round(spec.points * fraction, 6), (f"partial credit: {hits} of {len(right)} right choices picked, "
                                                  f"{false} wrong choice{'s' if false != 1 else ''} picked")

    def hidden_cases(self, qid: str) -> list[dict[str, Any]] | None:
        """The exercise's hidden cases as inputs (NumPy arrays and floats), or None when the key has none."""
        cases = self.grading.get(qid, _NO_GRADING).cases
        return [decode_case(c["inputs"]) for c in cases] if cases else None

    def score_exercise(self, qid: str, exercise: Any, cases: list[dict[str, Any]], outputs: list[Any],
                       error: str = "") -> tuple[float, str]:
        """Points for an exercise from the learner's ``outputs`` on ``cases`` (compared here, with the reference).

        Args:
            qid: the question id.
            exercise: its :class:`~iflearn.quiz.exercises.Exercise`.
            cases: the inputs the function was called on.
            outputs: what it returned, one per case; fewer when it raised (``error``) on the next case.
            error: the exception the function raised, if any.

        Returns:
            ``(points, reason)``. With partial credit each case that matches earns its share; otherwise the
            points need every case to match. The reason never shows a case's inputs.
        """
        from iflearn.quiz.exercises import compare_outputs

        spec, grading = self.questions[qid], self.grading.get(qid, _NO_GRADING)
        weights = [c.get("points") for c in grading.cases] if len(grading.cases) == len(cases) else []
        if not weights or any(w is None for w in weights):
            weights = [1.0] * len(cases)
        problems, earned, matched = [], 0.0, 0
        for index, inputs in enumerate(cases):
            if index < len(outputs):
                result = compare_outputs(exercise, [inputs], [outputs[index]])
                if result.passed:
                    earned, matched = earned + weights[index], matched + 1
                    continue
                why = re.sub(r"^\W*\w+: (case \d+: )?", "", result.message)
            elif index == len(outputs) and error:
                why = f"raised {error}"
            else:
                why = "not run"
            problems.append(f"case {index + 1}: {why}")
        if not problems:
            return spec.points, "correct"
        kind = "hidden case" if grading.cases else "case"
        summary = f"{matched} of {len(cases)} {kind}s match; " + "; ".join(problems[:3])
        if len(problems) > 3:
            summary += f"; and {len(problems) - 3} more"
        points = spec.points * earned / (sum(weights) or 1.0) if grading.partial else 0.0
        return (round(points, 6) if math.isfinite(points) else 0.0), summary


def make_key(path: str | os.PathLike[str]) -> Key:
    """Build a key from the quiz banks: a ``quizzes/`` folder (every bank) or one ``quizzes/<notebook>.yaml``.

    References (``ref:`` entries of a review bank) are resolved, so a review notebook's key holds the
    questions it reuses.
    """
    from iflearn.quiz.bank import bank_names, load_bank

    path = Path(path)
    if path.is_dir():
        directory, banks = path, bank_names(path)
    elif path.is_file() and path.suffix in (".yaml", ".yml"):
        directory, banks = path.parent, [path.stem]
    else:
        raise FileNotFoundError(
            f"--make-key {str(path)!r}: expected the quizzes/ folder or one quizzes/<notebook>.yaml."
        )
    questions: dict[str, AnswerSpec] = {}
    for bank in banks:
        for question in load_bank(bank, directory):
            questions.setdefault(question.id, question.spec)
    if not questions:
        raise ValueError(f"--make-key {str(path)!r}: no questions found; is this the quizzes/ folder?")
    return Key(questions)


def load_key(path: str | os.PathLike[str]) -> Key:
    """Read a key file (``.json``, ``.yaml`` or ``.yml``); ``ValueError`` naming the bad entry if it is malformed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"--key {str(path)!r}: cannot read the answer key ({exc}). "
                                "Make one with: iflearn grade --make-key quizzes/ -o key.json") from exc
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    name = ""
    if isinstance(data, dict) and "questions" in data:
        if data.get("format", KEY_FORMAT) != KEY_FORMAT:
            raise ValueError(f"{path}: key format {data.get('format')!r} is not {KEY_FORMAT!r}.")
        name = str(data.get("assignment") or "")
        data = data["questions"]
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a mapping of question id -> answer spec, got {type(data).__name__}.")
    questions = {str(qid): AnswerSpec.from_dict(entry, where=f"{path} [{qid}]") for qid, entry in data.items()}
    grading = {str(qid): Grading.from_dict(entry, where=f"{path} [{qid}]") for qid, entry in data.items()}
    return Key(questions, {qid: g for qid, g in grading.items() if g != _NO_GRADING}, name)


def write_key(key: Key, path: str | os.PathLike[str]) -> Path:
    """Write ``key`` as JSON, atomically (temp file + rename). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(key.to_dict(), out, ensure_ascii=False, indent=2)
        out.write("\n")
    os.replace(tmp, path)
    return path
