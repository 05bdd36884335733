"""Importing iflearn and the libraries it uses prints nothing a learner has to read past: the notices iflearn
drops are the ones about parts it never uses (torchvision's image processor, bitsandbytes' 4-bit kernel)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_import_prints_no_library_notices_offline():
    code = ("import iflearn\nimport bitsandbytes\nfrom iflearn.backend import mini_backend\nfrom iflearn.cascade import Cascade\n"
            "Cascade.load(mini_backend(), verbose=False).encode('a red circle')\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "IFLEARN_LANG": "en"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    for notice in ("publisher trust check", "gemm_4bit_forward", "requires torchvision"):
        assert notice not in done.stderr, done.stderr[-2000:]
