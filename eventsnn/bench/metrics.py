"""NeuroBench-style cost of any network with a ``[T, B, ...]`` forward, measured with forward hooks.

Definitions follow NeuroBench (Yik et al. 2025; ``neurobench.metrics``), implemented natively:

- **Static** (:func:`static_cost`): ``footprint_bytes`` (bytes of parameters + buffers),
  ``parameter_count``, ``connection_sparsity`` (fraction of zero weights in the Linear/Conv
  layers).
- **Activation sparsity**: ``1 - nonzero / total`` of the outputs of the spiking layers, over all
  layers, time steps and samples, and per layer.
- **Synaptic operations**, per sample, over all time steps, of every ``Linear`` / ``Conv1d/2d/3d``
  (SpikingJelly's ``layer.Conv2d`` / ``layer.Linear`` are subclasses, so they count too); bias
  excluded. For every layer input element ``x_i`` let ``fanout_i`` be the number of nonzero
  weights it meets (the output positions it reaches times the nonzero kernel taps; padding
  handled exactly):

  * effective ops = ``sum_i [x_i != 0] * fanout_i`` (NeuroBench: binarised input through a copy
    of the layer whose nonzero weights are 1);
  * dense ops = every connection as if every input were active and every weight nonzero;
  * a layer whose input is **binary** spikes (values in ``{-1, 0, 1}``, NeuroBench's test) counts
    its effective ops as **ACs**; any other input - **graded** multi-threshold spikes (integers
    > 1), event counts, real values - counts **MACs**.

Two deliberate, documented details:

- The kind of a layer's input is decided over the whole evaluation (every batch), not per batch
  as NeuroBench's hook does, so counts do not depend on the batch size.
- ``scaled_binary``: inputs taking one non-integer magnitude ``c`` (``{0, c}``, e.g. the
  ``threshold * spike`` outputs of converted IF layers) are binary events whose scale folds into
  the next weights; they count as ACs unless ``scaled_binary_as_ac=False`` (NeuroBench's literal
  rule counts them as MACs).

To be honest about graded spikes, every layer also reports its **spike events** (nonzero
inputs, i.e. messages sent) and **spike count** (sum of ``|x|``: a graded spike of value ``s``
is ``s`` unit spikes), and ``acs_if_unrolled`` = ``sum_i |x_i| * fanout_i``: the ACs that would
be needed if every graded spike of value ``s`` were sent as ``s`` binary spikes.

Energy is an **estimate** with the usual 45 nm, 32-bit float figures (Horowitz, ISSCC 2014, the
default of SpikingJelly's ``op_counter``): ``E_AC = 0.9 pJ``, ``E_MAC = 4.6 pJ``;
``energy_uj = (0.9 * ACs + 4.6 * MACs) * 1e-6`` per sample. Memory access and neuron updates are
not included.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from spikingjelly.activation_based import functional as sj_functional
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.registry import is_neuron
from eventsnn.nn.synops import SYNAPTIC_LAYERS, connection_counts, feature_dims, synaptic_layers

__all__ = [
    "E_AC_PJ",
    "E_MAC_PJ",
    "SYNAPTIC_LAYERS",
    "CostMeter",
    "CostReport",
    "LayerOps",
    "activation_layers",
    "measure_cost",
    "static_cost",
    "synaptic_layers",
]

E_AC_PJ = 0.9  #: energy of one accumulate, pJ (45 nm, fp32; Horowitz 2014) - an estimate
E_MAC_PJ = 4.6  #: energy of one multiply-accumulate, pJ (45 nm, fp32; Horowitz 2014) - an estimate
_AC_KINDS = ("binary", "scaled_binary")


def activation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every spiking layer whose outputs activation sparsity counts.

    Every registered spiking-neuron layer (:mod:`eventsnn.nn.registry`: MT-LIF, SpikingJelly
    neurons, the IF layers of converted networks, ...) and whatever ``model.spiking_layers()``
    lists, in module order, without duplicates.
    """
    found: dict[int, tuple[str, nn.Module]] = {}
    for name, m in model.named_modules():
        if is_neuron(m):
            found[id(m)] = (name, m)
    listed = getattr(model, "spiking_layers", None)
    if callable(listed):
        names = {id(m): n for n, m in model.named_modules()}
        for _, m in listed():
            found.setdefault(id(m), (names.get(id(m), type(m).__name__), m))
    order = {id(m): i for i, (_, m) in enumerate(model.named_modules())}
    return sorted(found.values(), key=lambda nm: order.get(id(nm[1]), 0))


def static_cost(model: nn.Module) -> dict[str, float | int]:
    """Footprint (bytes of parameters + buffers), parameter count and connection sparsity."""
    footprint = sum(p.numel() * p.element_size() for p in model.parameters())
    footprint += sum(b.numel() * b.element_size() for b in model.buffers())
    weights = [m.weight for _, m in synaptic_layers(model)]
    n_w = sum(w.numel() for w in weights)
    zeros = sum(int((w == 0).sum()) for w in weights)
    return {
        "footprint_bytes": int(footprint),
        "parameter_count": int(sum(p.numel() for p in model.parameters())),
        "synaptic_weights": int(n_w),
        "connection_sparsity": zeros / n_w if n_w else 0.0,
    }


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


@dataclass
class CostReport:
    """Per-sample cost of a network over an evaluation (see the module docstring).

    ``layers``: one dict per synaptic layer (per-sample values); ``activation_by_layer``: the
    activation sparsity of each spiking layer.
    """

    samples: int
    footprint_bytes: int
    parameter_count: int
    synaptic_weights: int
    connection_sparsity: float
    activation_sparsity: float
    activation_by_layer: dict[str, float]
    effective_acs: float
    effective_macs: float
    dense_synops: float
    synops: float
    graded_spike_events: float
    graded_spike_count: float
    acs_if_graded_unrolled: float
    energy_uj: float
    energy_uj_graded_as_acs: float
    layers: list[dict[str, Any]] = field(default_factory=list)
    e_ac_pj: float = E_AC_PJ
    e_mac_pj: float = E_MAC_PJ
    scaled_binary_as_ac: bool = True
    note: str = (
        "NeuroBench-style counts per sample; energy is an estimate at 45 nm fp32 "
        "(0.9 pJ/AC, 4.6 pJ/MAC), synaptic operations only"
    )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class CostMeter:
    """Forward hooks counting synaptic operations and activation sparsity while a model runs.

    Usage::

        with CostMeter(model) as meter:
            out = model(x)            # x [T, B, ...]; any number of calls
            meter.add_samples(B)
        report = meter.report()

    Args:
        model: any module; its Linear/Conv layers and spiking layers are hooked.
        spiking: ``(name, module)`` whose outputs count for activation sparsity (default
            :func:`activation_layers`).
        scaled_binary_as_ac: count ``{0, c}`` inputs as ACs (see the module docstring).
        e_ac_pj, e_mac_pj: energy per AC / MAC, pJ.
    """

    def __init__(
        self,
        model: nn.Module,
        spiking: Sequence[tuple[str, nn.Module]] | None = None,
        scaled_binary_as_ac: bool = True,
        e_ac_pj: float = E_AC_PJ,
        e_mac_pj: float = E_MAC_PJ,
    ) -> None:
        self.model = model
        self.scaled_binary_as_ac = scaled_binary_as_ac
        self.e_ac_pj, self.e_mac_pj = float(e_ac_pj), float(e_mac_pj)
        self.layers = [(n, m) for n, m in synaptic_layers(model)]
        self.spiking = list(activation_layers(model) if spiking is None else spiking)
        self.ops = {n: LayerOps(n, type(m).__name__) for n, m in self.layers}
        self.act = {n: [0, 0] for n, _ in self.spiking}  # nonzero, total
        self.samples = 0
        self._fanouts: dict[tuple[str, tuple[int, ...]], tuple[torch.Tensor, float]] = {}
        self._handles: list[Any] = []

    # hooks -------------------------------------------------------------------------------
    def _synapse_hook(self, name: str, layer: nn.Module):
        def hook(_m: nn.Module, inputs: tuple[Any, ...], _out: Any) -> None:
            x = inputs[0].detach()
            nd = feature_dims(layer)
            feat = tuple(x.shape[-nd:])
            rows = x.reshape(-1, *feat)
            key = (name, feat)
            if key not in self._fanouts:
                self._fanouts[key] = connection_counts(layer, feat)
            fan, dense = self._fanouts[key]
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

        return hook

    def _activation_hook(self, name: str):
        def hook(_m: nn.Module, _inputs: Any, out: Any) -> None:
            o = out[0] if isinstance(out, (tuple, list)) else out
            a = self.act[name]
            a[0] += int(torch.count_nonzero(o.detach()))
            a[1] += o.numel()

        return hook

    def start(self) -> CostMeter:
        """Register the hooks (idempotent)."""
        if not self._handles:
            for n, m in self.layers:
                self._handles.append(m.register_forward_hook(self._synapse_hook(n, m)))
            for n, m in self.spiking:
                self._handles.append(m.register_forward_hook(self._activation_hook(n)))
        return self

    def stop(self) -> None:
        """Remove the hooks (the counts stay)."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> CostMeter:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def add_samples(self, n: int) -> None:
        """Declare that ``n`` more samples (recordings) went through the model."""
        self.samples += int(n)

    # result ------------------------------------------------------------------------------
    def report(self) -> CostReport:
        """Per-sample cost (raises if no sample was declared with :meth:`add_samples`)."""
        if self.samples <= 0:
            raise InvalidParameterError("CostMeter: no samples declared (call add_samples)")
        n = self.samples
        acs = macs = dense = events = count = unrolled = 0.0
        layers = []
        for name, _ in self.layers:
            s = self.ops[name]
            kind = s.kind
            as_ac = kind == "binary" or (kind == "scaled_binary" and self.scaled_binary_as_ac)
            if as_ac:
                acs += s.effective_ops
            else:
                macs += s.effective_ops
            dense += s.dense_ops
            if kind == "graded":
                events += s.input_nonzero
                count += s.input_abs_sum
                unrolled += s.unrolled_ops
            elif as_ac:
                unrolled += s.effective_ops
            layers.append({
                "name": name, "op": s.op, "input_kind": kind, "counted_as": "AC" if as_ac else "MAC",
                "input_density": s.input_nonzero / s.input_elements if s.input_elements else 0.0,
                "spike_events": s.input_nonzero / n, "spike_count": s.input_abs_sum / n,
                "effective_ops": s.effective_ops / n, "dense_ops": s.dense_ops / n,
                "acs_if_unrolled": s.unrolled_ops / n if kind in ("binary", "scaled_binary", "graded") else None,
                "max_input": s.max_abs,
            })
        nz = sum(a[0] for a in self.act.values())
        tot = sum(a[1] for a in self.act.values())
        by_layer = {k: (1.0 - a[0] / a[1]) if a[1] else 0.0 for k, a in self.act.items()}
        # layers fed by real-valued inputs stay MACs in the "graded as ACs" alternative
        real_macs = sum(self.ops[nm].effective_ops for nm, _ in self.layers
                        if self.ops[nm].kind == "real" or
                        (self.ops[nm].kind == "scaled_binary" and not self.scaled_binary_as_ac))
        st = static_cost(self.model)
        return CostReport(
            samples=n,
            footprint_bytes=int(st["footprint_bytes"]),
            parameter_count=int(st["parameter_count"]),
            synaptic_weights=int(st["synaptic_weights"]),
            connection_sparsity=float(st["connection_sparsity"]),
            activation_sparsity=(1.0 - nz / tot) if tot else 0.0,
            activation_by_layer=by_layer,
            effective_acs=acs / n,
            effective_macs=macs / n,
            dense_synops=dense / n,
            synops=(acs + macs) / n,
            graded_spike_events=events / n,
            graded_spike_count=count / n,
            acs_if_graded_unrolled=unrolled / n,
            energy_uj=(self.e_ac_pj * acs + self.e_mac_pj * macs) / n * 1e-6,
            energy_uj_graded_as_acs=(self.e_ac_pj * unrolled + self.e_mac_pj * real_macs) / n * 1e-6,
            layers=layers,
            e_ac_pj=self.e_ac_pj,
            e_mac_pj=self.e_mac_pj,
            scaled_binary_as_ac=self.scaled_binary_as_ac,
        )


@torch.no_grad()
def measure_cost(
    model: nn.Module,
    batches: Iterable[torch.Tensor] | torch.Tensor,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    **meter_kwargs: Any,
) -> CostReport:
    """Run ``model`` (eval mode, state reset after every batch) and return its :class:`CostReport`.

    Args:
        model: input ``[T, B, ...]`` -> any output.
        batches: frames ``[N, T, ...]`` (a DataLoader-style layout, split into ``batch_size``
            chunks) or an iterable of ``[T, B, ...]`` tensors.
        meter_kwargs: passed to :class:`CostMeter`.
    """
    was_training = model.training
    model.eval()
    if isinstance(batches, torch.Tensor):
        chunks: Iterable[torch.Tensor] = (
            batches[s : s + batch_size].transpose(0, 1) for s in range(0, len(batches), batch_size)
        )
    else:
        chunks = batches
    try:
        with CostMeter(model, **meter_kwargs) as meter:
            for x in chunks:
                model(x.to(device))
                sj_functional.reset_net(model)
                meter.add_samples(x.shape[1])
    finally:
        model.train(was_training)
    return meter.report()
