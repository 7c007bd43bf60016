"""The conversion's data preparation as a library function, and ``eventsnn convert`` ->
``eventsnn bench`` with the checkpoint kind told by eventsnn.checkpoints and the table's columns
explained under it."""

from __future__ import annotations

import json

import pytest
import torch
from _conversion_files import write_tiny_ann

from eventsnn.bench import format_table
from eventsnn.cli import main
from eventsnn.cli.bench import COLUMN_LEGEND
from eventsnn.convert import conversion_images, load_ann
from eventsnn.errors import InvalidParameterError


@pytest.fixture(scope="module")
def ann_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("conv")
    write_tiny_ann(d, per_class=4)
    return d


def test_conversion_images(ann_dir):
    _, meta = load_ann(ann_dir / "ann.pt")
    imgs = conversion_images(meta, n_calib=3, max_test=2)
    assert imgs.data == str(ann_dir / "images") and imgs.calib.shape == (3, 3, 12, 12)
    assert imgs.x_test.shape == (2, 3, 12, 12) and sorted(imgs.y_test.tolist()) == [0, 1]  # spread: both classes
    # normalised with the ANN's statistics: a dark image sits below (0.5 - 0.5) / 0.25 = 0 on average
    assert float(imgs.x_test[imgs.y_test == 0].mean()) < -1.0 < 1.0 < float(imgs.x_test[imgs.y_test == 1].mean())
    assert torch.equal(conversion_images(meta, n_calib=3).calib, imgs.calib)  # a fixed draw
    everything = conversion_images(meta, ann_dir / "images", n_calib=100)
    assert everything.calib.shape[0] == 8 and everything.x_test.shape[0] == 8
    with pytest.raises(InvalidParameterError, match="n_calib"):
        conversion_images(meta, n_calib=0)
    with pytest.raises(InvalidParameterError, match="max_test"):
        conversion_images(meta, max_test=-1)
    with pytest.raises(InvalidParameterError, match="does not name the data"):
        conversion_images({**meta, "data": ""})


def test_convert_then_bench_prints_the_column_legend(ann_dir, tmp_path, capsys):
    conv = tmp_path / "conv"
    assert main(["convert", str(ann_dir / "ann.pt"), "--T", "2", "--n-calib", "4", "--no-tune", "--threads", "1",
                 "--out", str(conv)]) == 0
    assert sorted(p.name for p in conv.iterdir()) == ["results.csv", "results.json", "results.png",
                                                      "snn_standard_T2.pt"]
    capsys.readouterr()
    bench = tmp_path / "bench"
    assert main(["bench", str(conv / "snn_standard_T2.pt"), "--data", str(ann_dir / "images"), "--T", "1", "2",
                 "--latency-samples", "2", "--no-progress", "--out", str(bench)]) == 0
    printed = capsys.readouterr().out
    assert [r["T"] for r in json.loads((bench / "results.json").read_text())["rows"]] == [1, 2]
    table_end = printed.index("columns (")
    header = printed[:table_end].splitlines()[1]  # after the title line
    for name, meaning in COLUMN_LEGEND:
        assert f"  {name} " in printed[table_end:] and meaning in printed[table_end:]
    # every column of the table is explained: nothing but "model" is left of its header
    rest = format_table([])
    assert rest.splitlines()[0] == header
    for name, _ in COLUMN_LEGEND:
        rest = rest.replace(f" {name}", " ", 1) if name != "T" else rest.replace(" T ", "   ", 1)
    assert rest.splitlines()[0].split() == ["model"]
    # once more: refused without --overwrite, replaced with it
    assert main(["bench", str(conv / "snn_standard_T2.pt"), "--data", str(ann_dir / "images"), "--T", "1",
                 "--latency-samples", "1", "--no-progress", "--out", str(bench)]) == 2
    assert main(["bench", str(conv / "snn_standard_T2.pt"), "--data", str(ann_dir / "images"), "--T", "1",
                 "--latency-samples", "1", "--no-progress", "--out", str(bench), "--overwrite"]) == 0
    assert [r["T"] for r in json.loads((bench / "results.json").read_text())["rows"]] == [1]
