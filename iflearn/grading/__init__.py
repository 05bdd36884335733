"""Grading learners' notebooks: answers from source, compared with the key outside a sandboxed kernel.

* :mod:`iflearn.grading.cli` -- ``iflearn grade`` / ``python -m iflearn.grading``.
* :mod:`iflearn.grading.pytest_plugin` -- the same through pytest (+ pytest-xdist for parallel grading).
* :mod:`iflearn.grading.assign` -- ``iflearn assign``: an assignment notebook and its key from a solution.
* :mod:`iflearn.grading.feedback` / :mod:`iflearn.grading.export` -- ``iflearn feedback`` / ``iflearn export``.
* :func:`grade_submission`, :func:`find_submissions`, :func:`load_key`, :func:`make_key` for scripts;
  :func:`hidden_cases` in a solution notebook's hidden-test cell.

Importing this package is cheap; the pieces are imported when first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["grade_submission", "find_submissions", "GradeOptions", "GradeRow", "load_key", "make_key", "write_key",
           "hidden_cases"]

_WHERE = {
    "grade_submission": "iflearn.grading.grade",
    "find_submissions": "iflearn.grading.grade",
    "GradeOptions": "iflearn.grading.grade",
    "GradeRow": "iflearn.grading.grade",
    "load_key": "iflearn.grading.key",
    "make_key": "iflearn.grading.key",
    "write_key": "iflearn.grading.key",
    "hidden_cases": "iflearn.grading.assign",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'iflearn.grading' has no attribute {name!r}")
