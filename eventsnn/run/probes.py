"""Probes: forward hooks that watch layers of a network while it runs, through one mechanism.

A :class:`Probe` holds the layers it watches (found through :mod:`eventsnn.nn.introspect` and
:mod:`eventsnn.nn.synops`, never by type lists of its own) and what it does with every forward
call of each; it is a context manager that registers its hooks on entry and removes them on exit
(:meth:`Probe.attach` / :meth:`Probe.detach` do the same by hand). Several at once::

    with probing(SpikeCounts(model), SynapticOps(model)) as (spikes, ops):
        outputs = run_model(model, frames)          # eventsnn.run.forward
    spikes.rates(), ops.ops

The probes:

- :class:`SpikeCounts`: per spiking layer, the sum of the outputs (graded spike counts), the
  nonzero outputs and all outputs: spike rates (``eventsnn eval``) and activation sparsity
  (the cost meter, NeuroBench's ``ActivationSparsity``);
- :class:`SynapticOps`: per ``Linear`` / ``Conv`` layer, the synaptic operations its inputs
  cause (NeuroBench's ``SynapticOperations`` counting, see :class:`LayerOps`), for
  :class:`eventsnn.bench.CostMeter`;
- :class:`OpsFraction`: a differentiable count of the same operations as a fraction of the
  dense count, for the training penalty :class:`eventsnn.train.SynOpsPenalty`;
- :class:`LastOutputs`: the latest output (and input) of some layers: the activity of each time
  step (:func:`eventsnn.run.record_activity`), the activations that conversion calibrates
  thresholds on (:mod:`eventsnn.convert`), the layer shapes the NIR exporter reads.

Counting rules (a layer's input rows ``x`` are its input reshaped to ``[rows, *features]``, a
row being one sample at one time step; ``fanout_i`` = the connections input element ``i``
drives through nonzero weights, :func:`eventsnn.nn.synops.fanout`; bias excluded):

- effective operations = ``sum_i [x_i != 0] * fanout_i``; dense = every connection of every row;
- unrolled operations = ``sum_i |x_i| * fanout_i`` (a graded spike of value ``s`` counts ``s``
  times).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from eventsnn.nn.introspect import spike_layers
from eventsnn.nn.synops import connection_counts, feature_dims, synaptic_layers

__all__ = [
    "LastOutputs",
    "LayerOps",
    "LayerSpikes",
    "OpsFraction",
    "Probe",
    "SpikeCounts",
    "SynapticOps",
    "probing",
]

Layers = Sequence[tuple[str, nn.Module]]


class Probe:
    """Forward hooks on ``layers`` (``(name, module)`` pairs), all calling :meth:`observe`.

    Subclasses choose the layers and implement :meth:`observe`; the hooks are registered by
    :meth:`attach` (or on entering ``with``) and removed by :meth:`detach` (or on leaving it,
    also on an exception). What a probe has counted stays after :meth:`detach`.
    """

    def __init__(self, layers: Layers) -> None:
        self.layers = list(layers)
        self._handles: list[Any] = []

    def observe(self, name: str, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        """Called after every forward call of a watched layer."""
        raise NotImplementedError

    def _hook(self, name: str, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        self.observe(name, module, inputs, output)

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def attach(self) -> Probe:
        """Register the hooks (idempotent); returns the probe."""
        if not self._handles:
            self._handles = [m.register_forward_hook(functools.partial(self._hook, name))
                             for name, m in self.layers]
        return self

    def detach(self) -> None:
        """Remove the hooks (what was counted stays)."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> Probe:
        return self.attach()

    def __exit__(self, *exc: Any) -> None:
        self.detach()


@contextlib.contextmanager
def probing(*probes: Probe) -> Iterator[tuple[Probe, ...]]:
    """Attach ``probes`` for the ``with`` block (all removed on exit, also on an exception)."""
    with contextlib.ExitStack() as stack:
        for p in probes:
            stack.enter_context(p)
        yield probes


def _tensor(output: Any) -> torch.Tensor:
    """The spike tensor of a layer output (the first element of a tuple output)."""
    return output[0] if isinstance(output, (tuple, list)) else output


# ---------------------------------------------------------------------------------------------
# spikes


@dataclass
class LayerSpikes:
    """Totals of one spiking layer's outputs over the calls seen.

    Attributes:
        spikes: sum of the outputs (graded spike counts).
        nonzero: outputs that are not 0 (spike events).
        elements: all outputs (neurons x time steps x samples).
        neurons: neurons per sample (the last call's ``[T, B, *neurons]``).
    """

    spikes: float = 0.0
    nonzero: int = 0
    elements: int = 0
    neurons: int = 0


class SpikeCounts(Probe):
    """Spike totals of every spiking layer (default :func:`eventsnn.nn.spike_layers`; the cost
    meter passes :func:`eventsnn.nn.introspect.activation_layers`). ``stats``: name ->
    :class:`LayerSpikes`."""

    def __init__(self, model: nn.Module, layers: Layers | None = None) -> None:
        super().__init__(spike_layers(model) if layers is None else layers)
        self.stats = {name: LayerSpikes() for name, _ in self.layers}

    def observe(self, name: str, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        o = _tensor(output).detach()
        s = self.stats[name]
        s.spikes += float(o.float().sum())
        s.nonzero += int(torch.count_nonzero(o))
        s.elements += o.numel()
        s.neurons = o[0, 0].numel() if o.ndim >= 3 else o[0].numel()

    def rates(self) -> dict[str, dict[str, float]]:
        """name -> ``mean_spikes`` (mean output per neuron and step, in ``[0, K]``),
        ``active_fraction`` (fraction of (neuron, step) pairs with a spike), ``neurons``."""
        return {
            name: {
                "mean_spikes": s.spikes / s.elements if s.elements else 0.0,
                "active_fraction": s.nonzero / s.elements if s.elements else 0.0,
                "neurons": int(s.neurons),
            }
            for name, s in self.stats.items()
        }

    def sparsity_by_layer(self) -> dict[str, float]:
        """name -> activation sparsity ``1 - nonzero / elements`` (0 for a layer never called)."""
        return {k: (1.0 - s.nonzero / s.elements) if s.elements else 0.0 for k, s in self.stats.items()}

    def sparsity(self) -> float:
        """Activation sparsity over all layers, steps and samples (NeuroBench's definition)."""
        nz = sum(s.nonzero for s in self.stats.values())
        tot = sum(s.elements for s in self.stats.values())
        return (1.0 - nz / tot) if tot else 0.0


# ---------------------------------------------------------------------------------------------
# synaptic operations


class _Connections:
    """``(fanout, dense)`` of each (layer, input feature shape), computed once
    (:func:`eventsnn.nn.synops.connection_counts`), optionally kept on a device/dtype."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, tuple[int, ...]], tuple[torch.Tensor, float]] = {}

    def get(self, name: str, layer: nn.Module, feat: tuple[int, ...], like: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, float]:
        key = (name, feat)
        if key not in self._cache:
            fan, dense = connection_counts(layer, feat)
            if like is not None:
                fan = fan.to(device=like.device, dtype=torch.float32)
            self._cache[key] = (fan, dense)
        return self._cache[key]


def _rows(layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """A layer input as rows ``[rows, *features]`` and the feature shape."""
    feat = tuple(x.shape[-feature_dims(layer):])
    return x.reshape(-1, *feat), feat


@dataclass
class LayerOps:
    """Totals of one synaptic layer over an evaluation (divide by samples for per sample).

    Attributes:
        name: module name. op: "Linear" / "Conv2d" / ...
        kind: input kind seen over the evaluation: "binary" ({-1, 0, 1}), "graded" (integers
            beyond 1: multi-threshold spikes, event counts), "scaled_binary" (one non-integer
            nonzero magnitude, ``{0, c}``), "real" (anything else).
        rows: input rows seen (time steps x samples).
        input_elements, input_nonzero (spike events), input_abs_sum (spike count).
        effective_ops, dense_ops, unrolled_ops: see the module docstring.
    """

    name: str
    op: str
    rows: int = 0
    input_elements: int = 0
    input_nonzero: int = 0
    input_abs_sum: float = 0.0
    effective_ops: float = 0.0
    dense_ops: float = 0.0
    unrolled_ops: float = 0.0
    max_abs: float = 0.0
    min_nonzero_abs: float = math.inf
    all_integer: bool = True

    @property
    def kind(self) -> str:
        if self.max_abs == 0.0 or (self.all_integer and self.max_abs <= 1.0):
            return "binary"
        if self.all_integer:
            return "graded"
        return "scaled_binary" if self.min_nonzero_abs == self.max_abs else "real"


class SynapticOps(Probe):
    """Synaptic operations of every ``Linear`` / ``Conv`` layer (default
    :func:`eventsnn.nn.synops.synaptic_layers`), counted in float64 on the inputs of each call.
    ``ops``: name -> :class:`LayerOps`."""

    def __init__(self, model: nn.Module, layers: Layers | None = None) -> None:
        super().__init__(synaptic_layers(model) if layers is None else layers)
        self.ops = {n: LayerOps(n, type(m).__name__) for n, m in self.layers}
        self._connections = _Connections()

    def observe(self, name: str, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        rows, feat = _rows(module, inputs[0].detach())
        fan, dense = self._connections.get(name, module, feat)
        s = self.ops[name]
        nz_mask = rows != 0
        nz_per_elem = nz_mask.sum(0, dtype=torch.int64)
        ax = rows.abs()
        abs_per_elem = ax.sum(0, dtype=torch.float64)
        s.rows += rows.shape[0]
        s.input_elements += rows.numel()
        s.input_nonzero += int(nz_per_elem.sum())
        s.input_abs_sum += float(abs_per_elem.sum())
        s.effective_ops += float((nz_per_elem.to(torch.float64) * fan).sum())
        s.unrolled_ops += float((abs_per_elem * fan).sum())
        s.dense_ops += dense * rows.shape[0]
        if bool(nz_mask.any()):
            s.max_abs = max(s.max_abs, float(ax.max()))
            s.min_nonzero_abs = min(s.min_nonzero_abs, float(ax[nz_mask].min()))
            if s.all_integer:
                s.all_integer = bool((rows == torch.round(rows)).all())


class OpsFraction(Probe):
    """Differentiable unrolled synaptic operations (``sum_i |x_i| * fanout_i``, float32, on the
    inputs' device) of every ``Linear`` / ``Conv`` layer, as a fraction of the dense count.

    Only calls whose input carries a gradient count (the first layer, fed with data, does not:
    its cost does not depend on the weights). :meth:`take` returns the fraction of the calls
    since the last :meth:`take`; leaving ``with`` drops what was not taken.
    """

    def __init__(self, model: nn.Module, layers: Layers | None = None) -> None:
        super().__init__(synaptic_layers(model) if layers is None else layers)
        self._connections = _Connections()
        self._ops: torch.Tensor | None = None
        self._dense = 0.0

    def observe(self, name: str, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        x = inputs[0]
        if not (torch.is_grad_enabled() and x.requires_grad):
            return
        rows, feat = _rows(module, x)
        fan, dense = self._connections.get(name, module, feat, like=x)
        ops = (rows.abs().float().sum(0) * fan).sum()
        self._ops = ops if self._ops is None else self._ops + ops
        self._dense += dense * rows.shape[0]

    def detach(self) -> None:
        super().detach()
        self._ops, self._dense = None, 0.0

    def take(self) -> torch.Tensor | None:
        """``ops / dense`` since the last call (a scalar tensor with a gradient; None when
        nothing was counted), and start counting anew."""
        ops, dense = self._ops, self._dense
        self._ops, self._dense = None, 0.0
        if ops is None or dense == 0.0:
            return None
        return ops / dense


# ---------------------------------------------------------------------------------------------
# activity


class LastOutputs(Probe):
    """The latest output of every watched layer (default the spiking layers,
    :func:`eventsnn.nn.spike_layers`), detached: ``outputs`` name -> tensor; with
    ``inputs=True`` also its first input, ``inputs`` name -> tensor."""

    def __init__(self, model: nn.Module, layers: Layers | None = None, inputs: bool = False) -> None:
        super().__init__(spike_layers(model) if layers is None else layers)
        self.outputs: dict[str, torch.Tensor] = {}
        self.inputs: dict[str, torch.Tensor] = {}
        self._keep_inputs = inputs

    def observe(self, name: str, module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        self.outputs[name] = _tensor(output).detach()
        if self._keep_inputs:
            self.inputs[name] = inputs[0].detach()
