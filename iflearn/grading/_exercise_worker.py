"""Call a learner's exercise functions on given inputs (runs inside the sandbox, as a script).

Usage: ``python _exercise_worker.py request.json response.json``

``request.json``: ``{"exercises": [{"name", "function", "source", "cases": [...]}]}`` where each case maps an
argument name to ``{"array": [...]}`` (a tensor) or ``{"float": x}``.
It ``exec``s each function's module (the notebook's imports plus the ``def``), calls it on every case with
float32 torch tensors, and writes the raw outputs as lists. It does not know the right answers: the grader
compares the outputs with the reference maths outside the sandbox.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["main"]

_MAX_VALUES = 100_000


def _to_input(spec: dict[str, Any], torch: Any) -> Any:
    if "float" in spec:
        return float(spec["float"])
    if torch is None:
        import numpy as np

        return np.asarray(spec["array"], dtype=np.float32)
    return torch.tensor(spec["array"], dtype=torch.float32)


def _to_list(output: Any) -> Any:
    if hasattr(output, "detach"):
        output = output.detach().cpu().double().tolist()
    elif hasattr(output, "tolist"):
        output = output.tolist()
    text = json.dumps(output)  # raises for objects that are not plain numbers/lists
    if text.count(",") > _MAX_VALUES:
        raise ValueError(f"output has more than {_MAX_VALUES} values")
    return output


def main(request_path: str, response_path: str) -> None:
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    results = []
    for item in request["exercises"]:
        entry: dict[str, Any] = {"name": item["name"], "outputs": [], "error": ""}
        try:
            namespace: dict[str, Any] = {"__name__": "submission"}
            exec(compile(item["source"], "<submission>", "exec"), namespace)  # noqa: S102 - sandboxed by the grader
            fn = namespace[item["function"]]
            for case in item["cases"]:
                kwargs = {k: _to_input(v, torch) for k, v in case.items()}
                entry["outputs"].append(_to_list(fn(**kwargs)))
        except BaseException as exc:  # noqa: BLE001 - report anything, including SystemExit
            entry["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        results.append(entry)
    with open(response_path, "w", encoding="utf-8") as out:
        json.dump({"results": results}, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
