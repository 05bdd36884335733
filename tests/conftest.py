"""Shared fixtures: tiny seeded mini-IF folders built offline, and a command-line option for the browser test."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-browser-test", action="store_true", default=False,
        help="skip the JupyterLab-in-Chromium test (it needs Debian's chromium)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_skip = pytest.mark.skip(reason="needs a CUDA GPU; torch.cuda.is_available() is False on this machine")
    browser_skip = pytest.mark.skip(reason="browser test skipped by --no-browser-test")
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(gpu_skip)
        if "browser" in item.keywords and config.getoption("--no-browser-test"):
            item.add_marker(browser_skip)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``IF-I-mini/`` and ``IF-II-mini/`` with tiny random UNets, saved in the Hub layout."""
    from iflearn.mini.tiny import build_tiny_folders

    return build_tiny_folders(tmp_path_factory.mktemp("tiny-mini-if"))


@pytest.fixture(scope="session")
def tiny_cascade(tiny_root: Path):
    from iflearn.backend import mini_backend
    from iflearn.cascade import Cascade

    return Cascade.load(mini_backend(tiny_root), verbose=False)
