"""What counts as right, per question type, including answers of the wrong type."""

from __future__ import annotations

import pytest

from iflearn.quiz.spec import AnswerSpec, check_answer, normalise_text

TF = AnswerSpec.from_dict({"type": "true_false", "answer": True})
ONE = AnswerSpec.from_dict({"type": "multiple_choice", "answer": "b", "choices": ["a", "b", "c"]})
MANY = AnswerSpec.from_dict({"type": "multiple_choice", "answer": ["a", "c"], "choices": ["a", "b", "c"],
                             "multiple": True})
FILL = AnswerSpec.from_dict({"type": "fill_in", "accepted": ["text", "텍스트 입력"]})
NUM = AnswerSpec.from_dict({"type": "numeric", "answer": 6.66, "tolerance": 0.005})


@pytest.mark.parametrize("spec, value, correct", [
    (TF, True, True), (TF, False, False),
    (ONE, "b", True), (ONE, "B ", True), (ONE, ["b"], True), (ONE, "a", False),
    (MANY, ["c", "a"], True), (MANY, {"a", "c"}, True), (MANY, ["a"], False), (MANY, ["a", "b", "c"], False),
    (FILL, "  Text. ", True), (FILL, "텍스트입력", True), (FILL, "TEXT INPUT", False), (FILL, "image", False),
    (NUM, 6.66, True), (NUM, 6.664, True), (NUM, 6.7, False), (NUM, 7, False),
])
def test_right_and_wrong_answers(spec: AnswerSpec, value: object, correct: bool) -> None:
    verdict = check_answer(spec, value)
    assert verdict.correct is correct and verdict.valid


@pytest.mark.parametrize("spec, value, expected", [
    (TF, 1, "True or False"), (TF, "yes", "True or False"), (TF, 0.0, "True or False"),
    (ONE, 2, "one choice id"), (MANY, "a, c", "unknown choice"), (ONE, ["a", "b"], "exactly one"),
    (FILL, 42, "a string"), (NUM, "6.66", "a number"), (NUM, True, "a number"), (NUM, float("nan"), "a number"),
])
def test_wrong_types_are_wrong_and_say_what_was_expected(spec: AnswerSpec, value: object, expected: str) -> None:
    verdict = check_answer(spec, value)
    assert not verdict.correct and not verdict.valid
    assert expected in verdict.reason


def test_huge_values_are_shortened_in_the_reason() -> None:
    verdict = check_answer(TF, "x" * 10_000)
    assert len(verdict.reason) < 200


def test_normalise_text_ignores_case_space_and_trailing_punctuation() -> None:
    assert normalise_text(" Text Prompt! ") == normalise_text("textprompt") == "textprompt"
    assert normalise_text("ＴＥＸＴ") == "text"  # full-width letters (NFKC)


@pytest.mark.parametrize("data, message", [
    ({"type": "true_false"}, "must be true or false"),
    ({"type": "fill_in", "accepted": []}, "non-empty 'accepted'"),
    ({"type": "multiple_choice", "answer": ["a", "b"], "choices": ["a", "b"], "multiple": False},
     "set 'multiple: true'"),
    ({"type": "numeric", "answer": 1, "tolerance": -1}, "tolerance >= 0"),
    ({"type": "exercise"}, "exercise: <name>"),
])
def test_bad_specs_say_how_to_fix_them(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AnswerSpec.from_dict(data)


def test_to_dict_round_trips() -> None:
    for spec in (TF, ONE, MANY, FILL, NUM):
        assert AnswerSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("spec", [TF, ONE, MANY, FILL, NUM])
def test_none_placeholder_is_not_answered(spec: AnswerSpec) -> None:
    verdict = check_answer(spec, None)
    assert not verdict.correct and "not answered yet" in verdict.reason
