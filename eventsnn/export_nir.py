"""Export trained networks to NIR, the Neuromorphic Intermediate Representation (``pip install
eventsnn[nir]``), so that snnTorch, Norse, Sinabs, Lava-DL, SpiNNaker2, ... can load them::

    from eventsnn.export_nir import export_nir
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eventsnn.errors import EventsnnError, InvalidParameterError

__all__ = ["NIRExportError", "export_nir"]

SOFT_RESET_OPTIONS = ("error", "approximate")


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
# neurons


class _Ctx:
    def __init__(self, dt: float, soft_reset: str) -> None:
        self.dt = float(dt)
        self.soft_reset = soft_reset


def _soft_reset(name: str, what: str, ctx: _Ctx, hint: str = "train with reset='hard', or ") -> dict[str, Any]:
    if ctx.soft_reset == "error":
        raise NIRExportError(
            f"layer {name!r}: {what} with soft reset (v -= θ·s) cannot be expressed in NIR (NIR's "
            f"LIF/IF/CubaLIF reset to v_reset); {hint}pass soft_reset='approximate' to export it "
            f"with v_reset=0"
        )
    warnings.warn(f"NIR export: layer {name!r} ({what}) has a soft reset; exported with v_reset=0 "
                  "(approximation, marked in the node metadata)", stacklevel=4)
    return {"eventsnn_reset": "subtract"}


def _mtlif_params(name: str, m: nn.Module, shape: Sequence[int], ctx: _Ctx) -> tuple[dict[str, np.ndarray], dict]:
    p = m.params
    if p.n_thresholds != 1:
        raise NIRExportError(
            f"layer {name!r}: MTLIF with {p.n_thresholds} thresholds cannot be expressed in NIR "
            f"(NIR neurons emit binary spikes); export a model with n_thresholds=1"
        )
    meta: dict[str, Any] = {}
    if p.reset == "soft":
        meta = _soft_reset(name, "MTLIF", ctx)
        v_reset = 0.0
    else:
        v_reset = p.v_reset
    k = torch.sigmoid(m.w.detach().double()).cpu().numpy()
    tau_steps = 1.0 / k
    params = {
        "tau": _full(tau_steps * ctx.dt, shape),
        "r": _full(1.0 if p.decay_input else tau_steps, shape),
        "v_leak": _full(p.v_rest, shape),
        "v_threshold": _full(p.v_threshold, shape),
        "v_reset": _full(v_reset, shape),
    }
    return params, meta


def _sj_lif_params(name: str, m: nn.Module, shape: Sequence[int], ctx: _Ctx) -> tuple[dict[str, np.ndarray], dict]:
    from spikingjelly.activation_based import neuron as sj_neuron

    meta: dict[str, Any] = {}
    if m.v_reset is None:
        meta = _soft_reset(name, type(m).__name__, ctx)
        v_reset = 0.0
    else:
        v_reset = float(m.v_reset)
    if isinstance(m, sj_neuron.ParametricLIFNode):
        tau_steps = float(1.0 / torch.sigmoid(m.w.detach().double()))
    else:
        tau_steps = float(m.tau)
    params = {
        "tau": _full(tau_steps * ctx.dt, shape),
        "r": _full(1.0 if m.decay_input else tau_steps, shape),
        "v_leak": _full(v_reset, shape),
        "v_threshold": _full(float(m.v_threshold), shape),
        "v_reset": _full(v_reset, shape),
    }
    return params, meta


# ---------------------------------------------------------------------------------------------
# graph builder


class _Builder:
    """Collects NIR nodes and edges; ``sources`` are the node names feeding the next node."""

    def __init__(self, nir_mod) -> None:
        self.nir = nir_mod
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []

    def add(self, name: str, node: Any, sources: Sequence[str]) -> list[str]:
        # SeqToANN wrappers add a ".body" level that says nothing about the layer
        name = ".".join(p for p in name.replace("/", ".").split(".") if p != "body") or "node"
        base, i = name, 1
        while name in self.nodes:
            i += 1
            name = f"{base}_{i}"
        self.nodes[name] = node
        self.edges += [(s, name) for s in sources]
        return [name]


def _conv_node(nir_mod, name: str, conv: nn.Conv2d, in_shape: Sequence[int],
               weight: np.ndarray | None = None, bias: np.ndarray | None = None):
    if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise NIRExportError(f"layer {name!r}: only ungrouped, zero-padded convolutions with integer "
                             f"padding export to NIR (groups={conv.groups}, padding={conv.padding!r}, "
                             f"padding_mode={conv.padding_mode!r})")
    w = _np(conv.weight) if weight is None else weight
    b = (_np(conv.bias) if conv.bias is not None else np.zeros(w.shape[0], np.float32)) if bias is None else bias
    return nir_mod.Conv2d(input_shape=tuple(int(s) for s in in_shape[-2:]), weight=w, stride=tuple(conv.stride),
                          padding=tuple(conv.padding), dilation=tuple(conv.dilation), groups=1, bias=b)


def _affine(nir_mod, m: nn.Linear):
    """An Affine node (zero bias for a bias-free layer; :func:`_finish` turns it into Linear
    unless a batch norm was folded into it)."""
    w = _np(m.weight)
    bias = _np(m.bias) if m.bias is not None else np.zeros(w.shape[0], np.float32)
    node = nir_mod.Affine(weight=w, bias=bias)
    node._eventsnn_no_bias = m.bias is None
    return node


def _finish(b: _Builder) -> None:
    """Bias-free Linear layers (no batch norm folded in) become NIR ``Linear`` nodes."""
    for name, node in list(b.nodes.items()):
        if isinstance(node, b.nir.Affine) and getattr(node, "_eventsnn_no_bias", False):
            if not np.any(node.bias):
                b.nodes[name] = b.nir.Linear(weight=node.weight)


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


# ---------------------------------------------------------------------------------------------
# sequential networks (eventsnn presets, SpikingJelly PLIF preset, nn.Sequential)


def _sequential_leaves(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The leaf modules of a network whose containers run their children in registration order."""
    from eventsnn.nn.models import PLIFNet, SpikingConvNet
    from eventsnn.nn.scb import ConvBlock, SeqToANN

    containers = (nn.Sequential, SeqToANN, ConvBlock, SpikingConvNet, PLIFNet)
    if isinstance(model, containers):
        out: list[tuple[str, nn.Module]] = []
        for n, child in model.named_children():
            out += _sequential_leaves(child, f"{prefix}.{n}" if prefix else n)
        return out
    return [(prefix or type(model).__name__, model)]


def _leaf_shapes(model: nn.Module, leaves: list[tuple[str, nn.Module]], x: torch.Tensor
                 ) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Per-sample ``(input shape, output shape)`` of each leaf for one time step of one sample."""
    from spikingjelly.activation_based import functional as sj_functional

    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}

    def hook(name: str, lead: int):
        def f(_m, inp, out):
            shapes[name] = (tuple(inp[0].shape[lead:]), tuple(out.shape[lead:]))
        return f

    handles = []
    for n, m in leaves:
        lead = 2 if getattr(m, "step_mode", "s") == "m" else 1
        handles.append(m.register_forward_hook(hook(n, lead)))
    was_training = model.training
    model.eval()
    sj_functional.reset_net(model)
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        sj_functional.reset_net(model)
        model.train(was_training)
    return shapes


def _export_sequential(model: nn.Module, per_step: tuple[int, ...], ctx: _Ctx, nir_mod) -> _Builder:
    from spikingjelly.activation_based import layer as sj_layer
    from spikingjelly.activation_based import neuron as sj_neuron

    from eventsnn.nn import MTLIF, Synapse

    leaves = _sequential_leaves(model)
    # multi-step networks take [T, B, ...] (T = B = 1 here); plain torch stacks take [B, ...]
    multi_step = any(getattr(m, "step_mode", "s") == "m" for _, m in leaves)
    x = torch.zeros(1, 1, *per_step) if multi_step else torch.zeros(1, *per_step)
    shapes = _leaf_shapes(model, leaves, x)
    b = _Builder(nir_mod)
    b.nodes["input"] = nir_mod.Input(input_type={"input": np.array(per_step)})
    src = ["input"]
    last: Any = None  # last NIR node (for BN folding)
    binary = False  # the current signal is binary spikes (for max pooling)
    pending_syn: tuple[str, nn.Module] | None = None
    for name, m in leaves:
        if name not in shapes:  # not called in forward (e.g. an unused module)
            continue
        in_shape, out_shape = shapes[name]
        if pending_syn is not None and not isinstance(m, MTLIF):
            raise NIRExportError(f"layer {pending_syn[0]!r}: a Synapse must be followed by an MTLIF neuron to "
                                 f"export (as NIR CubaLIF), found {type(m).__name__} {name!r}")
        if isinstance(m, (nn.Dropout, nn.Identity, sj_layer.Dropout)):
            continue
        if isinstance(m, nn.Conv2d):
            last = _conv_node(nir_mod, name, m, in_shape)
            src = b.add(name, last, src)
            binary = False
        elif isinstance(m, nn.Linear):
            last = _affine(nir_mod, m)
            src = b.add(name, last, src)
            binary = False
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if not isinstance(last, (nir_mod.Conv2d, nir_mod.Affine)):
                raise NIRExportError(f"layer {name!r}: batch norm must follow a Conv2d or Linear layer "
                                     "to be folded into it (NIR has no batch norm)")
            _fold_bn(last, m, name)
        elif isinstance(m, nn.Flatten):
            start = m.start_dim - 1 if m.start_dim > 0 else m.start_dim
            end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
            src = b.add(name, nir_mod.Flatten(input_type={"input": np.array(in_shape)}, start_dim=start,
                                              end_dim=end), src)
            last = None
        elif isinstance(m, nn.MaxPool2d):
            if not binary:
                raise NIRExportError(f"layer {name!r}: MaxPool2d on non-binary values has no NIR primitive "
                                     "(only max pooling of binary spikes exports, as SumPool2d + Threshold)")
            k, s, pad = (tuple(np.broadcast_to(np.asarray(v), (2,)).tolist()) for v in (m.kernel_size, m.stride, m.padding))
            src = b.add(f"{name}.sum", nir_mod.SumPool2d(kernel_size=np.array(k), stride=np.array(s),
                                                         padding=np.array(pad)), src)
            src = b.add(f"{name}.threshold", nir_mod.Threshold(threshold=np.full(out_shape, 0.5, np.float32),
                                                                metadata={"eventsnn_op": "max pooling of binary spikes"}), src)
            last = None
        elif isinstance(m, nn.AvgPool2d):
            src = b.add(name, _avgpool_node(nir_mod, name, m), src)
            last = None
            binary = False
        elif isinstance(m, Synapse):
            pending_syn = (name, m)
            continue
        elif isinstance(m, MTLIF):
            params, meta = _mtlif_params(name, m, out_shape, ctx)
            if pending_syn is not None:
                syn_name, syn = pending_syn
                alpha = torch.sigmoid(syn.a.detach().double()).cpu().numpy()
                tau_syn = ctx.dt / (1.0 - alpha)
                node = nir_mod.CubaLIF(
                    tau_syn=_full(tau_syn, out_shape), tau_mem=params["tau"], r=params["r"],
                    v_leak=params["v_leak"], v_threshold=params["v_threshold"], v_reset=params["v_reset"],
                    w_in=_full(1.0 / (1.0 - alpha), out_shape),
                    metadata={**meta, "eventsnn_synapse": syn_name},
                )
                pending_syn = None
            else:
                node = nir_mod.LIF(**params, metadata=meta)
            src = b.add(name, node, src)
            last, binary = None, True
        elif isinstance(m, (sj_neuron.LIFNode, sj_neuron.ParametricLIFNode)):
            params, meta = _sj_lif_params(name, m, out_shape, ctx)
            src = b.add(name, nir_mod.LIF(**params, metadata=meta), src)
            last, binary = None, True
        elif isinstance(m, sj_layer.VotingLayer):
            n_in, n_out = int(in_shape[-1]), int(out_shape[-1])
            w = np.zeros((n_out, n_in), np.float32)
            for i in range(n_out):
                w[i, i * m.voting_size:(i + 1) * m.voting_size] = 1.0 / m.voting_size
            src = b.add(name, nir_mod.Linear(weight=w, metadata={"eventsnn_op": f"VotingLayer({m.voting_size})"}), src)
            last, binary = None, False
        else:
            raise NIRExportError(f"layer {name!r}: {type(m).__name__} has no NIR primitive")
    if pending_syn is not None:
        raise NIRExportError(f"layer {pending_syn[0]!r}: a Synapse must be followed by an MTLIF neuron")
    out_shape = next(shapes[n][1] for n, _ in reversed(leaves) if n in shapes)
    b.nodes["output"] = nir_mod.Output(output_type={"output": np.array(out_shape)})
    b.edges += [(s, "output") for s in src]
    return b


def _avgpool_node(nir_mod, name: str, m: nn.AvgPool2d):
    if m.ceil_mode or m.divisor_override is not None or (np.any(m.padding) and not m.count_include_pad):
        raise NIRExportError(f"layer {name!r}: this AvgPool2d configuration (ceil_mode, divisor_override or "
                             "padding without count_include_pad) has no NIR equivalent")
    k, s, pad = (np.broadcast_to(np.asarray(v), (2,)).copy() for v in (m.kernel_size, m.stride or m.kernel_size, m.padding))
    return nir_mod.AvgPool2d(kernel_size=k, stride=s, padding=pad)


# ---------------------------------------------------------------------------------------------
# converted networks (eventsnn.convert.SpikingNetwork): torch.fx over the body (residual adds)


def _export_converted(snn: nn.Module, per_step: tuple[int, ...], ctx: _Ctx, nir_mod) -> _Builder:
    from torch import fx
    from torch.fx.passes.shape_prop import ShapeProp

    from eventsnn.convert.ifsim import IFNeuron

    leaf_types = (IFNeuron, nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d, nn.AvgPool2d,
                  nn.AdaptiveAvgPool2d, nn.MaxPool2d, nn.Flatten, nn.Dropout, nn.Identity, nn.ReLU)

    class _Tracer(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:  # noqa: D102
            return isinstance(m, leaf_types) or super().is_leaf_module(m, qualname)

    body = snn.body
    saved_T = [(m, m.T) for m in body.modules() if isinstance(m, IFNeuron)]
    for m, _ in saved_T:
        m.T = 1
        m.reset()
    try:
        graph = _Tracer().trace(body)
        gm = fx.GraphModule(body, graph)
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros(1, *per_step))
    except Exception as exc:  # tracing errors are plain Python/torch errors
        raise NIRExportError(f"cannot trace the converted network for NIR export: {exc}") from exc
    finally:
        for m, T in saved_T:
            m.T = T
            m.reset()

    def shape(n: fx.Node) -> tuple[int, ...]:
        return tuple(n.meta["tensor_meta"].shape[1:])

    b = _Builder(nir_mod)
    b.nodes["input"] = nir_mod.Input(input_type={"input": np.array(per_step)})
    sources: dict[fx.Node, list[str]] = {}
    produced: dict[fx.Node, Any] = {}  # fx node -> the NIR node it made (for BN folding)
    out_src: list[str] = []
    for n in gm.graph.nodes:
        ins = [a for a in n.all_input_nodes]
        src = [s for a in ins for s in sources.get(a, [])]
        if n.op == "placeholder":
            sources[n] = ["input"]
        elif n.op == "output":
            out_src = src
            out_shape = shape(ins[0])
        elif n.op == "call_module":
            m = gm.get_submodule(n.target)
            name = str(n.target)
            in_shape = shape(ins[0])
            if isinstance(m, (nn.Identity, nn.Dropout)):
                sources[n] = src
            elif isinstance(m, nn.Conv2d):
                produced[n] = _conv_node(nir_mod, name, m, in_shape)
                sources[n] = b.add(name, produced[n], src)
            elif isinstance(m, nn.Linear):
                produced[n] = _affine(nir_mod, m)
                sources[n] = b.add(name, produced[n], src)
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                prev = produced.get(ins[0])
                if prev is None or len(ins[0].users) != 1:
                    raise NIRExportError(f"layer {name!r}: batch norm must directly follow a Conv2d or Linear "
                                         "layer to be folded into it (NIR has no batch norm)")
                _fold_bn(prev, m, name)
                sources[n] = src
            elif isinstance(m, nn.AvgPool2d):
                sources[n] = b.add(name, _avgpool_node(nir_mod, name, m), src)
            elif isinstance(m, nn.AdaptiveAvgPool2d):
                out_hw = np.broadcast_to(np.asarray(m.output_size), (2,))
                h, w = in_shape[-2:]
                if tuple(out_hw) != (1, 1):
                    raise NIRExportError(f"layer {name!r}: only AdaptiveAvgPool2d(1) exports to NIR")
                k = np.array([h, w])
                sources[n] = b.add(name, nir_mod.AvgPool2d(kernel_size=k, stride=k.copy(), padding=np.zeros(2, int)), src)
            elif isinstance(m, nn.Flatten):
                start = m.start_dim - 1 if m.start_dim > 0 else m.start_dim
                end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
                sources[n] = b.add(name, nir_mod.Flatten(input_type={"input": np.array(in_shape)},
                                                         start_dim=start, end_dim=end), src)
            elif isinstance(m, IFNeuron):
                meta = _soft_reset(name, "IF neuron of a converted net", ctx,
                                    "converted nets always reset by subtraction; ")
                theta = float(m.threshold)
                s = shape(n)
                meta["eventsnn_v_init"] = 0.5 * theta if m.v_init == "half" else 0.0
                node = nir_mod.IF(r=_full(1.0 / ctx.dt, s), v_threshold=_full(theta, s), v_reset=_full(0.0, s),
                                  metadata=meta)
                mid = b.add(name, node, src)
                sources[n] = b.add(f"{name}.scale", nir_mod.Scale(scale=_full(theta, s),
                                                                  metadata={"eventsnn_op": "IF output = θ·spike"}), mid)
            else:
                raise NIRExportError(f"layer {name!r}: {type(m).__name__} has no NIR primitive")
        elif n.op == "call_function" and n.target in (operator.add, torch.add):
            sources[n] = src  # NIR sums the inputs of a node
        elif (n.op == "call_function" and n.target is torch.flatten) or (n.op == "call_method" and n.target == "flatten"):
            start = n.args[1] if len(n.args) > 1 else n.kwargs.get("start_dim", 0)
            end = n.args[2] if len(n.args) > 2 else n.kwargs.get("end_dim", -1)
            if start < 1:
                raise NIRExportError(f"node {n.name!r}: flattening the batch dimension has no NIR equivalent")
            sources[n] = b.add(n.name, nir_mod.Flatten(input_type={"input": np.array(shape(ins[0]))},
                                                       start_dim=start - 1, end_dim=end - 1 if end > 0 else end), src)
        else:
            raise NIRExportError(f"node {n.name!r}: operation {n.target!r} has no NIR primitive")
    b.nodes["output"] = nir_mod.Output(output_type={"output": np.array(out_shape)})
    b.edges += [(s, "output") for s in out_src]
    return b


# ---------------------------------------------------------------------------------------------
# public API


def _per_step_shape(model: nn.Module, sample: torch.Tensor | Sequence[int] | None) -> tuple[int, ...]:
    if sample is None:
        config = getattr(model, "config", None)
        if isinstance(config, dict) and "sensor_size" in config:
            from eventsnn.nn import input_shape

            return tuple(input_shape(config))
        raise InvalidParameterError("export_nir: give sample_input (a tensor) or input_shape, e.g. (3, 32, 32)")
    shape = tuple(int(s) for s in (sample.shape if isinstance(sample, torch.Tensor) else sample))
    if isinstance(sample, torch.Tensor) and len(shape) > 3:
        shape = shape[-3:]  # [T, B, P, H, W] or [B, C, H, W]
    if not shape or min(shape) < 1:
        raise InvalidParameterError(f"export_nir: bad input shape {shape}")
    return shape


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
            them with ``v_reset = 0``, marked in the node metadata).

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

    ctx = _Ctx(dt, soft_reset)
    converted = isinstance(model, SpikingNetwork)
    per_step = _per_step_shape(model, sample_input)
    param = next(model.parameters(), None)
    if param is not None and param.device.type != "cpu":
        raise InvalidParameterError("export_nir: move the model to the CPU first (model.cpu())")
    b = _export_converted(model, per_step, ctx, nir_mod) if converted else _export_sequential(model, per_step, ctx, nir_mod)
    _finish(b)
    from eventsnn._version import __version__

    metadata = {
        "exporter": f"eventsnn {__version__}",
        "dt": float(dt),
        "time_step": "one eventsnn time step = dt seconds; NIR ODEs read with forward Euler at dt",
        "readout": str(getattr(model, "readout", "mean over time steps of the output")),
    }
    graph = nir_mod.NIRGraph(nodes=b.nodes, edges=b.edges, metadata=metadata)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        nir_mod.write(tmp, graph)
        tmp.replace(path)
    return graph
