"""Keep the course notebooks clean: execute them in order, strip editor metadata, check what is committed.

Commands::

    python -m iflearn.nbtools execute notebooks/      # re-run every notebook in a fresh kernel, in place,
                                                      # and print each one's wall time (a Markdown table)
    python -m iflearn.nbtools check notebooks/        # fail on out-of-order counts, editor metadata, big outputs
    python -m iflearn.nbtools colab solutions/        # write the Colab setup cell (address from pyproject.toml)
    python -m iflearn.nbtools build                   # write every edition from solutions/ and execute it
    python -m iflearn.nbtools build --check           # fail if a committed edition is out of date

The course is written once, as its solutions (``solutions/``, with nbgrader's ``### BEGIN SOLUTION`` markers and
filled-in answer cells); ``build`` writes the learner edition (``notebooks/``: "your turn" stubs, answer cells
``None``) with :mod:`iflearn.editions` and executes it, so that its stubs fail readably where they are.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import nbformat

__all__ = ["MAX_NOTEBOOK_BYTES", "MAX_OUTPUT_BYTES", "ALLOWED_METADATA", "COLAB_TAG", "check_notebook",
           "clean_notebook", "execute_notebook", "repository_url", "colab_setup_source", "set_colab_cell", "EDITIONS",
           "KOREAN_LANGUAGE_CELL", "edition_for", "build_editions", "main"]

#: Every generated edition: (source folder, edition name, output folder).
EDITIONS = (
    ("solutions", "learner", "notebooks"),
    ("solutions", "ko-solution", "solutions/ko"),
    ("solutions", "ko-learner", "notebooks/ko"),
)

#: The first code cell of a Korean edition, right after the Colab setup: the language of quizzes and messages.
KOREAN_LANGUAGE_CELL = (
    "# 한국어판: 퀴즈와 iflearn의 안내·오류 메시지를 한국어로 보여 줍니다. 영어로 보려면 \"ko\"를 \"en\"으로 바꾸세요.\n"
    "import iflearn\n"
    "\n"
    "iflearn.set_language(\"ko\")"
)

#: Size limits for a committed notebook and for one cell's outputs.
MAX_NOTEBOOK_BYTES = 2_000_000
MAX_OUTPUT_BYTES = 600_000
#: Notebook-level metadata keys that may be committed; everything else (widgets state, Colab, VS Code) is editor noise.
ALLOWED_METADATA = {"kernelspec", "language_info"}
#: Cell-level metadata keys that may be committed.
ALLOWED_CELL_METADATA = {"tags"}


#: Tag of the one setup cell each notebook opens with.
COLAB_TAG = "colab-setup"


def repository_url(root: str | Path = ".") -> str:
    """The course's repository address: ``[project.urls] Repository`` in ``pyproject.toml`` (edit it there)."""
    project = tomllib.loads((Path(root) / "pyproject.toml").read_text())["project"]
    return project["urls"]["Repository"]


def colab_setup_source(repository: str) -> str:
    """The setup cell: installs the course with its GPU extras in Colab, does nothing anywhere else.

    ``iflearn`` does not pin torch, so pip keeps Colab's own CUDA build.
    """
    host = repository.split("://", 1)[-1]
    return (
        "# Colab only: install the course and its GPU extras (Colab's own torch is kept). Elsewhere: nothing to do.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "iflearn[gpu] @ git+https://{host}"'
    )


def set_colab_cell(nb: nbformat.NotebookNode, repository: str) -> bool:
    """Put the setup cell first among the code cells (after the title), or update it; True if anything changed."""
    from nbformat import v4

    source = colab_setup_source(repository)
    for cell in nb.cells:
        if COLAB_TAG in cell.get("metadata", {}).get("tags", []):
            if cell.source == source:
                return False
            cell.source = source
            return True
    cell = v4.new_code_cell(source, metadata={"tags": [COLAB_TAG]})
    at = 1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0
    nb.cells.insert(at, cell)
    return True


def check_notebook(path: str | Path) -> list[str]:
    """Problems that keep a notebook from being committed; an empty list means it is clean."""
    path = Path(path)
    problems = []
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        problems.append(f"{path.name}: {size / 1e6:.1f} MB, over the {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB limit")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # malformed JSON or schema
        return problems + [f"{path.name}: not a readable notebook ({err})"]
    extra = set(nb.metadata) - ALLOWED_METADATA
    if extra:
        problems.append(f"{path.name}: editor metadata {sorted(extra)} (run: python -m iflearn.nbtools execute)")
    expected = 1
    for index, cell in enumerate(nb.cells):
        cell_extra = set(cell.get("metadata", {})) - ALLOWED_CELL_METADATA
        if cell_extra:
            problems.append(f"{path.name}: cell {index} has editor metadata {sorted(cell_extra)}")
        if cell.cell_type != "code":
            continue
        count = cell.get("execution_count")
        if count != expected:
            problems.append(f"{path.name}: cell {index} has execution count {count}, expected {expected} (run in order)")
        expected = (count or expected) + 1
        out_bytes = len(json.dumps(cell.get("outputs", [])))
        if out_bytes > MAX_OUTPUT_BYTES:
            problems.append(f"{path.name}: cell {index} outputs {out_bytes / 1e6:.2f} MB, over {MAX_OUTPUT_BYTES / 1e6:.1f} MB")
    return problems


def clean_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop editor metadata (notebook and cells), keeping kernelspec, language_info and cell tags."""
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ALLOWED_METADATA}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.get("metadata", {}).items() if k in ALLOWED_CELL_METADATA}
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                output.get("metadata", {}).pop("application/vnd.jupyter.widget-view+json", None)
    return nb


def execute_notebook(path: str | Path, timeout: int = 600) -> float:
    """Execute a notebook top to bottom in a fresh kernel, in its own folder, write it back clean.

    Returns:
        Wall seconds of the execution.
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(clean_notebook(nb), path)
    return seconds


def edition_for(name: str, source: str | Path, root: str | Path = ".", strict: bool = False):
    """The :class:`~iflearn.editions.Edition` called ``name`` for the solution notebook ``source``.

    ``"learner"`` and ``"solution"`` are the English editions; ``"ko-learner"`` / ``"ko-solution"`` translate
    with the notebook's catalogue ``translations/ko/<name>.po`` (cells without a usable translation stay English,
    with a warning; ``python -m iflearn.nbtools translations check`` lists them).
    """
    from iflearn import editions, translations

    if name in ("learner", "solution"):
        return editions.LEARNER if name == "learner" else editions.SOLUTION
    language, _, kind = name.partition("-")
    if language not in translations.LANGUAGES or kind not in ("learner", "solution"):
        raise ValueError(f"edition {name!r}: expected learner, solution or <language>-learner/-solution with a "
                         f"language of {translations.LANGUAGES}")
    notebook = editions.read_source_notebook(source)
    catalogue = translations.read_catalogue(notebook, translations.catalogue_path(root, language, source),
                                            strict=strict)
    return editions.translated_edition(language, catalogue.table, learner=kind == "learner",
                                       first_cell=KOREAN_LANGUAGE_CELL if language == "ko" else None)


def build_editions(root: str | Path = ".", execute: bool = True, check: bool = False,
                   timeout: int = 600, only: str | None = None) -> list[str]:
    """Write (or with ``check``, compare) every edition of :data:`EDITIONS`; returns what is out of date.

    Written editions are executed in a fresh kernel each (cells tagged ``raises-exception``, the stubs, may fail).
    """
    from iflearn import editions

    root = Path(root)
    stale: list[str] = []
    for source_dir, name, out_dir in EDITIONS:
        if only is not None and name != only:
            continue
        for source in sorted((root / source_dir).glob("[0-9][0-9]_*.ipynb")):
            built = editions.build_edition(source, edition_for(name, source, root)).notebook
            target = root / out_dir / source.name
            if target.exists() and not editions.out_of_sync(built, nbformat.read(target, as_version=4)):
                continue
            stale.append(str(target.relative_to(root)))
            if check:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(clean_notebook(built), target)
            if execute:
                seconds = execute_notebook(target, timeout)
                print(f"{target.relative_to(root)}: built and executed in {seconds:.1f} s", flush=True)
    return stale


def _translations(action: str, language: str, names: list[str]) -> int:
    from iflearn import translations
    from iflearn.editions import read_source_notebook

    sources = sorted(Path("solutions").glob("[0-9][0-9]_*.ipynb"))
    if names:
        wanted = {Path(n).stem for n in names}
        sources = [s for s in sources if s.stem in wanted or s.stem[:2] in wanted]
    problems: list[str] = []
    for source in sources:
        notebook = read_source_notebook(source)
        path = translations.catalogue_path(".", language, source)
        if action == "update":
            counts = translations.update_catalogue(notebook, path, source.stem)
            print(f"{path}: {counts['new']} new, {counts['changed']} changed (fuzzy), {counts['removed']} removed, "
                  f"{counts['kept']} kept")
        problems += translations.read_catalogue(notebook, path, strict=False).problems
    if action == "check":
        print(translations.summarise(problems))
        return 1 if problems else 0
    print(f"{len(problems)} entries to translate or review" if problems else "every translation is up to date")
    return 0


def _notebooks(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        found += sorted(p.glob("[0-9][0-9]_*.ipynb")) if p.is_dir() else [p]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iflearn.nbtools")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("execute", help="re-execute notebooks in place and report their wall times")
    ex.add_argument("paths", nargs="+")
    ex.add_argument("--timeout", type=int, default=600, help="per-cell time limit in seconds")
    ch = sub.add_parser("check", help="check committed notebooks are clean")
    ch.add_argument("paths", nargs="+")
    co = sub.add_parser("colab", help="write each notebook's Colab setup cell from pyproject.toml's Repository")
    co.add_argument("paths", nargs="+")
    co.add_argument("--check", action="store_true", help="only report notebooks whose setup cell is out of date")
    bu = sub.add_parser("build", help="write every edition (notebooks/ from solutions/) and execute it")
    bu.add_argument("--check", action="store_true", help="only report editions that are out of date")
    bu.add_argument("--no-execute", action="store_true", help="write without executing")
    bu.add_argument("--timeout", type=int, default=600, help="per-cell time limit in seconds")
    bu.add_argument("--edition", choices=[name for _, name, _ in EDITIONS], help="build only this edition")
    tr = sub.add_parser("translations", help="refresh or check the translation catalogues (translations/<lang>/)")
    tr.add_argument("action", choices=["update", "check"],
                    help="update: add new cells, mark changed ones fuzzy; check: list what is missing or stale")
    tr.add_argument("notebooks", nargs="*", help="solution notebooks or their stems (default: all)")
    tr.add_argument("--language", default="ko")
    args = parser.parse_args(argv)
    if args.command == "translations":
        return _translations(args.action, args.language, args.notebooks)
    if args.command == "build":
        stale = build_editions(".", execute=not args.no_execute, check=args.check, timeout=args.timeout,
                               only=args.edition)
        if args.check:
            print(("out of date (run python -m iflearn.nbtools build): " + ", ".join(stale)) if stale
                  else "every edition is up to date")
            return 1 if stale else 0
        print(f"{len(stale)} editions written" if stale else "every edition is up to date")
        return 0
    notebooks = _notebooks(args.paths)
    if args.command == "colab":
        url = repository_url()
        stale = []
        for path in notebooks:
            nb = nbformat.read(path, as_version=4)
            if set_colab_cell(nb, url):
                stale.append(path.name)
                if not args.check:
                    nbformat.write(nb, path)
        verb = "out of date" if args.check else "updated"
        print(f"{verb}: {', '.join(stale)}" if stale else f"{len(notebooks)} setup cells up to date ({url})")
        return 1 if (stale and args.check) else 0
    if args.command == "execute":
        rows = []
        for nb in notebooks:
            seconds = execute_notebook(nb, args.timeout)
            rows.append((nb.name, seconds))
            print(f"{nb.name}: {seconds:.1f} s", flush=True)
        print("\n| notebook | CPU seconds (mini backend) |\n|---|---|")
        for name, seconds in rows:
            print(f"| {name} | {seconds:.1f} |")
        return 0
    problems = [p for nb in notebooks for p in check_notebook(nb)]
    print("\n".join(problems) if problems else f"{len(notebooks)} notebooks clean")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
