"""Regenerate the grading demo: an answer key and submissions (good, partly wrong, and one per attack).

    python tests/grading_demo/make_demo.py

Writes ``tests/grading_demo/key.json`` and ``tests/grading_demo/submissions/``. Each attack notebook also
answers one question correctly (``if-01-text-input``) so a test can check its score is exactly what its
answer cells earn, no more. Grade the demo with::

    iflearn grade tests/grading_demo/submissions --key tests/grading_demo/key.json \\
        --out /tmp/demo/gradebook.csv --cell-timeout 5 --timeout 30
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
from nbformat import v4

HERE = Path(__file__).resolve().parent
SUBMISSIONS = HERE / "submissions"
QUESTIONS = [
    "if-01-text-input",
    "if-01-fid",
    "if-01-pros",
    "if-03-noising-extracts",
    "if-03-q-sample-code",
    "if-07-looks-3d",
    "if-07-explicit-3d-model",
]
IMPORT = "from iflearn.quiz import answer"
ONE_RIGHT = 'answer("if-01-text-input", "text")'
Q_SAMPLE_RIGHT = ("import math\n\ndef q_sample(x0, eps, abar_t):\n"
                  "    return abar_t ** 0.5 * x0 + (1 - abar_t) ** 0.5 * eps")


def _nb(*cells: str | nbformat.NotebookNode) -> nbformat.NotebookNode:
    notebook = v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [c if isinstance(c, dict) else v4.new_code_cell(c) for c in cells]
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"  # stable ids: regenerating gives the same files
    return notebook


def notebooks() -> dict[str, nbformat.NotebookNode | str]:
    """Relative path -> notebook (or raw text for the broken files)."""
    good = _nb(
        v4.new_markdown_cell("# Quiz answers"),
        IMPORT,
        'answer("if-01-text-input", "텍스트")',
        'answer("if-01-fid", 6.66)',
        'answer("if-01-pros", ["a", "b", "d", "e"])',
        'answer("if-03-noising-extracts", True)',
        Q_SAMPLE_RIGHT,
        'answer("if-07-looks-3d", True)',
        'answer("if-07-explicit-3d-model", False)',
    )
    partly = _nb(
        IMPORT,
        'answer("if-01-text-input", "an image")',           # wrong
        'answer("if-01-fid", 6.661)',                        # right, within tolerance
        'answer("if-01-pros", ["a", "b", "c"])',             # wrong
        'answer("if-03-noising-extracts", "yes")',           # wrong type
        "my_answer = True\nanswer(\"if-07-looks-3d\", my_answer)",  # not a literal
        "def q_sample(x0, eps, abar_t):\n    return abar_t * x0 + (1 - abar_t) * eps",  # wrong formula
        'answer("if-07-explicit-3d-model", True)\nanswer("if-07-explicit-3d-model", False)',  # last one wins
    )
    kim_a = _nb(IMPORT, 'answer("if-01-text-input", "text")', 'answer("if-07-looks-3d", True)')
    kim_b = _nb(IMPORT, 'answer("if-01-text-input", "image")', 'answer("if-07-looks-3d", False)')
    valid = v4.writes(_nb(IMPORT, ONE_RIGHT))
    v3 = {
        "nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "v3"},
        "worksheets": [{"metadata": {}, "cells": [
            {"cell_type": "code", "language": "python", "input": IMPORT, "outputs": [], "metadata": {}},
            {"cell_type": "code", "language": "python", "input": ONE_RIGHT, "outputs": [], "metadata": {}},
            {"cell_type": "code", "language": "python", "input": 'answer("if-01-fid", 6.66)', "outputs": [],
             "metadata": {}},
        ]}],
    }
    fake_output = v4.new_code_cell('print("answer(\\"if-01-fid\\", 6.66)  ✅ Correct!")', outputs=[
        v4.new_output("stream", name="stdout", text='answer("if-01-fid", 6.66)\n✅ Correct! score: 7/7\n'),
        v4.new_output("display_data", data={"text/html": "<b>✅ Correct!</b>", "text/plain": "✅ Correct!"}),
    ])
    return {
        "good/alice.ipynb": good,
        "partly_wrong/bob.ipynb": partly,
        "same_name/section_a/kim.ipynb": kim_a,
        "same_name/section_b/kim.ipynb": kim_b,
        "attacks/malformed.ipynb": "{ this is not JSON",
        "attacks/truncated.ipynb": valid[: len(valid) // 2],
        "attacks/nbformat_v3.ipynb": json.dumps(v3, indent=1),
        "attacks/missing_answers.ipynb": _nb(IMPORT, "x = 1 + 1"),
        "attacks/wrong_types.ipynb": _nb(
            IMPORT, ONE_RIGHT,
            'answer("if-01-fid", "6.66")', 'answer("if-03-noising-extracts", 1)',
            'answer("if-01-pros", "a, b, d, e")', 'answer("if-07-looks-3d", None)',
            'answer("if-07-explicit-3d-model")',
        ),
        "attacks/infinite_loop.ipynb": _nb(IMPORT, ONE_RIGHT, "while True:\n    pass"),
        "attacks/sleep_past_limit.ipynb": _nb(IMPORT, ONE_RIGHT, "import time\ntime.sleep(3600)"),
        "attacks/huge_output.ipynb": _nb(
            IMPORT, ONE_RIGHT,
            "import sys\nchunk = 'x' * 1_000_000\nfor _ in range(100):\n    sys.stdout.write(chunk)  # 100 MB"),
        "attacks/os_exit.ipynb": _nb(IMPORT, ONE_RIGHT, "import os\nos._exit(0)", 'answer("if-01-fid", 6.66)'),
        "attacks/read_key.ipynb": _nb(
            IMPORT, ONE_RIGHT,
            "import os, pathlib, iflearn\n"
            "repo = pathlib.Path(iflearn.__file__).resolve().parents[1]\n"
            "stolen = (repo / 'tests' / 'grading_demo' / 'key.json').read_text()\n"
            "home = os.listdir(os.path.expanduser('~root'))\n"
            "print(stolen, home)",
        ),
        "attacks/network.ipynb": _nb(
            IMPORT, ONE_RIGHT,
            "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3).close()\n"
            "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=3).read()",
        ),
        "attacks/monkeypatch.ipynb": _nb(
            IMPORT, ONE_RIGHT,
            "import iflearn.quiz, iflearn.quiz.spec, iflearn.quiz.feedback\n"
            "from iflearn.quiz.spec import Verdict\n"
            "always = lambda *a, **k: Verdict(True, 'correct')\n"
            "iflearn.quiz.check_answer = iflearn.quiz.spec.check_answer = always\n"
            "iflearn.quiz.feedback.check_answer = always",
            'answer("if-01-fid", 1.0)',  # wrong, whatever the patched kernel says
        ),
        "attacks/fake_outputs.ipynb": _nb(
            IMPORT, ONE_RIGHT, fake_output,
            v4.new_markdown_cell('answer("if-07-explicit-3d-model", False)'),
            v4.new_raw_cell('answer("if-07-looks-3d", True)'),
            'if False:\n    answer("if-03-noising-extracts", True)',
            'def later():\n    answer("if-01-pros", ["a", "b", "d", "e"])',
            'exec(\'answer("if-01-fid", 6.66)\')',
        ),
        "attacks/write_outside.ipynb": _nb(
            IMPORT, ONE_RIGHT,
            "import glob, json, os, pathlib, iflearn\n"
            "targets = ['/tmp/iflearn-demo-escape.txt', os.path.expanduser('~root/iflearn-demo-escape.txt'),\n"
            "           '../iflearn-demo-escape.txt', str(pathlib.Path(iflearn.__file__).parent / 'pwned.py')]\n"
            "targets += glob.glob('/tmp/iflearn-grade-*/result.json')\n"
            "written = []\n"
            "for target in targets:\n"
            "    try:\n"
            "        pathlib.Path(target).write_text(json.dumps({'status': 'ok', 'score': 100}))\n"
            "        written.append(target)\n"
            "    except OSError:\n"
            "        pass\n"
            "# rewrite our own notebook copy with extra answers (graded answers come from the original)\n"
            "nb = json.load(open('submission.ipynb'))\n"
            "nb['cells'].append({'cell_type': 'code', 'metadata': {}, 'outputs': [], 'execution_count': None,\n"
            "                    'source': 'answer(\"if-01-fid\", 6.66)'})\n"
            "json.dump(nb, open('submission.ipynb', 'w'))\n"
            "print('written:', written)",
        ),
    }


def main() -> None:
    from iflearn.grading.key import Key, write_key
    from iflearn.quiz import get_question

    if SUBMISSIONS.exists():
        shutil.rmtree(SUBMISSIONS)
    for relative, notebook in notebooks().items():
        path = SUBMISSIONS / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(notebook, str):
            path.write_text(notebook, encoding="utf-8")
        else:
            nbformat.write(notebook, path)
    write_key(Key({qid: get_question(qid).spec for qid in QUESTIONS}), HERE / "key.json")
    print(f"wrote {len(notebooks())} submissions and key.json under {HERE}")


if __name__ == "__main__":
    main()
