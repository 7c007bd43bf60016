"""Export trained networks to NIR, the Neuromorphic Intermediate Representation (``pip install
eventsnn[nir]``), so that snnTorch, Norse, Sinabs, Lava-DL, SpiNNaker2, ... can load them::

    from eventsnn.export import export_nir
    graph = export_nir(model, (2, 34, 34), path="model.nir", dt=1e-3)   # nir.NIRGraph
    # nir.read("model.nir") gives the same graph back

What exports (each node is named after the module it comes from, without the ``.body`` level
of ``SeqToANN`` wrappers; ``input`` and ``output`` are the graph's ends):

==============================================  =============================================
eventsnn / torch / SpikingJelly                 NIR
==============================================  =============================================
Conv2d (+ the BatchNorm2d after it, folded)     ``Conv2d`` (weights and bias with BN folded in)
Linear (+ BatchNorm1d after it, folded)         ``Affine`` (``Linear`` when there is no bias)
Flatten / ``torch.flatten``                     ``Flatten`` (``start_dim`` without the batch)
AvgPool2d, AdaptiveAvgPool2d(1)                 ``AvgPool2d``
MaxPool2d on binary spikes                      ``SumPool2d`` + ``Threshold(0.5)`` (exact: the
                                                max of 0/1 values is 1 iff their sum >= 1)
SpikingJelly ``VotingLayer(n)``                 ``Linear`` averaging each group of ``n``
MTLIF, K = 1, hard reset                        ``LIF``
Synapse followed by MTLIF (K = 1, hard reset)   ``CubaLIF``
SpikingJelly LIF / ParametricLIF, hard reset    ``LIF``
IF neuron of a converted net (eventsnn.convert) ``IF`` + ``Scale(θ)`` (its output is θ·spike);
                                                these reset by subtraction, so they need
                                                ``soft_reset="approximate"`` (see below)
Dropout, Identity                               nothing (identity at inference)
==============================================  =============================================

Neurons are found and read through :mod:`eventsnn.nn.registry`: any registered neuron type whose
:class:`~eventsnn.nn.registry.NeuronDynamics` are ``"lif"`` or ``"if"`` exports like the rows
above (a Synapse followed by any such LIF neuron becomes a ``CubaLIF``).

Mapping of the discrete dynamics to NIR's continuous ones. One eventsnn time step lasts ``dt``
seconds; NIR's ODEs are read with a forward-Euler step of ``dt`` (as SpikingJelly's and
snnTorch's NIR exchange do), which reproduces the discrete updates exactly:

- MT-LIF (``k = sigmoid(w) = 1/τ``, ``τ`` in time steps), ``decay_input=True``:
  ``v ← v + k (x − (v − v_rest))``. NIR LIF ``τ_nir dv/dt = (v_leak − v) + r·I`` stepped by
  ``dt`` gives ``v ← v + (dt/τ_nir)(v_leak − v + r·I)``, hence **τ_nir = dt / k = τ·dt**,
  ``r = 1``, ``v_leak = v_rest`` (= ``v_reset`` for the hard reset), ``v_threshold = θ``,
  ``v_reset = v_reset``. With ``decay_input=False`` (``v ← v − k(v − v_rest) + x``):
  ``r = 1/k = τ``. Per-channel τ becomes a per-neuron array ``[C, H, W]`` (NIR parameters are
  arrays of the neuron shape).
- Synaptic current ``I ← α I + x`` (``α = sigmoid(a)``): NIR CubaLIF
  ``τ_syn dI/dt = −I + w_in·S`` stepped by ``dt`` gives ``I ← (1 − dt/τ_syn) I + (dt/τ_syn) w_in S``,
  hence **τ_syn = dt / (1 − α)** and ``w_in = τ_syn/dt = 1/(1 − α)``; the membrane part is the
  LIF mapping above (``τ_mem = τ·dt``).
- IF (converted nets): ``v ← v + x``: NIR ``dv/dt = r·I`` gives ``r = 1/dt``.

What NIR cannot express, and is refused with :class:`NIRExportError` naming the layer:

- MT-LIF with K > 1 thresholds: NIR neurons emit binary spikes, the graded spikes (0..K) have
  no primitive;
- the soft reset (``v ← v − θ·s``, MT-LIF ``reset="soft"``, the IF neurons of converted nets,
  SpikingJelly ``v_reset=None``): NIR's LIF/IF/CubaLIF reset to ``v_reset``. Passing
  ``soft_reset="approximate"`` exports such neurons with ``v_reset = 0`` and writes
  ``metadata["eventsnn_reset"] = "subtract"`` on the node; the exported graph then differs
  from the trained network whenever the membrane overshoots the threshold;
- MaxPool2d on anything but binary spikes, BatchNorm not preceded by a conv/linear layer,
  grouped or non-zero-padded convolutions, and modules without a NIR primitive.

The spike condition differs only at equality (eventsnn fires at ``v >= θ``, NIR at ``v > θ``),
and NIR has no initial membrane: the θ/2 start of converted IF neurons is recorded in the
node's metadata (``eventsnn_v_init``). The eventsnn presets read out the mean over time steps of
the last ``Affine`` node's output (the graph's ``Output``), also noted in the graph metadata.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from spikingjelly.activation_based import layer as sj_layer
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from eventsnn.errors import EventsnnError, InvalidParameterError
from eventsnn.nn.convnet import SpikingConvNet
from eventsnn.nn.geometry import input_shape
from eventsnn.nn.plif import PLIFNet
from eventsnn.nn.registry import NeuronDynamics, is_neuron, neuron_dynamics
from eventsnn.nn.scb import ConvBlock, SeqToANN
from eventsnn.nn.synapse import Synapse
from eventsnn.run.forward import reset_state
from eventsnn.run.probes import LastOutputs

__all__ = ["NIRExportError", "export_nir"]

SOFT_RESET_OPTIONS = ("error", "approximate")

Shape = tuple[int, ...]


class NIRExportError(EventsnnError, ValueError):
    """A layer of the network has no exact NIR equivalent (the message names the layer)."""


def _nir():
    try:
        import nir
    except ImportError as exc:  # pragma: no cover - nir is a dev dependency
        raise NIRExportError("NIR export needs the 'nir' package: pip install 'eventsnn[nir]'") from exc
    return nir


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy().copy()


def _full(value: np.ndarray | float, shape: Sequence[int]) -> np.ndarray:
    """Broadcast a scalar or per-channel ``[C]`` value to the neuron shape ``(C, ...)``."""
    v = np.asarray(value, dtype=np.float32)
    if v.ndim == 1 and len(shape) > 1:
        v = v.reshape(-1, *([1] * (len(shape) - 1)))
    return np.broadcast_to(v, tuple(shape)).astype(np.float32).copy()


# ---------------------------------------------------------------------------------------------
# the graph being built


class _Graph:
    """NIR nodes and edges under construction, with the export settings (``dt`` in seconds,
    ``soft_reset``) and the soft-reset approximations made (warned about at the end)."""

    def __init__(self, nir_mod, per_step: Shape, dt: float, soft_reset: str) -> None:
        self.nir = nir_mod
        self.dt = float(dt)
        self.soft_reset = soft_reset
        self.nodes: dict[str, Any] = {"input": nir_mod.Input(input_type={"input": np.array(per_step)})}
        self.edges: list[tuple[str, str]] = []
        self.approximated: list[str] = []

    def add(self, name: str, node: Any, sources: Sequence[str]) -> list[str]:
        """Add ``node`` fed by ``sources``; returns its (unique) name as the next sources."""
        # SeqToANN wrappers add a ".body" level that says nothing about the layer
        name = ".".join(p for p in name.replace("/", ".").split(".") if p != "body") or "node"
        base, i = name, 1
        while name in self.nodes:
            i += 1
            name = f"{base}_{i}"
        self.nodes[name] = node
        self.edges += [(s, name) for s in sources]
        return [name]

    def close(self, out_shape: Sequence[int], sources: Sequence[str]) -> None:
        """Add the ``output`` node, and turn bias-free Linear layers (no batch norm folded in)
        into NIR ``Linear`` nodes."""
        self.nodes["output"] = self.nir.Output(output_type={"output": np.array(out_shape)})
        self.edges += [(s, "output") for s in sources]
        for name, node in list(self.nodes.items()):
            if isinstance(node, self.nir.Affine) and getattr(node, "_eventsnn_no_bias", False):
                if not np.any(node.bias):
                    self.nodes[name] = self.nir.Linear(weight=node.weight)


# ---------------------------------------------------------------------------------------------
# neurons (any registered type, read through its NeuronDynamics)


def _exportable_dynamics(name: str, m: nn.Module) -> NeuronDynamics:
    """The dynamics of neuron layer ``m``, refused unless NIR has a neuron for them."""
    d = neuron_dynamics(m)
    if d.model == "other":
        raise NIRExportError(f"layer {name!r}: {type(m).__name__} has no NIR primitive")
    if d.n_thresholds != 1:
        raise NIRExportError(
            f"layer {name!r}: {d.label} with {d.n_thresholds} thresholds cannot be expressed in NIR "
            f"(NIR neurons emit binary spikes); export a model with n_thresholds=1"
        )
    return d


def _reset_metadata(g: _Graph, name: str, d: NeuronDynamics) -> dict[str, Any]:
    """``{}`` for a hard reset; a soft reset is refused or, with ``soft_reset="approximate"``,
    recorded (``v_reset = 0`` in NIR, marked in the node metadata)."""
    if d.reset == "hard":
        return {}
    if g.soft_reset == "error":
        raise NIRExportError(
            f"layer {name!r}: {d.label} with soft reset (v -= θ·s) cannot be expressed in NIR (NIR's "
            f"LIF/IF/CubaLIF reset to v_reset); {d.hard_reset_hint}pass soft_reset='approximate' to "
            f"export it with v_reset=0"
        )
    g.approximated.append(f"NIR export: layer {name!r} ({d.label}) has a soft reset; exported with "
                          "v_reset=0 (approximation, marked in the node metadata)")
    return {"eventsnn_reset": "subtract"}


def _lif_params(g: _Graph, d: NeuronDynamics, shape: Shape, v_reset: float) -> dict[str, np.ndarray]:
    """NIR LIF parameters: ``τ_nir = τ·dt``, ``r = 1`` (``τ`` without decay_input),
    ``v_leak = v_rest`` (see the module docstring)."""
    tau_steps = d.tau.numpy()
    return {
        "tau": _full(tau_steps * g.dt, shape),
        "r": _full(1.0 if d.decay_input else tau_steps, shape),
        "v_leak": _full(d.v_rest, shape),
        "v_threshold": _full(d.v_threshold, shape),
        "v_reset": _full(v_reset, shape),
    }


def _cuba_lif(g: _Graph, params: dict[str, np.ndarray], meta: dict[str, Any],
              synapse: tuple[str, nn.Module], shape: Shape):
    """NIR CubaLIF of a Synapse (``τ_syn = dt / (1 − α)``, ``w_in = 1 / (1 − α)``) feeding a LIF."""
    syn_name, syn = synapse
    alpha = torch.sigmoid(syn.a.detach().double()).cpu().numpy()
    return g.nir.CubaLIF(
        tau_syn=_full(g.dt / (1.0 - alpha), shape), tau_mem=params["tau"], r=params["r"],
        v_leak=params["v_leak"], v_threshold=params["v_threshold"], v_reset=params["v_reset"],
        w_in=_full(1.0 / (1.0 - alpha), shape), metadata={**meta, "eventsnn_synapse": syn_name},
    )


def _neuron_node(g: _Graph, name: str, d: NeuronDynamics, shape: Shape,
                 synapse: tuple[str, nn.Module] | None = None):
    """The NIR ``LIF`` / ``CubaLIF`` (with ``synapse``) / ``IF`` node of one neuron layer."""
    meta = _reset_metadata(g, name, d)
    v_reset = d.v_reset if d.reset == "hard" else 0.0
    if d.model == "if":
        meta["eventsnn_v_init"] = d.v_init
        return g.nir.IF(r=_full(1.0 / g.dt, shape), v_threshold=_full(d.v_threshold, shape),
                        v_reset=_full(v_reset, shape), metadata=meta)
    params = _lif_params(g, d, shape, v_reset)
    if synapse is None:
        return g.nir.LIF(**params, metadata=meta)
    return _cuba_lif(g, params, meta, synapse, shape)


def _add_neuron(g: _Graph, name: str, d: NeuronDynamics, shape: Shape, src: Sequence[str],
                synapse: tuple[str, nn.Module] | None = None) -> list[str]:
    """Add a neuron layer, followed by ``Scale`` when it outputs ``scale·spike``."""
    src = g.add(name, _neuron_node(g, name, d, shape, synapse), src)
    if d.output_scale != 1.0:
        src = g.add(f"{name}.scale", g.nir.Scale(scale=_full(d.output_scale, shape), metadata={
            "eventsnn_op": f"{d.model.upper()} output = θ·spike"}), src)
    return src


# ---------------------------------------------------------------------------------------------
# layers with one NIR node each, and batch-norm folding


def _conv_node(nir_mod, name: str, conv: nn.Conv2d, in_shape: Shape):
    if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise NIRExportError(f"layer {name!r}: only ungrouped, zero-padded convolutions with integer "
                             f"padding export to NIR (groups={conv.groups}, padding={conv.padding!r}, "
                             f"padding_mode={conv.padding_mode!r})")
    w = _np(conv.weight)
    b = _np(conv.bias) if conv.bias is not None else np.zeros(w.shape[0], np.float32)
    return nir_mod.Conv2d(input_shape=tuple(int(s) for s in in_shape[-2:]), weight=w, stride=tuple(conv.stride),
                          padding=tuple(conv.padding), dilation=tuple(conv.dilation), groups=1, bias=b)


def _affine_node(nir_mod, name: str, m: nn.Linear, in_shape: Shape):
    """An Affine node (zero bias for a bias-free layer; :meth:`_Graph.close` turns it into
    Linear unless a batch norm was folded into it)."""
    w = _np(m.weight)
    bias = _np(m.bias) if m.bias is not None else np.zeros(w.shape[0], np.float32)
    node = nir_mod.Affine(weight=w, bias=bias)
    node._eventsnn_no_bias = m.bias is None
    return node


def _avgpool_node(nir_mod, name: str, m: nn.AvgPool2d, in_shape: Shape):
    if m.ceil_mode or m.divisor_override is not None or (np.any(m.padding) and not m.count_include_pad):
        raise NIRExportError(f"layer {name!r}: this AvgPool2d configuration (ceil_mode, divisor_override or "
                             "padding without count_include_pad) has no NIR equivalent")
    k, s, pad = (np.broadcast_to(np.asarray(v), (2,)).copy() for v in (m.kernel_size, m.stride or m.kernel_size, m.padding))
    return nir_mod.AvgPool2d(kernel_size=k, stride=s, padding=pad)


def _global_avgpool_node(nir_mod, name: str, m: nn.AdaptiveAvgPool2d, in_shape: Shape):
    if tuple(np.broadcast_to(np.asarray(m.output_size), (2,))) != (1, 1):
        raise NIRExportError(f"layer {name!r}: only AdaptiveAvgPool2d(1) exports to NIR")
    k = np.array(in_shape[-2:])
    return nir_mod.AvgPool2d(kernel_size=k, stride=k.copy(), padding=np.zeros(2, int))


def _flatten_node(nir_mod, name: str, m: nn.Flatten, in_shape: Shape):
    start = m.start_dim - 1 if m.start_dim > 0 else m.start_dim
    end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
    return nir_mod.Flatten(input_type={"input": np.array(in_shape)}, start_dim=start, end_dim=end)


#: module type -> builder ``(nir, name, module, per-sample input shape) -> NIR node``
_ONE_NODE_LAYERS: tuple[tuple[type, Callable[..., Any]], ...] = (
    (nn.Conv2d, _conv_node),
    (nn.Linear, _affine_node),
    (nn.AvgPool2d, _avgpool_node),
    (nn.AdaptiveAvgPool2d, _global_avgpool_node),
    (nn.Flatten, _flatten_node),
)
_WEIGHTED = (nn.Conv2d, nn.Linear)  # layers a following batch norm folds into
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _one_node(nir_mod, name: str, m: nn.Module, in_shape: Shape):
    """The NIR node of a layer of :data:`_ONE_NODE_LAYERS`, or None for any other module."""
    for types, build in _ONE_NODE_LAYERS:
        if isinstance(m, types):
            return build(nir_mod, name, m, in_shape)
    return None


def _fold_bn(prev: Any, bn: nn.Module, name: str) -> None:
    """Fold eval-mode batch norm into the weights of the NIR Conv2d/Affine ``prev`` in place."""
    gamma = _np(bn.weight) if bn.weight is not None else np.ones(bn.num_features, np.float32)
    beta = _np(bn.bias) if bn.bias is not None else np.zeros(bn.num_features, np.float32)
    if bn.running_mean is None or bn.running_var is None:
        raise NIRExportError(f"layer {name!r}: batch norm without running statistics cannot be folded")
    scale = gamma / np.sqrt(_np(bn.running_var) + bn.eps)
    shift = beta - _np(bn.running_mean) * scale
    w = prev.weight
    prev.weight = (w * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
    prev.bias = (prev.bias * scale + shift).astype(np.float32)
    prev._eventsnn_no_bias = False


def _no_primitive(name: str, m: nn.Module) -> NIRExportError:
    return NIRExportError(f"layer {name!r}: {type(m).__name__} has no NIR primitive")


# ---------------------------------------------------------------------------------------------
# sequential networks (eventsnn presets, SpikingJelly PLIF preset, nn.Sequential)

#: containers that run their children in registration order
_SEQUENTIAL_CONTAINERS = (nn.Sequential, SeqToANN, ConvBlock, SpikingConvNet, PLIFNet)
_IDENTITY_AT_INFERENCE = (nn.Dropout, nn.Identity, sj_layer.Dropout)


def _sequential_leaves(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The leaf modules of a network whose containers run their children in registration order."""
    if isinstance(model, _SEQUENTIAL_CONTAINERS):
        out: list[tuple[str, nn.Module]] = []
        for n, child in model.named_children():
            out += _sequential_leaves(child, f"{prefix}.{n}" if prefix else n)
        return out
    return [(prefix or type(model).__name__, model)]


def _leaf_shapes(model: nn.Module, leaves: list[tuple[str, nn.Module]], x: torch.Tensor
                 ) -> dict[str, tuple[Shape, Shape]]:
    """Per-sample ``(input shape, output shape)`` of each leaf for one time step of one sample."""
    was_training = model.training
    model.eval()
    reset_state(model)
    try:
        with torch.no_grad(), LastOutputs(model, leaves, inputs=True) as last:
            model(x)
    finally:
        reset_state(model)
        model.train(was_training)
    shapes: dict[str, tuple[Shape, Shape]] = {}
    for n, m in leaves:
        if n in last.outputs:  # leaves that ran
            lead = 2 if getattr(m, "step_mode", "s") == "m" else 1
            shapes[n] = (tuple(last.inputs[n].shape[lead:]), tuple(last.outputs[n].shape[lead:]))
    return shapes


class _SequentialWalk:
    """Turns the leaves of a sequential network, in order, into a chain of NIR nodes."""

    def __init__(self, g: _Graph) -> None:
        self.g = g
        self.src = ["input"]
        self.last: Any = None  # the last NIR node with weights (a batch norm folds into it)
        self.binary = False  # the signal is binary spikes (max pooling exports)
        self.synapse: tuple[str, nn.Module] | None = None  # a Synapse waiting for its neuron

    def leaf(self, name: str, m: nn.Module, in_shape: Shape, out_shape: Shape) -> None:
        self._check_synapse_feeds(name, m)
        if isinstance(m, _IDENTITY_AT_INFERENCE):
            return
        if is_neuron(m):
            return self._neuron(name, m, out_shape)
        node = _one_node(self.g.nir, name, m, in_shape)
        if node is not None:
            self.src = self.g.add(name, node, self.src)
            self.last = node if isinstance(m, _WEIGHTED) else None
            self.binary = self.binary and isinstance(m, nn.Flatten)
            return
        for types, handle in self._OTHER_LAYERS:
            if isinstance(m, types):
                return handle(self, name, m, in_shape, out_shape)
        raise _no_primitive(name, m)

    def finish(self) -> None:
        if self.synapse is not None:
            raise NIRExportError(f"layer {self.synapse[0]!r}: a Synapse must be followed by a LIF "
                                 "neuron (e.g. MTLIF)")

    def _check_synapse_feeds(self, name: str, m: nn.Module) -> None:
        if self.synapse is not None and not (is_neuron(m) and neuron_dynamics(m).model == "lif"):
            raise NIRExportError(f"layer {self.synapse[0]!r}: a Synapse must be followed by a LIF neuron "
                                 f"(e.g. MTLIF) to export (as NIR CubaLIF), found {type(m).__name__} {name!r}")

    def _neuron(self, name: str, m: nn.Module, out_shape: Shape) -> None:
        d = _exportable_dynamics(name, m)
        self.src = _add_neuron(self.g, name, d, out_shape, self.src, self.synapse)
        self.synapse, self.last, self.binary = None, None, d.output_scale == 1.0

    def _batch_norm(self, name: str, m: nn.Module, in_shape: Shape, out_shape: Shape) -> None:
        if not isinstance(self.last, (self.g.nir.Conv2d, self.g.nir.Affine)):
            raise NIRExportError(f"layer {name!r}: batch norm must follow a Conv2d or Linear layer "
                                 "to be folded into it (NIR has no batch norm)")
        _fold_bn(self.last, m, name)

    def _max_pool(self, name: str, m: nn.MaxPool2d, in_shape: Shape, out_shape: Shape) -> None:
        if not self.binary:
            raise NIRExportError(f"layer {name!r}: MaxPool2d on non-binary values has no NIR primitive "
                                 "(only max pooling of binary spikes exports, as SumPool2d + Threshold)")
        nir_mod = self.g.nir
        k, s, pad = (tuple(np.broadcast_to(np.asarray(v), (2,)).tolist()) for v in (m.kernel_size, m.stride, m.padding))
        src = self.g.add(f"{name}.sum", nir_mod.SumPool2d(kernel_size=np.array(k), stride=np.array(s),
                                                          padding=np.array(pad)), self.src)
        self.src = self.g.add(f"{name}.threshold", nir_mod.Threshold(
            threshold=np.full(out_shape, 0.5, np.float32),
            metadata={"eventsnn_op": "max pooling of binary spikes"}), src)
        self.last = None

    def _synapse(self, name: str, m: nn.Module, in_shape: Shape, out_shape: Shape) -> None:
        self.synapse = (name, m)

    def _voting(self, name: str, m: nn.Module, in_shape: Shape, out_shape: Shape) -> None:
        n_in, n_out = int(in_shape[-1]), int(out_shape[-1])
        w = np.zeros((n_out, n_in), np.float32)
        for i in range(n_out):
            w[i, i * m.voting_size:(i + 1) * m.voting_size] = 1.0 / m.voting_size
        self.src = self.g.add(name, self.g.nir.Linear(
            weight=w, metadata={"eventsnn_op": f"VotingLayer({m.voting_size})"}), self.src)
        self.last, self.binary = None, False

    _OTHER_LAYERS = (
        (_BATCH_NORMS, _batch_norm),
        (nn.MaxPool2d, _max_pool),
        (Synapse, _synapse),
        (sj_layer.VotingLayer, _voting),
    )


def _export_sequential(model: nn.Module, per_step: Shape, g: _Graph) -> None:
    leaves = _sequential_leaves(model)
    # multi-step networks take [T, B, ...] (T = B = 1 here); plain torch stacks take [B, ...]
    multi_step = any(getattr(m, "step_mode", "s") == "m" for _, m in leaves)
    x = torch.zeros(1, 1, *per_step) if multi_step else torch.zeros(1, *per_step)
    shapes = _leaf_shapes(model, leaves, x)
    walk = _SequentialWalk(g)
    for name, m in leaves:
        if name in shapes:  # else not called in forward (e.g. an unused module)
            walk.leaf(name, m, *shapes[name])
    walk.finish()
    g.close(next(shapes[n][1] for n, _ in reversed(leaves) if n in shapes), walk.src)


# ---------------------------------------------------------------------------------------------
# converted networks (eventsnn.convert.SpikingNetwork): torch.fx over the body (residual adds)

_TRACE_LEAVES = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d, nn.AvgPool2d,
                 nn.AdaptiveAvgPool2d, nn.MaxPool2d, nn.Flatten, nn.Dropout, nn.Identity, nn.ReLU)


class _Tracer(fx.Tracer):
    """Keeps neurons and the layers NIR knows as single graph nodes."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:  # noqa: D102
        return is_neuron(m) or isinstance(m, _TRACE_LEAVES) or super().is_leaf_module(m, qualname)


def _trace(snn: nn.Module, per_step: Shape) -> fx.GraphModule:
    """The body of a converted network as an fx graph with per-node shapes (one step, one sample)."""
    saved_T = [(m, m.T) for m in snn.neurons()]
    for m, _ in saved_T:
        m.T = 1
        m.reset()
    try:
        gm = fx.GraphModule(snn.body, _Tracer().trace(snn.body))
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(1, *per_step))
    except Exception as exc:  # tracing errors are plain Python/torch errors
        raise NIRExportError(f"cannot trace the converted network for NIR export: {exc}") from exc
    finally:
        for m, T in saved_T:
            m.T = T
            m.reset()
    return gm


def _shape(n: fx.Node) -> Shape:
    return tuple(n.meta["tensor_meta"].shape[1:])


def _is_add(n: fx.Node) -> bool:
    return n.op == "call_function" and n.target in (operator.add, torch.add)


def _is_flatten(n: fx.Node) -> bool:
    return (n.op == "call_function" and n.target is torch.flatten) or (n.op == "call_method" and n.target == "flatten")


class _GraphWalk:
    """Turns the fx graph of a converted network into NIR nodes; NIR sums a node's inputs, so
    residual additions are only edges."""

    def __init__(self, g: _Graph, gm: fx.GraphModule) -> None:
        self.g = g
        self.gm = gm
        self.sources: dict[fx.Node, list[str]] = {}  # fx node -> the NIR nodes carrying its value
        self.produced: dict[fx.Node, Any] = {}  # fx node -> the NIR node it made (for BN folding)

    def node(self, n: fx.Node) -> None:
        src = [s for a in n.all_input_nodes for s in self.sources.get(a, [])]
        if n.op == "placeholder":
            self.sources[n] = ["input"]
        elif n.op == "output":
            self.g.close(_shape(n.all_input_nodes[0]), src)
        elif n.op == "call_module":
            self.sources[n] = self._module(n, src)
        elif _is_add(n):
            self.sources[n] = src
        elif _is_flatten(n):
            self.sources[n] = self._flatten_call(n, src)
        else:
            raise NIRExportError(f"node {n.name!r}: operation {n.target!r} has no NIR primitive")

    def _module(self, n: fx.Node, src: list[str]) -> list[str]:
        m = self.gm.get_submodule(n.target)
        name = str(n.target)
        if isinstance(m, (nn.Identity, nn.Dropout)):
            return src
        if is_neuron(m):
            return _add_neuron(self.g, name, _exportable_dynamics(name, m), _shape(n), src)
        if isinstance(m, _BATCH_NORMS):
            self._fold(n, m, name)
            return src
        node = _one_node(self.g.nir, name, m, _shape(n.all_input_nodes[0]))
        if node is None:
            raise _no_primitive(name, m)
        if isinstance(m, _WEIGHTED):
            self.produced[n] = node
        return self.g.add(name, node, src)

    def _fold(self, n: fx.Node, bn: nn.Module, name: str) -> None:
        prev_fx = n.all_input_nodes[0]
        prev = self.produced.get(prev_fx)
        if prev is None or len(prev_fx.users) != 1:
            raise NIRExportError(f"layer {name!r}: batch norm must directly follow a Conv2d or Linear "
                                 "layer to be folded into it (NIR has no batch norm)")
        _fold_bn(prev, bn, name)

    def _flatten_call(self, n: fx.Node, src: list[str]) -> list[str]:
        start = n.args[1] if len(n.args) > 1 else n.kwargs.get("start_dim", 0)
        end = n.args[2] if len(n.args) > 2 else n.kwargs.get("end_dim", -1)
        if start < 1:
            raise NIRExportError(f"node {n.name!r}: flattening the batch dimension has no NIR equivalent")
        return self.g.add(n.name, self.g.nir.Flatten(input_type={"input": np.array(_shape(n.all_input_nodes[0]))},
                                                     start_dim=start - 1, end_dim=end - 1 if end > 0 else end), src)


def _export_converted(snn: nn.Module, per_step: Shape, g: _Graph) -> None:
    gm = _trace(snn, per_step)
    walk = _GraphWalk(g, gm)
    for n in gm.graph.nodes:
        walk.node(n)


# ---------------------------------------------------------------------------------------------
# public API


def _per_step_shape(model: nn.Module, sample: torch.Tensor | Sequence[int] | None) -> Shape:
    if sample is None:
        config = getattr(model, "config", None)
        if isinstance(config, dict) and "sensor_size" in config:
            return tuple(input_shape(config))
        raise InvalidParameterError("export_nir: give sample_input (a tensor) or input_shape, e.g. (3, 32, 32)")
    shape = tuple(int(s) for s in (sample.shape if isinstance(sample, torch.Tensor) else sample))
    if isinstance(sample, torch.Tensor) and len(shape) > 3:
        shape = shape[-3:]  # [T, B, P, H, W] or [B, C, H, W]
    if not shape or min(shape) < 1:
        raise InvalidParameterError(f"export_nir: bad input shape {shape}")
    return shape


def _write(nir_mod, graph: Any, path: str | Path) -> None:
    """``nir.write`` to a temporary file next to ``path``, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    nir_mod.write(tmp, graph)
    tmp.replace(path)


def export_nir(
    model: nn.Module,
    sample_input: torch.Tensor | Sequence[int] | None = None,
    path: str | Path | None = None,
    dt: float = 1e-3,
    soft_reset: str = "error",
) -> Any:
    """Export ``model`` to a ``nir.NIRGraph`` (and write it to ``path`` with ``nir.write``).

    Args:
        model: an eventsnn preset (:func:`eventsnn.nn.build_model`, K = 1), the SpikingJelly
            ``plif`` preset, a converted net (:class:`eventsnn.convert.ifsim.SpikingNetwork`), or
            an ``nn.Sequential`` of the exportable layers (see the module docstring).
        sample_input: the per-sample shape of one time step, e.g. ``(2, 34, 34)``, or a tensor
            whose last three dims give it (``[T, B, P, H, W]`` frames or ``[B, C, H, W]`` images);
            default: the preset's ``input_shape(model.config)``.
        path: write the graph there (HDF5, NIR's format) when given.
        dt: seconds per time step; NIR time constants are ``τ·dt`` (see the module docstring).
        soft_reset: ``"error"`` (default: refuse soft-reset neurons) or ``"approximate"`` (export
            them with ``v_reset = 0``, marked in the node metadata, with a warning per layer).

    Returns:
        ``nir.NIRGraph`` with nodes named after the modules, ``input`` and ``output``.

    Raises:
        NIRExportError: a layer NIR cannot express (the message names it), e.g. MT-LIF with K > 1.
        InvalidParameterError: bad ``dt``, ``soft_reset`` or input shape.
    """
    nir_mod = _nir()
    if not dt > 0:
        raise InvalidParameterError(f"dt must be > 0 seconds, got {dt}")
    if soft_reset not in SOFT_RESET_OPTIONS:
        raise InvalidParameterError(f"soft_reset must be one of {SOFT_RESET_OPTIONS}, got {soft_reset!r}")
    from eventsnn.convert.ifsim import SpikingNetwork

    per_step = _per_step_shape(model, sample_input)
    param = next(model.parameters(), None)
    if param is not None and param.device.type != "cpu":
        raise InvalidParameterError("export_nir: move the model to the CPU first (model.cpu())")
    g = _Graph(nir_mod, per_step, dt, soft_reset)
    if isinstance(model, SpikingNetwork):
        _export_converted(model, per_step, g)
    else:
        _export_sequential(model, per_step, g)
    for message in g.approximated:
        warnings.warn(message, stacklevel=2)
    from eventsnn._version import __version__

    metadata = {
        "exporter": f"eventsnn {__version__}",
        "dt": float(dt),
        "time_step": "one eventsnn time step = dt seconds; NIR ODEs read with forward Euler at dt",
        "readout": str(getattr(model, "readout", "mean over time steps of the output")),
    }
    graph = nir_mod.NIRGraph(nodes=g.nodes, edges=g.edges, metadata=metadata)
    if path is not None:
        _write(nir_mod, graph, path)
    return graph
