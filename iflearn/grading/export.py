"""``iflearn export``: the gradebook in the column layout Canvas or Moodle imports, with manual overrides.

::

    iflearn export gradebook.csv --key key-hw1.json --lms canvas --out hw1-canvas.csv --overrides overrides.csv
    iflearn export gradebook.csv --key key-hw1.json --lms moodle --out hw1-moodle.csv --overrides overrides.csv

**Learner ids.** Each gradebook row is a submission path; its learner id is the folder it sits in
(``--id-from folder``, nbgrader's ``submitted/<learner>/hw1.ipynb`` layout) or the file name without
``.ipynb`` (``--id-from stem``, for ``kim.ipynb``). Two submissions with the same id are an error, never a
silent merge.

**Layouts.**

* Canvas (Grades > Import): ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per question
  (``<assignment>: <question id>``) and the total (``<assignment>``), and a ``Points Possible`` row under the
  header, as in Canvas's own gradebook export. Every score column that Canvas does not know becomes a new
  assignment on import; ``--columns total`` writes the total only. Without a roster, the learner id goes in
  ``Student`` and ``SIS Login ID``.
* Moodle (Grades > Import > CSV file): ``ID number``, (``Email address`` when the roster has it), the question
  columns and the total. On import, map "ID number" to "useridnumber" (or "Email address" to "useremail") and
  each score column to a grade item.

``--roster roster.csv`` (a CSV with the learner id in column ``--roster-id``, default ``learner``; a Canvas
gradebook export works with ``--roster-id "SIS Login ID"``) fills the LMS's own columns (``Student``, ``ID``,
``SIS User ID``, ``SIS Login ID``, ``Section``; ``ID number``, ``Email address``) and adds a row, with empty
scores, for each learner who handed nothing in, so nobody is silently left out.

**Overrides.** ``--overrides overrides.csv`` has the columns ``learner, question, points, comment``
(``question``: a question id, or ``total`` to set the total itself). The export applies it every time, so a
re-grade never undoes a decision; a missing file is created with just the header, for you to fill in. An
override naming an unknown learner or question is an error that lists the known ones.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from iflearn.grading.key import Key, load_key

__all__ = ["LMS_LAYOUTS", "OVERRIDE_COLUMNS", "ExportError", "Override", "LearnerScores", "learner_id",
           "read_overrides", "read_roster",
           "export_rows", "export_csv", "write_export", "main"]

LMS_LAYOUTS = ("canvas", "moodle")
OVERRIDE_COLUMNS = ["learner", "question", "points", "comment"]
_CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
_MOODLE_IDENTITY = ["ID number", "Email address"]


class ExportError(ValueError):
    """The gradebook, roster or overrides cannot be exported as they are; the message says what to fix."""


@dataclass(frozen=True)
class Override:
    """One line of the overrides file: set ``learner``'s ``question`` (or ``"total"``) to ``points``."""

    learner: str
    question: str
    points: float
    comment: str = ""
    line: int = 0


@dataclass
class LearnerScores:
    """One learner's row of an export: id, submission, points per question (None: nothing handed in), total,
    and the roster's identity columns."""

    learner: str
    submission: str
    scores: dict[str, float | None] = field(default_factory=dict)
    total: float | None = None
    identity: dict[str, str] = field(default_factory=dict)


def learner_id(submission: str, id_from: str = "folder") -> str:
    """The learner id of a submission path: its folder's name (``folder``) or its file name's stem (``stem``).

    >>> learner_id("submissions/kim/hw1.ipynb"), learner_id("submissions/kim.ipynb", "stem")
    ('kim', 'kim')
    """
    parts = PurePosixPath(submission.replace(os.sep, "/")).parts
    if id_from == "stem":
        name = parts[-1] if parts else submission
        return name[:-len(".ipynb")] if name.endswith(".ipynb") else name
    if id_from != "folder":
        raise ExportError(f"--id-from {id_from!r}: expected 'folder' or 'stem'.")
    if len(parts) < 2:
        raise ExportError(f"submission {submission!r} is not inside a learner's folder, so --id-from folder has no "
                          "learner id for it; use --id-from stem (the file name), or put each notebook in a folder "
                          "named after its learner.")
    return parts[-2]


def read_overrides(path: str | os.PathLike[str], key: Key) -> list[Override]:
    """Read the overrides file (creating it with its header if it does not exist yet)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(",".join(OVERRIDE_COLUMNS) + "\n", encoding="utf-8")
        return []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in OVERRIDE_COLUMNS[:3] if c not in (reader.fieldnames or [])]
        if missing:
            raise ExportError(f"{path}: no {missing} column; the header is {','.join(OVERRIDE_COLUMNS)}.")
        found: dict[tuple[str, str], Override] = {}
        for line, row in enumerate(reader, start=2):
            learner, question = (row.get("learner") or "").strip(), (row.get("question") or "").strip()
            if not learner and not question:
                continue
            if question != "total" and question not in key.questions:
                raise ExportError(f"{path}, line {line}: question {question!r} is not in the key; use one of "
                                  f"{list(key.questions)} or 'total'.")
            try:
                points = float((row.get("points") or "").strip())
            except ValueError:
                raise ExportError(f"{path}, line {line}: points {row.get('points')!r} is not a number; write e.g. "
                                  "1 or 0.5.") from None
            if not math.isfinite(points) or points < 0:
                raise ExportError(f"{path}, line {line}: points {points!r} must be a number >= 0.")
            if (learner, question) in found:
                raise ExportError(f"{path}, lines {found[learner, question].line} and {line} both override "
                                  f"{learner}/{question}; keep one.")
            found[learner, question] = Override(learner, question, points, (row.get("comment") or "").strip(), line)
    return list(found.values())


def read_roster(path: str | os.PathLike[str], id_column: str = "learner") -> dict[str, dict[str, str]]:
    """Learner id -> the roster's row (rows without an id, such as Canvas's "Points Possible", are skipped)."""
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ExportError(f"--roster {str(path)!r}: cannot read it ({exc.strerror or exc}).") from exc
    with handle:
        reader = csv.DictReader(handle)
        if id_column not in (reader.fieldnames or []):
            raise ExportError(f"--roster {str(path)!r} has no column {id_column!r} (its columns: "
                              f"{reader.fieldnames}); name the learner-id column with --roster-id.")
        roster: dict[str, dict[str, str]] = {}
        for row in reader:
            learner = (row.get(id_column) or "").strip()
            if learner and "points possible" not in (row.get("Student") or "").lower():
                roster[learner] = {k: (v or "").strip() for k, v in row.items() if k}
    return roster


def export_rows(gradebook: str | os.PathLike[str], key: Key, *, id_from: str = "folder",
                overrides: Sequence[Override] = (), roster: dict[str, dict[str, str]] | None = None,
                ) -> tuple[list[LearnerScores], list[str]]:
    """The learners' scores after overrides, and notes for the instructor (applied overrides, absentees)."""
    from iflearn.grading.gradebook import Gradebook

    if not Path(gradebook).is_file():
        raise ExportError(f"{gradebook}: no such gradebook; grade first (iflearn grade SUBMISSIONS --key KEY "
                          f"--out {gradebook}).")
    book = Gradebook.load(Path(gradebook))
    if not book.rows:
        raise ExportError(f"{gradebook}: no rows; grade first (iflearn grade SUBMISSIONS --key KEY --out {gradebook}).")
    missing = [q for q in key.questions if q not in book.questions]
    if missing:
        raise ExportError(f"{gradebook} has no column for {missing[:3]}: was it graded with this key?")
    learners: dict[str, LearnerScores] = {}
    for submission, row in sorted(book.rows.items()):
        lid = learner_id(submission, id_from)
        if lid in learners:
            raise ExportError(f"learner id {lid!r} is given by two submissions, {learners[lid].submission!r} and "
                              f"{submission!r}; remove one, or choose --id-from "
                              f"{'stem' if id_from == 'folder' else 'folder'}.")
        try:
            scores = {q: float(row[q]) if row.get(q, "") not in ("", None) else 0.0 for q in key.questions}
        except ValueError:
            raise ExportError(f"{gradebook}: the row of {submission!r} has a score that is not a number; "
                              "re-grade it, or fix the cell by hand.") from None
        learners[lid] = LearnerScores(lid, submission, dict(scores), round(sum(scores.values()), 6))
    notes: list[str] = []
    for override in overrides:
        if override.learner not in learners:
            raise ExportError(f"overrides line {override.line}: learner {override.learner!r} has no submission in "
                              f"the gradebook; the learners are {sorted(learners)[:10]}.")
        target = learners[override.learner]
        if override.question == "total":
            continue
        before = target.scores[override.question]
        target.scores[override.question] = override.points
        notes.append(f"override: {override.learner} {override.question} {before:g} -> {override.points:g}"
                     + (f" ({override.comment})" if override.comment else ""))
    for learner in learners.values():
        learner.total = round(sum(v or 0.0 for v in learner.scores.values()), 6)
    for override in overrides:  # a total override wins over the sum
        if override.question == "total":
            learner = learners[override.learner]
            notes.append(f"override: {override.learner} total {learner.total:g} -> {override.points:g}"
                         + (f" ({override.comment})" if override.comment else ""))
            learner.total = override.points
    if roster is not None:
        for lid, learner in learners.items():
            if lid in roster:
                learner.identity = roster[lid]
            else:
                notes.append(f"warning: {lid} ({learner.submission}) is not in the roster; the LMS may not match them")
        absent = sorted(set(roster) - set(learners))
        for lid in absent:
            learners[lid] = LearnerScores(lid, "", {q: None for q in key.questions}, None, roster[lid])
        if absent:
            notes.append(f"no submission from {len(absent)} learner(s) on the roster: {', '.join(absent[:10])} "
                         "(exported with empty scores)")
    return sorted(learners.values(), key=lambda item: item.learner), notes


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def export_csv(learners: Sequence[LearnerScores], key: Key, lms: str, assignment: str, columns: str = "both") -> str:
    """The CSV text for ``lms`` (``"canvas"`` or ``"moodle"``); ``columns``: ``both``, ``questions`` or ``total``."""
    if lms not in LMS_LAYOUTS:
        raise ExportError(f"--lms {lms!r}: expected one of {LMS_LAYOUTS}.")
    if columns not in ("both", "questions", "total"):
        raise ExportError(f"--columns {columns!r}: expected both, questions or total.")
    qids = list(key.questions) if columns != "total" else []
    score_header = [f"{assignment}: {q}" for q in qids] + ([assignment] if columns != "questions" else [])
    maxima = [key.questions[q].points for q in qids] + ([key.max_score] if columns != "questions" else [])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if lms == "canvas":
        writer.writerow(_CANVAS_IDENTITY + score_header)
        writer.writerow(["Points Possible", "", "", "", ""] + [_fmt(m) for m in maxima])
    else:
        with_email = any(learner.identity.get("Email address") for learner in learners)
        writer.writerow(_MOODLE_IDENTITY[: 2 if with_email else 1] + score_header)
    for learner in learners:
        scores = [learner.scores.get(q) for q in qids] + ([learner.total] if columns != "questions" else [])
        if lms == "canvas":
            ident = learner.identity
            identity = [ident.get("Student") or learner.learner, ident.get("ID", ""), ident.get("SIS User ID", ""),
                        ident.get("SIS Login ID") or (learner.learner if not ident else ""), ident.get("Section", "")]
        else:
            identity = [learner.identity.get("ID number") or learner.learner]
            if with_email:
                identity.append(learner.identity.get("Email address", ""))
        writer.writerow(identity + [_fmt(s) for s in scores])
    return buffer.getvalue()


def write_export(gradebook: str | os.PathLike[str], key: Key, out: str | os.PathLike[str], lms: str, *,
                 assignment: str | None = None, id_from: str = "folder",
                 overrides: str | os.PathLike[str] | None = None, roster: str | os.PathLike[str] | None = None,
                 roster_id: str = "learner", columns: str = "both") -> tuple[Path, list[str]]:
    """Export ``gradebook`` for ``lms`` to ``out`` (atomically); returns the path and the notes."""
    from iflearn.grading.gradebook import atomic_write

    applied = read_overrides(overrides, key) if overrides else []
    learners, notes = export_rows(gradebook, key, id_from=id_from, overrides=applied,
                                  roster=read_roster(roster, roster_id) if roster else None)
    text = export_csv(learners, key, lms, assignment or key.name or "iflearn", columns)
    atomic_write(Path(out), text.encode("utf-8"))
    return Path(out), notes


def build_parser() -> argparse.ArgumentParser:
    """``iflearn export --help``."""
    parser = argparse.ArgumentParser(prog="iflearn export",
                                     description="Write the gradebook as a CSV that Canvas or Moodle imports, "
                                                 "with your overrides applied.")
    parser.add_argument("gradebook", help="the gradebook CSV from iflearn grade")
    parser.add_argument("--key", required=True, help="the key it was graded with")
    parser.add_argument("--lms", choices=LMS_LAYOUTS, required=True, help="the column layout to write")
    parser.add_argument("--out", help="the CSV to write (default: <assignment>-<lms>.csv)")
    parser.add_argument("--assignment", help="the assignment's column name (default: the key's assignment name)")
    parser.add_argument("--id-from", choices=("folder", "stem"), default="folder",
                        help="learner id: the submission's folder name, or its file name (default folder)")
    parser.add_argument("--overrides", help="overrides CSV (learner,question,points,comment); created if missing")
    parser.add_argument("--roster", help="a CSV of learners (e.g. the LMS's own export) to fill its id columns")
    parser.add_argument("--roster-id", default="learner", help="the roster's learner-id column (default learner)")
    parser.add_argument("--columns", choices=("both", "questions", "total"), default="both",
                        help="per-question columns, the total, or both (default both)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``iflearn export``."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        key = load_key(args.key)
        name = args.assignment or key.name or "iflearn"
        out = args.out or f"{name}-{args.lms}.csv"
        created = bool(args.overrides) and not Path(args.overrides).exists()
        path, notes = write_export(args.gradebook, key, out, args.lms, assignment=name, id_from=args.id_from,
                                   overrides=args.overrides, roster=args.roster, roster_id=args.roster_id,
                                   columns=args.columns)
    except (ValueError, FileNotFoundError) as exc:
        print(f"iflearn export: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(note)
    if created:
        print(f"Created {args.overrides} (header only): add lines learner,question,points,comment and export again.")
    how = ("Canvas: Grades > Import, choose this file." if args.lms == "canvas" else
           "Moodle: Grades > Import > CSV file; map 'ID number' to 'useridnumber' and each column to a grade item.")
    print(f"Wrote {path}. {how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
