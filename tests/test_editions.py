"""Editions from one solution notebook: nbgrader's markers, answer cells, cell tags, translations, leaks."""

from __future__ import annotations

import nbformat
import pytest
from nbformat import v4

from iflearn.editions import (
    LEARNER,
    SOLUTION,
    TAG_RAISES,
    Edition,
    EditionError,
    blank_answers,
    build_edition,
    clear_outputs,
    find_leaks,
    hidden_test_sources,
    prepend_cell,
    strip_solutions,
    translate,
    write_edition,
)


def notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return v4.new_notebook(cells=list(cells))


def code(source: str, tags: list[str] | None = None, **fields: object) -> nbformat.NotebookNode:
    cell = v4.new_code_cell(source, **fields)
    if tags:
        cell.metadata["tags"] = tags
    return cell


SNR = ("def snr(abar_t):\n"
       '    """Signal over noise."""\n'
       "    ### BEGIN SOLUTION\n"
       "    signal = abar_t\n"
       "    return signal / (1 - abar_t)\n"
       "    ### END SOLUTION\n"
       "\n"
       "print('defined')")


def test_a_solution_region_becomes_a_stub_naming_the_function() -> None:
    result = build_edition(notebook(code(SNR)), LEARNER)
    (cell,) = result.notebook.cells
    assert cell.source == ("def snr(abar_t):\n"
                           '    """Signal over noise."""\n'
                           "    # ✏️ Your turn: write the body of snr here.\n"
                           '    raise NotImplementedError("Your turn: snr is not written yet. Replace this line with '
                           'your code.")\n'
                           "\n"
                           "print('defined')")
    assert TAG_RAISES not in cell.metadata.get("tags", [])  # defining the function does not raise
    assert result.changed("stub") == ["snr"]
    namespace: dict[str, object] = {}
    exec(cell.source.replace("print('defined')", ""), namespace)
    with pytest.raises(NotImplementedError, match="Your turn: snr is not written yet"):
        namespace["snr"](0.5)  # type: ignore[operator]


def test_stubs_at_the_top_level_markdown_regions_and_solution_cells() -> None:
    source = notebook(
        code("x = 1\n## BEGIN SOLUTION\ny = x + 1\n## END SOLUTION"),   # any number of '#', as nbgrader
        v4.new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause the variances add.\n### END SOLUTION"),
        code("y = 41 + 1", tags=["solution"]),
    )
    top, prose, whole = build_edition(source, LEARNER).notebook.cells
    assert top.source.startswith("x = 1\n# ✏️ Your turn: write this code.\nraise NotImplementedError(")
    assert TAG_RAISES in top.metadata["tags"]  # nbval expects this cell to raise in the learner edition
    assert prose.source == "Why?\n\n*Your answer here.*"
    assert "41" not in whole.source and whole.metadata["tags"] == [TAG_RAISES]


def test_korean_stubs() -> None:
    (cell,) = build_edition(notebook(code(SNR)), Edition("ko", (strip_solutions("ko"),))).notebook.cells
    assert "직접 작성할 차례" in cell.source and "snr" in cell.source


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "is never closed; add '### END SOLUTION'"),
    ("x = 1\n### END SOLUTION", "without a '### BEGIN SOLUTION' above it"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "a second '### BEGIN SOLUTION'"),
    ("### BEGIN SOLUTIONS\nx = 1\n### END SOLUTION", "looks like a marker but is not one; write it exactly as "
                                                     "'### BEGIN SOLUTION'"),
    ("# begin hidden tests\nassert True", "'### BEGIN HIDDEN TESTS'"),
])
def test_broken_markers_say_where_and_how_to_fix(source: str, message: str) -> None:
    with pytest.raises(EditionError, match="cell 1") as info:
        build_edition(notebook(v4.new_markdown_cell("# Title"), code(source)), LEARNER, name="hw.ipynb")
    assert message in str(info.value) and "hw.ipynb" in str(info.value)


def test_hidden_tests_and_removed_cells_leave_the_learner_edition() -> None:
    source = notebook(
        code("check(snr)\n### BEGIN HIDDEN TESTS\nassert snr(0.5) == 1.0\n### END HIDDEN TESTS"),
        code("### BEGIN HIDDEN TESTS\nassert snr(0.2) == 0.25\n### END HIDDEN TESTS"),
        code("hidden_cases('snr', snr, [{'abar_t': [0.5]}])", tags=["hidden-tests"]),
        code("print('the answer is 42')", tags=["remove-cell"]),
    )
    learner = build_edition(source, LEARNER).notebook
    assert [c.source for c in learner.cells] == ["check(snr)"]
    assert [s for _, s in hidden_test_sources(source)] == ["assert snr(0.5) == 1.0", "assert snr(0.2) == 0.25",
                                                          "hidden_cases('snr', snr, [{'abar_t': [0.5]}])"]
    solution = build_edition(source, SOLUTION).notebook
    assert solution.cells[0].source == "check(snr)\nassert snr(0.5) == 1.0" and len(solution.cells) == 4


def test_answer_cells_are_blanked_where_the_grader_reads_them() -> None:
    cell = code('answer("if-90-a", True)\n'
                'answer("if-90-b", ["a", "c"])  # several\n'
                "quiz.answer('if-90-c', value=6.66)\n"
                'answer("if-90-d",\n       "a long\\n text")\n'
                'answer("if-90-e", None)\n'
                'if False:\n    answer("if-90-f", 1)\n'
                'print("answer(\\"if-90-g\\", 1)")')
    blanked = build_edition(notebook(cell), Edition("t", (blank_answers({"if-90-a": "True or False",
                                                                          "if-90-b": "a list"}),))).notebook
    assert blanked.cells[0].source == ('answer("if-90-a", None)  # True or False\n'
                                       'answer("if-90-b", None)  # several\n'
                                       "quiz.answer('if-90-c', value=None)\n"
                                       'answer("if-90-d",\n       None)\n'
                                       'answer("if-90-e", None)\n'
                                       'if False:\n    answer("if-90-f", 1)\n'  # not an answer the grader reads
                                       'print("answer(\\"if-90-g\\", 1)")')


def test_answer_cells_with_magics_and_non_ascii_text() -> None:
    cell = code('%%time\nanswer("if-90-한", "텍스트 프롬프트")\n!ls\nanswer("if-90-b", 1.5)')
    (blanked,) = build_edition(notebook(cell), LEARNER).notebook.cells
    assert blanked.source == '%%time\nanswer("if-90-한", None)\n!ls\nanswer("if-90-b", None)'


def test_learner_edition_is_clean_and_leak_free() -> None:
    source = notebook(code(SNR, outputs=[v4.new_output("stream", text="defined\n")], execution_count=3),
                      code('answer("if-90-a", True)', tags=["keep-me"]))
    source.metadata["widgets"] = {"state": {}}
    source.cells[1].metadata["collapsed"] = True
    assert find_leaks(source) == ["cell 0, line 3: marker '### BEGIN SOLUTION' is still there",
                                  "cell 0, line 6: marker '### END SOLUTION' is still there",
                                  "cell 0 has outputs", "cell 1: answer('if-90-a', ...) is filled in"]
    learner = build_edition(source, LEARNER).notebook
    nbformat.validate(learner)
    assert find_leaks(learner) == []
    assert "widgets" not in learner.metadata and learner.cells[1].metadata == {"tags": ["keep-me"]}
    assert learner.cells[0].execution_count is None
    assert [c.id for c in learner.cells] == [c.id for c in source.cells]  # a kept cell keeps its id
    assert source.cells[0].outputs  # the source is not changed


def test_prepend_and_translate_compose_with_the_learner_transforms(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = notebook(v4.new_markdown_cell("# Noising"), code(SNR), code("x = 1"))
    ids = [c.id for c in source.cells]
    korean = Edition("ko-learner", (translate({ids[0]: "# 노이즈 추가", ids[1]: SNR.replace("print('defined')",
                                                                                         "print('정의됨')")}),
                                    *LEARNER.transforms, prepend_cell("import iflearn")))
    path = tmp_path / "solution.ipynb"
    nbformat.write(source, path)
    result = write_edition(path, korean, tmp_path / "ko" / "learner.ipynb")
    written = nbformat.read(tmp_path / "ko" / "learner.ipynb", as_version=4)
    assert [c.source.split("\n")[0] for c in written.cells] == ["# 노이즈 추가", "import iflearn", "def snr(abar_t):",
                                                                  "x = 1"]
    assert "print('정의됨')" in written.cells[2].source and "NotImplementedError" in written.cells[2].source
    assert result.changed("translated") == ids[:2]
    assert len({c.id for c in written.cells}) == 4
    with pytest.raises(EditionError, match="has no translation"):
        build_edition(source, Edition("ko", (translate({}, strict=True),)))


def test_clear_outputs_alone_keeps_sources() -> None:
    source = notebook(code("1 + 1", outputs=[v4.new_output("execute_result", data={"text/plain": "2"})],
                           execution_count=1))
    (cell,) = build_edition(source, Edition("clear", (clear_outputs(),))).notebook.cells
    assert (cell.source, cell.outputs, cell.execution_count) == ("1 + 1", [], None)


def test_the_learner_edition_runs_with_each_stub_failing_readably(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nbclient import NotebookClient

    source = notebook(code(SNR), code("x = 2\n### BEGIN SOLUTION\ny = x * 21\n### END SOLUTION"),
                      code("try:\n    snr(0.5)\nexcept NotImplementedError as err:\n    print(err)"))
    learner = build_edition(source, LEARNER).notebook
    NotebookClient(learner, timeout=60, kernel_name="python3", allow_error_names=["NotImplementedError"],
                   allow_errors=False, resources={"metadata": {"path": str(tmp_path)}}).execute()
    error = learner.cells[1].outputs[-1]
    assert error.ename == "NotImplementedError" and "this step is not written yet" in error.evalue
    assert "snr is not written yet" in learner.cells[2].outputs[0].text


def test_a_lowercase_marker_is_caught_not_handed_out() -> None:
    with pytest.raises(EditionError, match="write it exactly as '### BEGIN SOLUTION'"):
        build_edition(notebook(code("# begin solution\nx = 1\n# end solution")), LEARNER)


def test_an_executed_edition_may_keep_outputs() -> None:
    executed = notebook(code("1 + 1", outputs=[v4.new_output("execute_result", data={"text/plain": "2"})]))
    assert find_leaks(executed) == ["cell 0 has outputs"] and find_leaks(executed, allow_outputs=True) == []


def test_ordinary_headings_are_not_mistaken_for_markers() -> None:
    prose = v4.new_markdown_cell("## End-to-end tests\n\n# Beginning\n\n## The end of the solution space")
    (cell,) = build_edition(notebook(prose), LEARNER).notebook.cells
    assert cell.source == prose.source


def test_a_multiline_answer_collapses_and_keeps_its_hint_on_its_line() -> None:
    cell = code('answer("if-90-a", ["a",\n                   "c"])\nanswer("if-90-b", True)\nx = 1')
    edition = Edition("t", (blank_answers({"if-90-a": "a list", "if-90-b": "True or False"}),))
    (blanked,) = build_edition(notebook(cell), edition).notebook.cells
    assert blanked.source == 'answer("if-90-a", None)  # a list\nanswer("if-90-b", None)  # True or False\nx = 1'


def test_out_of_sync_names_the_cells_that_differ() -> None:
    from iflearn.editions import out_of_sync

    built = build_edition(notebook(v4.new_markdown_cell("# T"), code(SNR)), LEARNER).notebook
    committed = nbformat.from_dict(built)
    assert out_of_sync(built, committed) == []
    committed.cells[1].source = committed.cells[1].source.replace("snr is not", "snr isn't")
    committed.cells[1].outputs = [v4.new_output("stream", text="ran")]  # executed: not a difference
    assert out_of_sync(built, committed) == ["cell 1 differs from line 4"]
    committed.cells.pop()
    assert out_of_sync(built, committed) == ["1 cells, expected 2"]


def test_a_translation_may_change_comments_and_strings_only() -> None:
    source = notebook(code("x = 1  # one\nprint('hello')"), v4.new_markdown_cell("Hello"))
    ids = [c.id for c in source.cells]
    good = {ids[0]: "x = 1  # 하나\nprint('안녕하세요')", ids[1]: ("Hello", "안녕하세요")}
    cells = build_edition(source, Edition("ko", (translate(good),))).notebook.cells
    assert [c.source for c in cells] == ["x = 1  # 하나\nprint('안녕하세요')", "안녕하세요"]
    with pytest.raises(EditionError, match="the translation's code differs"):
        build_edition(source, Edition("ko", (translate({ids[0]: "x = 2  # 둘\nprint('안녕')"}),)))
    with pytest.raises(EditionError, match="changed since it was translated"):
        build_edition(source, Edition("ko", (translate({ids[1]: ("Hi", "안녕")}),)))
