"""The benchmark scripts are thin layers over eventsnn's public API.

Every ``benchmarks/*.py`` is parsed (not run) with :mod:`ast`; a script fails when it changes the
module search path (``sys.path``), imports a private eventsnn module or name (one starting with
``_``), or imports another benchmark script (shared code belongs in the library, e.g.
:mod:`eventsnn.bench.methods`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))
SIBLINGS = {p.stem for p in SCRIPTS}


def _module_problems(module: str, where: str) -> list[str]:
    parts = module.split(".")
    if parts[0] in SIBLINGS:
        return [f"{where}: imports the benchmark script {parts[0]!r}"]
    if parts[0] != "__future__" and (parts[0] == "eventsnn" or parts[0].startswith("_")) and any(
            p.startswith("_") for p in parts):
        return [f"{where}: imports the private module {module!r}"]
    return []


def violations(source: str, name: str = "<script>") -> list[str]:
    """What ``source`` (a benchmark script) does that a script on the public API must not."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, name)):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) \
                and node.value.id == "sys":
            found.append(f"{where}: uses sys.path")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found += _module_problems(alias.name, where)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append(f"{where}: relative import")
                continue
            module = node.module or ""
            found += _module_problems(module, where)
            if module.split(".")[0] == "eventsnn":
                found += [f"{where}: imports the private name {a.name!r} from {module}"
                          for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and (
                    (isinstance(node.func, ast.Name) and node.func.id == "__import__")
                    or (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")):
            found += _module_problems(node.args[0].value, where)
    return found


def test_the_benchmarks_are_found() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"bench_nmnist.py", "bench_hdf5.py", "bench_mtlif.py", "bench_latency.py"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_uses_only_the_public_api(script: Path) -> None:
    assert not script.name.startswith("_"), f"{script.name}: shared benchmark code belongs in the library"
    assert violations(script.read_text(), script.name) == []


@pytest.mark.parametrize("source, problem", [
    ("import sys\nsys.path.insert(0, 'x')", "uses sys.path"),
    ("from sys import path\nimport sys\nsys.path.append('.')", "uses sys.path"),
    ("from eventsnn.datasets._tonic import offline_tonic_dataset", "private module 'eventsnn.datasets._tonic'"),
    ("import eventsnn.functional._neuron_kernel as kernel", "private module"),
    ("from eventsnn.bench import _plot_bench_results", "private name '_plot_bench_results'"),
    ("from bench_nmnist import run_eventsnn", "benchmark script 'bench_nmnist'"),
    ("from _accuracy import Recipe", "private module '_accuracy'"),
    ("import bench_nmnist", "benchmark script 'bench_nmnist'"),
    ("from . import bench_nmnist", "relative import"),
    ("import importlib\nimportlib.import_module('eventsnn._workers')", "private module 'eventsnn._workers'"),
])
def test_the_check_catches(source: str, problem: str) -> None:
    found = violations(source)
    assert len(found) >= 1 and problem in found[0], found


def test_the_check_accepts_public_imports() -> None:
    ok = ("import torch\nfrom eventsnn.bench.methods import run_plif\nfrom eventsnn.datasets import "
          "offline_tonic_dataset\nimport eventsnn.train\nfrom eventsnn.functional.neuron import mtlif_cpu_chunk")
    assert violations(ok) == []
