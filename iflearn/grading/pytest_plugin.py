"""Grade submissions through pytest: one test item per notebook, parallel with pytest-xdist.

    pytest -p iflearn.grading.pytest_plugin --iflearn-grade submissions/ --iflearn-key key.json \\
           --iflearn-gradebook gradebook.csv -n 2

An item passes when its notebook ran cleanly and fails with the reason otherwise (error, timeout, invalid
notebook); either way the submission gets its gradebook row. Workers send rows back in the test report;
only the controlling process writes the gradebook, atomically, at the end.

The rest of the instructor's cycle runs at the end of the same session when asked (see docs/grading.md)::

    pytest -p iflearn.grading.pytest_plugin --iflearn-grade submissions/ --iflearn-key key-hw1.json \\
           --iflearn-gradebook gradebook.csv --iflearn-feedback feedback/ \\
           --iflearn-export canvas --iflearn-export-out hw1-canvas.csv --iflearn-overrides overrides.csv

Without ``--iflearn-grade`` this plugin only registers its options: ordinary test runs are unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

__all__ = ["SubmissionItem", "SubmissionNotClean"]

_ROW = "iflearn_row"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iflearn-grade", "grade notebooks with iflearn")
    group.addoption("--iflearn-grade", nargs="+", metavar="SUBMISSION", default=None,
                    help="grade these notebooks/folders instead of collecting tests")
    group.addoption("--iflearn-key", help="the answer key (.json/.yaml)")
    group.addoption("--iflearn-gradebook", default="gradebook.csv", help="gradebook CSV to create or update")
    group.addoption("--iflearn-base", default=None, help="folder submission identities are relative to (default: cwd)")
    group.addoption("--iflearn-cell-timeout", type=float, default=30.0, help="seconds per cell")
    group.addoption("--iflearn-timeout", type=float, default=300.0, help="seconds per notebook")
    group.addoption("--iflearn-memory-mb", type=int, default=4096, help="kernel memory limit in MiB")
    group.addoption("--iflearn-sandbox", choices=("auto", "bwrap", "none"), default="auto")
    group.addoption("--iflearn-no-execute", action="store_true", help="score answers without running notebooks")
    group.addoption("--iflearn-keep-executed", default=None, help="keep executed notebooks in this folder")
    group.addoption("--iflearn-feedback", default=None, metavar="DIR",
                    help="after grading, write one feedback file per learner here (iflearn feedback)")
    group.addoption("--iflearn-feedback-format", choices=("html", "md"), default="html")
    group.addoption("--iflearn-export", choices=("canvas", "moodle"), default=None,
                    help="after grading, write the gradebook for this LMS (iflearn export)")
    group.addoption("--iflearn-export-out", default=None, help="the LMS CSV (default <assignment>-<lms>.csv)")
    group.addoption("--iflearn-overrides", default=None, help="overrides CSV applied by the export")
    group.addoption("--iflearn-id-from", choices=("folder", "stem"), default="folder",
                    help="learner id for the export: the submission's folder or file name")


def _grading(config: pytest.Config) -> bool:
    return bool(config.getoption("iflearn_grade", default=None))


def _base(config: pytest.Config) -> str:
    return config.getoption("iflearn_base") or str(config.invocation_params.dir)


def pytest_configure(config: pytest.Config) -> None:
    if not _grading(config):
        return
    if not config.getoption("iflearn_key"):
        raise pytest.UsageError("--iflearn-grade needs --iflearn-key KEY (make one: iflearn grade --make-key "
                                "quizzes/ -o key.json)")
    config.pluginmanager.register(_GradingSession(config), "iflearn-grading-session")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # in grading mode nothing is collected from the file system; submissions are added below
    return True if _grading(config) else None


class SubmissionNotClean(Exception):
    """The notebook did not run cleanly (its row is in the gradebook anyway)."""


class SubmissionItem(pytest.Item):
    """Grade one submission."""

    def __init__(self, *, submission: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.submission = submission

    def runtest(self) -> None:
        from iflearn.grading.grade import GradeOptions, grade_submission
        from iflearn.grading.key import load_key

        config = self.config
        options = GradeOptions(
            cell_timeout=config.getoption("iflearn_cell_timeout"), timeout=config.getoption("iflearn_timeout"),
            memory_mb=config.getoption("iflearn_memory_mb"), sandbox=config.getoption("iflearn_sandbox"),
            execute=not config.getoption("iflearn_no_execute"),
            keep_executed=config.getoption("iflearn_keep_executed"),
        )
        key = load_key(os.path.join(_base(config), config.getoption("iflearn_key")))
        row = grade_submission(self.submission, key, options)
        self.user_properties.append((_ROW, row.to_json()))
        if row.status != "ok":
            message = f"{row.status}: {row.reason}".encode("utf-8", "backslashreplace").decode("utf-8")
            raise SubmissionNotClean(message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, SubmissionNotClean):
            return f"{self.submission.identity}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int, str]:
        # the identity, not the path: it is valid UTF-8 even when the file name is not (xdist sends it as text)
        return self.submission.identity, None, f"grade {self.submission.identity}"


class _GradingSession:
    """Hooks active only in grading mode: make the items, collect rows, write the gradebook."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: dict[str, Any] = {}
        self.controller = not hasattr(config, "workerinput")

    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        from iflearn.grading.grade import find_submissions

        base = _base(self.config)
        paths = [os.path.join(base, p) for p in self.config.getoption("iflearn_grade")]
        items[:] = [
            SubmissionItem.from_parent(session, name=s.identity, nodeid=f"grade::{s.identity}", submission=s)
            for s in find_submissions(paths, base=base)
        ]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # in the controlling process this sees every report, including those sent back by xdist workers
        from iflearn.grading.grade import GradeRow

        for name, value in report.user_properties:
            if name == _ROW:
                row = GradeRow.from_json(value)
                self.rows[row.submission] = row

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.controller:
            return
        from iflearn.grading.gradebook import Gradebook, write_summary
        from iflearn.grading.key import load_key

        key = load_key(os.path.join(_base(self.config), self.config.getoption("iflearn_key")))
        out = Path(_base(self.config), self.config.getoption("iflearn_gradebook"))
        book = Gradebook.load(out)
        book.upsert(self.rows.values(), key.questions)
        book.write(out)
        paths = write_summary(book, out, {q: s.points for q, s in key.questions.items()})
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"iflearn: {len(self.rows)} submissions graded -> {out} (summary: {paths[1]})"]
        lines += self._after_grading(key, out)
        if reporter is not None:
            for line in lines:
                reporter.write_line(line)

    def _after_grading(self, key: Any, out: Path) -> list[str]:
        """Feedback files and the LMS export, as ``iflearn feedback`` / ``iflearn export`` would write them."""
        from iflearn.i18n import get_language

        base, option = _base(self.config), self.config.getoption
        lines = []
        if option("iflearn_feedback"):
            from iflearn.grading.feedback import write_feedback

            folder = Path(base, option("iflearn_feedback"))
            written = write_feedback(out, key, folder, option("iflearn_feedback_format"), get_language(), base)
            lines.append(f"iflearn: {len(written)} feedback files -> {folder}")
        if option("iflearn_export"):
            from iflearn.grading.export import write_export

            lms = option("iflearn_export")
            target = Path(base, option("iflearn_export_out") or f"{key.name or 'iflearn'}-{lms}.csv")
            overrides = option("iflearn_overrides")
            path, notes = write_export(out, key, target, lms, id_from=option("iflearn_id_from"),
                                       overrides=Path(base, overrides) if overrides else None)
            lines += [f"iflearn: {note}" for note in notes] + [f"iflearn: {lms} gradebook -> {path}"]
        return lines
