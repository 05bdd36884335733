"""A helper the grading tests share: write a small notebook of code cells."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import v4


def write(path: Path, *sources: str) -> Path:
    """Write a notebook at ``path`` whose code cells are ``sources``, in order; returns ``path``."""
    notebook = v4.new_notebook()
    notebook.cells = [v4.new_code_cell(s) for s in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path
