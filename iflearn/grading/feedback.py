"""``iflearn feedback``: one feedback file per learner, from the gradebook and the key.

Each file gives the learner's total, then per question: the points, why (``wrong``, ``missing``,
``partial credit: 1 of 2 right choices picked, ...``, ``3 of 4 hidden cases match; case 2: max abs error ...``),
the bank's teaching feedback (the "correct" text for full points, the "wrong" text otherwise), the source, and
for a code exercise the exercise's hint. It never shows a hidden case: the key's cases are not read here, and
the grader's reasons name a case by its number only::

    iflearn feedback gradebook.csv --key key-hw1.json --out feedback/            # HTML
    iflearn feedback gradebook.csv --key key-hw1.json --out feedback/ --format md

Files mirror the submissions' paths: ``submissions/kim/hw1.ipynb`` -> ``feedback/submissions/kim/hw1.html``.
Run it in the folder you graded in, and each file also shows the learner's answers (read from the answer
cells' source, as the grader reads them).
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from iflearn.grading.key import Key, load_key

__all__ = ["QuestionFeedback", "LearnerFeedback", "parse_details", "learner_feedback", "render_markdown",
           "render_html", "feedback_path", "write_feedback", "main"]


@dataclass(frozen=True)
class QuestionFeedback:
    """One question of one learner's feedback.

    Attributes:
        qid: the question id.
        text: the question, in the chosen language (empty if unknown).
        points / max_points: earned / available.
        why: the grader's reason (``"correct"``, ``"wrong"``, ...).
        teaching: the bank's feedback for this outcome.
        hint: the exercise's hint (exercises that did not earn full points), else empty.
        source: where the fact comes from.
        answer: the learner's answer as they wrote it, if it could be read (else empty).
    """

    qid: str
    text: str
    points: float
    max_points: float
    why: str
    teaching: str
    hint: str
    source: str
    answer: str


@dataclass(frozen=True)
class LearnerFeedback:
    """One learner's feedback: their submission, status, total and questions."""

    submission: str
    status: str
    reason: str
    total: float
    max_total: float
    assignment: str
    questions: tuple[QuestionFeedback, ...]


def parse_details(details: str, qids: Sequence[str]) -> dict[str, str]:
    """Split the gradebook's ``details`` cell (``"q1: wrong; q2: missing"``) back into question -> reason."""
    if not details or not qids:
        return {}
    pattern = re.compile(r"(?:^|; )(" + "|".join(re.escape(q) for q in sorted(qids, key=len, reverse=True)) + r"): ")
    found: dict[str, str] = {}
    matches = list(pattern.finditer(details))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following is not None else len(details)
        found[match.group(1)] = details[match.end():end]
    return found


def _pick(texts: Any, language: str) -> str:
    if isinstance(texts, dict):
        return str(texts.get(language) or texts.get("en") or next(iter(texts.values()), ""))
    return str(texts or "")


def _about(key: Key, qid: str, language: str) -> tuple[str, dict[str, str], str, str]:
    """The question's text, its feedback texts (correct/wrong), source and hint: from the key, else the banks."""
    about = key.grading[qid].about if qid in key.grading else {}
    spec = key.questions[qid]
    text, feedback, source = _pick(about.get("text"), language), about.get("feedback") or {}, about.get("source", "")
    if not text:
        try:
            from iflearn.quiz.bank import get_question

            question = get_question(qid)
            text, feedback = question.prompt(language), question.feedback
            source = question.source.describe()
        except (KeyError, FileNotFoundError):
            pass
    hint = _pick(about.get("hint"), language)
    if not hint and spec.type == "exercise":
        try:
            from iflearn.quiz.exercises import get_exercise

            hint = _pick(get_exercise(spec.exercise or "").hint, language)
        except KeyError:
            pass
    return text, {k: _pick(v, language) for k, v in feedback.items()}, str(source or ""), hint


def _answers(submission: str, base: Path) -> dict[str, str]:
    """The learner's answers as written (read from source, like the grader); empty if the file is not here."""
    from iflearn.grading.extract import NotebookProblem, extract_answers, read_notebook
    from iflearn.quiz.spec import format_value

    path = base / submission
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        notebook, _ = read_notebook(path)
    except NotebookProblem:
        return {}
    return {qid: format_value(found.value) if found.literal else found.reason
            for qid, found in extract_answers(notebook).items()}


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


def learner_feedback(row: dict[str, str], key: Key, language: str = "en",
                     base: str | os.PathLike[str] | None = None) -> LearnerFeedback:
    """Build one learner's feedback from their gradebook row (a ``csv.DictReader`` row of the gradebook)."""
    qids = list(key.questions)
    reasons = parse_details(row.get("details", ""), qids)
    answers = _answers(row["submission"], Path(base or os.getcwd()))
    items = []
    for qid in qids:
        spec = key.questions[qid]
        points = _number(row.get(qid, ""))
        full = points >= spec.points - 1e-9
        why = reasons.get(qid, "correct" if full else "missing")
        text, teaching, source, hint = _about(key, qid, language)
        items.append(QuestionFeedback(
            qid=qid, text=text, points=points, max_points=spec.points, why=why,
            teaching=teaching.get("correct" if full else "wrong", ""),
            hint="" if full or spec.type != "exercise" else hint, source=source, answer=answers.get(qid, "")))
    return LearnerFeedback(row["submission"], row.get("status", ""), row.get("reason", ""),
                           _number(row.get("score", "")), _number(row.get("max_score", "")) or key.max_score,
                           key.name, tuple(items))


def _md(text: str) -> str:
    """Learner-written or grader text as inert Markdown: no HTML, no links, no formatting."""
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text.replace("\n", " "))


def render_markdown(feedback: LearnerFeedback, language: str = "en") -> str:
    """The feedback as Markdown."""
    ko = language == "ko"
    title = feedback.assignment or ("과제" if ko else "Assignment")
    lines = [f"# {_md(title)}: {'피드백' if ko else 'feedback'}", "",
             f"**{'제출' if ko else 'Submission'}:** {_md(feedback.submission)}  ",
             f"**{'점수' if ko else 'Score'}:** {feedback.total:g} / {feedback.max_total:g}", ""]
    if feedback.status and feedback.status != "ok":
        lines += [f"> {'노트북이 끝까지 실행되지 않았습니다' if ko else 'Your notebook did not run to the end'} "
                  f"({_md(feedback.status)}): {_md(feedback.reason)}", ""]
    lines += ["| # | " + ("문제" if ko else "question") + " | " + ("점수" if ko else "points") + " |", "|---|---|---:|"]
    lines += [f"| {n} | `{q.qid}` | {q.points:g} / {q.max_points:g} |" for n, q in enumerate(feedback.questions, 1)]
    for number, q in enumerate(feedback.questions, start=1):
        lines += ["", f"## {number}. `{q.qid}` — {q.points:g} / {q.max_points:g}", ""]
        if q.text:
            lines += [_md(q.text), ""]
        if q.answer:
            lines.append(f"- {'내 답' if ko else 'Your answer'}: {_md(q.answer)}")
        lines.append(f"- {'채점' if ko else 'Graded'}: {_md(q.why)}")
        if q.teaching:
            lines.append(f"- {'설명' if ko else 'Why'}: {_md(q.teaching)}")
        if q.hint:
            lines.append(f"- {'힌트' if ko else 'Hint'}: {_md(q.hint)}")
        if q.source:
            lines.append(f"- {'출처' if ko else 'Source'}: {_md(q.source)}")
    return "\n".join(lines) + "\n"


def render_html(feedback: LearnerFeedback, language: str = "en") -> str:
    """The feedback as a self-contained HTML page (every text escaped)."""
    ko = language == "ko"
    e = html.escape
    title = e(feedback.assignment or ("과제" if ko else "Assignment"))
    parts = [f"<!DOCTYPE html>\n<html lang=\"{e(language)}\"><head><meta charset=\"utf-8\">",
             f"<title>{title}: {'피드백' if ko else 'feedback'}</title>",
             "<style>body{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.45}"
             "td,th{padding:2px 10px;border-bottom:1px solid #ddd}.full{color:#1b7f3b}.part{color:#9a6700}"
             ".none{color:#b3261e}section{border-left:4px solid #ccc;padding:2px 12px;margin:1em 0}</style>",
             "</head><body>", f"<h1>{title}: {'피드백' if ko else 'feedback'}</h1>",
             f"<p><b>{'제출' if ko else 'Submission'}:</b> {e(feedback.submission)}<br>"
             f"<b>{'점수' if ko else 'Score'}:</b> {feedback.total:g} / {feedback.max_total:g}</p>"]
    if feedback.status and feedback.status != "ok":
        parts.append(f"<p class=\"none\">{'노트북이 끝까지 실행되지 않았습니다' if ko else 'Your notebook did not run to the end'}"
                     f" ({e(feedback.status)}): {e(feedback.reason)}</p>")
    parts.append(f"<table><tr><th>#</th><th>{'문제' if ko else 'question'}</th><th>{'점수' if ko else 'points'}</th></tr>")
    for number, q in enumerate(feedback.questions, start=1):
        parts.append(f"<tr><td>{number}</td><td><code>{e(q.qid)}</code></td>"
                     f"<td class=\"{_grade_class(q)}\">{q.points:g} / {q.max_points:g}</td></tr>")
    parts.append("</table>")
    for number, q in enumerate(feedback.questions, start=1):
        parts.append(f"<section><h2>{number}. <code>{e(q.qid)}</code> — "
                     f"<span class=\"{_grade_class(q)}\">{q.points:g} / {q.max_points:g}</span></h2>")
        if q.text:
            parts.append(f"<p>{e(q.text)}</p>")
        rows = [("내 답" if ko else "Your answer", q.answer), ("채점" if ko else "Graded", q.why),
                ("설명" if ko else "Why", q.teaching), ("힌트" if ko else "Hint", q.hint),
                ("출처" if ko else "Source", q.source)]
        parts.append("<ul>" + "".join(f"<li><b>{e(k)}:</b> {e(v)}</li>" for k, v in rows if v) + "</ul></section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _grade_class(q: QuestionFeedback) -> str:
    return "full" if q.points >= q.max_points - 1e-9 else "part" if q.points > 0 else "none"


def feedback_path(out: str | os.PathLike[str], submission: str, suffix: str) -> Path:
    """Where a submission's feedback goes: its path under ``out``, with ``suffix`` (never outside ``out``)."""
    parts = [p for p in PurePosixPath(submission.replace(os.sep, "/")).parts if p not in ("/", "..", ".", "")]
    if not parts:
        parts = ["submission"]
    stem = parts[-1][:-len(".ipynb")] if parts[-1].endswith(".ipynb") else parts[-1]
    return Path(out, *parts[:-1], stem + suffix)


def write_feedback(gradebook: str | os.PathLike[str], key: Key, out: str | os.PathLike[str], fmt: str = "html",
                   language: str = "en", base: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write one feedback file per gradebook row; returns the paths, in gradebook order.

    Args:
        gradebook: the gradebook CSV written by ``iflearn grade``.
        key: the key it was graded with.
        out: the folder for the feedback files.
        fmt: ``"html"`` or ``"md"``.
        language: ``"en"`` or ``"ko"``.
        base: the folder the submissions' paths are relative to (default: the current folder).
    """
    from iflearn.grading.gradebook import Gradebook, atomic_write

    if fmt not in ("html", "md"):
        raise ValueError(f"format {fmt!r}: expected 'html' or 'md'.")
    if not Path(gradebook).is_file():
        raise FileNotFoundError(f"{gradebook}: no such gradebook; grade first with iflearn grade SUBMISSIONS "
                                f"--key KEY --out {gradebook}.")
    book = Gradebook.load(Path(gradebook))
    if not book.rows:
        raise ValueError(f"{gradebook}: no gradebook rows; grade first with iflearn grade SUBMISSIONS --key KEY "
                         f"--out {gradebook}.")
    missing = [q for q in key.questions if q not in book.questions]
    if missing:
        raise ValueError(f"{gradebook} has no column for {missing[:3]}: was it graded with this key? Pass the "
                         "key you graded with.")
    paths = []
    for identity in sorted(book.rows):
        feedback = learner_feedback(book.rows[identity], key, language, base)
        text = render_html(feedback, language) if fmt == "html" else render_markdown(feedback, language)
        path = feedback_path(out, identity, ".html" if fmt == "html" else ".md")
        atomic_write(path, text.encode("utf-8"))
        paths.append(path)
    return paths


def build_parser() -> argparse.ArgumentParser:
    """``iflearn feedback --help``."""
    parser = argparse.ArgumentParser(prog="iflearn feedback",
                                     description="Write one feedback file per learner from a graded gradebook.")
    parser.add_argument("gradebook", help="the gradebook CSV from iflearn grade")
    parser.add_argument("--key", required=True, help="the key it was graded with")
    parser.add_argument("--out", default="feedback", help="folder for the files (default %(default)s)")
    parser.add_argument("--format", choices=("html", "md"), default="html", help="HTML or Markdown (default html)")
    parser.add_argument("--language", choices=("en", "ko"), default=None, help="default: IFLEARN_LANG, else en")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``iflearn feedback``."""
    from iflearn.i18n import get_language

    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        key = load_key(args.key)
        paths = write_feedback(args.gradebook, key, args.out, args.format, args.language or get_language())
    except (ValueError, FileNotFoundError) as exc:
        print(f"iflearn feedback: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {len(paths)} feedback files under {args.out}/ (one per learner; no hidden cases in them).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
