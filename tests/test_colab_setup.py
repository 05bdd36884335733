"""A learner's first minutes in Colab: the setup cell installs the course into an environment that already has
torch (as Colab's has), keeps that torch, and the notebook's first cells then run.

A fresh virtual environment stands in for a Colab runtime: torch, ipykernel and nbclient preinstalled, and a
stand-in ``google.colab`` package (``tests/colab_standin``) imported by the kernel at start-up, as Colab does. The
setup cell runs as committed, except that it installs from this checkout instead of the repository address.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from iflearn.nbtools import COLAB_TAG, repository_url

ROOT = Path(__file__).resolve().parents[1]
FIRST_CELLS = 7  # title, setup cell, section, doctor report, its text, Cascade.load(), what it chose

DRIVER = """
import json, sys
import nbformat
from nbclient import NotebookClient

nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells = nb.cells[: int(sys.argv[2])]
NotebookClient(nb, timeout=900, kernel_name="python3").execute()
texts = ["".join(o.get("text", "") for o in c.get("outputs", [])) for c in nb.cells if c.cell_type == "code"]
print(json.dumps(texts))
"""


@pytest.mark.slow
def test_setup_cell_installs_the_course_in_colab_and_keeps_its_torch(tmp_path: Path) -> None:
    env = tmp_path / "colab-env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    python = str(env / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "torch==2.13.0", "ipykernel", "nbclient", "nbformat"], check=True)
    torch_before = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], check=True,
                                  capture_output=True, text=True).stdout.strip()

    nb = nbformat.read(ROOT / "notebooks" / "00_setup_and_tour.ipynb", as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if COLAB_TAG in c.metadata.get("tags", []))
    assert setup <= 1, "the setup cell must open the notebook"
    url = repository_url(ROOT)
    assert f"git+https://{url.split('://', 1)[1]}" in nb.cells[setup].source
    nb.cells[setup].source = nb.cells[setup].source.replace(f"git+https://{url.split('://', 1)[1]}", ROOT.as_uri())
    notebook = tmp_path / "00_setup_and_tour.ipynb"
    nbformat.write(nb, notebook)

    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text("import google.colab  # as Colab's kernel does\n")
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    run_env.update(PATH=f"{env / 'bin'}{os.pathsep}{os.environ['PATH']}", IPYTHONDIR=str(tmp_path / "ipython"),
                   PYTHONPATH=str(ROOT / "tests" / "colab_standin"), HF_HUB_OFFLINE="1", MPLBACKEND="agg",
                   IFLEARN_LANG="en")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    done = subprocess.run([python, str(driver), str(notebook), str(FIRST_CELLS)], env=run_env, capture_output=True,
                          text=True, timeout=1500, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    texts = json.loads(done.stdout.strip().splitlines()[-1])

    torch_after = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], check=True,
                                 capture_output=True, text=True).stdout.strip()
    assert torch_after == torch_before, f"the setup cell replaced Colab's torch: {torch_before} -> {torch_after}"
    shown = "\n".join(texts)
    assert re.search(r"^colab\s+yes$", shown, flags=re.M), shown  # iflearn doctor sees Colab
    assert "mini backend" in shown  # this stand-in has no GPU
    installed = subprocess.run([python, "-m", "pip", "show", "iflearn", "bitsandbytes"], capture_output=True, text=True)
    assert "Name: iflearn" in installed.stdout and "Name: bitsandbytes" in installed.stdout  # the [gpu] extra
    site = subprocess.run([python, "-c", "import iflearn; print(iflearn.__file__)"], capture_output=True, text=True,
                          env=run_env, cwd=tmp_path).stdout
    assert str(env) in site, site  # installed into the runtime, not imported from the checkout
