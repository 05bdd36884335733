"""Read a submission's answers from its *source*, never from its outputs.

Only top-level ``answer("<id>", <literal>)`` calls in code cells count; the value must be a Python literal
(``True``, ``"b"``, ``["a", "c"]``, ``6.66``), read with :func:`ast.literal_eval`. A variable, an f-string or a
function call as the value counts as wrong, with the reason. Printed text, fake outputs, markdown cells and
whatever the code does when it runs cannot add an answer. If a question is answered twice, the last
answer cell wins (the learner changed their mind).

The forms a learner sees working in the notebook all count: keywords (``answer(qid="...", value=...)``), a
renamed import (``from iflearn.quiz import answer as check``, then ``check("...", ...)``), ``quiz.answer(...)``,
and an answer inside a ``%%time``/``%%capture``/``%%timeit`` cell or after ``%time``.

Every file is read with :func:`read_regular_file`: regular files only, never through a symbolic link, never
blocking, never more than a size cap, so a FIFO or ``/dev/zero`` left by a submission cannot hang the grader
or fill its memory.
"""

from __future__ import annotations

import ast
import errno
import functools
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
import sys
from typing import Any

# jsonschema optionally imports ``rfc3987_syntax`` (an IRI grammar, about two seconds to build) for a format
# check nbformat never asks for; the grader's processes (and pytest-xdist's) start without it
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import nbformat  # noqa: E402

__all__ = ["NotebookProblem", "UnsafeFile", "FoundAnswer", "read_regular_file", "load_json", "read_notebook",
           "code_cells", "extract_answers", "extract_function"]

MAX_JSON_DEPTH = 50  # nbformat needs about 6 levels; deeper values (metadata, outputs) are replaced by null
_ANSWER_MODULES = ("iflearn.quiz", "iflearn.quiz.feedback")
_PYTHON_MAGICS = ("time", "timeit", "capture", "prun")  # magics whose body is Python run in the user namespace


class NotebookProblem(Exception):
    """The file is not a usable notebook; ``str(exc)`` says why, for the gradebook's reason column."""


class UnsafeFile(OSError):
    """A file the grader will not read: a link, not a regular file, or too large. ``str(exc)`` says which."""


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``, opened without following a final symbolic link.

    The file is opened non-blocking (a FIFO would otherwise block ``open()`` forever), checked with ``fstat`` on
    the open descriptor (so it cannot be swapped between the check and the read), and read up to the cap.

    Raises:
        UnsafeFile: a symbolic link, a FIFO/device/folder, or larger than ``max_bytes``.
        OSError: the file cannot be opened (missing, no permission).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile("is a symbolic link; only regular files are read") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile("not a regular file (a FIFO, device or folder); only regular files are read")
        if info.st_size > max_bytes:
            raise UnsafeFile(f"file is {info.st_size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:  # it grew while being read
            raise UnsafeFile(f"file is over the {max_bytes / 2**20:.0f} MiB limit")
        return b"".join(chunks)
    finally:
        os.close(fd)


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def _prune_text(text: str, limit: int) -> tuple[str, int]:
    """Replace every JSON value opened deeper than ``limit`` by ``null``, scanning the text (no recursion)."""
    out, last, depth, start, pruned = [], 0, 0, -1, 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token[0] == '"':
            continue
        if token in "[{":
            depth += 1
            if depth == limit + 1:
                start = match.start()
        else:
            if depth == limit + 1 and start >= 0:
                out += [text[last:start], "null"]
                last, start, pruned = match.end(), -1, pruned + 1
            depth -= 1
    out.append(text[last:])
    return "".join(out), pruned


def _prune_data(data: Any, limit: int) -> int:
    """Replace (in place) every list/dict nested deeper than ``limit`` by None, without recursion."""
    pruned, stack = 0, [(data, 1)]
    while stack:
        node, depth = stack.pop()
        for k, v in list(node.items() if isinstance(node, dict) else enumerate(node)):
            if isinstance(v, (dict, list)):
                if depth >= limit:
                    node[k] = None
                    pruned += 1
                else:
                    stack.append((v, depth + 1))
    return pruned


def _parse_int(text: str) -> int | float:
    # Python refuses to convert integers of more than 4,300 digits; such a number is as good as infinite here
    return int(text) if len(text) <= 4000 else float("inf") if text[0] != "-" else float("-inf")


def load_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> tuple[Any, int]:
    """Parse JSON text whatever its nesting or numbers: values nested deeper than ``max_depth`` become None.

    Returns:
        ``(data, pruned)``: the parsed value and how many deep values were replaced.

    Raises:
        ValueError: not JSON.
    """
    pruned = 0
    try:
        data = json.loads(text, parse_int=_parse_int)
    except RecursionError:
        text, pruned = _prune_text(text, max_depth)
        try:
            data = json.loads(text, parse_int=_parse_int)
        except RecursionError as exc:  # unbalanced brackets deeper than the scan could see
            raise ValueError("nested too deeply") from exc
    if isinstance(data, (dict, list)):
        pruned += _prune_data(data, max_depth)
    return data, pruned


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
        raw = read_regular_file(path, max_bytes)
    except UnsafeFile as exc:
        raise NotebookProblem(str(exc)) from exc
    except OSError as exc:
        raise NotebookProblem(f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        data, pruned = load_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotebookProblem(f"not valid JSON (truncated or corrupted?): {str(exc)[:120]}") from exc
    if not isinstance(data, dict) or "nbformat" not in data:
        raise NotebookProblem("JSON but not a Jupyter notebook (no 'nbformat' field)")
    version = data.get("nbformat")
    try:
        notebook = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises several types for bad structure
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise NotebookProblem(f"not a valid nbformat {version} notebook: {first}") from exc
    notes = [f"converted from nbformat {version} to 4"] if version != 4 else []
    if pruned:
        notes.append(f"{pruned} value(s) nested deeper than {MAX_JSON_DEPTH} levels (metadata or outputs) ignored")
    return notebook, "; ".join(notes)


def code_cells(notebook: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """``(index, python source)`` of each code cell, with IPython magics turned into plain Python."""
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        cells.append((index, _transform(source)))
    return cells


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


@functools.lru_cache(maxsize=1)
def _transformer() -> Any:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def _transform(source: str) -> str:
    try:
        return _transformer().transform_cell(source)
    except Exception:  # IPython missing, or a cell it cannot transform: ast.parse will judge it
        return source


def _magic_body(node: ast.stmt) -> str | None:
    """The Python run by ``%%time``/``%%capture``/``%%timeit``/``%%prun`` or ``%time``, as IPython wrote it."""
    if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
        return None
    call, func = node.value, node.value.func
    if not (isinstance(func, ast.Attribute) and func.attr in ("run_cell_magic", "run_line_magic")
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython"):
        return None
    args = call.args
    if not args or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
        return None
    if args[0].value not in _PYTHON_MAGICS:
        return None
    if func.attr == "run_cell_magic":
        return args[2].value if len(args) == 3 else None
    return args[1].value if len(args) == 2 and not args[1].value.lstrip().startswith("-") else None


def _statements(module: ast.Module, depth: int = 0) -> list[ast.stmt]:
    """A cell's top-level statements, with the bodies of Python-running magics spliced in where they ran."""
    out: list[ast.stmt] = []
    for node in module.body:
        body = _magic_body(node) if depth < 3 else None
        inner = _parse(_transform(body)) if body is not None else None
        if inner is not None:
            out += _statements(inner, depth + 1)
        else:
            out.append(node)
    return out


def _cell_statements(notebook: nbformat.NotebookNode) -> list[tuple[int, list[ast.stmt]]]:
    cells = []
    for index, source in code_cells(notebook):
        module = _parse(source)
        if module is not None:
            cells.append((index, _statements(module)))
    return cells


def _answer_names(node: ast.stmt, names: set[str]) -> None:
    """Learn ``from iflearn.quiz import answer as check``: ``check(...)`` is then an answer too."""
    if isinstance(node, ast.ImportFrom) and node.module in _ANSWER_MODULES and not node.level:
        for alias in node.names:
            if alias.name == "answer":
                names.add(alias.asname or alias.name)


def _answer_call(node: ast.stmt, names: set[str]) -> ast.Call | None:
    if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
        return None
    func = node.value.func
    if isinstance(func, ast.Name):
        return node.value if func.id in names else None
    return node.value if isinstance(func, ast.Attribute) and func.attr == "answer" else None


def _argument(call: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[:position + 1]):
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def extract_answers(notebook: nbformat.NotebookNode) -> dict[str, FoundAnswer]:
    """Every answer given in the notebook's code cells, by question id (the last one wins)."""
    found: dict[str, FoundAnswer] = {}
    names = {"answer"}
    for index, statements in _cell_statements(notebook):
        for node in statements:
            _answer_names(node, names)
            call = _answer_call(node, names)
            if call is None:
                continue
            qid_node = _argument(call, 0, "qid")
            if not isinstance(qid_node, ast.Constant) or not isinstance(qid_node.value, str):
                continue
            qid = qid_node.value
            value_node = _argument(call, 1, "value")
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
    for _, statements in _cell_statements(notebook):
        for node in statements:
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
