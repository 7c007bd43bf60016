"""eventsnn.checkpoints: the kind of each eventsnn .pt file, and one-line errors for every file
that is not one (missing, random bytes, truncated, pickled objects, unknown format)."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
import torch

from eventsnn.checkpoints import (
    ANN_FORMAT,
    SNN_FORMAT,
    TRAIN_FORMAT,
    checkpoint_kind,
    read_checkpoint,
    training_data_mismatch,
)
from eventsnn.convert import (
    ModelConfig,
    build_model,
    convert,
    load_ann,
    load_snn,
    save_ann,
    save_snn,
)
from eventsnn.errors import CheckpointError
from eventsnn.nn import build_model as build_snn
from eventsnn.train import save_checkpoint


class Opaque:
    """Not a tensor nor a plain value: torch.save pickles it, weights_only loading refuses it."""

    def __init__(self) -> None:
        self.weights = [1.0, 2.0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    snn = build_snn("synthetic", channels=[4, 8], n_thresholds=2, spatial_factor=2)
    train = save_checkpoint(d / "best.pt", {"epoch": 0, "model_state": snn.state_dict(),
                                             "config": {"model": snn.config, "classes": list("abcdefghij")}})
    ann = build_model(ModelConfig(arch="vgg5", width=0.25, n_classes=2)).eval()
    save_ann(d / "ann.pt", ann, mean=[0.5] * 3, std=[0.25] * 3, classes=("a", "b"), data="somewhere")
    converted = convert(ann, torch.rand(4, 3, 12, 12), T=2, tune=False, mean=[0.5] * 3, std=[0.25] * 3)
    save_snn(converted, d / "snn_standard_T2.pt")
    return {"train": train, "ann": d / "ann.pt", "snn": d / "snn_standard_T2.pt"}


def test_each_kind_is_told_from_its_format_field(files):
    assert checkpoint_kind(files["train"]) == "snn-train"
    assert checkpoint_kind(files["ann"]) == "ann"
    assert checkpoint_kind(files["snn"]) == "converted-snn"
    assert read_checkpoint(files["ann"], "ann")["format"] == ANN_FORMAT
    assert read_checkpoint(files["snn"])["format"] == SNN_FORMAT
    assert load_snn(files["snn"]).T == 2 and load_ann(files["ann"])[1]["data"] == "somewhere"


def test_format_names_match_the_writers():
    from eventsnn.convert import checkpoint as convert_checkpoint
    from eventsnn.train import checkpoint as train_checkpoint

    assert TRAIN_FORMAT == train_checkpoint.FORMAT
    assert (ANN_FORMAT, SNN_FORMAT) == (convert_checkpoint.ANN_FORMAT, convert_checkpoint.SNN_FORMAT)


def _one_line(exc: pytest.ExceptionInfo, name: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and name in msg, msg
    return msg


def test_files_that_are_not_eventsnn_checkpoints(tmp_path, files):
    cases = {}
    cases["missing.pt"] = "checkpoint not found"
    (tmp_path / "random.pt").write_bytes(bytes(range(256)) * 40)
    cases["random.pt"] = "not a PyTorch zip archive"
    data = files["ann"].read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    cases["cut.pt"] = "not a PyTorch zip archive; truncated, corrupt"
    with zipfile.ZipFile(tmp_path / "other.pt", "w") as z:
        z.writestr("notes.txt", "a zip archive, but not one torch wrote")
    cases["other.pt"] = "not a readable checkpoint (truncated or corrupt?)"
    torch.save({"format": ANN_FORMAT, "model": Opaque()}, tmp_path / "pickled.pt")
    cases["pickled.pt"] = "not an eventsnn file: it holds objects other than tensors and plain Python values, " \
                          "and eventsnn refuses to unpickle them"
    torch.save({"state_dict": {}}, tmp_path / "noformat.pt")
    cases["noformat.pt"] = "not an eventsnn checkpoint (format=None; expected a dict with format one of " \
                           f"{TRAIN_FORMAT}, {ANN_FORMAT}, {SNN_FORMAT})"
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    cases["tensor.pt"] = "not an eventsnn checkpoint (a Tensor"
    (tmp_path / "folder.pt").mkdir()
    cases["folder.pt"] = "is a folder"
    for name, expected in cases.items():
        with pytest.raises(CheckpointError) as exc:
            checkpoint_kind(tmp_path / name)
        assert expected in _one_line(exc, name), name


def test_a_file_of_another_kind_is_named_as_such(files):
    with pytest.raises(CheckpointError) as exc:
        read_checkpoint(files["ann"], "snn-train")
    assert "is an ANN (eventsnn train-ann), not an SNN training checkpoint (eventsnn train)" in _one_line(exc, "ann.pt")
    with pytest.raises(CheckpointError) as exc:
        load_ann(files["snn"])
    assert "is a converted SNN (eventsnn convert), not an eventsnn-ann file" in _one_line(exc, "snn_standard_T2.pt")
    with pytest.raises(CheckpointError) as exc:
        load_snn(files["train"])
    assert "is an SNN training checkpoint (eventsnn train), not an eventsnn-snn file" in _one_line(exc, "best.pt")


def test_rebuild_errors_are_one_line(tmp_path, files):
    payload = torch.load(files["ann"], weights_only=True)
    payload["state_dict"] = {k: v for i, (k, v) in enumerate(payload["state_dict"].items()) if i}  # one key less
    torch.save(payload, tmp_path / "broken_ann.pt")
    with pytest.raises(CheckpointError) as exc:
        load_ann(tmp_path / "broken_ann.pt")
    assert "cannot rebuild the ANN" in _one_line(exc, "broken_ann.pt")


def test_training_data_mismatch():
    digits = [str(i) for i in range(10)]
    config = {"sensor_size": [34, 34, 2], "classes": digits, "data": {"dataset": "nmnist"}}
    assert training_data_mismatch(config, (34, 34, 2), digits, "nmnist-sim") is None
    assert training_data_mismatch(config, (34, 34, 2)) is None  # a file: only the sensor is known
    msg = training_data_mismatch(config, (128, 128, 2), [str(i) for i in range(11)], "dvsgesture")
    assert msg == ("the model was trained on nmnist (34x34 sensor; 10 classes 0, 1, 2, ...), this dvsgesture "
                   "recording has 128x128; 11 classes 0, 1, 2, ...: its prediction means little")
    glyphs = {"model": {"sensor_size": [34, 34]}, "classes": ["disc", "ring"], "data": {"dataset": "synthetic"}}
    assert "synthetic (2 classes disc, ring)" in training_data_mismatch(glyphs, (34, 34, 2), digits, "nmnist")
    # a checkpoint without a top-level sensor: the model's [H, W]
    assert "40x30 sensor" in training_data_mismatch({"model": {"sensor_size": [30, 40]}}, (34, 34, 2))


class Payload:
    """Unpickling it calls ``os.mkdir(marker)``: any code at all could run there instead."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_malicious_pickle_is_never_executed(tmp_path, capsys, nmnist_files):
    from eventsnn import load_model
    from eventsnn.cli import main
    from eventsnn.errors import EventsnnError
    from eventsnn.io import load_events, read_events

    marker = tmp_path / "code_ran"
    evil = tmp_path / "evil.pt"
    torch.save({"format": TRAIN_FORMAT, "epoch": 0, "model_state": Payload(marker)}, evil)
    np.save(tmp_path / "evil.npy", np.array([Payload(marker)], dtype=object), allow_pickle=True)
    for load in (checkpoint_kind, lambda p: read_checkpoint(p, "snn-train"), load_ann, load_snn, load_model):
        with pytest.raises(CheckpointError, match="unpickl"):
            load(evil)
    for argv in (["eval", str(evil)], ["convert", str(evil)], ["bench", str(evil)],
                 ["show", str(nmnist_files[0]), "--model", str(evil)], ["train", "--init-from", str(evil)]):
        assert main([*argv, "--out", str(tmp_path / "out")]) == 2, argv
        assert "evil.pt" in capsys.readouterr().err
    for read in (load_events, read_events):
        with pytest.raises(EventsnnError, match="evil.npy"):
            read(tmp_path / "evil.npy")
    assert not marker.exists() and not (tmp_path / "out").exists()
    torch.load(evil, weights_only=False)  # the payload is live: plain unpickling runs it
    assert marker.is_dir()
