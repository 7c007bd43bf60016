"""``eventsnn convert`` -> ``eventsnn bench``: the checkpoint kind told by eventsnn.checkpoints,
the table's columns explained under it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from eventsnn.bench import (
    format_table,
)
from eventsnn.cli import main
from eventsnn.cli.bench import COLUMN_LEGEND
from eventsnn.train import load_model


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


@pytest.mark.slow
def test_bench_cli_end_to_end(tiny_nmnist_checkpoint: Path, data_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench"
    rc = main(["bench", str(tiny_nmnist_checkpoint), "--dataset", "nmnist", "--root", str(data_dir), "--split", "val",
               "--T", "1", "2", "--out", str(out), "--latency-samples", "4", "--throughput-batch", "8",
               "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "SynOps" in printed and "0.9 pJ/AC" in printed
    res = json.loads((out / "results.json").read_text())
    rows = res["rows"]
    n_val = len(load_model(tiny_nmnist_checkpoint)[1]["config"]["data"]["val"]["indices"])  # the hold-out
    assert [r["T"] for r in rows] == [1, 2] and res["meta"]["n"] == n_val and res["meta"]["split"] == "val"
    for r in rows:
        assert 0.0 <= r["accuracy"] <= 1.0 and r["n"] == n_val
        assert r["synops"] == pytest.approx(r["effective_acs"] + r["effective_macs"])
        assert 0 < r["synops"] < r["dense_synops"]
        assert r["total_ms_median"] > 0 and r["throughput_per_s"] > 0
        assert 1.0 <= r["decision_step_mean"] <= r["T"] and 1.0 <= r["early_exit_step_mean"] <= r["T"]
    assert rows[1]["dense_synops"] == pytest.approx(2 * rows[0]["dense_synops"])  # dense ops scale with T
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [int(r["T"]) for r in table] == [1, 2] and float(table[0]["energy_uj"]) > 0
    for name in ("accuracy_vs_T", "latency_vs_T", "accuracy_vs_energy"):
        with Image.open(out / f"{name}.png") as im:
            assert im.size[0] > 300 and im.size[1] > 200


def test_bench_bad_checkpoint_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    rc = main(["bench", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "b")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "checkpoint not found" in err and "missing.pt" in err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["bench", str(bad)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
