"""Claims a picture makes, checked next to it: ``claim(condition, "what the picture shows")``.

Each figure in the course rests on a measured number (variety falls with guidance, the layout survives a low
strength, …). ``claim`` asserts it, so a retrained model or a library update that breaks a lesson's point fails
instead of silently teaching the opposite.

One exception: the real-layout test fixture (tiny *random* weights in the published repositories' layout, used to
check that the real backend's code runs on a CPU) cannot show what a trained model draws. Its test run sets
``IFLEARN_UNTRAINED_WEIGHTS=1``; then a failed claim is printed as "not shown by untrained weights" instead of
raised. Learners and the mini-IF run never set it.
"""

from __future__ import annotations

import os

__all__ = ["UNTRAINED_ENV", "weights_untrained", "claim"]

UNTRAINED_ENV = "IFLEARN_UNTRAINED_WEIGHTS"


def weights_untrained() -> bool:
    """True only in the real-layout fixture's test run (random weights)."""
    return os.environ.get(UNTRAINED_ENV, "") == "1"


def claim(condition: bool, what: str) -> None:
    """Assert ``condition``; ``what`` says in words what the picture above claims (shown if it fails).

    Raises:
        AssertionError: the claim does not hold (unless the weights are the fixture's random ones).
    """
    if condition:
        return
    if weights_untrained():
        print(f"(not shown by the untrained test weights: {what})")
        return
    raise AssertionError(f"The picture above should show: {what}. It does not, so its sentence would be wrong.")
