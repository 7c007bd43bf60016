"""Bad input to ``eventsnn show``, ``bench`` and ``convert``: exit status 2, exactly one line on
stderr naming the file or option at fault, no traceback, and no output left behind (the --out
folder is not created, or an existing one is left as it was)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _conversion_files import write_tiny_ann

from eventsnn.cli import main
from eventsnn.convert import convert, save_snn
from eventsnn.events import make_events
from eventsnn.io import write_bin_events
from eventsnn.nn import build_model as build_snn
from eventsnn.train import save_checkpoint


class Opaque:
    """Pickled by torch.save; refused by weights_only loading."""

    def __init__(self) -> None:
        self.weights = [1.0]


def _snapshot(folder: Path) -> dict[str, bytes] | None:
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_refused(capsys, argv: list[str], *names: str, out: Path | None = None) -> str:
    """Run ``eventsnn argv``: exit 2, one stderr line starting ``eventsnn <cmd>: error:`` and
    naming each of ``names``, no traceback; ``out`` is as it was before (absent stays absent)."""
    before = _snapshot(out) if out is not None else None
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"eventsnn {argv[0]}: error: ") and "Traceback" not in err
    for name in names:
        assert name in lines[0], (name, lines[0])
    if out is not None:
        assert _snapshot(out) == before, f"{out} changed"
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    ann = write_tiny_ann(d, per_class=3)
    save_snn(convert(ann, torch.rand(4, 3, 12, 12), T=2, tune=False, mean=[0.5] * 3, std=[0.25] * 3),
             d / "snn_standard_T2.pt")
    snn = build_snn("synthetic", channels=[4, 8], n_thresholds=2, spatial_factor=2)
    save_checkpoint(d / "best.pt", {"epoch": 0, "model_state": snn.state_dict(),
                                    "config": {"model": snn.config, "classes": [str(i) for i in range(10)]}})
    (d / "random.pt").write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    torch.save({"format": "eventsnn-ann", "model": Opaque()}, d / "pickled.pt")
    write_bin_events(d / "wide.bin", make_events([1, 40, 5], [1, 2, 3], [0, 10, 20], [0, 1, 0]))
    np.save(d / "negative.npy", make_events([1, -3, 5], [1, 2, 3], [0, 10, 20], [0, 1, 0]))
    (d / "not_a_dir").write_text("a file")
    return d


# ------------------------------------------------------------------ convert, bench

@pytest.mark.parametrize("command, name, says", [
    ("convert", "random.pt", "not an eventsnn checkpoint (not a PyTorch zip archive"),
    ("convert", "pickled.pt", "not an eventsnn file: it holds objects other than tensors and plain Python "
                              "values, and eventsnn refuses to unpickle them"),
    ("convert", "missing.pt", "checkpoint not found"),
    ("convert", "snn_standard_T2.pt", "is a converted SNN (eventsnn convert), not an eventsnn-ann file"),
    ("convert", "best.pt", "is an SNN training checkpoint (eventsnn train), not an eventsnn-ann file"),
    ("bench", "random.pt", "not a PyTorch zip archive"),
    ("bench", "pickled.pt", "refuses to unpickle"),
    ("bench", "ann.pt", "is an ANN (eventsnn train-ann); convert it first"),
    ("bench", "snn_standard_T2.pt", "is a converted SNN: give --data"),
])
def test_checkpoints_of_the_wrong_kind(capsys, tmp_path, files, command, name, says):
    out = tmp_path / "out"
    line = assert_refused(capsys, [command, str(files / name), "--out", str(out)], name, out=out)
    assert says in line
    assert not (files / "bench").exists()  # nor bench's default --out next to the checkpoint


@pytest.mark.parametrize("command, checkpoint, option, value", [
    *(("convert", "ann.pt", o, v) for o, v in (("--threads", "0"), ("--n-calib", "0"), ("--max-test", "-1"),
                                               ("--T", "0"))),
    *(("bench", "best.pt", o, v) for o, v in (("--threads", "0"), ("--limit", "0"), ("--batch-size", "0"),
                                              ("--stable-steps", "0"), ("--confidence", "1.5"),
                                              ("--latency-samples", "-1"))),
])
def test_option_values(capsys, tmp_path, files, command, checkpoint, option, value):
    out = tmp_path / "out"
    assert_refused(capsys, [command, str(files / checkpoint), option, value, "--out", str(out)], option, out=out)


@pytest.mark.parametrize("command, args, earlier", [
    ("convert", ["ann.pt", "--T", "2"], "results.json"),
    ("bench", ["snn_standard_T2.pt", "--data", "images"], "results.csv"),
])
def test_earlier_results_in_out(capsys, tmp_path, files, command, args, earlier):
    out = tmp_path / "out"
    out.mkdir()
    (out / earlier).write_text("earlier")
    argv = [command, str(files / args[0]), *(str(files / a) if a == "images" else a for a in args[1:])]
    line = assert_refused(capsys, [*argv, "--out", str(out)], "--out", str(out), earlier, out=out)
    assert "pass --overwrite" in line


def test_convert_output_paths(capsys, tmp_path, files):
    assert_refused(capsys, ["convert", str(files / "ann.pt"), "--out", str(files / "not_a_dir" / "x")],
                   "--out", "not_a_dir")
    # missing data, found after the --out check: the folders the check created are removed again
    nested = tmp_path / "new" / "conv"
    assert_refused(capsys, ["convert", str(files / "ann.pt"), "--data", str(tmp_path / "nodata"), "--out",
                            str(nested)], "nodata", out=nested)
    assert not (tmp_path / "new").exists()


# ------------------------------------------------------------------ show

def test_show_events_off_the_given_sensor(capsys, tmp_path, files):
    out = tmp_path / "pics"
    line = assert_refused(capsys, ["show", str(files / "wide.bin"), "--sensor", "34", "34", "--out", str(out)],
                          "wide.bin", out=out)
    assert "x ranges over [1, 40] but the sensor is 34x34" in line
    line = assert_refused(capsys, ["show", str(files / "negative.npy"), "--out", str(out)], "negative.npy", out=out)
    assert "coordinates cannot be negative" in line


@pytest.mark.parametrize("args, names", [
    (["--threads", "0"], ["--threads"]),
    (["--sensor", "0", "34"], ["--sensor"]),
    (["--sensor", "34"], ["--sensor"]),
    (["--T", "0"], ["--T"]),
    (["--dpi", "0"], ["--dpi"]),
    (["--frame-ms", "0"], ["--frame-ms"]),
    (["--max-frames", "0"], ["--max-frames"]),
])
def test_show_option_values(capsys, tmp_path, files, args, names):
    out = tmp_path / "pics"
    assert_refused(capsys, ["show", str(files / "wide.bin"), *args, "--out", str(out)], *names, out=out)


def test_show_sensor_is_for_files(capsys, tmp_path):
    out = tmp_path / "pics"
    assert_refused(capsys, ["show", "--dataset", "synthetic", "--sensor", "34", "34", "--out", str(out)],
                   "--sensor", out=out)


@pytest.mark.parametrize("model, says", [
    ("ann.pt", "is an ANN (eventsnn train-ann), not an SNN training checkpoint"),
    ("random.pt", "not a PyTorch zip archive"),
    ("pickled.pt", "refuses to unpickle"),
])
def test_show_model_that_is_not_a_training_checkpoint(capsys, tmp_path, files, model, says, nmnist_files):
    out = tmp_path / "pics"
    line = assert_refused(capsys, ["show", str(nmnist_files[0]), "--model", str(files / model), "--out", str(out)],
                          model, out=out)
    assert says in line


def test_show_model_for_other_frames(capsys, tmp_path, files, dvs_clips):
    out = tmp_path / "pics"
    line = assert_refused(capsys, ["show", str(dvs_clips[0]), "--model", str(files / "best.pt"), "--out", str(out)],
                          "best.pt", dvs_clips[0].name, out=out)
    assert "the model expects frames [T, 2, 17, 17]" in line


def test_show_bad_files(capsys, tmp_path, data_dir, nmnist_files):
    out = tmp_path / "pics"
    cut = tmp_path / "cut.aedat"
    cut.write_bytes((data_dir / "DVS128Objects/DataSet2/mech_pencil/Lapiseira.aedat").read_bytes()[:5003])
    assert "truncated" in assert_refused(capsys, ["show", str(cut), "--out", str(out)], "cut.aedat", out=out)
    (tmp_path / "empty.aedat4").write_bytes(b"")
    assert_refused(capsys, ["show", str(tmp_path / "empty.aedat4"), "--out", str(out)], "empty.aedat4", out=out)
    (tmp_path / "rec.txt").write_text("1 2 3 4")
    assert_refused(capsys, ["show", str(tmp_path / "rec.txt"), "--out", str(out)], "rec.txt", ".aedat", out=out)
    out.mkdir()
    (out / "event_rate.png").write_bytes(b"earlier")
    line = assert_refused(capsys, ["show", str(nmnist_files[0]), "--no-animation", "--out", str(out)],
                          "--out", "event_rate.png", out=out)
    assert "earlier pictures" in line and "--overwrite" in line
