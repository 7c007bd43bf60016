"""Probes: hooks attached on entry and removed on exit, the operation fraction, counts equal to
NeuroBench's."""

from __future__ import annotations

import pytest
import torch
from _models import spiking_net
from torch import nn

from eventsnn.bench import CostMeter, measure_cost
from eventsnn.nn.registry import neuron_types
from eventsnn.run import (
    LastOutputs,
    OpsFraction,
    SpikeCounts,
    SynapticOps,
    probing,
    reset_state,
    run_model,
)


def test_probes_register_on_entry_and_remove_on_exit(nmnist_frames) -> None:
    x, _ = nmnist_frames
    net = spiking_net(channels=[4, 8], n_thresholds=2)
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


def test_ops_fraction_counts_only_inputs_with_a_gradient(nmnist_frames) -> None:
    x, _ = nmnist_frames
    net = spiking_net(channels=[4, 8], n_thresholds=2).train()
    with OpsFraction(net) as frac, SynapticOps(net) as ops:
        net(x[:4].transpose(0, 1))
        value = frac.take()
    assert value is not None and value.requires_grad
    rest = list(ops.ops.values())[1:]  # the first layer sees data (no gradient)
    assert float(value.detach()) == pytest.approx(sum(o.unrolled_ops for o in rest) / sum(o.dense_ops for o in rest), rel=1e-5)
    assert frac.take() is None  # taken: counting starts anew
    reset_state(net)


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
def test_probe_counts_equal_neurobench(nmnist_frames, preset, kw) -> None:
    """The probes' synaptic operations and activation sparsity are NeuroBench 2.3's.

    Same definitions: bias excluded; a layer whose input holds only {-1, 0, 1} counts ACs, any
    other input (event counts, graded multi-threshold spikes) MACs; dense = every connection.
    Two documented differences, both absent here: NeuroBench decides AC/MAC per batch (we over
    the whole evaluation: so the comparison of the split runs on one batch, the totals on two),
    and it counts ``{0, c}`` inputs (converted IF layers) as MACs (``scaled_binary_as_ac=False``
    gives that).
    """
    pytest.importorskip("neurobench")
    x, y = nmnist_frames
    net = spiking_net(preset, **kw)
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
