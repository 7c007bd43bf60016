"""NeuroBench-style cost of any network with a ``[T, B, ...]`` forward, counted by the probes of
:mod:`eventsnn.run.probes` (:class:`CostMeter`).

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.introspect import activation_layers
from eventsnn.nn.synops import SYNAPTIC_LAYERS, synaptic_layers
from eventsnn.run.forward import run_model
from eventsnn.run.probes import LayerOps, SpikeCounts, SynapticOps

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
    """Synaptic operations and activation sparsity while a model runs: two probes
    (:class:`~eventsnn.run.probes.SynapticOps` on the Linear/Conv layers,
    :class:`~eventsnn.run.probes.SpikeCounts` on the spiking layers) and the NeuroBench-style
    report of what they counted.

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
        self.synapses = SynapticOps(model)
        self.activations = SpikeCounts(model, activation_layers(model) if spiking is None else spiking)
        self.samples = 0

    @property
    def layers(self) -> list[tuple[str, nn.Module]]:
        """The synaptic layers counted."""
        return self.synapses.layers

    @property
    def spiking(self) -> list[tuple[str, nn.Module]]:
        """The spiking layers whose outputs count for activation sparsity."""
        return self.activations.layers

    @property
    def ops(self) -> dict[str, LayerOps]:
        """name -> :class:`LayerOps` totals of each synaptic layer."""
        return self.synapses.ops

    def start(self) -> CostMeter:
        """Register the hooks (idempotent)."""
        self.synapses.attach()
        self.activations.attach()
        return self

    def stop(self) -> None:
        """Remove the hooks (the counts stay)."""
        self.synapses.detach()
        self.activations.detach()

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
            activation_sparsity=self.activations.sparsity(),
            activation_by_layer=self.activations.sparsity_by_layer(),
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
    if not isinstance(batches, torch.Tensor):  # [T, B, ...] batches -> sample-first
        batches = (x.transpose(0, 1) for x in batches)
    with CostMeter(model, **meter_kwargs) as meter:
        run_model(model, batches, batch_size=batch_size, device=device,
                  reduce=lambda _out, batch: meter.add_samples(batch.size))
    return meter.report()
