"""The Korean edition: generated from the English solutions and their catalogues, complete, fresh, with the same
code as the English editions, Korean by default, and with figures that draw Hangul."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from iflearn import editions, translations
from iflearn.editions import _code_tokens, answer_calls
from iflearn.nbtools import EDITIONS, KOREAN_LANGUAGE_CELL, edition_for

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
KOREAN = [(name, ROOT / out) for _, name, out in EDITIONS if name.startswith("ko-")]
ENGLISH_OF = {"ko-learner": ROOT / "notebooks", "ko-solution": ROOT / "solutions"}


@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_every_cell_is_translated_and_no_translation_is_older_than_its_english(source: Path) -> None:
    notebook = editions.read_source_notebook(source)
    catalogue = translations.read_catalogue(notebook, translations.catalogue_path(ROOT, "ko", source), strict=False)
    assert catalogue.problems == [], "\n".join(catalogue.problems[:5])


@pytest.mark.parametrize("name,folder", KOREAN, ids=[n for n, _ in KOREAN])
@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_korean_edition_is_generated_and_in_sync(source: Path, name: str, folder: Path) -> None:
    target = folder / source.name
    assert target.exists(), f"{target} is missing: run python -m iflearn.nbtools build"
    built = editions.build_edition(source, edition_for(name, source, ROOT)).notebook
    problems = editions.out_of_sync(built, nbformat.read(target, as_version=4))
    assert not problems, f"{target.relative_to(ROOT)} is out of date ({problems[:3]}): run python -m iflearn.nbtools build"


@pytest.mark.parametrize("name,folder", KOREAN, ids=[n for n, _ in KOREAN])
@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_korean_and_english_have_the_same_cells_and_the_same_code(source: Path, name: str, folder: Path) -> None:
    korean = nbformat.read(folder / source.name, as_version=4)
    english = nbformat.read(ENGLISH_OF[name] / source.name, as_version=4)
    cells = [c for c in korean.cells if c.get("id") != "ko-language"]
    assert [c.get("id") for c in cells] == [c.get("id") for c in english.cells], "a cell exists in one language only"
    for ko, en in zip(cells, english.cells):
        assert ko.cell_type == en.cell_type, ko.get("id")
        if en.cell_type != "code":
            continue
        assert _code_tokens(ko.source) == _code_tokens(en.source), f"cell {en.get('id')}: the code differs"
        assert [(q, v is None) for q, v, _ in answer_calls(ko.source)] == \
            [(q, v is None) for q, v, _ in answer_calls(en.source)], f"cell {en.get('id')}: the answers differ"
        assert ko.get("metadata", {}).get("tags", []) == en.get("metadata", {}).get("tags", []), en.get("id")


@pytest.mark.parametrize("name,folder", KOREAN, ids=[n for n, _ in KOREAN])
@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_korean_edition_reads_in_korean_and_sets_korean(source: Path, name: str, folder: Path) -> None:
    korean = nbformat.read(folder / source.name, as_version=4)
    codes = [c for c in korean.cells if c.cell_type == "code"]
    assert "colab-setup" in codes[0].metadata.get("tags", []) and codes[1].source == KOREAN_LANGUAGE_CELL
    markdown = [c for c in korean.cells if c.cell_type == "markdown"]
    english_left = [c.get("id") for c in markdown if not translations.has_hangul(c.source)]
    assert not english_left, f"markdown cells without Korean: {english_left}"
    if name == "ko-learner":  # the stubs speak Korean too
        stubs = [c for c in codes if "NotImplementedError(" in c.source]
        assert all("직접 작성할 차례" in c.source for c in stubs)


def test_every_edition_in_the_readmes_has_its_colab_badge() -> None:
    for readme in (ROOT / "README.md", ROOT / "notebooks" / "README.md"):
        text = readme.read_text()
        for source in SOLUTIONS:
            for folder in ("notebooks", "notebooks/ko"):
                assert re.search(rf"colab\.research\.google\.com/github/[^)]*/blob/main/{folder}/{source.name}\)", text), \
                    f"{readme.name}: no Colab badge for {folder}/{source.name}"


# -- the mechanism, on a small notebook ------------------------------------------------------------------------
def _notebook() -> nbformat.NotebookNode:
    return v4.new_notebook(cells=[
        v4.new_markdown_cell("## Noise", id="m1"),
        v4.new_code_cell('print("hello world")  # greet', id="c1"),
        v4.new_code_cell("x = 1", id="c2"),
        v4.new_code_cell('def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\nanswer("q-1", "b")', id="c3"),
    ])


def _translate(path: Path, table: dict[str, str]) -> None:
    import polib

    po = polib.pofile(str(path), wrapwidth=0)
    for entry in po:
        if entry.msgctxt in table:
            entry.msgstr = table[entry.msgctxt]
    po.save(str(path))


GOOD = {
    "m1": "## 노이즈 (Noise)",
    "c1": 'print("안녕하세요")  # 인사',
    "c3": 'def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\nanswer("q-1", "b")',
}


def test_catalogue_has_one_entry_per_translatable_cell(tmp_path: Path) -> None:
    path = tmp_path / "ko" / "nb.po"
    counts = translations.update_catalogue(_notebook(), path)
    assert counts == {"new": 3, "changed": 0, "removed": 0, "kept": 0}  # "x = 1" has nothing to translate
    problems = translations.read_catalogue(_notebook(), path, strict=False).problems
    assert len(problems) == 3 and all("not translated yet" in p for p in problems)


def test_a_changed_english_cell_makes_its_translation_fuzzy_and_unused(tmp_path: Path) -> None:
    path = tmp_path / "ko" / "nb.po"
    nb = _notebook()
    translations.update_catalogue(nb, path)
    _translate(path, GOOD)
    assert translations.read_catalogue(nb, path, strict=False).problems == []
    nb.cells[0].source = "## Noise, again"
    stale = translations.read_catalogue(nb, path, strict=False)
    assert "m1" not in stale.table and "changed since" in stale.problems[0]
    assert translations.update_catalogue(nb, path)["changed"] == 1
    after = translations.read_catalogue(nb, path, strict=False)
    assert "m1" not in after.table and "fuzzy" in after.problems[0]
    import polib

    entry = next(e for e in polib.pofile(str(path)) if e.msgctxt == "m1")
    assert entry.previous_msgid == "## Noise" and entry.msgstr == GOOD["m1"]  # the old English is kept for review
    built = editions.build_edition(nb, editions.translated_edition("ko", after.table, learner=False)).notebook
    assert built.cells[0].source == "## Noise, again"  # a stale translation is never shown: the English is


@pytest.mark.parametrize("cell,bad,why", [
    ("c1", 'print("안녕하세요", end="")', "code differs"),
    ("c3", 'def f():\n    return 2\nanswer("q-1", "b")', "code differs"),
    ("c3", 'def f():\n    return 1\nanswer("q-1", "b")', "markers differ"),
    ("c3", 'def f():\n    # BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\nanswer("q-1", "b")', "markers differ"),
    ("c3", 'def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\nanswer("q-1", "나")', "answer"),
    ("m1", "   ", "empty"),
])
def test_a_translation_that_changes_code_markers_or_answers_is_refused(tmp_path: Path, cell: str, bad: str,
                                                                        why: str) -> None:
    path = tmp_path / "ko" / "nb.po"
    translations.update_catalogue(_notebook(), path)
    _translate(path, {**GOOD, cell: bad})
    catalogue = translations.read_catalogue(_notebook(), path, strict=False)
    assert cell not in catalogue.table and len(catalogue.problems) == 1 and why in catalogue.problems[0]


def test_a_removed_cell_is_reported_and_dropped_on_update(tmp_path: Path) -> None:
    path = tmp_path / "ko" / "nb.po"
    nb = _notebook()
    translations.update_catalogue(nb, path)
    _translate(path, GOOD)
    del nb.cells[1]
    assert any("no longer exists" in p for p in translations.read_catalogue(nb, path, strict=False).problems)
    assert translations.update_catalogue(nb, path)["removed"] == 1
    assert translations.read_catalogue(nb, path, strict=False).problems == []


def test_korean_learner_edition_stubs_and_blanks_in_korean(tmp_path: Path) -> None:
    path = tmp_path / "ko" / "nb.po"
    translations.update_catalogue(_notebook(), path)
    _translate(path, GOOD)
    table = translations.read_catalogue(_notebook(), path, strict=False).table
    built = editions.build_edition(_notebook(), editions.translated_edition("ko", table, learner=True)).notebook
    assert [c.source for c in built.cells][:2] == ["## 노이즈 (Noise)", 'print("안녕하세요")  # 인사']
    assert "직접 작성할 차례" in built.cells[3].source and 'answer("q-1", None)' in built.cells[3].source


# -- Hangul in figures -----------------------------------------------------------------------------------------
def test_figures_draw_hangul_without_missing_glyphs(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import iflearn.plotting  # noqa: F401  (registers the Korean font)
    from iflearn.fonts import hangul_font_path

    assert hangul_font_path() is not None, "no Korean font: pip install koreanize-matplotlib"
    fig, ax = plt.subplots()
    ax.set_title("노이즈 스케줄 (noise schedule)")
    ax.set_xlabel("타임스텝 t")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" for each box it draws
        fig.savefig(tmp_path / "ko.png")
    plt.close(fig)
    assert matplotlib.rcParams["font.sans-serif"][0] == "DejaVu Sans"  # English figures keep their font


def test_picture_captions_draw_hangul() -> None:
    import numpy as np
    import torch

    from iflearn.plotting import image_grid

    pictures = torch.zeros(1, 3, 32, 32)
    korean = np.asarray(image_grid(pictures, captions=["빨간 원"]))
    boxes = np.asarray(image_grid(pictures, captions=["□□ □"]))
    assert (korean < 128).any() and not np.array_equal(korean, boxes)


@pytest.mark.parametrize("source", SOLUTIONS, ids=lambda p: p.stem)
def test_no_figure_string_mixes_mathtext_and_hangul(source: Path) -> None:
    """matplotlib draws a string with ``$...$`` through mathtext, whose fonts have no Hangul and no fallback: its
    Korean letters become boxes. Korean figure labels write symbols as Unicode instead (ᾱₜ, x̂₀)."""
    import io
    import tokenize

    korean = nbformat.read(ROOT / "solutions" / "ko" / source.name, as_version=4)
    mixed = []
    for cell in korean.cells:
        if cell.cell_type != "code":
            continue
        lines = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.split("\n"))
        for token in tokenize.generate_tokens(io.StringIO(lines).readline):
            if token.type == tokenize.STRING and re.search(r"\$[^$]+\$", token.string) \
                    and translations.has_hangul(token.string):
                mixed.append(f"cell {cell.get('id')}: {token.string}")
    assert not mixed, mixed
