"""Gradebook rows, atomic writes, summaries, identities and finding submissions (no kernels)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from iflearn.grading.grade import GradeRow, find_submissions
from iflearn.grading.gradebook import Gradebook, summarise, write_summary


def make_row(name: str, scores: dict[str, float], status: str = "ok") -> GradeRow:
    return GradeRow(submission=name, status=status, reason="", sandbox="bwrap", scores=scores,
                    details={q: "correct" if v else "wrong" for q, v in scores.items()},
                    total=sum(scores.values()), max_total=len(scores))


def test_upsert_replaces_by_identity_and_keeps_other_rows(tmp_path: Path) -> None:
    out = tmp_path / "book.csv"
    book = Gradebook.load(out)
    book.upsert([make_row("a/kim.ipynb", {"q1": 1, "q2": 0}), make_row("b/kim.ipynb", {"q1": 0, "q2": 0})],
                ["q1", "q2"])
    book.write(out)
    book = Gradebook.load(out)
    book.upsert([make_row("a/kim.ipynb", {"q1": 1, "q2": 1})], ["q1", "q2"])
    book.write(out)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["submission"] for r in rows] == ["a/kim.ipynb", "b/kim.ipynb"]
    assert (rows[0]["score"], rows[1]["score"]) == ("2", "0")
    assert "q2: wrong" in rows[1]["details"]


def test_new_questions_add_columns_and_old_rows_stay(tmp_path: Path) -> None:
    out = tmp_path / "book.csv"
    book = Gradebook.load(out)
    book.upsert([make_row("x.ipynb", {"q1": 1})], ["q1"])
    book.write(out)
    book = Gradebook.load(out)
    book.upsert([make_row("y.ipynb", {"q1": 0, "q9": 1})], ["q1", "q9"])
    book.write(out)
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header.index("q1") < header.index("q9") < header.index("sandbox")
    rows = {r["submission"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["x.ipynb"]["q9"] == "" and rows["y.ipynb"]["q9"] == "1"


def test_a_foreign_csv_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "marks.csv"
    out.write_text("name,mark\nkim,10\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an iflearn gradebook"):
        Gradebook.load(out)


def test_write_is_atomic_when_serialising_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "book.csv"
    book = Gradebook.load(out)
    book.upsert([make_row("x.ipynb", {"q1": 1})], ["q1"])
    book.write(out)
    before = out.read_bytes()

    def broken(self: Gradebook) -> bytes:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Gradebook, "to_csv", broken)
    with pytest.raises(RuntimeError):
        book.write(out)
    assert out.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


def test_summary_counts_percent_correct_over_all_rows(tmp_path: Path) -> None:
    book = Gradebook([], {})
    book.upsert([make_row("a", {"q1": 1, "q2": 0}), make_row("b", {"q1": 1, "q2": 1}),
                 make_row("c", {"q1": 0, "q2": 0}, status="invalid-notebook")], ["q1", "q2"])
    summary = {s.question: s for s in summarise(book)}
    assert summary["q1"].percent == pytest.approx(200 / 3)
    assert summary["q2"].correct == 1 and summary["q2"].graded == 3
    paths = write_summary(book, tmp_path / "book.csv")
    assert [p.name for p in paths] == ["book.summary.csv", "book.summary.md", "book.summary.png"]
    assert "invalid-notebook 1" in paths[1].read_text(encoding="utf-8")


def test_find_submissions_uses_paths_as_identity_and_skips_checkpoints(tmp_path: Path) -> None:
    for rel in ["sec_a/kim.ipynb", "sec_b/kim.ipynb", "sec_a/.ipynb_checkpoints/kim-checkpoint.ipynb",
                "sec_a/notes.txt"]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    found = find_submissions([tmp_path / "sec_a", tmp_path / "sec_b", tmp_path / "sec_a" / "kim.ipynb"],
                             base=tmp_path)
    assert [s.identity for s in found] == [os.path.join("sec_a", "kim.ipynb"), os.path.join("sec_b", "kim.ipynb")]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_submissions([tmp_path / "missing"])


def test_non_utf8_names_are_escaped_in_the_identity(tmp_path: Path) -> None:
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.ipynb")
    with open(raw, "w") as handle:
        handle.write("{}")
    (found,) = find_submissions([tmp_path], base=tmp_path)
    assert found.identity == "caf\\xe9.ipynb"
    book = Gradebook([], {})
    book.upsert([make_row(found.identity, {"q": 1})], ["q"])
    assert "caf\\xe9.ipynb" in book.to_csv().decode("utf-8")


def test_odd_text_in_reasons_never_breaks_the_csv() -> None:
    book = Gradebook([], {})
    row = make_row("x.ipynb", {"q": 0})
    row.reason = "cannot read " + os.fsdecode(b"caf\xe9")  # a lone surrogate from a file name
    book.upsert([row], ["q"])
    assert "caf\\udce9" in book.to_csv().decode("utf-8")


def test_rows_round_trip_through_json() -> None:
    row = make_row("a/b.ipynb", {"q": 1.0})
    assert GradeRow.from_json(row.to_json()) == row


def test_atomic_write_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    from iflearn.grading.gradebook import atomic_write

    path = tmp_path / "book.csv"
    umask = os.umask(0o022)
    try:
        atomic_write(path, b"a")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # a new file follows the umask, not mkstemp's 0o600
    os.chmod(path, 0o640)
    atomic_write(path, b"b")
    assert path.stat().st_mode & 0o777 == 0o640 and path.read_bytes() == b"b"
