"""Grade the demo folder (good, partly wrong, and one notebook per attack) once, then check every row.

One grading run (about a minute on two busy cores) feeds all the tests in this file. The copy of the demo
adds what git cannot carry well: a notebook with a non-UTF-8 file name and a symbolic link to the key.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
from pathlib import Path

import pytest

from iflearn.grading.cli import main as grade_main
from iflearn.grading.sandbox import detect_sandbox

DEMO = Path(__file__).parent / "grading_demo"
CELL_TIMEOUT = 5
ESCAPES = [Path("/tmp/iflearn-demo-escape.txt"), Path(os.path.expanduser("~root/iflearn-demo-escape.txt"))]
NON_UTF8 = os.fsdecode(b"attacks/caf\xe9_non_utf8.ipynb")  # Latin-1 bytes in a file name
SANDBOXED = detect_sandbox().kind == "bwrap"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    root = tmp_path_factory.mktemp("demo")
    subs = root / "submissions"
    shutil.copytree(DEMO / "submissions", subs)
    key = root / "key.json"
    shutil.copyfile(DEMO / "key.json", key)
    shutil.copyfile(subs / "same_name" / "section_a" / "kim.ipynb", subs / NON_UTF8)
    (subs / "attacks" / "symlink_to_key.ipynb").symlink_to(key)
    for path in ESCAPES:
        path.unlink(missing_ok=True)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code = grade_main(["submissions", "--key", "key.json", "--out", "book/gradebook.csv",
                           "--cell-timeout", str(CELL_TIMEOUT), "--timeout", "30", "-q"])
    finally:
        os.chdir(cwd)
    assert code == 0
    book = root / "book" / "gradebook.csv"
    rows = {r["submission"]: r for r in csv.DictReader(book.open(encoding="utf-8"))}
    rows["__root__"] = {"path": str(root)}  # type: ignore[assignment]
    return rows


def row(graded: dict[str, dict[str, str]], relative: str) -> dict[str, str]:
    return graded[os.path.join("submissions", relative)]


QUESTIONS = ["if-01-text-input", "if-01-fid", "if-01-pros", "if-03-noising-extracts", "if-03-q-sample-code",
             "if-07-looks-3d", "if-07-explicit-3d-model"]


def scores(r: dict[str, str]) -> dict[str, float]:
    return {q: float(r[q]) for q in QUESTIONS}


def test_every_submission_has_exactly_one_row(graded: dict[str, dict[str, str]]) -> None:
    files = [p for p in (Path(graded["__root__"]["path"]) / "submissions").rglob("*.ipynb")]
    assert len(graded) - 1 == len(files) == 20
    for r in (v for k, v in graded.items() if k != "__root__"):
        assert r["status"] in ("ok", "error", "timeout", "invalid-notebook")
        assert r["max_score"] == "7"
        assert r["sandbox"] == ("bwrap" if SANDBOXED else "none (degraded)")


def test_good_submission_gets_full_marks(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "good/alice.ipynb")
    assert (r["status"], r["score"]) == ("ok", "7")
    assert set(scores(r).values()) == {1.0}


def test_partly_wrong_submission_scores_each_question_with_a_reason(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "partly_wrong/bob.ipynb")
    assert r["status"] == "ok"
    assert scores(r) == {"if-01-text-input": 0, "if-01-fid": 1, "if-01-pros": 0, "if-03-noising-extracts": 0,
                         "if-03-q-sample-code": 0, "if-07-looks-3d": 0, "if-07-explicit-3d-model": 1}
    assert "wrong type: expected True or False, got str 'yes'" in r["details"]
    assert "not a literal" in r["details"]
    assert "max abs error" in r["details"]  # the wrong q_sample ran and was compared outside the sandbox


def test_same_learner_name_in_two_folders_gets_two_rows(graded: dict[str, dict[str, str]]) -> None:
    a, b = row(graded, "same_name/section_a/kim.ipynb"), row(graded, "same_name/section_b/kim.ipynb")
    assert (a["score"], b["score"]) == ("2", "0")


def test_non_utf8_file_name_is_graded_with_an_escaped_identity(graded: dict[str, dict[str, str]]) -> None:
    r = graded[os.path.join("submissions", "attacks", "caf\\xe9_non_utf8.ipynb")]
    assert (r["status"], r["score"]) == ("ok", "2")


@pytest.mark.parametrize("name", ["malformed", "truncated"])
def test_broken_json_is_an_invalid_notebook_row(graded: dict[str, dict[str, str]], name: str) -> None:
    r = row(graded, f"attacks/{name}.ipynb")
    assert (r["status"], r["score"]) == ("invalid-notebook", "0")
    assert "not valid JSON" in r["reason"]


def test_symlink_to_the_key_is_rejected_without_reading_it(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/symlink_to_key.ipynb")
    assert r["status"] == "invalid-notebook" and "symbolic link" in r["reason"]


def test_nbformat_v3_is_converted_and_graded(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/nbformat_v3.ipynb")
    assert (r["status"], r["score"]) == ("ok", "2")
    assert "converted from nbformat 3" in r["reason"]


def test_missing_answers_score_zero_and_say_missing(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/missing_answers.ipynb")
    assert (r["status"], r["score"]) == ("ok", "0")
    assert "if-01-fid: missing" in r["details"]


def test_wrong_types_count_as_wrong_with_the_expected_type(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/wrong_types.ipynb")
    assert r["score"] == "1"  # only the one right answer
    assert "expected a number, got str '6.66'" in r["details"]
    assert "expected True or False, got int 1" in r["details"]
    assert r["status"] == "error" and "missing 1 required positional argument" in r["reason"]


@pytest.mark.parametrize("name", ["infinite_loop", "sleep_past_limit"])
def test_long_cells_time_out_without_hanging_the_grader(graded: dict[str, dict[str, str]], name: str) -> None:
    r = row(graded, f"attacks/{name}.ipynb")
    assert (r["status"], r["score"]) == ("timeout", "1")
    assert f"cell time limit ({CELL_TIMEOUT} s)" in r["reason"]
    assert float(r["seconds"]) < CELL_TIMEOUT + 25


def test_huge_output_is_capped(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/huge_output.ipynb")
    assert r["score"] == "1"
    assert r["status"] in ("ok", "timeout")  # 100 MB may or may not finish in 5 s on a busy machine
    if r["status"] == "ok":
        assert "most of it dropped" in r["reason"]


def test_os_exit_is_a_dead_kernel_not_a_dead_grader(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/os_exit.ipynb")
    assert r["status"] == "error" and "kernel died" in r["reason"]
    assert r["score"] == "2"  # the answer after os._exit still counts: answers come from the source


def test_monkeypatching_iflearn_in_the_kernel_changes_nothing(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/monkeypatch.ipynb")
    assert (r["status"], r["score"], r["if-01-fid"]) == ("ok", "1", "0")


def test_fake_outputs_markdown_and_hidden_calls_do_not_count(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/fake_outputs.ipynb")
    assert r["score"] == "1"
    assert all(r[q] == "0" for q in QUESTIONS[1:])


def test_rewriting_its_own_notebook_while_running_adds_no_answer(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/write_outside.ipynb")
    assert (r["score"], r["if-01-fid"]) == ("1", "0")


@pytest.mark.skipif(not SANDBOXED, reason="bubblewrap is not usable here; without it writes cannot be contained")
def test_writes_outside_the_work_folder_do_not_reach_the_host(graded: dict[str, dict[str, str]]) -> None:
    assert not [p for p in ESCAPES if p.exists()]
    root = Path(graded["__root__"]["path"])
    assert not list(root.rglob("iflearn-demo-escape.txt"))
    assert not (Path(sys.modules["iflearn"].__file__).parent / "pwned.py").exists()


@pytest.mark.skipif(not SANDBOXED, reason="bubblewrap is not usable here; degraded mode cannot block reads")
def test_the_key_cannot_be_read_from_the_kernel(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/read_key.ipynb")
    assert r["status"] == "error" and "FileNotFoundError" in r["reason"]
    assert r["score"] == "1"


@pytest.mark.skipif(not SANDBOXED, reason="bubblewrap is not usable here; degraded mode only sets dead proxies")
def test_the_network_is_unreachable(graded: dict[str, dict[str, str]]) -> None:
    r = row(graded, "attacks/network.ipynb")
    assert r["status"] == "error" and "Network is unreachable" in r["reason"]
    assert r["score"] == "1"


def test_gradebook_and_summary_do_not_leak_the_key(graded: dict[str, dict[str, str]]) -> None:
    book = Path(graded["__root__"]["path"]) / "book"
    for path in book.iterdir():
        if path.suffix in (".csv", ".md"):
            text = path.read_text(encoding="utf-8")
            assert "accepted" not in text and "squaredcos" not in text and "텍스트" not in text


def test_summary_files_are_written(graded: dict[str, dict[str, str]]) -> None:
    book = Path(graded["__root__"]["path"]) / "book"
    summary = list(csv.DictReader((book / "gradebook.summary.csv").open(encoding="utf-8")))
    assert [s["question"] for s in summary] == QUESTIONS
    assert all(s["graded"] == "20" for s in summary)
    text_input = next(s for s in summary if s["question"] == "if-01-text-input")
    expected = sum(1 for k, v in graded.items() if k != "__root__" and v["if-01-text-input"] == "1")
    assert float(text_input["correct"]) == expected
    assert (book / "gradebook.summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| `if-01-fid` |" in (book / "gradebook.summary.md").read_text(encoding="utf-8")


def test_regrading_updates_rows_without_losing_or_duplicating(graded: dict[str, dict[str, str]]) -> None:
    root = Path(graded["__root__"]["path"])
    book = root / "book" / "gradebook.csv"
    before = {r["submission"]: r for r in csv.DictReader(book.open(encoding="utf-8"))}
    bob = root / "submissions" / "partly_wrong" / "bob.ipynb"
    text = bob.read_text(encoding="utf-8").replace('\\"an image\\"', '\\"text\\"')
    bob.write_text(text, encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert grade_main(["submissions/partly_wrong", "--key", "key.json", "--out", "book/gradebook.csv",
                           "--no-execute", "-q"]) == 0
    finally:
        os.chdir(cwd)
    after = {r["submission"]: r for r in csv.DictReader(book.open(encoding="utf-8"))}
    assert list(after) == list(before)
    bob_id = os.path.join("submissions", "partly_wrong", "bob.ipynb")
    assert (before[bob_id]["if-01-text-input"], after[bob_id]["if-01-text-input"]) == ("0", "1")
    assert after[os.path.join("submissions", "good", "alice.ipynb")] == before[
        os.path.join("submissions", "good", "alice.ipynb")]
    assert not list((root / "book").glob(".*.tmp"))  # atomic writes leave no temp files
