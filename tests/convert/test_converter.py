"""ANN -> SNN conversion: rates approach the ANN's activations; converted networks save, reload and
stream."""

from __future__ import annotations

import pytest
import torch
from _conversion_files import small_ann

from eventsnn.convert import (
    conversion_error,
    convert,
    load_ann,
    load_snn,
    save_ann,
    save_snn,
)
from eventsnn.errors import CheckpointError

torch.set_num_threads(2)


def test_signed_conversion_saves_reloads_and_streams(tmp_path) -> None:
    ann = small_ann("resnet20", act="qcfs")
    x = torch.randn(8, 3, 16, 16)
    signed = convert(ann, x, 4, signed=True)
    assert signed.options["signed"] and all(m.signed for _, m in signed.spiking_layers())
    assert not any(m.signed for _, m in convert(ann, x, 4, tune=False).spiking_layers())
    back = load_snn(save_snn(signed, tmp_path / "signed.pt"))
    assert all(m.signed for _, m in back.spiking_layers())
    assert torch.equal(back.forward_static(x, 4), signed.forward_static(x, 4))
    # streaming one step at a time gives the same outputs as the multi-step pass
    back.reset()
    steps = torch.cat([back(x.unsqueeze(0)) for _ in range(4)])
    assert torch.allclose(steps, signed.forward_static(x, 4), atol=1e-5)


def test_snn_rates_approach_ann_activations() -> None:
    ann = small_ann("vgg5")
    x = torch.randn(8, 3, 16, 16)
    errs = [conversion_error(convert(ann, x, T, threshold="max", tune=False), ann, x, T)
            for T in (4, 16, 64)]
    layer = [e["layer_mean"] for e in errs]
    logits = [e["logits"] for e in errs]
    assert layer[0] > layer[1] > layer[2]
    assert logits[0] > logits[2]
    with torch.no_grad():
        ann_logits = ann(x)
    assert logits[2] < 0.05 * float(ann_logits.var())


def test_save_load_roundtrip(tmp_path) -> None:
    ann = small_ann("resnet20", act="qcfs")
    x = torch.randn(4, 3, 16, 16)
    snn = convert(ann, x, 2, residual="shortcut_if", mean=[0.5] * 3, std=[0.25] * 3)
    path = save_snn(snn, tmp_path / "snn.pt")
    back = load_snn(path)
    assert back.options["residual"] == "shortcut_if" and back.T == 2
    assert back.thresholds() == snn.thresholds()
    assert back.mean == [0.5] * 3
    assert torch.equal(back.forward_static(x, 2), snn.forward_static(x, 2))
    ann_path = save_ann(tmp_path / "ann.pt", ann, mean=[0, 0, 0], std=[1, 1, 1])
    ann2, meta = load_ann(ann_path)
    with torch.no_grad():
        assert torch.equal(ann2(x), ann(x))
    assert meta["config"]["act"] == "qcfs"
    with pytest.raises(CheckpointError):
        load_snn(ann_path)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_ann(tmp_path / "junk.pt")
