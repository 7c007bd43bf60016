"""The notebooks in notebooks/ run top to bottom (nbclient), and are committed without outputs.

Each notebook runs in a kernel started with THIS interpreter (``sys.executable -m
ipykernel_launcher``): a temporary kernelspec named ``eventsnn-test`` is put first on
``JUPYTER_PATH``, so a ``python3`` kernelspec of another Python in the user's or system Jupyter
folders can never be picked up by mistake. ``EVENTSNN_NOTEBOOK_OUT=<dir>`` keeps the executed
copies there (to look at their outputs); the committed files stay output-free.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["quickstart.ipynb", "compress_and_benchmark.ipynb", "ann_to_snn.ipynb"]
KERNEL = "eventsnn-test"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A kernelspec running this interpreter, first on JUPYTER_PATH for the test's duration."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"eventsnn test ({sys.executable})",
        "language": "python",
        "env": {"OMP_NUM_THREADS": "2", "PYTHONWARNINGS": "ignore"},
    }))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(root)] + ([old] if old else []))
    yield
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


@pytest.mark.parametrize("name", NAMES)
def test_notebook_committed_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cells"
    for c in code:
        assert c.outputs == [] and c.execution_count is None, f"{name}: outputs not stripped"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, kernel_env, data_dir):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # (in memory only) a last cell reporting the kernel's interpreter
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable, end='')"))
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL, timeout=900, resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the failing cell
    print(f"{name}: {time.perf_counter() - t0:.0f} s")
    if os.environ.get("EVENTSNN_NOTEBOOK_OUT"):  # keep the executed copy for a look
        out = Path(os.environ["EVENTSNN_NOTEBOOK_OUT"])
        out.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out / name)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert nb.cells[-1].outputs[0]["text"] == sys.executable
    images = [o for o in outputs if o.output_type in ("display_data", "execute_result")
              and "image/png" in o.get("data", {})]
    assert images, f"{name} displayed no pictures"
