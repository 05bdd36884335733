"""Every quiz bank is valid, complete and bilingual, and mirrors the source material's three questions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from iflearn.quiz import all_questions, get_question, load_bank, quiz_dir, validate_banks

NOTEBOOKS = ["00_setup_and_tour", "01_what_is_if", "02_text_encoding", "03_noising", "04_denoising",
             "05_cascade", "06_variations", "07_responsible_use", "08_review",
             "09_training"]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_there_is_one_bank_per_notebook() -> None:
    assert sorted(p.stem for p in quiz_dir().glob("*.yaml")) == NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_bank_matches_the_schema(notebook: str) -> None:
    schema = json.loads((quiz_dir() / "schema.json").read_text(encoding="utf-8"))
    data = yaml.safe_load((quiz_dir() / f"{notebook}.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    assert data["notebook"] == notebook
    assert len(load_bank(notebook)) >= 4


def test_validate_banks_reports_no_problems() -> None:
    assert validate_banks() == {name: [] for name in NOTEBOOKS}


def test_validate_banks_catches_a_broken_bank(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text((quiz_dir() / "schema.json").read_text(encoding="utf-8"))
    (tmp_path / "09_broken.yaml").write_text(
        "notebook: 09_broken\nquestions:\n  - id: if-09-x\n    type: true_false\n    text: {en: only english}\n",
        encoding="utf-8")
    problems = validate_banks(tmp_path)["09_broken"]
    assert any("'ko' is a required property" in p for p in problems)
    assert any("too short" in p or "minItems" in p or "should be non-empty" in p or "is too short" in p
               for p in problems)


def test_every_question_is_bilingual_teaches_and_cites() -> None:
    for question in all_questions().values():
        assert HANGUL.search(question.text["ko"]), question.id
        assert question.text["en"] and not HANGUL.search(question.text["en"]) or "원문" in question.text["en"]
        for verdict in ("correct", "wrong"):
            assert HANGUL.search(question.feedback[verdict]["ko"]), question.id
            assert len(question.feedback[verdict]["en"]) > 20, f"{question.id}: feedback should explain why"
        assert question.source.section or question.source.url, question.id
        assert question.id.startswith(f"if-{question.notebook[:2]}-")


def test_every_question_type_is_used() -> None:
    kinds = {q.type for q in all_questions().values()}
    assert kinds == {"true_false", "multiple_choice", "fill_in", "numeric", "exercise"}
    assert any(q.spec.multiple for q in all_questions().values())


def test_source_question_1_text_input_fill_in_and_true_false() -> None:
    fill = get_question("if-01-text-input")
    assert fill.type == "fill_in" and "텍스트" not in fill.text["ko"].split("____")[0][-3:]
    assert "고품질 / 초현실적 이미지를 생성하는 데 특화된 AI기술입니다" in fill.text["ko"]
    assert {"text", "텍스트", "텍스트 입력"} <= set(fill.spec.accepted)
    statement = get_question("if-01-text-to-image")
    assert statement.spec.answer is True
    assert "텍스트를 기반으로 고품질 / 초현실적 이미지를 생성하는 데 특화된 AI기술입니다" in statement.text["ko"]


def test_source_question_2_noising_is_true_and_explains_the_reverse_process() -> None:
    question = get_question("if-03-noising-extracts")
    assert question.text["ko"] == "DeepFloyd IF Model은 노이징을 통해 원하는 이미지를 추출이 가능한가요?"
    assert question.spec.answer is True
    explanation = question.feedback["correct"]["en"]
    assert "pure noise" in explanation and "step by step" in explanation


def test_source_question_3_is_mirrored_honestly() -> None:
    looks = get_question("if-07-looks-3d")
    assert looks.spec.answer is True and "3차원 공간에 대한 이해를 바탕으로 입체적인 이미지를" in looks.text["ko"]
    explicit = get_question("if-07-explicit-3d-model")
    assert explicit.spec.answer is False
    for verdict in ("correct", "wrong"):
        text = explicit.feedback[verdict]["en"]
        assert "README" in text and "model card" in text and "code" in text
        assert "perspective and shading" in text
    assert "more than the evidence supports" in explicit.feedback["correct"]["en"]


def test_review_reuses_the_source_questions_by_reference() -> None:
    raw = yaml.safe_load((quiz_dir() / "08_review.yaml").read_text(encoding="utf-8"))
    refs = [q["ref"] for q in raw["questions"] if "ref" in q]
    assert {"if-01-text-input", "if-03-noising-extracts", "if-07-looks-3d", "if-07-explicit-3d-model"} <= set(refs)
    review = {q.id: q for q in load_bank("08_review")}
    assert review["if-03-noising-extracts"] is get_question("if-03-noising-extracts")
    assert review["if-03-noising-extracts"].notebook == "03_noising"


def test_unknown_question_id_suggests_close_matches() -> None:
    with pytest.raises(KeyError, match="if-03-noising-extracts"):
        get_question("if-03-noising-extract")


def test_importing_the_quiz_package_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, iflearn.quiz, iflearn.grading\n"
            "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'ipywidgets', 'numpy', 'jsonschema')"
            " if m in sys.modules]\n"
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
