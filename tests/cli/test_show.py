"""``eventsnn show``: the pictures it writes, its one-line errors, and every kind of event file: a
real DVS128 ``.aedat``, ``.npy`` and ``.bs2``, a sensor it has to guess (said in one warning line),
a model trained on other data (warned, still exit 0), and a failure half-way that leaves nothing
behind."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _pictures import png_size
from numpy.lib.recfunctions import require_fields
from PIL import Image

from eventsnn import viz
from eventsnn.cli import main
from eventsnn.errors import InvalidParameterError
from eventsnn.events import empty_events, make_events
from eventsnn.io import write_bin_events
from eventsnn.nn import build_model
from eventsnn.train import save_checkpoint

AEDAT = "DVS128Objects/DataSet2/mech_pencil/Lapiseira.aedat"


def test_show_reads_a_real_dvs128_aedat(tmp_path, data_dir, capsys):
    out = tmp_path / "pics"
    assert main(["show", str(data_dir / AEDAT), "--T", "2", "--max-frames", "5", "--dpi", "40",
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["event_rate.png", "frames_T2.png", "recording.gif"]
    with Image.open(out / "recording.gif") as gif:
        assert gif.n_frames == 5  # 18.5 s at 10 ms frames, capped at --max-frames
    captured = capsys.readouterr()
    assert "Lapiseira.aedat: 126164 events, 18508 ms, sensor 128x128" in captured.out
    assert captured.err == ""


def test_show_guessed_sensor_is_one_warning_line(tmp_path, capsys):
    wide = tmp_path / "wide.bin"
    write_bin_events(wide, make_events([1, 40, 5, 7], [1, 2, 3, 4], [0, 10, 20, 30], [0, 1, 0, 1]))
    assert main(["show", str(wide), "--no-animation", "--dpi", "30", "--out", str(tmp_path / "a")]) == 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eventsnn show: warning: ")
    assert "wide.bin" in lines[0] and "34x34" in lines[0] and "128x128" in lines[0] and "--sensor W H" in lines[0]
    assert "sensor 128x128" in captured.out
    assert main(["show", str(wide), "--sensor", "64", "64", "--no-animation", "--dpi", "30",
                 "--out", str(tmp_path / "b")]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "sensor 64x64" in captured.out


@pytest.fixture(scope="module")
def glyph_model(tmp_path_factory):
    """A model saved as if trained on the simulated glyphs: 34x34 like N-MNIST, other classes."""
    torch.manual_seed(0)
    model = build_model("synthetic", channels=[4, 8], n_thresholds=2, spatial_factor=2)
    d = tmp_path_factory.mktemp("model")
    for name, classes, dataset in (("glyphs.pt", ["disc", "ring", "square", "frame", "triangle", "plus", "cross",
                                                   "hbars", "vbars", "diamond"], "synthetic"),
                                   ("digits.pt", [str(i) for i in range(10)], "nmnist-sim")):
        save_checkpoint(d / name, {"epoch": 0, "model_state": model.state_dict(), "config": {
            "model": model.config, "classes": classes, "sensor_size": [34, 34, 2], "data": {"dataset": dataset},
            "stc": {"T": 2, "sensor_size": [34, 34, 2], "spatial_factor": 2}}})
    return d


def test_show_warns_about_a_model_trained_on_other_data(tmp_path, glyph_model, capsys):
    out = tmp_path / "pics"
    assert main(["show", "--dataset", "nmnist", "--index", "0", "--model", str(glyph_model / "glyphs.pt"),
                 "--no-animation", "--dpi", "30", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eventsnn show: warning: ") and "glyphs.pt" in lines[0]
    assert "trained on synthetic (10 classes disc, ring, square, ...)" in lines[0]
    assert "nmnist recording has 10 classes 0, 1, 2" in lines[0]
    assert "predicted" in captured.out and (out / "spike_raster.png").is_file()
    # same sensor and classes (pre-trained on simulated N-MNIST): nothing to warn about
    assert main(["show", "--dataset", "nmnist", "--index", "0", "--model", str(glyph_model / "digits.pt"),
                 "--no-animation", "--dpi", "30", "--out", str(out), "--overwrite"]) == 0
    assert capsys.readouterr().err == ""


def test_a_failure_half_way_leaves_nothing_behind(tmp_path, nmnist_files, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise InvalidParameterError("plot failed")

    monkeypatch.setattr(viz, "plot_event_rate", broken)
    out = tmp_path / "new" / "pics"
    assert main(["show", str(nmnist_files[0]), "--T", "2", "--max-frames", "3", "--out", str(out)]) == 2
    assert "plot failed" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # the GIF and frames written before are gone, and the folders
    existing = tmp_path / "kept"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    assert main(["show", str(nmnist_files[0]), "--T", "2", "--max-frames", "3", "--out", str(existing)]) == 2
    assert sorted(p.name for p in existing.iterdir()) == ["notes.txt"]


SENSOR = (34, 34, 2)


# files in a packed dtype (as save_events writes), converted by field name: astype casts by position
PACKED = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "i1")])


def test_show_cli_writes_pictures(tmp_path, nmnist_files, tiny_synthetic_model, capsys):
    ckpt = save_checkpoint(tmp_path / "m.pt", {
        "epoch": 0, "model_state": tiny_synthetic_model.state_dict(),
        # as an earlier eventsnn wrote the STC settings: n_time_steps, and no sensor size anywhere
        "config": {"model": tiny_synthetic_model.config, "stc": {"n_time_steps": 3, "ratio": 1, "mode": "sum", "decay": 0.5,
                                                  "spatial_factor": 2, "merge_polarity": False, "carry": False},
                   "classes": [str(i) for i in range(10)]},
    })
    out = tmp_path / "pics"
    assert main(["show", str(nmnist_files[0]), "--model", str(ckpt), "--out", str(out), "--dpi", "40"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["event_rate.png", "frames_T3.png", "membrane.png", "recording.gif", "spike_raster.png",
                     "spike_rates.png", "tau.png"]
    assert png_size(out / "event_rate.png") == (240, 120)
    printed = capsys.readouterr().out
    assert "predicted" in printed and "wrote" in printed

    out2 = tmp_path / "ds"
    assert main(["show", "--dataset", "nmnist", "--index", "3", "--T", "5", "--out", str(out2), "--no-animation"]) == 0
    assert sorted(p.name for p in out2.iterdir()) == ["event_rate.png", "frames_T5.png"]


def test_show_cli_errors(tmp_path, nmnist_files, capsys):
    assert main(["show", str(tmp_path / "missing.bin")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("eventsnn show: error:") and "missing.bin" in err and "\n" not in err
    bad = tmp_path / "trunc.bin"
    bad.write_bytes(nmnist_files[0].read_bytes()[:-2])
    assert main(["show", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "truncated" in capsys.readouterr().err
    txt = tmp_path / "x.txt"
    txt.write_text("hello")
    assert main(["show", str(txt)]) == 2
    assert "unknown event file type" in capsys.readouterr().err
    assert main(["show"]) == 2
    assert "either an event file or --dataset" in capsys.readouterr().err
    empty = tmp_path / "empty.npy"
    np.save(empty, require_fields(empty_events(), PACKED))
    assert main(["show", str(empty)]) == 2
    assert "no events" in capsys.readouterr().err


def test_show_reads_npy_and_bs2(tmp_path, nmnist_events, dvs_clips, capsys):
    npy = tmp_path / "rec.npy"
    np.save(npy, require_fields(nmnist_events, PACKED))
    assert main(["show", str(npy), "--out", str(tmp_path / "a"), "--no-animation", "--dpi", "30"]) == 0
    assert "sensor 34x34" in capsys.readouterr().out
    assert main(["show", str(dvs_clips[0]), "--out", str(tmp_path / "b"), "--no-animation", "--dpi", "30"]) == 0
    assert "sensor 128x128" in capsys.readouterr().out
    small = tmp_path / "small.bin"
    write_bin_events(small, nmnist_events[:500])
    assert main(["show", str(small), "--out", str(tmp_path / "c"), "--no-animation", "--T", "2"]) == 0
