"""Question banks: ``quizzes/<notebook>.yaml`` files read into :class:`Question` objects.

A bank is data (one YAML file per notebook, checked against ``quizzes/schema.json``). An entry is either a
question or ``{ref: <question id>}``, which reuses a question of another bank (the review notebook does this).
Question ids are global, so ``ask("if-03-noising-extracts")`` works from any notebook.

Where the banks live: ``$IFLEARN_QUIZ_DIR`` if set, else the ``quizzes/`` folder beside the ``iflearn``
package (a clone of the course), else a ``quizzes/`` folder in the current directory or one of its parents.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from iflearn.i18n import get_language
from iflearn.quiz.spec import AnswerSpec

__all__ = [
    "Choice",
    "Source",
    "Question",
    "quiz_dir",
    "bank_names",
    "load_bank",
    "all_questions",
    "get_question",
    "validate_banks",
]

_SCHEMA_NAME = "schema.json"


@dataclass(frozen=True)
class Choice:
    """One option of a multiple-choice question: an id such as ``"b"`` and its text in both languages."""

    id: str
    text: dict[str, str]

    def label(self, language: str | None = None) -> str:
        """``"b) <text>"`` in the current (or given) language."""
        return f"{self.id}) {_pick(self.text, language)}"


@dataclass(frozen=True)
class Source:
    """Where the fact comes from: a notebook section, and/or a citation with a URL."""

    section: str | None = None
    citation: str | None = None
    url: str | None = None

    def describe(self) -> str:
        """One line, e.g. ``01_what_is_if § 2 · DeepFloyd IF README <https://...>``."""
        parts = [p for p in (self.section, self.citation) if p]
        text = " · ".join(parts)
        return f"{text} <{self.url}>" if self.url else text


@dataclass(frozen=True)
class Question:
    """A quiz question with its answer rule, teaching feedback and source.

    Attributes:
        id: stable id, e.g. ``"if-01-pixel-space"``.
        notebook: the bank (notebook stem) that defines it.
        text: the question in ``"ko"`` and ``"en"``.
        spec: what counts as right (:class:`~iflearn.quiz.spec.AnswerSpec`).
        choices: the options of a multiple-choice question, else empty.
        feedback: ``{"correct": {...}, "wrong": {...}}`` teaching text in both languages.
        source: where the fact comes from.
    """

    id: str
    notebook: str
    text: dict[str, str]
    spec: AnswerSpec
    choices: tuple[Choice, ...]
    feedback: dict[str, dict[str, str]]
    source: Source

    @property
    def type(self) -> str:
        """The question type, e.g. ``"true_false"``."""
        return self.spec.type

    def prompt(self, language: str | None = None) -> str:
        """The question text in the current (or given) language."""
        return _pick(self.text, language)

    def explanation(self, correct: bool, language: str | None = None) -> str:
        """The teaching feedback for a right (``correct=True``) or wrong answer."""
        return _pick(self.feedback["correct" if correct else "wrong"], language)

    def answer_kind(self) -> tuple[str, str]:
        """What kind of value answers this question, in English and Korean (never the answer itself)."""
        if self.type == "true_false":
            return "True or False", "True 또는 False"
        if self.type == "multiple_choice" and self.spec.multiple:
            return "a list of every right choice id, like [\"x\", \"y\"]", "맞는 보기 id 전부의 리스트([\"x\", \"y\"] 형태)"
        if self.type == "multiple_choice":
            return "one choice id in quotes", "따옴표로 감싼 보기 id 하나"
        if self.type == "numeric":
            return "a number", "숫자"
        return "your answer in quotes", "따옴표로 감싼 답"

    def example_answer(self) -> str:
        """A literal the learner could type for this type (not the right answer), for instructions."""
        return {
            "true_false": "True",
            "multiple_choice": '["a", "c"]' if self.spec.multiple else '"b"',
            "fill_in": '"..."',
            "numeric": "0.0",
        }.get(self.type, "...")


def _pick(texts: dict[str, str], language: str | None) -> str:
    language = language or get_language()
    return texts.get(language) or texts.get("en") or next(iter(texts.values()))


def quiz_dir() -> Path:
    """The folder holding the banks; raises ``FileNotFoundError`` that says how to point to it."""
    explicit = os.environ.get("IFLEARN_QUIZ_DIR")
    if explicit:
        path = Path(explicit)
        if not (path / _SCHEMA_NAME).is_file():
            raise FileNotFoundError(
                f"IFLEARN_QUIZ_DIR={explicit!r} has no {_SCHEMA_NAME}; point it at the course's quizzes/ folder."
            )
        return path
    candidates = [Path(__file__).resolve().parents[2] / "quizzes"]
    here = Path.cwd()
    candidates += [p / "quizzes" for p in (here, *list(here.parents)[:3])]
    for path in candidates:
        if (path / _SCHEMA_NAME).is_file():
            return path
    raise FileNotFoundError(
        "Could not find the quiz banks (a quizzes/ folder with schema.json). Run the notebooks from a clone of "
        "the course, or set IFLEARN_QUIZ_DIR to the quizzes/ folder. Looked in: "
        + ", ".join(str(c) for c in candidates)
    )


def bank_names(directory: Path | None = None) -> list[str]:
    """The notebook stems that have a bank, sorted (``["00_setup_and_tour", ...]``)."""
    directory = directory or quiz_dir()
    return sorted(p.stem for p in directory.glob("*.yaml"))


def _read_yaml(path: Path) -> Any:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader


def _build_question(entry: dict[str, Any], notebook: str) -> Question:
    qid = entry.get("id", "?")
    where = f"quizzes/{notebook}.yaml question {qid!r}"
    spec_fields = {k: entry[k] for k in ("type", "answer", "accepted", "tolerance", "multiple", "exercise", "points")
                   if k in entry}
    raw_choices = entry.get("choices", []) or []
    choices = tuple(Choice(id=str(c["id"]), text={"ko": c["ko"], "en": c["en"]}) for c in raw_choices)
    spec_fields["choices"] = [c.id for c in choices]
    spec = AnswerSpec.from_dict(spec_fields, where=where)
    source = entry.get("source") or {}
    return Question(
        id=str(qid),
        notebook=notebook,
        text=dict(entry["text"]),
        spec=spec,
        choices=choices,
        feedback={k: dict(v) for k, v in entry["feedback"].items()},
        source=Source(section=source.get("section"), citation=source.get("citation"), url=source.get("url")),
    )


@functools.lru_cache(maxsize=8)
def _load_all(directory: str) -> tuple[dict[str, Question], dict[str, tuple[str, ...]]]:
    """Every question by id, and each bank's question ids in order (refs resolved)."""
    questions: dict[str, Question] = {}
    order: dict[str, list[str]] = {}
    refs: dict[str, list[tuple[int, str]]] = {}
    for name in bank_names(Path(directory)):
        data = _read_yaml(Path(directory) / f"{name}.yaml") or {}
        order[name] = []
        for entry in data.get("questions", []):
            if "ref" in entry:
                refs.setdefault(name, []).append((len(order[name]), str(entry["ref"])))
                order[name].append(str(entry["ref"]))
                continue
            question = _build_question(entry, name)
            if question.id in questions:
                raise ValueError(
                    f"Question id {question.id!r} is defined in both quizzes/{questions[question.id].notebook}.yaml "
                    f"and quizzes/{name}.yaml; ids must be unique (use 'ref: {question.id}' to reuse a question)."
                )
            questions[question.id] = question
            order[name].append(question.id)
    for name, items in refs.items():
        for _, ref in items:
            if ref not in questions:
                raise ValueError(f"quizzes/{name}.yaml refers to unknown question {ref!r}; {_suggest(ref, questions)}")
    return questions, {k: tuple(v) for k, v in order.items()}


def _suggest(qid: str, known: dict[str, Any]) -> str:
    close = difflib.get_close_matches(qid, list(known), n=3, cutoff=0.5)
    return f"did you mean {close}?" if close else f"known ids start with: {sorted(known)[:5]}..."


def all_questions(directory: Path | None = None) -> dict[str, Question]:
    """Every question of every bank, by id."""
    return dict(_load_all(str(directory or quiz_dir()))[0])


def load_bank(notebook: str, directory: Path | None = None) -> list[Question]:
    """The questions of one notebook's bank, in order, with ``ref`` entries resolved.

    Args:
        notebook: the notebook stem, e.g. ``"03_noising"``.
        directory: the quizzes folder; defaults to :func:`quiz_dir`.
    """
    questions, order = _load_all(str(directory or quiz_dir()))
    if notebook not in order:
        raise KeyError(f"No bank named {notebook!r}; the banks are {sorted(order)} (files quizzes/<name>.yaml).")
    return [questions[qid] for qid in order[notebook]]


def get_question(qid: str, directory: Path | None = None) -> Question:
    """The question with id ``qid``; ``KeyError`` with close matches if there is none."""
    questions = _load_all(str(directory or quiz_dir()))[0]
    if not isinstance(qid, str) or qid not in questions:
        raise KeyError(f"No quiz question with id {qid!r}; {_suggest(str(qid), questions)} "
                       "Copy the id from the question's ask(...) cell.")
    return questions[qid]


def validate_banks(directory: Path | None = None) -> dict[str, list[str]]:
    """Check every bank against ``schema.json`` and for unique ids / valid refs.

    Returns:
        ``{bank name: [problem, ...]}``; every list empty means all banks are valid.
    """
    import jsonschema  # only needed by authors and tests, so imported here

    directory = directory or quiz_dir()
    schema = json.loads((directory / _SCHEMA_NAME).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    problems: dict[str, list[str]] = {}
    for name in bank_names(directory):
        data = _read_yaml(directory / f"{name}.yaml")
        problems[name] = []
        for error in validator.iter_errors(data):
            # an entry failing 'oneOf: [question, ref]' is clearer as the errors of the branch it meant
            branch = 1 if isinstance(error.instance, dict) and "ref" in error.instance else 0
            details = [e for e in error.context if list(e.relative_schema_path)[:1] == [branch]]
            for detail in details or [error]:
                where = "/".join(str(p) for p in detail.absolute_path) or "<top>"
                problems[name].append(f"{where}: {detail.message}")
        if isinstance(data, dict) and data.get("notebook") != name:
            problems[name].append(f"'notebook: {data.get('notebook')}' should match the file name {name!r}")
    if not any(problems.values()):
        _load_all.cache_clear()
        try:
            _load_all(str(directory))
        except ValueError as exc:
            problems.setdefault("<all banks>", []).append(str(exc))
    return problems
