"""eventsnn.run: the one batched loop, the stateful step primitive, the probes, and NeuroBench's
counts of the same synaptic operations and activation sparsity."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from eventsnn.bench import CostMeter, measure_cost
from eventsnn.datasets import NMNIST
from eventsnn.errors import InvalidParameterError
from eventsnn.nn import build_model
from eventsnn.nn.registry import neuron_types
from eventsnn.run import (
    LastOutputs,
    OpsFraction,
    SpikeCounts,
    SynapticOps,
    probing,
    reset_state,
    run_model,
    step,
)
from eventsnn.train.data import FrameSet
from eventsnn.transforms import STC

PACKAGE = Path(__file__).resolve().parent.parent / "eventsnn"


def _net(preset: str = "nmnist", **kw) -> nn.Module:
    torch.manual_seed(0)
    net = build_model(preset, **kw).eval()
    with torch.no_grad():  # stronger weights: every layer spikes
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.mul_(4.0)
    return net


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """STC frames ``[8, 3, 2, 34, 34]`` (event counts) of 8 real N-MNIST recordings, labels."""
    ds = NMNIST(data_dir, "train")
    idx = [int(i) for i in np.linspace(0, len(ds) - 1, 8)]
    x = torch.from_numpy(STC((34, 34, 2), 3).frames([ds.read(i) for i in idx]))
    return x, torch.as_tensor(np.asarray(ds.targets)[idx], dtype=torch.long)


# --------------------------------------------------------------------------- run_model / step


def test_run_model_batches_transposes_and_resets_between_batches(frames) -> None:
    x, y = frames
    net = _net(channels=[4, 8], n_thresholds=2)
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


def test_step_keeps_state_and_equals_the_multi_step_call(frames) -> None:
    x, _ = frames
    net = _net("plif", channels=[4, 8], fc_hidden=32)
    with torch.no_grad():
        whole = net(x[:2].transpose(0, 1))
        reset_state(net)
        steps = torch.stack([step(net, x[:2, t]) for t in range(x.shape[1])])
        reset_state(net)
        again = step(net, x[:2, 0])
    torch.testing.assert_close(steps, whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(again, whole[0], rtol=1e-5, atol=1e-5)  # reset: a fresh sequence


# --------------------------------------------------------------------------- probes


def test_probes_register_on_entry_and_remove_on_exit(frames) -> None:
    x, _ = frames
    net = _net(channels=[4, 8], n_thresholds=2)
    spikes, ops, last = SpikeCounts(net), SynapticOps(net), LastOutputs(net)
    with pytest.raises(RuntimeError), probing(spikes, ops, last):
        assert all(p.attached for p in (spikes, ops, last))
        run_model(net, x[:4])
        raise RuntimeError("interrupted")
    assert not any(p.attached for p in (spikes, ops, last))
    counted = {k: (s.spikes, s.nonzero, s.elements) for k, s in spikes.stats.items()}
    run_model(net, x[:4])  # hooks are gone: nothing more is counted
    assert counted == {k: (s.spikes, s.nonzero, s.elements) for k, s in spikes.stats.items()}
    # what the spike counts hold, by hand from the last outputs (one batch of 4)
    for name, out in last.outputs.items():
        s = spikes.stats[name]
        assert s.elements == out.numel() and s.nonzero == int((out != 0).sum())
        assert s.spikes == pytest.approx(float(out.sum())) and s.neurons == out[0, 0].numel()
        rate = spikes.rates()[name]
        assert rate["mean_spikes"] == pytest.approx(float(out.mean()))
        assert rate["active_fraction"] == pytest.approx(1.0 - spikes.sparsity_by_layer()[name])
    assert set(ops.ops) == {n for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert all(o.rows > 0 and 0 < o.effective_ops <= o.dense_ops for o in ops.ops.values())


def test_ops_fraction_counts_only_inputs_with_a_gradient(frames) -> None:
    x, _ = frames
    net = _net(channels=[4, 8], n_thresholds=2).train()
    with OpsFraction(net) as frac, SynapticOps(net) as ops:
        net(x[:4].transpose(0, 1))
        value = frac.take()
    assert value is not None and value.requires_grad
    rest = list(ops.ops.values())[1:]  # the first layer sees data (no gradient)
    assert float(value.detach()) == pytest.approx(sum(o.unrolled_ops for o in rest) / sum(o.dense_ops for o in rest), rel=1e-5)
    assert frac.take() is None  # taken: counting starts anew
    reset_state(net)


# --------------------------------------------------------------------------- NeuroBench


class _SampleFirst(nn.Module):
    """NeuroBench feeds ``[B, T, ...]`` batches: transpose, run, reset, read out the mean."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x.transpose(0, 1))
        reset_state(self.net)
        return out.mean(0)


def _neurobench(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> dict:
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import TorchModel
    from torch.utils.data import DataLoader, TensorDataset

    model = TorchModel(_SampleFirst(net))
    for t in neuron_types():  # NeuroBench watches nn.ReLU / nn.Sigmoid unless told otherwise
        model.add_activation_module(t)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size)
    bench = Benchmark(model, loader, [], [], [[], [SynapticOperations, ActivationSparsity]])
    res = bench.run(quiet=True)
    model.cleanup_hooks()
    return res


@pytest.mark.parametrize(
    ("preset", "kw"),
    [
        ("nmnist", {"channels": [4, 8], "n_thresholds": 1}),  # binary spikes: ACs
        ("nmnist", {"channels": [4, 8], "n_thresholds": 3, "scb": "all"}),  # graded spikes: MACs
        ("plif", {"channels": [4, 8], "fc_hidden": 32}),  # SpikingJelly neurons
    ],
)
def test_probe_counts_equal_neurobench(frames, preset, kw) -> None:
    """The probes' synaptic operations and activation sparsity are NeuroBench 2.3's.

    Same definitions: bias excluded; a layer whose input holds only {-1, 0, 1} counts ACs, any
    other input (event counts, graded multi-threshold spikes) MACs; dense = every connection.
    Two documented differences, both absent here: NeuroBench decides AC/MAC per batch (we over
    the whole evaluation: so the comparison of the split runs on one batch, the totals on two),
    and it counts ``{0, c}`` inputs (converted IF layers) as MACs (``scaled_binary_as_ac=False``
    gives that).
    """
    pytest.importorskip("neurobench")
    x, y = frames
    net = _net(preset, **kw)
    nb = _neurobench(net, x, y, batch_size=len(x))
    nb_ops, nb_sparsity = nb["SynapticOperations"], nb["ActivationSparsity"]
    ours = measure_cost(net, x, batch_size=len(x), scaled_binary_as_ac=False)
    assert nb_ops["Effective_ACs"] + nb_ops["Effective_MACs"] > 0 and 0 < nb_sparsity < 1
    assert ours.effective_acs == pytest.approx(nb_ops["Effective_ACs"], rel=1e-6)
    assert ours.effective_macs == pytest.approx(nb_ops["Effective_MACs"], rel=1e-6)
    assert ours.dense_synops == pytest.approx(nb_ops["Dense"], rel=1e-6)
    assert ours.activation_sparsity == pytest.approx(nb_sparsity, rel=1e-9)
    kinds = [layer["input_kind"] for layer in ours.layers]
    # event counts into the first layer: MACs; then binary spikes (ACs) or graded ones (MACs)
    assert kinds[0] == "graded" and set(kinds[1:]) == ({"graded"} if kw.get("n_thresholds", 1) > 1 else {"binary"})
    assert (nb_ops["Effective_ACs"] == 0) == (kw.get("n_thresholds", 1) > 1)
    # over two batches, straight from the probes
    nb2 = _neurobench(net, x, y, batch_size=len(x) // 2)
    with probing(SynapticOps(net), SpikeCounts(net)) as (ops, spikes):
        run_model(net, x, batch_size=len(x) // 2)
    per_sample = sum(o.effective_ops for o in ops.ops.values()) / len(x)
    assert per_sample == pytest.approx(nb2["SynapticOperations"]["Effective_ACs"]
                                       + nb2["SynapticOperations"]["Effective_MACs"], rel=1e-6)
    assert spikes.sparsity() == pytest.approx(nb2["ActivationSparsity"], rel=1e-9)
    with CostMeter(net) as meter:  # the meter is the same two probes
        run_model(net, x, batch_size=len(x) // 2)
    meter.add_samples(len(x))
    assert meter.report().synops == pytest.approx(per_sample, rel=1e-9)


# --------------------------------------------------------------------------- one way through


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
