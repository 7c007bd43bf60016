"""docs/reliability.md stays true: every test it cites (``tests/<file>.py::<name>``, and the
``[case]`` ids of parametrised tests, alone or after the test) is a test pytest collects."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "reliability.md"

#: a cited test in backticks: `tests/x.py::name`, `tests/x.py::name[case]`, or `[case]` of the last one cited
CITATION = re.compile(r"`(?:(tests/[\w/]+\.py)::(\w+))?(\[[^\]`]+\])?`")


def cited(text: str) -> list[str]:
    """Every pytest node id ``text`` cites, in order (a lone ``[case]`` completed with the test
    cited last)."""
    ids: list[str] = []
    last: str | None = None
    for m in CITATION.finditer(text):
        path, name, case = m.groups()
        if path:
            last = f"{path}::{name}"
        elif case is None or last is None:
            continue
        ids.append(f"{last}{case or ''}")
    return ids


def collected(files: set[str]) -> set[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                        *sorted(f for f in files if (REPO / f).is_file())],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    return {line.strip() for line in r.stdout.splitlines() if "::" in line}


def test_every_test_the_reliability_page_cites_exists() -> None:
    ids = cited(DOC.read_text())
    assert len(ids) > 50  # the page cites its tests in the form parsed here
    files = {i.split("::")[0] for i in ids}
    missing_files = sorted(f for f in files if not (REPO / f).is_file())
    assert not missing_files, f"docs/reliability.md cites test files that do not exist: {missing_files}"
    have = collected(files)
    missing = [i for i in ids if i not in have and not any(h.startswith(f"{i}[") for h in have)]
    assert not missing, f"docs/reliability.md cites tests that do not exist: {missing}"


def test_the_citation_pattern_reads_tests_and_their_cases() -> None:
    text = "`[a]` `tests/a.py::t1`; ```bash `tests/b/c.py::t2[x-1]`, `[y.pt]`; `--out`, `[z]`"
    assert cited(text) == ["tests/a.py::t1", "tests/b/c.py::t2[x-1]", "tests/b/c.py::t2[y.pt]", "tests/b/c.py::t2[z]"]
