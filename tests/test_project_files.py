"""The project's set-up files agree with each other, and committed notebooks are clean."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from iflearn.nbtools import check_notebook, clean_notebook

ROOT = Path(__file__).resolve().parents[1]
# the course's solutions (the source) and its learner edition (generated)
NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_environment_yml_has_the_same_pins_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert set(pip_list) == pins


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^bash scripts/\w+.*$", readme, flags=re.M)
    assert "bash scripts/test" in commands and any(c.startswith("bash scripts/course") for c in commands)
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert ci == ["bash scripts/test"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebook_is_clean(path):
    assert check_notebook(path) == []


def _notebook(counts, metadata=None, output_bytes=10):
    nb = nbformat.v4.new_notebook()
    nb.metadata = metadata or {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    for count in counts:
        cell = nbformat.v4.new_code_cell("print(1)")
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * output_bytes)]
        nb.cells.append(cell)
    return nb


def test_checker_catches_out_of_order_counts(tmp_path):
    nbformat.write(_notebook([1, 3, 2]), tmp_path / "00_bad.ipynb")
    assert any("execution count 3, expected 2" in p for p in check_notebook(tmp_path / "00_bad.ipynb"))


def test_checker_catches_widget_and_colab_metadata(tmp_path):
    nb = _notebook([1], metadata={"kernelspec": {}, "widgets": {"state": {}}, "colab": {"provenance": []}})
    nbformat.write(nb, tmp_path / "00_bad.ipynb")
    problems = check_notebook(tmp_path / "00_bad.ipynb")
    assert any("['colab', 'widgets']" in p for p in problems)
    nbformat.write(clean_notebook(nb), tmp_path / "00_clean.ipynb")
    assert check_notebook(tmp_path / "00_clean.ipynb") == []


def test_checker_catches_oversized_outputs(tmp_path):
    nbformat.write(_notebook([1], output_bytes=700_000), tmp_path / "00_big.ipynb")
    assert any("outputs" in p and "MB" in p for p in check_notebook(tmp_path / "00_big.ipynb"))


def test_checker_accepts_a_clean_notebook(tmp_path):
    nbformat.write(_notebook([1, 2, 3]), tmp_path / "00_ok.ipynb")
    assert check_notebook(tmp_path / "00_ok.ipynb") == []


def test_colab_setup_cell_opens_every_notebook_with_the_repository_address():
    from iflearn.nbtools import COLAB_TAG, colab_setup_source, repository_url

    url = repository_url(ROOT)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert COLAB_TAG in code[0].metadata.get("tags", []), f"{path.name}: the first code cell is not the setup cell"
        assert code[0].source == colab_setup_source(url), (
            f"{path.name}: setup cell out of date; run python -m iflearn.nbtools colab solutions/ and build")
        assert not any(COLAB_TAG in c.metadata.get("tags", []) for c in code[1:])
    repo_path = url.split("github.com/", 1)[1]
    badges = re.findall(r"colab\.research\.google\.com/github/([^)]*?)/blob/main/notebooks/", (ROOT / "README.md").read_text())
    assert badges and set(badges) == {repo_path}


def test_no_install_command_outside_the_setup_cell():
    from iflearn.nbtools import COLAB_TAG

    install = re.compile(r"^\s*[!%]\s*(pip|conda|apt|uv)\b|pip install", flags=re.M)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and COLAB_TAG not in cell.metadata.get("tags", []):
                assert not install.search(cell.source), f"{path.name} cell {index} installs something"
