"""Read a submission's answers from its *source*, never from its outputs.

Only top-level ``answer("<id>", <literal>)`` calls in code cells count; the value must be a Python literal
(``True``, ``"b"``, ``["a", "c"]``, ``6.66``), read with :func:`ast.literal_eval`. A variable, an f-string or a
function call as the value counts as wrong, with the reason. Printed text, fake outputs, markdown cells and
whatever the code does when it runs cannot add an answer. If a question is answered twice, the last
answer cell wins (the learner changed their mind).
"""

from __future__ import annotations

import ast
import json
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["NotebookProblem", "FoundAnswer", "read_notebook", "code_cells", "extract_answers", "extract_function"]

_MISSING = object()


class NotebookProblem(Exception):
    """The file is not a usable notebook; ``str(exc)`` says why, for the gradebook's reason column."""


@dataclass(frozen=True)
class FoundAnswer:
    """One answer cell line.

    Attributes:
        qid: the question id.
        value: the literal value, or None when ``literal`` is False.
        literal: whether the value was a plain literal (only then can it be right).
        reason: why the value was not usable (empty when literal).
        cell: the index of the code cell it came from.
    """

    qid: str
    value: Any
    literal: bool
    reason: str
    cell: int


def read_notebook(path: Path, max_bytes: int = 20 * 2**20) -> tuple[nbformat.NotebookNode, str]:
    """Read and validate a notebook file, converting nbformat 3 to 4.

    Returns:
        ``(notebook, note)``; ``note`` is non-empty when something was repaired (e.g. converted from v3).

    Raises:
        NotebookProblem: too large, not JSON, not a notebook, or invalid against the nbformat schema.
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise NotebookProblem("not a regular file")
        size = info.st_size
        if size > max_bytes:
            raise NotebookProblem(f"file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise NotebookProblem(f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotebookProblem(f"not valid JSON (truncated or corrupted?): {str(exc)[:120]}") from exc
    if not isinstance(data, dict) or "nbformat" not in data:
        raise NotebookProblem("JSON but not a Jupyter notebook (no 'nbformat' field)")
    version = data.get("nbformat")
    try:
        notebook = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises several types for bad structure
        raise NotebookProblem(f"not a valid nbformat {version} notebook: {str(exc).splitlines()[0][:160]}") from exc
    note = f"converted from nbformat {version} to 4" if version != 4 else ""
    return notebook, note


def code_cells(notebook: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """``(index, python source)`` of each code cell, with IPython magics turned into plain Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        transform = TransformerManager().transform_cell
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        def transform(source: str) -> str:
            return "\n".join("pass" if line.lstrip()[:1] in ("%", "!") else line for line in source.splitlines())

    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        try:
            cells.append((index, transform(source)))
        except Exception:  # a cell IPython cannot transform is kept as is; ast.parse will report it
            cells.append((index, source))
    return cells


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _answer_call(node: ast.stmt) -> ast.Call | None:
    if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
        return None
    func = node.value.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return node.value if name == "answer" else None


def extract_answers(notebook: nbformat.NotebookNode) -> dict[str, FoundAnswer]:
    """Every answer given in the notebook's code cells, by question id (the last one wins)."""
    found: dict[str, FoundAnswer] = {}
    for index, source in code_cells(notebook):
        module = _parse(source)
        if module is None:
            continue
        for node in module.body:
            call = _answer_call(node)
            if call is None or not call.args or not isinstance(call.args[0], ast.Constant):
                continue
            qid = call.args[0].value
            if not isinstance(qid, str):
                continue
            value_node = call.args[1] if len(call.args) > 1 else next(
                (k.value for k in call.keywords if k.arg == "value"), None)
            if value_node is None:
                found[qid] = FoundAnswer(qid, None, False, "answer(...) has no value", index)
                continue
            try:
                value = ast.literal_eval(value_node)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                kind = type(value_node).__name__
                found[qid] = FoundAnswer(qid, None, False,
                                         f"the answer is an expression ({kind}), not a literal value", index)
                continue
            found[qid] = FoundAnswer(qid, value, True, "", index)
    return found


def extract_function(notebook: nbformat.NotebookNode, name: str) -> str | None:
    """Source of a module with the last top-level ``def name(...)`` and the top-level imports it uses.

    The grader runs this module (in the sandbox) to test a code exercise, without the rest of the notebook.
    """
    imports: list[ast.Import | ast.ImportFrom] = []
    definition: ast.FunctionDef | None = None
    for _, source in code_cells(notebook):
        module = _parse(source)
        if module is None:
            continue
        for node in module.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append(node)
            elif isinstance(node, ast.FunctionDef) and node.name == name:
                definition = node
    if definition is None:
        return None
    # keep only the imports the function uses (``import torch`` for ``torch.sqrt``), not the whole notebook's
    used = {n.id for n in ast.walk(definition) if isinstance(n, ast.Name)}
    needed = [ast.unparse(node) for node in imports
              if any((alias.asname or alias.name).split(".")[0] in used for alias in node.names)]
    return "\n".join(dict.fromkeys(needed)) + "\n\n" + ast.unparse(definition) + "\n"
