"""Notebook editions: a notebook is written once, as its solution; every other edition is generated from it.

An :class:`Edition` is a name and a list of *cell transforms*. A transform takes one cell (and where it sits)
and returns the cells that replace it: ``[cell]`` keeps it, ``[]`` drops it, ``[new, cell]`` inserts before it.
The editions reuse the anchors' markers rather than new ones:

* nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` inside a code cell: the lines between become a
  "your turn" stub that raises a readable ``NotImplementedError`` naming the function (any number of ``#``).
  In a markdown cell the region becomes "*Your answer here.*".
* nbgrader's ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``: removed from the learner's editions.
* answer cells ``answer("if-03-...", <value>)``: the value becomes ``None``.
* cell tags (Jupyter Book / otter style): ``solution`` (the whole cell is solution), ``hidden-tests`` (a cell
  of hidden grading cases), ``remove-cell`` (instructors only); a stub that raises at the top level of a
  cell gets nbval's ``raises-exception`` tag, so the learner edition still runs top to bottom.

>>> from nbformat import v4
>>> nb = v4.new_notebook(cells=[v4.new_code_cell(
...     "def snr(abar_t):\\n    ### BEGIN SOLUTION\\n    return abar_t / (1 - abar_t)\\n    ### END SOLUTION")])
>>> print(build_edition(nb, LEARNER).notebook.cells[0].source)
def snr(abar_t):
    # ✏️ Your turn: write the body of snr here.
    raise NotImplementedError("Your turn: snr is not written yet. Replace this line with your code.")

The course's learner and solution editions, the Korean edition (:func:`translate`) and an instructor's
assignment (:mod:`iflearn.grading.assign`) are all lists of these transforms.
"""

from __future__ import annotations

import ast
import copy
import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode, v4

from iflearn.errors import IFLearnError

__all__ = [
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "BEGIN_HIDDEN",
    "END_HIDDEN",
    "TAG_SOLUTION",
    "TAG_HIDDEN_TESTS",
    "TAG_REMOVE",
    "TAG_RAISES",
    "EditionError",
    "CellContext",
    "CellTransform",
    "Edition",
    "EditionResult",
    "build_edition",
    "write_edition",
    "read_source_notebook",
    "strip_solutions",
    "strip_markers",
    "strip_hidden_tests",
    "drop_tagged",
    "blank_answers",
    "clear_outputs",
    "prepend_cell",
    "insert_after_tagged",
    "translate",
    "translated_edition",
    "answer_calls",
    "hidden_test_sources",
    "find_leaks",
    "out_of_sync",
    "LEARNER",
    "SOLUTION",
]

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
TAG_SOLUTION = "solution"
TAG_HIDDEN_TESTS = "hidden-tests"
TAG_REMOVE = "remove-cell"
TAG_RAISES = "raises-exception"

_MARKERS = {"BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"}
_MARKER_LINE = re.compile(r"^\s*#+\s*(BEGIN|END)\s+(SOLUTION|HIDDEN TESTS)\s*$")
_NEAR_MARKER = re.compile(r"^\s*#+\s*(BEGIN|END)[\s_:-]*(SOLUTIONS?|HIDDEN(\s+TESTS?)?)\b", re.IGNORECASE)
_DEF_LINE = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(")


class EditionError(IFLearnError, ValueError):
    """The solution notebook's markers cannot be turned into an edition; the message says where and how to fix."""


@dataclass(frozen=True)
class CellContext:
    """Where a cell sits in the source notebook, for a transform that needs to know.

    Attributes:
        notebook: the source notebook's name (for error messages), e.g. ``"03_noising.ipynb"``.
        index: the cell's index in the source notebook.
        code_index: its index among the source's code cells (-1 for other cells).
        total: how many cells the source has.
        log: the build's log, shared by every transform: append ``(kind, detail)`` to report a change.
    """

    notebook: str
    index: int
    code_index: int
    total: int
    log: list[tuple[str, str]] = field(default_factory=list)

    def where(self) -> str:
        """``"03_noising.ipynb, cell 7"``: for messages."""
        return f"{self.notebook}, cell {self.index}"


CellTransform = Callable[[NotebookNode, CellContext], Sequence[NotebookNode]]


@dataclass(frozen=True)
class EditionResult:
    """A built edition.

    Attributes:
        notebook: the edition (a new notebook; the source is not changed).
        log: what the transforms changed, as ``(kind, detail)``: ``("stub", "q_sample")``,
            ``("answer", "if-03-...")``, ``("removed", "cell 4 (hidden-tests)")``, ...
    """

    notebook: NotebookNode
    log: list[tuple[str, str]]

    def changed(self, kind: str) -> list[str]:
        """The details logged under ``kind``, e.g. ``result.changed("stub")`` -> ``["q_sample"]``."""
        return [detail for k, detail in self.log if k == kind]


@dataclass(frozen=True)
class Edition:
    """A named list of cell transforms, applied in order to every cell of the source notebook.

    Attributes:
        name: e.g. ``"learner"``, ``"solution"``, ``"ko"``, ``"assignment"``.
        transforms: the :data:`CellTransform` functions, first to last.
        clean: drop editor metadata (notebook and cells, keeping kernelspec and tags) at the end.
    """

    name: str
    transforms: tuple[CellTransform, ...]
    clean: bool = True

    def then(self, *transforms: CellTransform, name: str | None = None) -> Edition:
        """This edition followed by more transforms, e.g. ``korean.then(*LEARNER.transforms, name="ko-learner")``."""
        return Edition(name or self.name, self.transforms + tuple(transforms), self.clean)


def read_source_notebook(path: str | Path) -> NotebookNode:
    """Read a solution notebook (nbformat 4); ``EditionError`` saying what is wrong with the file otherwise."""
    path = Path(path)
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError as exc:
        raise EditionError(f"{path}: no such notebook; give the path of the solution notebook (*.ipynb).") from exc
    except Exception as exc:  # nbformat raises several types for broken files
        raise EditionError(f"{path}: not a readable Jupyter notebook ({str(exc).splitlines()[0][:160]}).") from exc


def build_edition(source: NotebookNode | str | Path, edition: Edition, name: str | None = None) -> EditionResult:
    """Apply ``edition`` to a copy of ``source`` (a notebook or its path).

    Args:
        source: the solution notebook.
        edition: what to do to each cell.
        name: the source's name in error messages (default: the file name).

    Returns:
        An :class:`EditionResult` with the new notebook and the log of changes.

    Raises:
        EditionError: unbalanced or misspelt markers, with the cell and line to fix.
    """
    if isinstance(source, (str, Path)):
        name = name or Path(source).name
        source = read_source_notebook(source)
    notebook = copy.deepcopy(source)
    name = name or "notebook"
    cells = list(notebook.cells)
    log: list[tuple[str, str]] = []
    code_indices = {id(c): i for i, c in enumerate(c for c in cells if c.cell_type == "code")}
    out: list[NotebookNode] = []
    for index, cell in enumerate(cells):
        context = CellContext(name, index, code_indices.get(id(cell), -1), len(cells), log)
        current = [cell]
        for transform in edition.transforms:
            current = [new for c in current for new in transform(c, context)]
        out.extend(current)
    notebook.cells = out
    _unique_ids(notebook)
    if edition.clean:
        from iflearn.nbtools import clean_notebook

        clean_notebook(notebook)
    return EditionResult(notebook, log)


def _unique_ids(notebook: NotebookNode) -> None:
    """Every cell has an id (nbformat 4.5), unique: a kept cell keeps its source id, a new cell gets a new one."""
    notebook.nbformat, notebook.nbformat_minor = 4, max(5, int(notebook.get("nbformat_minor", 0)))
    seen: set[str] = set()
    for index, cell in enumerate(notebook.cells):
        wanted = str(cell.get("id") or f"cell-{index}")
        while wanted in seen:
            wanted = f"{wanted[:56]}-{index}"
        seen.add(wanted)
        cell["id"] = wanted


def write_edition(source: str | Path, edition: Edition, out: str | Path) -> EditionResult:
    """Build ``edition`` from the notebook at ``source`` and write it to ``out`` (folders created)."""
    result = build_edition(source, edition)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(result.notebook, out)
    return result


# -- helpers ------------------------------------------------------------------------------------------------
def _source(cell: NotebookNode) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def _with_source(cell: NotebookNode, source: str, add_tags: Iterable[str] = ()) -> NotebookNode:
    new = copy.deepcopy(cell)
    new.source = source
    tags = _tags(new) + [t for t in add_tags if t not in _tags(new)]
    if tags:
        new.setdefault("metadata", {})["tags"] = tags
    return new


def _marker(line: str, context: CellContext, number: int) -> str | None:
    """The marker on ``line`` (``"BEGIN SOLUTION"``, ...), None for an ordinary line; misspellings raise."""
    match = _MARKER_LINE.match(line)
    if match:
        return f"{match.group(1)} {match.group(2)}"
    if _NEAR_MARKER.match(line):
        close = difflib.get_close_matches(line.strip().lstrip("#").strip().upper(), sorted(_MARKERS), n=1)
        hint = f"### {close[0]}" if close else BEGIN_SOLUTION
        raise EditionError(f"{context.where()}, line {number}: {line.strip()!r} looks like a marker but is not "
                           f"one; write it exactly as {hint!r} (on a line of its own).")
    return None


def _regions(lines: list[str], begin: str, context: CellContext) -> list[tuple[int, int]]:
    """``(begin line, end line)`` index pairs of the ``begin``/matching END regions; unbalanced markers raise."""
    end = "END" + begin[len("BEGIN"):]
    regions, start = [], None
    for number, line in enumerate(lines):
        marker = _marker(line, context, number + 1)
        if marker == begin:
            if start is not None:
                raise EditionError(f"{context.where()}, line {number + 1}: a second '### {begin}' before "
                                   f"'### {end}' (opened on line {start + 1}); close the first region first.")
            start = number
        elif marker == end:
            if start is None:
                raise EditionError(f"{context.where()}, line {number + 1}: '### {end}' without a "
                                   f"'### {begin}' above it; add the BEGIN line or delete this one.")
            regions.append((start, number))
            start = None
    if start is not None:
        raise EditionError(f"{context.where()}, line {start + 1}: '### {begin}' is never closed; add "
                           f"'### {end}' on its own line after the solution.")
    return regions


def _enclosing_function(lines: list[str], line: int) -> tuple[str | None, int]:
    """The name of the innermost ``def`` that line ``line`` sits in, and that line's indentation."""
    indent = len(lines[line]) - len(lines[line].lstrip())
    for above in range(line - 1, -1, -1):
        match = _DEF_LINE.match(lines[above])
        if match and len(match.group(1)) < indent:
            return match.group(2), indent
    return None, indent


def _stub(name: str | None, indent: int, language: str) -> list[str]:
    pad = " " * indent
    if language == "ko":
        what = f"{name}의 본문을" if name else "이 부분의 코드를"
        message = (f"직접 작성할 차례입니다: {name}이(가) 아직 작성되지 않았습니다. 이 줄을 코드로 바꾸세요." if name
                   else "직접 작성할 차례입니다: 이 부분이 아직 작성되지 않았습니다. 이 줄을 코드로 바꾸세요.")
        comment = f"# ✏️ 직접 작성할 차례: 여기에 {what} 쓰세요."
    else:
        comment = f"# ✏️ Your turn: write the body of {name} here." if name else "# ✏️ Your turn: write this code."
        message = (f"Your turn: {name} is not written yet. Replace this line with your code." if name
                   else "Your turn: this step is not written yet. Replace this line with your code.")
    return [pad + comment, pad + f"raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"]


def _answer_here(language: str) -> str:
    return "*여기에 답을 쓰세요.*" if language == "ko" else "*Your answer here.*"


# -- transforms ---------------------------------------------------------------------------------------------
def strip_solutions(language: str = "en") -> CellTransform:
    """Replace nbgrader solution regions (and ``solution``-tagged cells) with a "your turn" stub.

    In code cells the stub keeps the region's indentation and raises ``NotImplementedError`` naming the
    function it sits in; a stub at the top level of a cell also tags the cell ``raises-exception``. In
    markdown cells the region becomes "*Your answer here.*".

    Args:
        language: ``"en"`` or ``"ko"``, the stub's language.
    """

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        text = _source(cell)
        lines = text.split("\n")
        upper = text.upper()
        regions = _regions(lines, "BEGIN SOLUTION", context) if "BEGIN" in upper or "END" in upper else []
        if TAG_SOLUTION in _tags(cell):
            # the whole cell is the solution (nbgrader's solution cell without markers)
            new = _with_source(cell, "\n".join(_stub(None, 0, language)) if cell.cell_type == "code"
                               else _answer_here(language), [TAG_RAISES] if cell.cell_type == "code" else [])
            new.metadata["tags"] = [t for t in new.metadata["tags"] if t != TAG_SOLUTION]
            context.log.append(("stub", f"cell {context.index}"))
            return [new]
        if not regions:
            return [cell]
        out, last, raises = [], 0, False
        for begin, end in regions:
            out += lines[last:begin]
            if cell.cell_type == "code":
                name, indent = _enclosing_function(lines, begin)
                out += _stub(name, indent, language)
                raises = raises or name is None
                context.log.append(("stub", name or f"cell {context.index}"))
            else:
                out.append(_answer_here(language))
                context.log.append(("stub", f"markdown cell {context.index}"))
            last = end + 1
        out += lines[last:]
        return [_with_source(cell, "\n".join(out), [TAG_RAISES] if raises else [])]

    return transform


def strip_markers() -> CellTransform:
    """Delete the marker lines themselves, keeping what is between them (the solution edition)."""

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        lines = _source(cell).split("\n")
        kept = [line for number, line in enumerate(lines) if _marker(line, context, number + 1) is None]
        return [cell] if len(kept) == len(lines) else [_with_source(cell, "\n".join(kept))]

    return transform


def strip_hidden_tests() -> CellTransform:
    """Remove hidden-test regions and ``hidden-tests``-tagged cells; a cell left empty by that is dropped."""

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        if TAG_HIDDEN_TESTS in _tags(cell):
            context.log.append(("removed", f"cell {context.index} ({TAG_HIDDEN_TESTS})"))
            return []
        text = _source(cell)
        if "HIDDEN" not in text.upper():
            return [cell]
        lines = text.split("\n")
        regions = _regions(lines, "BEGIN HIDDEN TESTS", context)
        if not regions:
            return [cell]
        hidden = {i for begin, end in regions for i in range(begin, end + 1)}
        kept = "\n".join(line for i, line in enumerate(lines) if i not in hidden).strip("\n")
        context.log.append(("removed", f"hidden tests in cell {context.index}"))
        return [_with_source(cell, kept)] if kept.strip() else []

    return transform


def drop_tagged(*tags: str) -> CellTransform:
    """Drop every cell carrying one of ``tags`` (default use: ``drop_tagged("remove-cell")``)."""
    wanted = set(tags)

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        found = wanted.intersection(_tags(cell))
        if found:
            context.log.append(("removed", f"cell {context.index} ({', '.join(sorted(found))})"))
            return []
        return [cell]

    return transform


def _python_lines(source: str) -> str:
    """The cell with IPython magic and shell lines blanked to comments, same lines and columns, for ``ast``."""
    out = []
    for line in source.split("\n"):
        stripped = line.lstrip()
        out.append(("#" + line[1:]) if stripped[:1] in ("%", "!") and line else line)
    return "\n".join(out)


def answer_calls(source: str) -> list[tuple[str, ast.expr | None, ast.Call]]:
    """The cell's top-level ``answer("<id>", <value>)`` calls: ``(id, value node or None, call node)``.

    The same calls the grader reads (a ``Name`` or attribute called ``answer``, the id a string literal,
    the value positional or ``value=``). Magic lines (``%%time``) are skipped; a cell that does not parse
    has no answer calls.
    """
    try:
        module = ast.parse(_python_lines(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    calls = []
    for node in module.body:
        if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
            continue
        call = node.value
        func = call.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name != "answer":
            continue
        qid_node = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "qid"), None)
        if not isinstance(qid_node, ast.Constant) or not isinstance(qid_node.value, str):
            continue
        value = call.args[1] if len(call.args) > 1 else next(
            (k.value for k in call.keywords if k.arg == "value"), None)
        calls.append((qid_node.value, value, call))
    return calls


def _replace_spans(source: str, spans: list[tuple[int, int, int, int, str]]) -> str:
    """Replace ``(line, col, end_line, end_col, text)`` spans (``ast`` positions: 1-based lines, UTF-8 columns)."""
    lines = [line.encode("utf-8") for line in source.split("\n")]
    for line, col, end_line, end_col, text in sorted(spans, reverse=True):
        first, last = lines[line - 1], lines[end_line - 1]
        lines[line - 1:end_line] = [first[:col] + text.encode("utf-8") + last[end_col:]]
    return "\n".join(line.decode("utf-8") for line in lines)


def blank_answers(hints: Mapping[str, str] | None = None, only: Iterable[str] | None = None) -> CellTransform:
    """Set the value of every answer cell line to ``None``: ``answer("q", True)`` -> ``answer("q", None)``.

    Args:
        hints: question id -> a short comment added after a blanked line that has none, e.g.
            ``{"if-90-x": "True or False"}`` gives ``answer("if-90-x", None)  # True or False``.
        only: blank only these question ids (default: every answer line).
    """
    hints = dict(hints or {})
    selected = set(only) if only is not None else None

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        if cell.cell_type != "code" or "answer" not in _source(cell):
            return [cell]
        source = _source(cell)
        spans, comments = [], []
        for qid, value, call in answer_calls(source):
            if selected is not None and qid not in selected:
                continue
            if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
                spans.append((value.lineno, value.col_offset, value.end_lineno, value.end_col_offset, "None"))
            context.log.append(("answer", qid))
            if qid in hints and call.end_lineno is not None:
                comments.append((call.end_lineno, hints[qid]))
        if not spans and not comments:
            return [cell]
        blanked = _replace_spans(source, spans)
        lines = blanked.split("\n")
        for number, hint in comments:
            number -= sum(end - start for start, _, end, _, _ in spans if end <= number)  # lines the blanks removed
            if "#" not in lines[number - 1]:
                lines[number - 1] += f"  # {hint}"
        return [_with_source(cell, "\n".join(lines))]

    return transform


def clear_outputs() -> CellTransform:
    """Empty every code cell's outputs and execution count (an edition is handed out unexecuted)."""

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        if cell.cell_type != "code" or (not cell.get("outputs") and cell.get("execution_count") is None):
            return [cell]
        new = copy.deepcopy(cell)
        new.outputs, new.execution_count = [], None
        return [new]

    return transform


def prepend_cell(source: str, cell_type: str = "code", tags: Sequence[str] = ()) -> CellTransform:
    """Insert a new cell before the source's first code cell (e.g. an assignment's setup cell).

    Put it first in an edition's transforms: the new cell then goes through the others too, and is kept even
    when a later transform removes the cell it was inserted before.
    """

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        if context.code_index != 0 or cell.cell_type != "code":
            return [cell]
        new = v4.new_code_cell(source) if cell_type == "code" else v4.new_markdown_cell(source)
        if tags:
            new.metadata["tags"] = list(tags)
        return [new, cell]

    return transform


def insert_after_tagged(tag: str, source: str, cell_id: str, tags: Sequence[str] = ()) -> CellTransform:
    """Insert a new code cell right after the cell tagged ``tag`` (e.g. a language cell after the Colab setup).

    The new cell has the id ``cell_id`` (stable, so an edition built twice is the same notebook).
    """

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        if tag not in _tags(cell):
            return [cell]
        new = v4.new_code_cell(source, id=cell_id)
        if tags:
            new.metadata["tags"] = list(tags)
        context.log.append(("inserted", cell_id))
        return [cell, new]

    return transform


def _code_tokens(source: str) -> list[tuple[int, str]] | None:
    """The cell's tokens without comments and with string contents blanked (None if it does not tokenize)."""
    import io
    import tokenize

    ignored = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    texts = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)}
    try:
        return [(t.type, "" if t.type in texts else t.string)
                for t in tokenize.generate_tokens(io.StringIO(_python_lines(source)).readline) if t.type not in ignored]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None


def translate(table: Mapping[str, str | tuple[str, str]], strict: bool = False) -> CellTransform:
    """Replace whole cell sources by cell id: the Korean edition's transform (prose, comments, strings).

    Args:
        table: cell id -> translated source, or ``(original source, translated source)``; with the original
            given, a source that has changed since it was translated raises (the translation is stale).
            A code cell's translation must have the same code: only comments and string literals may differ
            (checked token by token), and it keeps the markers, so later transforms still work.
        strict: raise for a markdown cell that has no translation (a sync check for a finished translation).
    """

    def transform(cell: NotebookNode, context: CellContext) -> Sequence[NotebookNode]:
        cell_id = cell.get("id")
        if cell_id in table:
            entry = table[cell_id]
            original, translated = entry if isinstance(entry, tuple) else (None, entry)
            if original is not None and original != _source(cell):
                raise EditionError(f"{context.where()} (id {cell_id!r}) changed since it was translated; "
                                   "translate the new text and update the table's original.")
            if cell.cell_type == "code" and _code_tokens(translated) != _code_tokens(_source(cell)):
                raise EditionError(f"{context.where()} (id {cell_id!r}): the translation's code differs from the "
                                   "source's; translate only comments and strings, keep the code as it is.")
            context.log.append(("translated", str(cell_id)))
            return [_with_source(cell, translated)]
        if strict and cell.cell_type == "markdown":
            raise EditionError(f"{context.where()} (id {cell_id!r}) has no translation; add it to the table "
                               "or build with strict=False.")
        return [cell]

    return transform


# -- reading what an edition will remove --------------------------------------------------------------------
def hidden_test_sources(notebook: NotebookNode, name: str = "notebook") -> list[tuple[int, str]]:
    """``(cell index, source)`` of every hidden-test region and ``hidden-tests`` cell of a solution notebook."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        text = _source(cell)
        if TAG_HIDDEN_TESTS in _tags(cell):
            found.append((index, "\n".join(line for line in text.split("\n") if not _MARKER_LINE.match(line))))
            continue
        if "HIDDEN" in text.upper():
            lines = text.split("\n")
            context = CellContext(name, index, -1, len(notebook.cells))
            for begin, end in _regions(lines, "BEGIN HIDDEN TESTS", context):
                found.append((index, "\n".join(lines[begin + 1:end])))
    return found


def find_leaks(notebook: NotebookNode, allow_outputs: bool = False) -> list[str]:
    """What a learner's edition must not contain: markers, solution/hidden cells, filled-in answer lines.

    Args:
        notebook: the edition to check.
        allow_outputs: outputs are fine (an edition executed after it was built, like the course's).

    Returns:
        One sentence per problem (empty: nothing leaks).
    """
    problems = []
    for index, cell in enumerate(notebook.cells):
        text = _source(cell)
        for number, line in enumerate(text.split("\n"), start=1):
            if _MARKER_LINE.match(line):
                problems.append(f"cell {index}, line {number}: marker {line.strip()!r} is still there")
        for tag in (TAG_SOLUTION, TAG_HIDDEN_TESTS, TAG_REMOVE):
            if tag in _tags(cell):
                problems.append(f"cell {index} is tagged {tag!r}")
        if cell.cell_type == "code":
            for qid, value, _ in answer_calls(text):
                if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
                    problems.append(f"cell {index}: answer({qid!r}, ...) is filled in")
            if cell.get("outputs") and not allow_outputs:
                problems.append(f"cell {index} has outputs")
    return problems


def out_of_sync(built: NotebookNode, committed: NotebookNode) -> list[str]:
    """How a committed edition differs from a freshly built one, cell by cell (type and source; outputs and ids
    are not compared, since a committed edition may have been executed). Empty: in sync.

    A sync test: ``assert not out_of_sync(build_edition(source, LEARNER).notebook, nbformat.read(learner, 4))``.
    """
    problems = []
    if len(built.cells) != len(committed.cells):
        problems.append(f"{len(committed.cells)} cells, expected {len(built.cells)}")
    for index, (want, have) in enumerate(zip(built.cells, committed.cells)):
        if want.cell_type != have.cell_type:
            problems.append(f"cell {index} is {have.cell_type}, expected {want.cell_type}")
        elif _source(want) != _source(have):
            first = next((n for n, (a, b) in enumerate(zip(_source(want).split("\n"), _source(have).split("\n")),
                                                       start=1) if a != b), None)
            problems.append(f"cell {index} differs" + (f" from line {first}" if first else " in length"))
    return problems


def translated_edition(language: str, table: Mapping[str, str | tuple[str, str]], learner: bool,
                       first_cell: str | None = None, after_tag: str = "colab-setup") -> Edition:
    """A translated edition: :func:`translate` with ``table``, a cell that sets the language, then the learner
    edition's transforms (stubs in ``language``) or the solution edition's.

    Args:
        language: e.g. ``"ko"``; names the edition ``"ko-learner"`` / ``"ko-solution"``.
        table: the notebook's translations (see :func:`iflearn.translations.read_catalogue`).
        learner: build the learner edition (else the solution edition).
        first_cell: source of a code cell inserted after the cell tagged ``after_tag`` (None: none).
    """
    transforms: list[CellTransform] = [translate(table)]
    if first_cell is not None:
        transforms.append(insert_after_tagged(after_tag, first_cell, f"{language}-language"))
    if learner:
        transforms += [drop_tagged(TAG_REMOVE), strip_hidden_tests(), strip_solutions(language), blank_answers(),
                       clear_outputs()]
    else:
        transforms.append(strip_markers())
    return Edition(f"{language}-{'learner' if learner else 'solution'}", tuple(transforms))


#: The course's learner edition: what ``notebooks/`` gives a learner.
LEARNER = Edition("learner", (drop_tagged(TAG_REMOVE), strip_hidden_tests(), strip_solutions(), blank_answers(),
                              clear_outputs()))
#: The solution edition: the source without its marker lines (outputs kept).
SOLUTION = Edition("solution", (strip_markers(),))
