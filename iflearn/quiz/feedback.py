"""Answer cells: ``answer("if-03-noising-extracts", True)`` shows right/wrong and why.

The answer cell's *source* is what the grader reads (see :mod:`iflearn.grading.extract`), so an answer survives
saving, closing and reopening the notebook. Running the cell only gives the learner feedback.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from iflearn.i18n import tr
from iflearn.quiz.bank import Question, get_question
from iflearn.quiz.spec import Verdict, check_answer, format_value

__all__ = ["Feedback", "Recorded", "answer_line", "feedback_for", "answer", "session_answers", "start_assignment",
           "in_assignment"]

_session: dict[str, Any] = {}
# assignment mode (see start_assignment): its name, and the graded ids (None: every id)
_assignment: dict[str, Any] = {"name": None, "graded": None}


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_literal(v) for v in sorted(value, key=str)) + "]"
    return repr(value)


def answer_line(qid: str, value: Any) -> str:
    """The exact line to paste into an answer cell, e.g. ``answer("if-03-noising-extracts", True)``."""
    return f"answer({_literal(qid)}, {_literal(value)})"


@dataclass(frozen=True)
class Feedback:
    """What the learner sees after answering.

    Attributes:
        question: the question answered.
        value: the learner's answer.
        verdict: right or wrong, and a short reason.
    """

    question: Question
    value: Any
    verdict: Verdict

    @property
    def correct(self) -> bool:
        """Whether the answer is right."""
        return self.verdict.correct

    @property
    def answered(self) -> bool:
        """False while the answer cell still holds its ``None`` placeholder."""
        return self.value is not None

    @property
    def headline(self) -> str:
        """``"✅ Correct!"``, ``"❌ Not quite (<reason>)."`` or a reminder to replace ``None``."""
        if not self.answered:
            kind_en, kind_ko = self.question.answer_kind()
            return tr(f"✏️ Not answered yet: replace None in answer(\"{self.question.id}\", None) with {kind_en}.",
                      f"✏️ 아직 답하지 않았습니다: answer(\"{self.question.id}\", None)의 None을 {kind_ko}(으)로 바꾸세요.")
        if self.correct:
            return tr("✅ Correct!", "✅ 정답입니다!")
        return tr(f"❌ Not quite ({self.verdict.reason}).", f"❌ 아쉽지만 틀렸습니다 ({self.verdict.reason}).")

    @property
    def text(self) -> str:
        """Headline, teaching explanation and source, as plain text."""
        if not self.answered:
            return self.headline
        lines = [self.headline, self.question.explanation(self.correct)]
        source = self.question.source.describe()
        if source:
            lines.append(tr("Source: ", "출처: ") + source)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.answered:
            return f'<div style="border-left:4px solid #8a8a8a;padding:4px 10px">{html.escape(self.headline)}</div>'
        colour = "#1b7f3b" if self.correct else "#b3261e"
        source = self.question.source
        link = ""
        if source.url:
            label = html.escape(source.citation or source.url)
            link = f' <a href="{html.escape(source.url)}" target="_blank">{label}</a>'
        cite = html.escape(source.section or "") + link
        return (
            f'<div style="border-left:4px solid {colour};padding:4px 10px">'
            f'<b style="color:{colour}">{html.escape(self.headline)}</b><br>'
            f"{html.escape(self.question.explanation(self.correct))}"
            f'<br><small>{tr("Source", "출처")}: {cite}</small></div>'
        )

    def __repr__(self) -> str:
        return self.text


def start_assignment(name: str | None, graded: Iterable[str] | None = None) -> None:
    """Assignment mode: answers to ``graded`` questions are recorded, with no right/wrong shown.

    An instructor's assignment notebook (``iflearn assign``) calls this in its first code cell. The answers are
    graded after hand-in, from the answer cells' source; the kernel never holds the key.

    Args:
        name: the assignment's name, shown to the learner; ``None`` ends assignment mode.
        graded: the question ids it grades (default: every id).
    """
    _assignment["name"] = name
    _assignment["graded"] = None if graded is None else frozenset(graded)


def in_assignment(qid: str) -> bool:
    """Whether ``qid`` is a graded question of the current assignment (so no feedback is shown for it)."""
    graded = _assignment["graded"]
    return _assignment["name"] is not None and (graded is None or qid in graded)


@dataclass(frozen=True)
class Recorded:
    """What an answer cell shows in assignment mode: recorded, to be graded later; never right or wrong."""

    qid: str
    value: Any
    assignment: str

    @property
    def text(self) -> str:
        """One sentence for the learner."""
        if self.value is None:
            return tr(f"✏️ Not answered yet: replace None in the answer cell of {self.qid} with your answer "
                      "(the comment on that line says what kind of value).",
                      f"✏️ 아직 답하지 않았습니다: {self.qid} 답안 셀의 None을 답으로 바꾸세요 (그 줄의 주석이 값의 형식을 알려 줍니다).")
        shown = format_value(self.value)
        return tr(f"📝 Recorded for {self.assignment}: {self.qid} = {shown}. It is graded after you hand in the "
                  "notebook; no right or wrong is shown here.",
                  f"📝 {self.assignment}에 기록됨: {self.qid} = {shown}. 노트북을 제출한 뒤 채점되며, 여기서는 정답 여부를 "
                  "보여 주지 않습니다.")

    def _repr_html_(self) -> str:
        return f'<div style="border-left:4px solid #3b6ea8;padding:4px 10px">{html.escape(self.text)}</div>'

    def __repr__(self) -> str:
        return self.text


def feedback_for(qid: str, value: Any) -> Feedback:
    """Check ``value`` against question ``qid`` and return the :class:`Feedback` (nothing displayed)."""
    question = get_question(qid)
    return Feedback(question=question, value=value, verdict=check_answer(question.spec, value))


def answer(qid: str, value: Any) -> None:
    """Record your answer to quiz question ``qid`` and show whether it is right, and why.

    Write the answer as a plain value: ``True``/``False``, a choice id like ``"b"`` (or a list ``["a", "c"]``
    when several are right), a string for fill-in questions, a number for numeric ones. The grader reads
    this line from the saved notebook, so keep it as a literal (not a variable).

    Args:
        qid: the question id shown above the question, e.g. ``"if-03-noising-extracts"``.
        value: your answer.
    """
    shown: Any
    if in_assignment(qid):  # graded work: record, never judge (the kernel has no key anyway)
        shown = Recorded(qid, value, str(_assignment["name"]))
    else:
        shown = _feedback_or_note(qid, value)
    _session[qid] = value
    try:
        from IPython.display import display

        display(shown)
    except ImportError:  # plain Python: print the text
        print(shown if isinstance(shown, str) else shown.text)


def _feedback_or_note(qid: str, value: Any) -> Any:
    try:
        return feedback_for(qid, value)
    except KeyError as exc:  # a typo, or an instructor's own question: say so, keep the line gradable
        return tr(f"⚠️ {exc.args[0]} If your instructor gave you this id, the answer is still recorded for "
                  "grading; it just cannot be checked here.",
                  f"⚠️ {exc.args[0]} 강사가 알려 준 id라면 답은 채점용으로 기록됩니다. 여기서 확인만 할 수 없습니다.")


def session_answers() -> dict[str, Any]:
    """The answers given with :func:`answer` in this kernel so far (for the learner; the grader ignores it)."""
    return dict(_session)
