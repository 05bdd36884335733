"""The gradebook: one CSV row per submission, updated in place, plus a per-question summary.

Columns: ``submission, status, score, max_score, <question id>..., sandbox, reason, details, seconds,
graded_at``. Re-grading updates rows by ``submission`` (the path), so nothing is lost or duplicated.
Files are written to a temporary file and renamed over the old one, so a crash never leaves half a CSV.

Cells are bounded (:data:`CELL_LIMIT` characters): a submission cannot make the gradebook unreadable for
the next run or for a spreadsheet. Each learner's full ``reason`` and ``details`` are kept beside it, one text
file per submission in ``<name>.details/``; a cut cell names its file. An old gradebook with huge cells
still loads.

The summary beside it (``<name>.summary.csv``, ``.md`` and ``.png``) gives, per question, how many
submissions got it right, and the count of each status.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # grade.py (and nbformat with it) is imported only when rows are added
    from iflearn.grading.grade import GradeRow

__all__ = ["FIXED_FRONT", "FIXED_BACK", "CELL_LIMIT", "Gradebook", "QuestionSummary", "summarise",
           "write_summary", "atomic_write", "details_folder"]

FIXED_FRONT = ["submission", "status", "score", "max_score"]
FIXED_BACK = ["sandbox", "reason", "details", "seconds", "graded_at"]
CELL_LIMIT = 2000  # characters in one cell; Python's csv module refuses fields over 131,072 by default


def details_folder(path: Path) -> Path:
    """Where the learners' full-text files of gradebook ``path`` live: ``<name>.details/`` beside it."""
    return path.with_name(path.stem + ".details")


def _bounded(text: str, where: str) -> str:
    if len(text) <= CELL_LIMIT:
        return text
    note = f" ... [cut at {CELL_LIMIT} of {len(text)} characters; full text: {where}]"
    return text[:CELL_LIMIT - len(note)] + note


@contextlib.contextmanager
def _large_fields():
    """Let the csv module read fields of any size while loading (an old gradebook may hold huge ones)."""
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The file keeps the permissions of the one it replaces (a new file gets the usual ``umask`` ones).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass
class Gradebook:
    """Rows by submission identity, and the question columns in order."""

    questions: list[str]
    rows: dict[str, dict[str, str]]
    path: Path | None = None
    full_text: dict[str, str] = field(default_factory=dict)  # identity -> text not yet written beside the CSV

    @classmethod
    def load(cls, path: Path) -> Gradebook:
        """Read an existing gradebook, or an empty one if ``path`` does not exist.

        Raises:
            ValueError: the file is not an iflearn gradebook (it is left untouched).
        """
        path = Path(path)
        if not path.exists():
            return cls([], {}, path)
        try:
            with _large_fields(), open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
                reader = csv.DictReader(handle)
                fields = reader.fieldnames or []
                missing = [f for f in ("submission", "status") if f not in fields]
                if missing:
                    raise ValueError(f"{path} is not an iflearn gradebook (no {missing} column); "
                                     "pass a new --out file or move this one away.")
                questions = [f for f in fields if f not in FIXED_FRONT and f not in FIXED_BACK]
                rows = {row["submission"]: {k: v for k, v in row.items() if isinstance(k, str)} for row in reader}
        except csv.Error as exc:
            raise ValueError(f"{path} is not a readable CSV gradebook ({exc}); pass a new --out file or move "
                             "this one away.") from exc
        return cls(questions, rows, path)

    def upsert(self, rows: Iterable[GradeRow], questions: Iterable[str]) -> None:
        """Add or replace rows (by submission), adding any new question columns at the end."""
        for qid in questions:
            if qid not in self.questions:
                self.questions.append(qid)
        from iflearn.grading.grade import safe_file_name

        folder = details_folder(self.path).name if self.path else "<gradebook>.details"
        for row in rows:
            details = "; ".join(f"{q}: {d}" for q, d in row.details.items() if d != "correct")
            where = f"{folder}/{safe_file_name(row.submission, '.txt')}"
            record = {
                "submission": row.submission, "status": row.status, "score": _fmt(row.total),
                "max_score": _fmt(row.max_total), "sandbox": row.sandbox, "reason": _bounded(row.reason, where),
                "details": _bounded(details, where), "seconds": f"{row.seconds:.2f}", "graded_at": row.graded_at,
            }
            record.update({qid: _fmt(points) for qid, points in row.scores.items()})
            self.rows[row.submission] = record
            lines = [f"submission: {row.submission}", f"status: {row.status}",
                     f"score: {_fmt(row.total)} of {_fmt(row.max_total)}", f"graded_at: {row.graded_at}",
                     f"reason: {row.reason}", ""]
            lines += [f"{qid}: {_fmt(row.scores.get(qid, 0.0))} -- {why}" for qid, why in row.details.items()]
            self.full_text[row.submission] = "\n".join(lines) + "\n"

    def to_csv(self) -> bytes:
        """The CSV text (UTF-8), rows sorted by submission."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIXED_FRONT + self.questions + FIXED_BACK,
                                extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for identity in sorted(self.rows):
            # rows loaded from an older gradebook may hold huge cells: cut them so the next load stays easy
            writer.writerow({k: _bounded(v, "an earlier run") if isinstance(v, str) and k != "submission" else v
                             for k, v in self.rows[identity].items()})
        return buffer.getvalue().encode("utf-8", errors="backslashreplace")  # never fail on odd text

    def write(self, path: Path) -> None:
        """Write the CSV atomically, after the full-text files of the rows added since the last write."""
        path = Path(path)
        if self.full_text:
            from iflearn.grading.grade import safe_file_name

            folder = details_folder(path)
            folder.mkdir(parents=True, exist_ok=True)
            for identity, text in list(self.full_text.items()):
                atomic_write(folder / safe_file_name(identity, ".txt"),
                             text.encode("utf-8", errors="backslashreplace"))
                del self.full_text[identity]
        atomic_write(path, self.to_csv())


@dataclass(frozen=True)
class QuestionSummary:
    """How one question went: ``correct`` of ``graded`` rows that have this column."""

    question: str
    correct: float
    graded: int

    @property
    def percent(self) -> float:
        """Percent correct (0 when nobody was graded)."""
        return 100.0 * self.correct / self.graded if self.graded else 0.0


def summarise(book: Gradebook, max_points: dict[str, float] | None = None) -> list[QuestionSummary]:
    """Per-question results over every row (broken submissions count as not correct)."""
    out = []
    for qid in book.questions:
        values = [row.get(qid, "") for row in book.rows.values()]
        scored = [float(v) for v in values if v not in ("", None)]
        full = (max_points or {}).get(qid, 1.0) or 1.0
        out.append(QuestionSummary(qid, sum(min(v / full, 1.0) for v in scored), len(scored)))
    return out


def write_summary(book: Gradebook, out: Path, max_points: dict[str, float] | None = None) -> list[Path]:
    """Write ``<out>.summary.csv``, ``.summary.md`` and a bar chart ``.summary.png``; return their paths."""
    summary = summarise(book, max_points)
    stem = out.with_suffix("")
    paths = [Path(f"{stem}.summary.csv"), Path(f"{stem}.summary.md"), Path(f"{stem}.summary.png")]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["question", "correct", "graded", "percent_correct"])
    for s in summary:
        writer.writerow([s.question, _fmt(s.correct), s.graded, f"{s.percent:.1f}"])
    atomic_write(paths[0], buffer.getvalue().encode("utf-8"))

    statuses: dict[str, int] = {}
    for row in book.rows.values():
        statuses[row.get("status", "?")] = statuses.get(row.get("status", "?"), 0) + 1
    sandboxes = sorted({row.get("sandbox", "") for row in book.rows.values()})
    lines = [f"# Gradebook summary: {out.name}", "",
             f"{len(book.rows)} submissions; status: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
             f"sandbox: {', '.join(sandboxes)}", "",
             "| question | correct | graded | % correct |", "|---|---:|---:|---:|"]
    lines += [f"| `{s.question}` | {_fmt(s.correct)} | {s.graded} | {s.percent:.1f} |" for s in summary]
    atomic_write(paths[1], ("\n".join(lines) + "\n").encode("utf-8"))

    # matplotlib's object API with the Agg canvas: no pyplot, no change to the caller's backend
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(4.0, 0.6 * len(summary) + 2), 3.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.bar(range(len(summary)), [s.percent for s in summary], color="#3b6ea8")
    ax.set_xticks(range(len(summary)), [s.question for s in summary], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% correct")
    ax.set_title(f"{len(book.rows)} submissions")
    fig.tight_layout()
    buffer_png = io.BytesIO()
    fig.savefig(buffer_png, format="png", dpi=100)
    atomic_write(paths[2], buffer_png.getvalue())
    return paths
