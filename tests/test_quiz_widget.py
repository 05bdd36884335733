"""The quiz widget driven from Python, answer cells, language switching and reading answers back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ipywidgets as widgets
import nbformat
import pytest
from nbformat import v4

from iflearn import i18n
from iflearn.grading.extract import extract_answers, read_notebook
from iflearn.quiz import answer, answer_line, ask, feedback_for, session_answers


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    before = i18n._current
    i18n.set_language("en")
    yield
    i18n._current = before


def test_true_false_widget_answered_right_then_wrong() -> None:
    w = ask("if-03-noising-extracts")
    assert isinstance(w.box, widgets.VBox) and isinstance(w.input, widgets.ToggleButtons)
    assert w.feedback_text == "" and w.correct is None
    w.select(True)
    w.button.click()  # the learner's click runs the same check
    assert w.correct is True
    assert w.feedback_text.startswith("✅ Correct!")
    assert "pure noise" in w.feedback_text  # the teaching explanation
    assert 'answer("if-03-noising-extracts", True)' in w.feedback.value  # the line to paste
    w.select(False).check()
    assert w.correct is False and w.feedback_text.startswith("❌ Not quite")
    assert w.feedback_text.endswith('answer("if-03-noising-extracts", False)')


def test_multiple_choice_with_several_answers_uses_checkboxes() -> None:
    w = ask("if-01-pros")
    boxes = [c for c in w.input.children if isinstance(c, widgets.Checkbox)]
    assert len(boxes) == 5
    w.select(["a", "b", "d", "e"]).check()
    assert w.correct is True
    boxes[2].value = True  # also tick "always accurate"
    w.check()
    assert w.correct is False and "Accuracy" not in w.feedback_text.splitlines()[0]
    with pytest.raises(ValueError, match="unknown choice ids"):
        w.select(["z"])


def test_single_choice_fill_in_and_numeric_widgets() -> None:
    radio = ask("if-05-resolutions")
    assert isinstance(radio.input, widgets.RadioButtons)
    assert radio.select("a").check().correct and not radio.select("b").check().correct
    fill = ask("if-01-text-input")
    assert isinstance(fill.input, widgets.Text)
    assert fill.select("  TEXT ").check().correct
    assert not fill.select("an image").check().correct
    number = ask("if-01-fid")
    assert number.select("6,66").check().correct  # a comma decimal works too
    assert not number.select("six").check().correct
    assert "expected a number" in number.feedback_text


def test_check_without_an_answer_asks_for_one() -> None:
    w = ask("if-01-fid")
    assert w.check() is None and "first" in w.feedback.value


def test_exercise_question_points_to_check_exercise() -> None:
    w = ask("if-03-q-sample-code")
    assert w.button.disabled and "check_exercise" in w.input.value


def test_widget_text_follows_the_language() -> None:
    i18n.set_language("ko")
    w = ask("if-03-noising-extracts")
    assert "노이징을 통해" in w.title.value and w.button.description == "확인"
    w.select(True).check()
    assert w.feedback_text.startswith("✅ 정답입니다!")
    i18n.set_language("en")
    assert "through noising" in ask("if-03-noising-extracts").title.value


def test_widget_displays_with_a_plain_text_fallback() -> None:
    bundle = ask("if-05-resolutions")._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "[if-05-resolutions]" in data["text/plain"] and "a) 64px" in data["text/plain"]


def test_answer_displays_feedback_and_records(capsys: pytest.CaptureFixture[str]) -> None:
    shown = []
    import IPython.display

    original = IPython.display.display
    IPython.display.display = lambda obj: shown.append(obj)  # type: ignore[assignment]
    try:
        answer("if-07-explicit-3d-model", True)
    finally:
        IPython.display.display = original  # type: ignore[assignment]
    (feedback,) = shown
    assert not feedback.correct and "more than the evidence supports" not in feedback.text
    assert "perspective and shading" in feedback.text
    assert "<b" in feedback._repr_html_()
    assert session_answers()["if-07-explicit-3d-model"] is True


def test_feedback_for_wrong_type_and_unknown_id() -> None:
    assert "expected True or False, got str 'yes'" in feedback_for("if-03-noising-extracts", "yes").text
    with pytest.raises(KeyError, match="Copy the id"):
        feedback_for("if-99-nothing", True)


def test_answer_line_is_what_the_grader_reads(tmp_path: Path) -> None:
    lines = [answer_line("if-01-text-input", "텍스트"), answer_line("if-01-pros", ["e", "a", "b", "d"]),
             answer_line("if-03-noising-extracts", True), answer_line("if-01-fid", 6.66)]
    notebook = v4.new_notebook()
    notebook.cells = [v4.new_code_cell("from iflearn.quiz import answer"), v4.new_markdown_cell("## Quiz")]
    notebook.cells += [v4.new_code_cell(line) for line in lines]
    path = tmp_path / "learner.ipynb"
    nbformat.write(notebook, path)  # save ...
    del notebook
    reopened, _ = read_notebook(path)  # ... close and reopen
    found = {qid: a.value for qid, a in extract_answers(reopened).items()}
    assert found == {"if-01-text-input": "텍스트", "if-01-pros": ["a", "b", "d", "e"],
                     "if-03-noising-extracts": True, "if-01-fid": 6.66}
    assert all(feedback_for(qid, value).correct for qid, value in found.items())


def test_answer_with_an_unknown_id_warns_instead_of_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[object] = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    answer("if-99-instructor-only", "b")
    assert isinstance(shown[0], str) and "still recorded for grading" in shown[0]
    assert session_answers()["if-99-instructor-only"] == "b"


def test_none_placeholder_is_a_reminder_not_a_wrong_answer() -> None:
    feedback = feedback_for("if-07-bias", None)
    assert not feedback.answered and not feedback.correct
    assert feedback.text == feedback.headline
    assert 'replace None in answer("if-07-bias", None) with True or False' in feedback.text
    assert "stereotype" not in feedback.text  # the explanation is not given away
    assert "#8a8a8a" in feedback._repr_html_()
