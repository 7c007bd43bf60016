"""Running networks over frames: run_model batches, transposes to [T, B, ...] and resets between
batches; step keeps state; one loop, one hook mechanism, no backend switch in the package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from _models import spiking_net
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn import build_model
from eventsnn.run import (
    reset_state,
    run_model,
    step,
)
from eventsnn.train.data import FrameSet

PACKAGE = Path(__file__).resolve().parents[2] / "eventsnn"


def test_run_model_batches_transposes_and_resets_between_batches(nmnist_frames) -> None:
    x, y = nmnist_frames
    net = spiking_net(channels=[4, 8], n_thresholds=2)
    one_by_one = []
    with torch.no_grad():
        for i in range(len(x)):
            one_by_one.append(net(x[i : i + 1].transpose(0, 1)))
            reset_state(net)
    expect = torch.cat(one_by_one, 1)  # [T, N, classes]
    net.train()
    out = run_model(net, x, batch_size=3)
    assert out.shape == (3, 8, 10) and net.training  # mode restored
    torch.testing.assert_close(out, expect, rtol=1e-5, atol=1e-5)
    # in another order, with labels: the batches carry their labels
    order = torch.tensor([7, 0, 3, 5, 1])
    seen = run_model(net, FrameSet(x, y), indices=order, batch_size=2, reduce=lambda o, b: (o.shape, b.y))
    assert [s for s, _ in seen] == [(3, 2, 10), (3, 2, 10), (3, 1, 10)]
    assert torch.equal(torch.cat([lab for _, lab in seen]), y[order])
    ready = run_model(net, (x[i : i + 4] for i in (0, 4)))  # an iterable of [B, T, ...] batches
    torch.testing.assert_close(ready, expect, rtol=1e-5, atol=1e-5)
    with pytest.raises(InvalidParameterError, match="batch_size"):
        run_model(net, x, batch_size=0)


def test_run_model_trains_through_reduce() -> None:
    net = build_model("synthetic", channels=[4, 8], in_channels=2, sensor_size=[16, 16], spatial_factor=1,
                      n_classes=3).eval()
    x = (torch.rand(6, 2, 2, 16, 16) < 0.3).float()
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]

    def train_step(out: torch.Tensor, batch) -> bool:
        loss = nn.functional.cross_entropy(out.mean(0), batch.y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return torch.is_grad_enabled()

    assert run_model(net, (x, y), batch_size=3, train=True, reduce=train_step) == [True, True]
    assert not net.training and any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_step_keeps_state_and_equals_the_multi_step_call(nmnist_frames) -> None:
    x, _ = nmnist_frames
    net = spiking_net("plif", channels=[4, 8], fc_hidden=32)
    with torch.no_grad():
        whole = net(x[:2].transpose(0, 1))
        reset_state(net)
        steps = torch.stack([step(net, x[:2, t]) for t in range(x.shape[1])])
        reset_state(net)
        again = step(net, x[:2, 0])
    torch.testing.assert_close(steps, whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(again, whole[0], rtol=1e-5, atol=1e-5)  # reset: a fresh sequence


def _sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text() for p in PACKAGE.rglob("*.py")}


def test_one_loop_one_hook_mechanism_no_backend_switch() -> None:
    src = _sources()
    assert not [f for f, s in src.items() if re.search(r"matplotlib\.use\(", s)]
    hooks = {f for f, s in src.items() if "register_forward_hook(" in s}
    assert hooks == {"run/probes.py"}
    # state resets: the run layer's primitive, and the training step of the training loop
    resets = {f for f, s in src.items() if re.search(r"^\s*[\w.]*reset_net\(", s, re.MULTILINE)}
    assert resets <= {"run/forward.py", "train/loop.py"} and "run/forward.py" in resets
