"""The course's translations: gettext catalogues of whole notebook cells, one ``.po`` file per notebook.

Why gettext: it is the format translators' tools already read and write (Poedit, Weblate, Crowdin, the
Python docs' and Sphinx's translations), and it has the one mechanism that keeps a translation from drifting:
each entry stores the English text it translates (``msgid``) beside the translation (``msgstr``). When the
English cell changes, :func:`update_catalogue` (what ``msgmerge`` does) keeps the old translation, marks it
``fuzzy`` and keeps the old English as ``#| msgid``, so a translator sees exactly what changed; a fuzzy entry is
never built (the English cell is used, with a warning) and fails the freshness test.

One entry per translatable cell of a solution notebook (``translations/ko/03_noising.po``):

* ``msgctxt``: the cell's id, which nbformat 4.5 keeps stable across edits;
* ``msgid``: the English cell source; ``msgstr``: its translation.

Markdown cells are all translatable; a code cell is when it has a comment or a string literal a person reads
(one with a space in it). A code cell's translation may change only its comments and string literals: the code,
the solution markers and the ``answer(...)`` values must be identical (:func:`check_translation`).

>>> from nbformat import v4
>>> nb = v4.new_notebook(cells=[v4.new_markdown_cell("## Noise", id="a1"), v4.new_code_cell("x = 1", id="b2")])
>>> [c.id for c in translatable_cells(nb)]
['a1']
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polib
from nbformat import NotebookNode

from iflearn.editions import _MARKER_LINE, _code_tokens, _source, answer_calls

__all__ = [
    "LANGUAGES",
    "CATALOGUE_DIR",
    "Catalogue",
    "catalogue_path",
    "translatable_cells",
    "update_catalogue",
    "read_catalogue",
    "check_translation",
    "has_hangul",
    "summarise",
]

#: Languages the course is translated into (English is the source).
LANGUAGES = ("ko",)
#: Where the catalogues live, relative to the project's root.
CATALOGUE_DIR = Path("translations")

_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def has_hangul(text: str) -> bool:
    """Whether ``text`` has a Hangul syllable (a cheap "is this Korean" signal)."""
    return bool(_HANGUL.search(text))


def catalogue_path(root: str | Path, language: str, notebook: str | Path) -> Path:
    """``root/translations/<language>/<notebook stem>.po``."""
    return Path(root) / CATALOGUE_DIR / language / f"{Path(notebook).stem}.po"


def _readable_strings(source: str) -> bool:
    import io
    import tokenize

    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                return True
            if token.type == tokenize.STRING and " " in token.string:
                return True
            if token.type == getattr(tokenize, "FSTRING_MIDDLE", -1) and " " in token.string:
                return True
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return True  # magic lines and the like: let a translator look
    return False


def translatable_cells(notebook: NotebookNode) -> list[NotebookNode]:
    """The cells a translation covers: every markdown cell; code cells with comments or readable strings."""
    return [
        cell for cell in notebook.cells
        if cell.cell_type == "markdown" or (cell.cell_type == "code" and _readable_strings(_source(cell)))
    ]


def update_catalogue(notebook: NotebookNode, path: str | Path, notebook_name: str = "") -> dict[str, int]:
    """Write or refresh the catalogue at ``path`` for ``notebook`` (``msgmerge``'s job, per cell).

    New cells get an empty entry; a cell whose English changed keeps its translation, marked fuzzy, with the
    old English as ``previous_msgid``; entries of cells that are gone are dropped. Entries follow cell order.

    Returns:
        Counts: ``{"new": n, "changed": n, "removed": n, "kept": n}``.
    """
    path = Path(path)
    old = polib.pofile(str(path), wrapwidth=0) if path.exists() else polib.POFile(wrapwidth=0)
    by_id = {entry.msgctxt: entry for entry in old}
    counts = {"new": 0, "changed": 0, "removed": 0, "kept": 0}
    fresh = polib.POFile(wrapwidth=0)
    fresh.metadata = old.metadata or {
        "Project-Id-Version": "iflearn",
        "Language": path.parent.name,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    fresh.header = old.header or (f"Translation of {notebook_name or path.stem}.ipynb (solutions/). Update with "
                                  "python -m iflearn.nbtools translations update; each msgctxt is a cell id.")
    seen: set[str] = set()
    for index, cell in enumerate(translatable_cells(notebook)):
        source, cell_id = _source(cell), str(cell.get("id"))
        seen.add(cell_id)
        entry = by_id.get(cell_id)
        kind = f"{cell.cell_type} cell"
        if entry is None:
            entry = polib.POEntry(msgctxt=cell_id, msgid=source, msgstr="", comment=kind)
            counts["new"] += 1
        elif entry.msgid != source:
            if entry.msgstr:
                entry.previous_msgid = entry.previous_msgid if "fuzzy" in entry.flags else entry.msgid
                if "fuzzy" not in entry.flags:
                    entry.flags.append("fuzzy")
            entry.msgid = source
            counts["changed"] += 1
        else:
            counts["kept"] += 1
        entry.comment = kind
        fresh.append(entry)
    counts["removed"] = sum(1 for cell_id in by_id if cell_id not in seen)
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh.save(str(path))
    return counts


@dataclass
class Catalogue:
    """A notebook's translations as read for a build.

    Attributes:
        table: cell id -> ``(English source, translated source)`` for every usable entry (the form
            :func:`iflearn.editions.translate` takes: a source changed since then raises there).
        problems: one sentence per entry that cannot be used (missing, empty, fuzzy, stale, or its code differs).
    """

    table: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def check_translation(english: str, translated: str, cell_type: str) -> str | None:
    """Why ``translated`` is not an acceptable translation of the cell ``english`` (None: it is).

    Code cells: same tokens apart from comments and string contents, the same solution/hidden-test marker
    lines, and the same ``answer(...)`` values. Every cell: not empty.
    """
    if not translated.strip():
        return "the translation is empty"
    if cell_type != "code":
        return None
    if _code_tokens(translated) != _code_tokens(english):
        return "its code differs from the English cell's; translate only comments and strings"
    markers = [line.strip() for line in english.split("\n") if _MARKER_LINE.match(line)]
    if [line.strip() for line in translated.split("\n") if _MARKER_LINE.match(line)] != markers:
        return "its solution markers differ; keep every '### BEGIN/END ...' line exactly as in English"

    def values(source: str) -> list[tuple[str, str]]:
        return [(qid, ast.dump(value) if value is not None else "") for qid, value, _ in answer_calls(source)]

    if values(translated) != values(english):
        return "an answer(...) value differs; answers are data, keep them as in English"
    return None


def read_catalogue(notebook: NotebookNode, path: str | Path, strict: bool = True) -> Catalogue:
    """The usable translations of ``notebook`` from the catalogue at ``path``, and what is wrong with the rest.

    Args:
        notebook: the English solution notebook.
        path: its ``.po`` catalogue (a missing file: every cell is a problem).
        strict: warn (``UserWarning``) for each problem as well; the build uses English for those cells.
    """
    path = Path(path)
    result = Catalogue()
    cells = translatable_cells(notebook)
    if not path.exists():
        result.problems.append(f"{path} does not exist; run python -m iflearn.nbtools translations update")
        return result
    try:
        entries = {entry.msgctxt: entry for entry in polib.pofile(str(path), wrapwidth=0)}
    except (OSError, ValueError) as exc:
        result.problems.append(f"{path} is not a readable gettext catalogue ({exc}); fix the line it names")
        return result
    ids = {str(cell.get("id")) for cell in cells}
    for cell in cells:
        cell_id, english = str(cell.get("id")), _source(cell)
        entry = entries.get(cell_id)
        where = f"{path.name}: cell {cell_id} ({cell.cell_type}, {english.strip()[:40]!r})"
        if entry is None:
            result.problems.append(f"{where} has no entry; run python -m iflearn.nbtools translations update")
        elif entry.msgid != english:
            result.problems.append(f"{where}: the English changed since the catalogue was updated; run "
                                   "python -m iflearn.nbtools translations update, then translate the fuzzy entry")
        elif "fuzzy" in entry.flags:
            result.problems.append(f"{where} is fuzzy: its translation is older than the English (the old English "
                                   "is under '#| msgid'); update the translation and remove the fuzzy flag")
        elif not entry.msgstr:
            result.problems.append(f"{where} is not translated yet")
        else:
            why = check_translation(english, entry.msgstr, cell.cell_type)
            if why:
                result.problems.append(f"{where}: {why}")
            else:
                result.table[cell_id] = (english, entry.msgstr)
    for cell_id in sorted(set(entries) - ids):
        result.problems.append(f"{path.name}: entry {cell_id} is for a cell that no longer exists; run "
                               "python -m iflearn.nbtools translations update")
    if strict:
        for problem in result.problems:
            warnings.warn(problem, stacklevel=2)
    return result


def summarise(problems: Iterable[str]) -> str:
    """A short report of catalogue problems, for the command line."""
    problems = list(problems)
    return "\n".join(problems) if problems else "every translation is complete and up to date"
