"""Every notebook's real-backend branches, run on the CPU against the real-layout fixture (``tests/real_layout.py``).

The kernels see a simulated 15 GB T4 (``IFLEARN_SIMULATE_GPU``), so ``Cascade.load()`` picks the ``real`` backend
and the ``t4`` recipe as on a free Colab; the published repo ids resolve offline from a temporary Hub cache; step
counts are capped at 2 (``IFLEARN_MAX_STEPS``). Pictures are noise: what is tested is that every cell runs and that
each part is loaded at most once per notebook (every top-level ``from_pretrained`` is counted in the kernel by
``tests/kernel_startup/count_loads.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from real_layout import STAGE3_REPO, build_hub_cache

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))  # the solution edition: every branch runs
TIMINGS: dict[str, float] = {}

#: Loads that are meant to repeat, with the reason. Notebook 05 runs the source material's practice code, fixed:
#: a self-contained script that loads its own pipelines after the cascade has released its parts.
ALLOWED_REPEATS = {("05_cascade", STAGE3_REPO, "StableDiffusionUpscalePipeline", None, ()): 2}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hub_cache(tmp_path_factory.mktemp("real-layout-hub"))


@pytest.fixture()
def real_kernel_env(hub_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment of the kernels: fixture Hub cache, simulated T4, capped steps, load log, own caches."""
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "kernel_startup" / "count_loads.py", startup / "00-count-loads.py")
    log = tmp_path / "loads.jsonl"
    # Notebook 09 trains mini-IF itself (no backend involved) and keeps the finished run under the cache's
    # training/ folder; sharing that folder with the nbval runs means the suite trains it once, not once per run.
    from iflearn.embed_cache import cache_root

    training = cache_root() / "training"
    training.mkdir(parents=True, exist_ok=True)
    (tmp_path / "iflearn-cache").mkdir()
    (tmp_path / "iflearn-cache" / "training").symlink_to(training, target_is_directory=True)
    for name, value in {
        "HF_HUB_CACHE": str(hub_cache), "HF_HUB_OFFLINE": "1", "IFLEARN_SIMULATE_GPU": "Tesla T4:15",
        "IFLEARN_MAX_STEPS": "2", "IFLEARN_CACHE": str(tmp_path / "iflearn-cache"), "IPYTHONDIR": str(tmp_path / "ipython"),
        "IFLEARN_LOAD_LOG": str(log), "MPLBACKEND": "agg", "IFLEARN_LANG": "en", "IFLEARN_UNTRAINED_WEIGHTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    return log


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_real_backend(path: Path, real_kernel_env: Path) -> None:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on the first failing cell
    TIMINGS[path.stem] = time.perf_counter() - start
    outputs = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    if any("Cascade.load()" in "".join(c.source) for c in nb.cells if c.cell_type == "code"):
        assert "Using the real backend" in outputs, "the notebook did not pick the real backend"

    loads = [json.loads(line) for line in real_kernel_env.read_text().splitlines()] if real_kernel_env.exists() else []
    counts = Counter((path.stem, d["repo"], d["class"], d["subfolder"], tuple(d["without"])) for d in loads
                     if "/" in d["repo"] and not Path(d["repo"]).is_absolute())
    repeated = {key: n for key, n in counts.items() if n > ALLOWED_REPEATS.get(key, 1)}
    assert not repeated, f"parts loaded more than once in {path.name}: {repeated}"
    check_memory_table(path.stem, sorted({p for d in loads if (p := part_of(d))}))


def part_of(load: dict) -> str | None:
    """Which cascade part a recorded ``from_pretrained`` call loads (``None``: not a real-repo load)."""
    repo, subfolder = load["repo"], load["subfolder"]
    if subfolder in ("safety_checker", "feature_extractor", "watermarker"):
        return "safety"
    if repo.startswith("DeepFloyd/IF-I-"):
        return "encoder" if subfolder in ("text_encoder", "tokenizer") or "unet" in load["without"] else "stage1"
    if repo.startswith("DeepFloyd/IF-II-"):
        return "stage2"
    return "stage3" if repo == STAGE3_REPO else None


def check_memory_table(stem: str, parts: list[str]) -> None:
    """The committed T4 memory table (benchmarks/results/t4_memory.json) lists exactly what the notebook loads;
    ``IFLEARN_RECORD_LOADS=FILE`` records instead (``python benchmarks/t4_memory.py`` does that)."""
    record = os.environ.get("IFLEARN_RECORD_LOADS")
    if record:
        path = Path(record)
        found = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**found, stem: parts}))
        return
    table = json.loads((ROOT / "benchmarks" / "results" / "t4_memory.json").read_text())
    rows = {row["notebook"]: row["parts"] for row in table["notebooks"]}
    assert rows.get(stem) == parts, (
        f"{stem} loads {parts}, the T4 memory table says {rows.get(stem)}: regenerate it with "
        "python benchmarks/t4_memory.py"
    )
