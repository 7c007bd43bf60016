"""docs/ARCHITECTURE.md stays true, and the README and docs/ point at things that exist.

- The layer table of ARCHITECTURE.md is the import rule: every ``eventsnn`` import in the package
  (``if TYPE_CHECKING:`` blocks aside) goes to its own package or to a row above it.
- Every package folder and top-level module of ``eventsnn/`` is in that table, and every path the
  page names exists.
- Every relative link of README.md and docs/ resolves (file and ``#anchor``), and the README gives
  the command CI runs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "eventsnn"
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"
CI_COMMAND = "bash scripts/setup.sh --dev && .venv/bin/python -m pytest -q"


def _unit(module: str) -> str:
    """``eventsnn.datasets.registry`` -> ``datasets/``; ``eventsnn.events`` -> ``events.py``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__.py"
    return f"{parts[1]}/" if (PACKAGE / parts[1]).is_dir() else f"{parts[1]}.py"


def layer_table() -> dict[str, int]:
    """Unit (``nn/``, ``events.py``) -> layer number, read from ARCHITECTURE.md's table."""
    layers: dict[str, int] = {}
    for line in ARCHITECTURE.read_text().splitlines():
        m = re.match(r"\| (\d+) \| (.+?) \|", line)
        if m:
            for unit in re.findall(r"`([^`]+)`", m.group(2)):
                layers[unit] = int(m.group(1))
    return layers


def _runtime_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every eventsnn import outside ``if TYPE_CHECKING:`` blocks and module
    ``__getattr__`` hooks (deprecated names re-exported for one release)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
        elif isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            skip.update(id(n) for n in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "eventsnn" else [f"eventsnn.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names if n.split(".")[0] == "eventsnn"]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "eventsnn"]
    return found


def test_layer_table_covers_the_package() -> None:
    layers = layer_table()
    assert len(layers) >= 20, "ARCHITECTURE.md's layer table was not found"
    units = {f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    units |= {p.name for p in PACKAGE.glob("*.py")}
    assert units - set(layers) == set(), "package parts missing from ARCHITECTURE.md's layer table"
    assert set(layers) - units == set(), "ARCHITECTURE.md's layer table names parts that do not exist"


def test_imports_follow_the_layers() -> None:
    layers = layer_table()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO)
        src = _unit(".".join(rel.with_suffix("").parts))
        for line, module in _runtime_imports(ast.parse(path.read_text())):
            dst = _unit(module)
            if dst != src and layers[dst] >= layers[src]:
                wrong.append(f"{rel}:{line} imports {module} (layer {layers[dst]} from layer {layers[src]})")
    assert wrong == [], "imports against docs/ARCHITECTURE.md's layers:\n" + "\n".join(wrong)


def test_the_import_check_sees_an_upward_import(tmp_path) -> None:
    """The checker itself: an import from a lower layer to a higher one is found."""
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from eventsnn.bench import x\n"
                     "def f():\n    from eventsnn.train.loop import train\n"
                     "def __getattr__(name):\n    import eventsnn.cli\n")
    assert _runtime_imports(tree) == [(5, "eventsnn.train.loop")]
    layers = layer_table()
    assert layers["nn/"] < layers["train/"] and layers["train/"] == layers["convert/"]


def test_paths_named_in_architecture_exist() -> None:
    text = ARCHITECTURE.read_text()
    named = set(re.findall(r"`((?:eventsnn|tests|benchmarks|docs|notebooks|scripts)/[^`<>*{} ]*)`", text))
    assert len(named) > 20
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert missing == [], f"ARCHITECTURE.md names paths that do not exist: {missing}"
    # bare module names in the folder list (`stc.py`) exist in the folder they are listed under
    for folder, body in re.findall(r"- `eventsnn/(\w+)/`: (.+?)(?=\n- |\n\n)", text, re.S):
        for name in re.findall(r"`(\w+\.py)`", body):
            assert (PACKAGE / folder / name).is_file(), f"ARCHITECTURE.md: eventsnn/{folder}/{name}"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out, code = set(), False
    for line in markdown.splitlines():
        if line.startswith("```"):
            code = not code
        m = None if code else re.match(r"#+ (.+)", line)
        if m:
            out.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def _doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


@pytest.mark.parametrize("doc", _doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve(doc: Path) -> None:
    text = doc.read_text()
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path.read_text()):
            broken.append(target)
    assert broken == [], f"{doc.name}: links to nothing: {broken}"


def test_readme_is_one_page_with_the_ci_command() -> None:
    readme = (REPO / "README.md").read_text()
    assert CI_COMMAND in readme
    assert CI_COMMAND in (REPO / ".ci" / "run").read_text()
    assert len(readme.splitlines()) <= 200
    for page in ("cli.md", "ARCHITECTURE.md"):
        assert f"docs/{page}" in readme
    for page in (REPO / "docs" / "benchmarks").glob("*.md"):
        assert f"docs/benchmarks/{page.name}" in readme, f"README does not link {page.name}"


#: test files that check several modules at once (every command, the whole package, the project)
CROSS_CUTTING = {
    "cli/test_bad_input.py", "test_reliability_doc.py", "cli/test_signals.py", "cli/test_thin_layer.py",
    "viz/test_deprecated_names.py", "test_architecture.py", "test_lint.py", "test_notebooks.py",
    "test_gpu_check.py", "benchmarks/test_public_api.py", "benchmarks/test_bench_dvs128objects.py",
}


def test_tests_mirror_the_package() -> None:
    """``tests/<package>/test_<module>.py`` tests ``eventsnn/<package>/<module>.py`` (``test_init``:
    the package's ``__init__.py``); the few cross-cutting files are listed above."""
    tests = REPO / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and p.name != "__pycache__"}
    # tests/benchmarks/ checks the scripts in benchmarks/, outside the package
    assert folders - {"benchmarks"} <= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    strays = []
    for f in sorted(tests.rglob("test_*.py")):
        rel = f.relative_to(tests)
        module = "__init__" if f.stem == "test_init" else f.stem.removeprefix("test_")
        mirrored = any((PACKAGE / rel.parent / f"{name}.py").is_file() for name in (module, f"_{module}"))
        if str(rel) not in CROSS_CUTTING and not mirrored:
            strays.append(str(rel))
    assert strays == [], f"test files that mirror no module of eventsnn/: {strays}"
    assert all((tests / name).is_file() for name in CROSS_CUTTING)
