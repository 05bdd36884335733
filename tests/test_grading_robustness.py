"""What a determined submission does to the grader itself, and what the grader must do about it.

Each test plants one attack or odd input in a small notebook and grades it with real kernels (bubblewrap
where it works): environment leaks through ``/proc``, links left where the runner cleans up, a FIFO or
``/dev/zero`` where the grader reads a result, deep nesting and giant numbers, terminal escapes, SIGTERM,
and ``--no-execute``. The ones that could hang the grader on a regression run it in a child process with a
time limit, so a failure is a failed test, not a stuck test run.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from notebook_files import write

from iflearn.grading.cli import main as grade_main
from iflearn.grading.grade import GradeOptions, GradeRow, Submission, grade_submission
from iflearn.grading.gradebook import Gradebook
from iflearn.grading.key import load_key
from iflearn.grading.sandbox import detect_sandbox

DEMO_KEY = Path(__file__).parent / "grading_demo" / "key.json"
SANDBOXED = detect_sandbox().kind == "bwrap"
RIGHT = ['from iflearn.quiz import answer', 'answer("if-01-fid", 6.66)', 'answer("if-07-looks-3d", True)']

_GRADE_ONE = """
import json, sys
from pathlib import Path
from iflearn.grading.grade import GradeOptions, Submission, grade_submission
from iflearn.grading.key import load_key
path, key, cell_timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
row = grade_submission(Submission(Path(path), Path(path).name), load_key(key), GradeOptions(cell_timeout=cell_timeout))
print(row.to_json())
"""


def grade_in_child(path: Path, timeout: float = 150, memory_gb: float = 1.5) -> GradeRow:
    """Grade ``path`` in a child process under a time and memory limit (a hang or a blow-up fails the test)."""

    def limit_memory() -> None:  # soft limit only: the sandbox's own limits are set below the hard one
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (int(memory_gb * 2**30), hard))

    try:
        done = subprocess.run([sys.executable, "-c", _GRADE_ONE, str(path), str(DEMO_KEY), "20"],
                              capture_output=True, text=True, timeout=timeout, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"grading {path.name} did not finish in {timeout:g} s: the grader hung")
    assert done.returncode == 0, done.stderr[-2000:]
    return GradeRow.from_json(done.stdout.strip().splitlines()[-1])


def grade(path: Path, **options: object) -> GradeRow:
    return grade_submission(Submission(path, path.name), load_key(DEMO_KEY),
                            GradeOptions(cell_timeout=20, **options))  # type: ignore[arg-type]


# -- 1. the sandbox sees nothing of the grader's environment ---------------------------------------------------

SCAN_PROC = (
    "def scan():\n"
    "    import glob\n"
    "    found = []\n"
    "    for name in glob.glob('/proc/*/environ') + glob.glob('/proc/*/task/*/environ'):\n"
    "        try:\n"
    "            data = open(name, 'rb').read()\n"
    "        except OSError:\n"
    "            continue\n"
    "        found += [v.decode() for v in data.split(b'\\0') if v.startswith(b'INSTRUCTOR_')]\n"
    "    return 'scanned: ' + ' '.join(found)\n"
)


@pytest.mark.skipif(not SANDBOXED, reason="bubblewrap is not usable here; degraded mode cannot hide /proc")
def test_no_proc_entry_in_the_sandbox_shows_the_graders_environment(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"planted-{uuid.uuid4().hex}"
    monkeypatch.setenv("INSTRUCTOR_API_TOKEN", secret)
    path = write(tmp_path / "leak.ipynb", *RIGHT, SCAN_PROC + "raise RuntimeError(scan())",
                 "def q_sample(x0, eps, abar_t):\n" + "\n".join("    " + line for line in SCAN_PROC.splitlines())
                 + "\n    raise RuntimeError(scan())")
    row = grade(path)
    assert "scanned:" in row.reason and "scanned:" in row.details["if-03-q-sample-code"]  # both scans ran
    book = Gradebook([], {})
    book.upsert([row], row.scores)
    everything = book.to_csv().decode("utf-8") + row.to_json()
    assert secret not in everything and "INSTRUCTOR_API_TOKEN" not in everything
    assert row.total == 2  # the right answers still count


# -- 2. no clean-up follows a link the submission left ----------------------------------------------------------

def test_cleanup_does_not_follow_a_linked_ipc_folder_out_of_the_sandbox(tmp_path: Path) -> None:
    victim = tmp_path / "instructor_files"
    victim.mkdir()
    names = ["kernel.json"] + [f"kernel-{i}" for i in range(1, 12)] + ["notes.txt"]
    for name in names:
        (victim / name).write_text("keep me", encoding="utf-8")
    path = write(tmp_path / "links.ipynb", *RIGHT,
                 f"import os\nos.rename('ipc', 'ipc_moved')\nos.symlink({str(victim)!r}, 'ipc')")
    row = grade(path)
    assert row.status == "ok", row.reason
    assert sorted(p.name for p in victim.iterdir()) == sorted(names)


# -- 3. files read back from the sandbox: regular, capped, non-blocking -----------------------------------------

RESPONSE_ATTACKS = {
    "fifo": "os.mkfifo('response.json')",
    "dev_zero": "os.symlink('/dev/zero', 'response.json')",
    "deep_json": "open('response.json', 'w').write('{\"results\": ' + '[' * 200000 + ']' * 200000 + '}')",
    "huge_file": "open('response.json', 'w').write('{\"results\": [' + ' ' * (20 << 20) + ']}')",
    "giant_number": "open('response.json', 'w').write('{\"results\": [{\"name\": \"q_sample\", \"error\": \"\", "
                    "\"outputs\": [' + '9' * 5000 + ']}]}')",
}


@pytest.mark.parametrize("attack", sorted(RESPONSE_ATTACKS))
def test_a_bad_exercise_response_fails_the_exercise_only(tmp_path: Path, attack: str) -> None:
    body = f"    import os\n    {RESPONSE_ATTACKS[attack]}\n    os._exit(0)"
    path = write(tmp_path / f"{attack}.ipynb", *RIGHT, f"def q_sample(x0, eps, abar_t):\n{body}")
    started = time.monotonic()
    row = grade_in_child(path)
    assert time.monotonic() - started < 120
    assert row.status == "ok", row.reason  # the notebook ran; only the exercise failed
    assert (row.total, row.scores["if-03-q-sample-code"]) == (2, 0)
    assert row.details["if-03-q-sample-code"] not in ("", "correct", "missing")


# -- 5. one submission's odd input costs its own points only ----------------------------------------------------

def test_a_giant_integer_answer_scores_zero_and_the_rest_still_counts(tmp_path: Path) -> None:
    path = write(tmp_path / "giant.ipynb", *RIGHT, 'answer("if-01-text-input", "text")',
                 f'answer("if-01-fid", {"9" * 4000})')
    row = grade(path)
    assert row.status == "ok", row.reason  # the notebook ran, its answer() call did not crash either
    assert row.scores["if-01-fid"] == 0 and "number" in row.details["if-01-fid"]
    assert row.scores["if-07-looks-3d"] == 1 and row.scores["if-01-text-input"] == 1


def test_deeply_nested_notebook_json_is_read_and_its_answers_count(tmp_path: Path) -> None:
    path = write(tmp_path / "nested.ipynb", *RIGHT)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["cells"][0]["metadata"]["deep"] = "@@DEEP@@"
    path.write_text(json.dumps(data).replace('"@@DEEP@@"', "[" * 100_000 + "]" * 100_000), encoding="utf-8")
    row = grade(path)
    assert (row.status, row.total) == ("ok", 2), row.reason
    assert "nested deeper than" in row.reason


# -- 8. --no-execute runs nothing ---------------------------------------------------------------------------------

def test_no_execute_runs_no_exercise_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran.txt"
    write(tmp_path / "s" / "x.ipynb", *RIGHT,
          f"def q_sample(x0, eps, abar_t):\n    open({str(marker)!r}, 'w').write('ran')\n    return x0")
    monkeypatch.chdir(tmp_path)
    assert grade_main(["s", "--key", str(DEMO_KEY), "--out", "book.csv", "--no-execute", "--sandbox", "none",
                       "-q"]) == 0
    assert not marker.exists()
    text = (tmp_path / "book.csv").read_text(encoding="utf-8")
    assert "if-03-q-sample-code: not run: --no-execute" in text


# -- 9. SIGTERM to the grader's process group leaves nothing running ---------------------------------------------

def _children(pid: int) -> set[int]:
    found, parents = set(), {pid}
    while True:
        more = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) not in found:
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid in parents:
                    more.add(int(entry.name))
        if not more:
            return found
        found |= more
        parents = more


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_sigterm_to_the_graders_process_group_leaves_no_runner_sandbox_or_kernel(tmp_path: Path) -> None:
    write(tmp_path / "s" / "slow.ipynb", *RIGHT, "import time\ntime.sleep(120)")
    grader = subprocess.Popen([sys.executable, "-m", "iflearn.grading", "grade", "s", "--key", str(DEMO_KEY),
                               "--out", "book.csv", "--cell-timeout", "200", "-q"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        family: set[int] = set()
        while time.monotonic() < deadline:
            family |= _children(grader.pid)
            if any("_kernel" in _cmdline(p) or "ipykernel" in _cmdline(p) for p in family):
                break
            time.sleep(0.2)
        else:
            pytest.fail("the kernel never started")
        time.sleep(1.0)  # well inside the sleeping cell
        family |= _children(grader.pid)
        assert len(family) >= 3  # the runner, the sandbox (or jail) and the kernel at least
        os.killpg(grader.pid, signal.SIGTERM)
        grader.wait(timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            time.sleep(0.2)
        left = {p: _cmdline(p)[:120] for p in family if _alive(p)}
        assert not left, f"still running after SIGTERM: {left}"
    finally:
        for pid in _children(grader.pid) | {grader.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# -- 12. terminal escapes from a submission never reach the terminal or the CSV ----------------------------------

def test_terminal_escapes_in_a_submissions_error_are_stripped(tmp_path: Path) -> None:
    path = write(tmp_path / "ansi.ipynb", *RIGHT,
                 "raise RuntimeError('\\x1b[2J\\x1b[31mboom\\x1b[0m\\x1b]0;owned\\x07 \\x07bell\\rline')")
    row = grade(path)
    assert row.status == "error" and "boom" in row.reason
    assert not any(ord(c) < 0x20 or c == "\x7f" for c in row.reason), repr(row.reason)
    assert "owned" not in row.reason and "[31m" not in row.reason


def test_a_file_name_with_escapes_gets_a_printable_identity(tmp_path: Path) -> None:
    from iflearn.grading.grade import find_submissions

    path = write(tmp_path / "evil\x1b[2J\x07.ipynb", *RIGHT)
    (found,) = find_submissions([path], base=tmp_path)
    assert found.identity == "evil\\x1b[2J\\x07.ipynb"


def test_the_executed_copies_of_two_look_alike_names_do_not_overwrite_each_other(tmp_path: Path) -> None:
    from iflearn.grading.grade import find_submissions

    write(tmp_path / "s" / "a" / "b.ipynb", *RIGHT)
    write(tmp_path / "s" / "a__b.ipynb", *RIGHT, "1 / 0")
    kept = tmp_path / "kept"
    for sub in find_submissions([tmp_path / "s"], base=tmp_path):
        grade_submission(sub, load_key(DEMO_KEY), GradeOptions(cell_timeout=20, keep_executed=str(kept)))
    copies = sorted(kept.iterdir())
    assert len(copies) == 2
    assert sum("ZeroDivisionError" in p.read_text(encoding="utf-8") for p in copies) == 1


def test_runner_gets_a_filtered_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from iflearn.grading.grade import child_environment
    from iflearn.grading.sandbox import launch_environment

    monkeypatch.setenv("INSTRUCTOR_API_TOKEN", "secret")
    monkeypatch.setenv("IFLEARN_LANG", "ko")
    env = child_environment()
    assert "INSTRUCTOR_API_TOKEN" not in env and env["IFLEARN_LANG"] == "ko" and "PATH" in env
    assert set(launch_environment()) <= {"PATH", "LANG", "IFLEARN_LANG"}


def test_a_notebook_file_under_a_symlinked_name_is_not_followed(tmp_path: Path) -> None:
    from iflearn.grading.extract import UnsafeFile, read_regular_file

    target = tmp_path / "real.json"
    target.write_text("{}")
    (tmp_path / "link.json").symlink_to(target)
    with pytest.raises(UnsafeFile, match="symbolic link"):
        read_regular_file(tmp_path / "link.json", 100)
    with pytest.raises(UnsafeFile, match="not a regular file"):
        read_regular_file("/dev/zero", 100)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafeFile, match="not a regular file"):
        read_regular_file(tmp_path / "fifo", 100)  # returns at once: opened non-blocking
    with pytest.raises(UnsafeFile, match="over the"):
        target.write_bytes(b" " * 200)
        read_regular_file(target, 100)


def test_the_runner_started_as_a_new_interpreter_grades_the_same(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "plain.ipynb", *RIGHT, "1 / 0")
    forked = grade(path)
    monkeypatch.setenv("IFLEARN_GRADING_NO_FORK", "1")
    started = grade(path)
    assert (forked.status, forked.total) == (started.status, started.total) == ("error", 2)
    assert "ZeroDivisionError" in forked.reason and "ZeroDivisionError" in started.reason


def test_the_grading_kernel_still_offers_the_whole_jupyter_client_package(tmp_path: Path) -> None:
    path = write(tmp_path / "jc.ipynb", *RIGHT, "import jupyter_client\nfrom jupyter_client import KernelManager\n"
                 "assert KernelManager is jupyter_client.KernelManager and jupyter_client.find_connection_file")
    row = grade(path)
    assert (row.status, row.total) == ("ok", 2), row.reason
