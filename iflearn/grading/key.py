"""The answer key: question id -> what counts as right, held by the instructor and read only by the grader.

A key is JSON (or YAML) of the form::

    {"format": "iflearn-key/1",
     "questions": {"if-03-noising-extracts": {"type": "true_false", "answer": true, "points": 1.0}, ...}}

``make_key`` builds one from the quiz banks (``iflearn grade --make-key quizzes/ -o key.json``); an instructor
may also write one by hand, e.g. with questions that are not in the public banks. The key is never copied into
a submission's sandbox.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from iflearn.quiz.spec import AnswerSpec

__all__ = ["KEY_FORMAT", "Key", "make_key", "load_key", "write_key"]

KEY_FORMAT = "iflearn-key/1"


@dataclass(frozen=True)
class Key:
    """An answer key.

    Attributes:
        questions: question id -> :class:`~iflearn.quiz.spec.AnswerSpec`, in gradebook column order.
    """

    questions: dict[str, AnswerSpec]

    @property
    def max_score(self) -> float:
        """The total points available."""
        return sum(spec.points for spec in self.questions.values())

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        return {"format": KEY_FORMAT, "questions": {qid: s.to_dict() for qid, s in self.questions.items()}}


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
    if isinstance(data, dict) and "questions" in data:
        if data.get("format", KEY_FORMAT) != KEY_FORMAT:
            raise ValueError(f"{path}: key format {data.get('format')!r} is not {KEY_FORMAT!r}.")
        data = data["questions"]
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a mapping of question id -> answer spec, got {type(data).__name__}.")
    questions = {str(qid): AnswerSpec.from_dict(entry, where=f"{path} [{qid}]") for qid, entry in data.items()}
    return Key(questions)


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
