"""``ask("q-id")``: a quiz question as an ipywidgets widget with a Check button and immediate feedback.

Only core ipywidgets are used (HTML, ToggleButtons, RadioButtons, Checkbox, Text, Button), so the widget
works in JupyterLab 4, Jupyter Notebook 7, VS Code and Colab without extra setup. After a check the widget
shows the exact ``answer(...)`` line to paste into the answer cell below; that line is what gets graded.
In an assignment (:func:`iflearn.quiz.start_assignment`) a graded question's widget only notes the choice:
no right or wrong, no line to paste.

The widget can be driven from Python (tests, or a learner who prefers typing):

>>> w = ask("if-03-noising-extracts")      # doctest: +SKIP
>>> w.select(True); w.check(); w.correct   # doctest: +SKIP
True
"""

from __future__ import annotations

import html
from typing import Any

from iflearn.i18n import tr
from iflearn.quiz.bank import Question, get_question
from iflearn.quiz.feedback import Feedback, Recorded, _assignment, answer_line, in_assignment
from iflearn.quiz.spec import check_answer

__all__ = ["QuizWidget", "ask"]


class QuizWidget:
    """One question as a widget: text, an input, a Check button, and a feedback area.

    Attributes:
        question: the question shown.
        box: the top-level ``ipywidgets.VBox`` (what the notebook displays).
        input: the input widget (ToggleButtons, RadioButtons, Text, or a VBox of Checkboxes).
        button: the Check button.
        feedback: an ``ipywidgets.HTML`` with the last feedback (empty before the first check).
        last: the last :class:`~iflearn.quiz.feedback.Feedback`, or None.
    """

    def __init__(self, question: Question) -> None:
        import ipywidgets as w

        self.question = question
        self.last: Feedback | None = None
        self.noted: Recorded | None = None  # assignment mode: the choice noted, never judged
        spec = question.spec
        layout = w.Layout(width="auto")
        if spec.type == "true_false":
            options = [(tr("True", "참 (True)"), True), (tr("False", "거짓 (False)"), False)]
            self.input = w.ToggleButtons(options=options, value=None)
        elif spec.type == "multiple_choice" and spec.multiple:
            self._boxes = {c.id: w.Checkbox(value=False, description=c.label(), indent=False, layout=layout)
                           for c in question.choices}
            self.input = w.VBox(list(self._boxes.values()))
        elif spec.type == "multiple_choice":
            self.input = w.RadioButtons(options=[(c.label(), c.id) for c in question.choices], value=None,
                                        layout=layout)
        elif spec.type in ("fill_in", "numeric"):
            is_text = spec.type == "fill_in"
            placeholder = tr("type your answer", "답을 입력하세요") if is_text else tr("a number", "숫자")
            self.input = w.Text(value="", placeholder=placeholder)
        else:
            call = f"<code>check_exercise({spec.exercise!r}, ...)</code>"
            self.input = w.HTML(tr(f"Write the function and run {call}.", f"함수를 작성하고 {call}를 실행하세요."))
        hint = tr("(choose all that apply)", "(해당하는 것을 모두 고르세요)") if spec.multiple else ""
        self.title = w.HTML(f"<b>{html.escape(question.prompt())}</b> {hint}"
                            f"<br><small><code>{html.escape(question.id)}</code></small>")
        self.button = w.Button(description=tr("Check", "확인"), button_style="primary",
                               disabled=spec.type == "exercise")
        self.feedback = w.HTML("")
        self.button.on_click(lambda _button: self.check())
        self.box = w.VBox([self.title, self.input, self.button, self.feedback])

    # -- reading and setting the learner's choice ------------------------------------------------------
    def value(self) -> Any:
        """The answer currently entered (a bool, choice id, list of ids, string or number), or None."""
        spec = self.question.spec
        if spec.type == "multiple_choice" and spec.multiple:
            return [cid for cid, box in self._boxes.items() if box.value]
        if spec.type == "numeric":
            text = self.input.value.strip().replace(",", ".")
            try:
                return float(text) if text else None
            except ValueError:
                return text  # check_answer reports the wrong type
        if spec.type == "fill_in":
            return self.input.value
        return getattr(self.input, "value", None)

    def select(self, value: Any) -> QuizWidget:
        """Set the input as a learner would: ``True``, ``"b"``, ``["a", "c"]``, ``"text"`` or ``6.66``."""
        spec = self.question.spec
        if spec.type == "multiple_choice" and spec.multiple:
            picked = {value} if isinstance(value, str) else set(value)
            unknown = picked - set(self._boxes)
            if unknown:
                raise ValueError(f"select({value!r}): unknown choice ids {sorted(unknown)}; "
                                 f"the choices are {list(self._boxes)}.")
            for cid, box in self._boxes.items():
                box.value = cid in picked
        elif spec.type in ("fill_in", "numeric"):
            self.input.value = str(value)
        elif spec.type == "exercise":
            raise ValueError(f"{self.question.id} is a code exercise; call check_exercise({spec.exercise!r}, fn).")
        else:
            allowed = [v for _, v in self.input.options]
            if value not in allowed or (spec.type == "true_false" and not isinstance(value, bool)):
                raise ValueError(f"select({value!r}): expected one of {allowed} for question {self.question.id}.")
            self.input.value = value
        return self

    # -- checking --------------------------------------------------------------------------------------
    def check(self) -> Feedback | None:
        """Grade the current input, show right/wrong + why, and the answer line to paste. Returns the feedback."""
        value = self.value()
        if value is None or value == "" or value == []:
            self.feedback.value = html.escape(tr("Choose or type an answer first.", "먼저 답을 고르거나 입력하세요."))
            self.last = None
            return None
        if in_assignment(self.question.id):  # graded work: no right/wrong, no answer line to paste
            self.last, self.noted = None, Recorded(self.question.id, value, str(_assignment["name"]))
            where = tr("Put your answer in this question's answer cell below: that cell is what gets graded.",
                       "이 문제의 답안 셀(아래)에 답을 쓰세요. 채점되는 것은 그 셀입니다.")
            self.feedback.value = self.noted._repr_html_() + f"<small>{html.escape(where)}</small>"
            return None
        self.last = Feedback(self.question, value, check_answer(self.question.spec, value))
        line = answer_line(self.question.id, value)
        paste = tr("To record it for grading, put this line in the answer cell below:",
                   "채점에 반영하려면 아래 답안 셀에 이 줄을 넣으세요:")
        self.feedback.value = (self.last._repr_html_()
                               + f"<small>{html.escape(paste)}</small><pre>{html.escape(line, quote=False)}</pre>")
        return self.last

    @property
    def correct(self) -> bool | None:
        """Whether the last check was right (None before any check)."""
        return None if self.last is None else self.last.correct

    @property
    def feedback_text(self) -> str:
        """The last feedback as plain text, plus the answer line (empty before any check)."""
        if self.last is None:
            return self.noted.text if self.noted is not None else ""
        return self.last.text + "\n" + answer_line(self.question.id, self.last.value)

    @property
    def answer_line(self) -> str:
        """The ``answer(...)`` line for the current input."""
        return answer_line(self.question.id, self.value())

    # -- display ---------------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.box._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = self._plain_text()
        return bundle

    def _plain_text(self) -> str:
        lines = [f"[{self.question.id}] {self.question.prompt()}"]
        lines += [f"  {c.label()}" for c in self.question.choices]
        kind_en, kind_ko = self.question.answer_kind()
        lines.append(tr(f'Answer in an answer cell: answer("{self.question.id}", <{kind_en}>)',
                        f'답안 셀에 답하세요: answer("{self.question.id}", <{kind_ko}>)'))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self._plain_text()


def ask(qid: str) -> QuizWidget:
    """Show quiz question ``qid`` as a widget with a Check button and immediate feedback.

    Put ``ask("...")`` as the last line of a cell so the notebook displays it (like any widget).

    Args:
        qid: the question id, e.g. ``"if-01-pixel-space"``.

    Returns:
        The :class:`QuizWidget`; ``.select(value)``, ``.check()`` and ``.feedback_text`` drive it from code.
    """
    return QuizWidget(get_question(qid))
