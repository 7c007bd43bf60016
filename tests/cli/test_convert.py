"""``eventsnn train-ann`` + ``eventsnn convert`` end to end, and their one-line errors."""

from __future__ import annotations

import json

import pytest
import torch
from _conversion_files import small_ann, tiny_image_folder

from eventsnn.cli import main
from eventsnn.convert import (
    load_ann,
    load_snn,
    save_ann,
)

torch.set_num_threads(2)


def test_cli_train_and_convert_end_to_end(tmp_path, capsys) -> None:
    tiny_image_folder(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["train-ann", "--data", str(tmp_path / "data"), "--arch", "vgg5", "--width",
                 "0.25", "--act", "qcfs", "--epochs", "2", "--batch-size", "4", "--lr", "0.05",
                 "--out", str(run)]) == 0
    assert (run / "ann.pt").is_file() and (run / "checkpoint.pt").is_file()
    assert main(["train-ann", "--data", str(tmp_path / "data"), "--arch", "vgg5", "--width",
                 "0.25", "--act", "qcfs", "--epochs", "3", "--batch-size", "4", "--lr", "0.05",
                 "--out", str(run), "--resume"]) == 0
    _, meta = load_ann(run / "ann.pt")
    assert meta["epoch"] == 3
    out = tmp_path / "conv"
    assert main(["convert", str(run / "ann.pt"), "--T", "2", "4", "--n-calib", "8",
                 "--out", str(out)]) == 0
    for name in ("results.json", "results.csv", "results.png", "snn_standard_T2.pt",
                 "snn_standard_T4.pt"):
        assert (out / name).is_file(), name
    snn = load_snn(out / "snn_standard_T4.pt")
    assert snn.T == 4 and snn.forward_static(torch.zeros(1, 3, 12, 12)).shape == (4, 1, 2)
    assert "ANN" in capsys.readouterr().out
    # the deep-net recipe: signed neurons, one-pass layer tuning, per-channel bias currents
    # (into the same folder: its results.* are replaced, which needs --overwrite)
    assert main(["convert", str(run / "ann.pt"), "--T", "2", "--n-calib", "8", "--signed",
                 "--objective", "layer", "--bias-correction", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["convert", str(run / "ann.pt"), "--T", "2", "--n-calib", "8", "--signed",
                 "--objective", "layer", "--bias-correction", "--out", str(out), "--overwrite"]) == 0
    snn = load_snn(out / "snn_standard_signed_T2.pt")
    assert snn.options["signed"] and snn.options["bias_correction"]
    assert any(m.bias.numel() for _, m in snn.spiking_layers())
    assert "eventsnn-standard-signed-bias" in capsys.readouterr().out
    # a converted SNN plugs into `eventsnn bench` (accuracy, latency, SynOps, energy per T)
    bench = tmp_path / "bench"
    assert main(["bench", str(out / "snn_standard_T4.pt"), "--data", str(tmp_path / "data"),
                 "--T", "1", "4", "--latency-samples", "3", "--no-progress",
                 "--out", str(bench)]) == 0
    res = json.loads((bench / "results.json").read_text())
    assert [r["T"] for r in res["rows"]] == [1, 4]
    for r in res["rows"]:
        assert r["n"] == 12 and 0.0 <= r["accuracy"] <= 1.0
        assert r["synops"] > 0 and r["energy_uj"] > 0 and r["network_ms_median"] > 0
        assert r["effective_macs"] > 0  # the first layer sees analog pixels: MACs
        assert r["stream_accuracy"] == pytest.approx(r["accuracy"])  # running prediction at T
    assert res["rows"][1]["dense_synops"] == pytest.approx(4 * res["rows"][0]["dense_synops"])
    for png in ("accuracy_vs_T.png", "latency_vs_T.png", "accuracy_vs_energy.png"):
        assert (bench / png).is_file()
    assert main(["bench", str(out / "snn_standard_T4.pt"), "--out", str(bench)]) == 2


def test_cli_missing_checkpoint_exits_2(tmp_path, capsys) -> None:
    assert main(["convert", str(tmp_path / "missing.pt"), "--data", "mnist",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing.pt" in err


def test_cli_missing_data_folder_exits_2(tmp_path, capsys) -> None:
    save_ann(tmp_path / "ann.pt", small_ann("vgg5"), mean=[0] * 3, std=[1] * 3)
    assert main(["convert", str(tmp_path / "ann.pt"), "--data", str(tmp_path / "nodata"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nodata" in err
    assert main(["train-ann", "--data", str(tmp_path / "nodata"), "--out",
                 str(tmp_path / "r")]) == 2
    assert "nodata" in capsys.readouterr().err
