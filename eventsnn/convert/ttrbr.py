"""TTRBR: threshold tuning and residual-block restructuring (reconstruction, papers.md §2.3).

Threshold tuning
    Each IF layer starts from a base threshold θ0 (QCFS λ, or an activation max / percentile).
    For the target number of steps T, a scale ``s`` from a grid is chosen per layer to minimise the
    conversion error of that layer on calibration images: the mean squared difference between
    the layer's SNN output rate ``θ·#spikes/T`` and the ANN activation of the same layer. The
    search is greedy, layer by layer in execution order, in one multi-step pass over the
    calibration batch: when the pass reaches a layer, its input current ``[T, B, ...]`` already
    reflects the tuned thresholds of all earlier layers, so the error includes both the
    quantisation error and the deviation error caused by uneven input currents.

Residual-block restructuring (options compared in ``benchmarks/bench_convert.py``)
    * ``"standard"``: the neuron after the addition and the neuron that produced the shortcut
      spikes keep independent thresholds (what generic converters do).
    * ``"shortcut_if"`` (option 2): an extra IF neuron on every identity shortcut re-encodes the
      shortcut spikes with the threshold of the neuron after the addition, so both summands
      arrive as spikes of matched scale.
    * ``"shared_threshold"`` (option 3): thresholds are tied along each chain of identity
      shortcuts (stem/block outputs of one stage), so a shortcut spike is exactly one threshold
      of the neuron after the addition; the shared θ0 is the largest of the chain and is tuned at
      the chain's first layer.
    * option 1, no neuron after the addition, is an ANN architecture (``ModelConfig.block="pre"``)
      and converts with ``"standard"``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

from eventsnn.convert.calibrate import collect_outputs
from eventsnn.convert.ifsim import IFNeuron, SpikingNetwork, if_rate
from eventsnn.convert.models import PostBlock
from eventsnn.errors import InvalidParameterError
from eventsnn.run.probes import LastOutputs

RESIDUAL_OPTIONS = ("standard", "shortcut_if", "shared_threshold")
DEFAULT_GRID: tuple[float, ...] = tuple(round(0.3 + 0.1 * i, 2) for i in range(10))  # 0.3..1.2
REFINE_STEP = 0.05


def post_blocks(model: nn.Module) -> list[tuple[str, PostBlock]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, PostBlock)]


def residual_chains(model: nn.Module) -> list[list[str]]:
    """Chains of activation names linked by identity shortcuts in a post-activation ResNet.

    E.g. ResNet-20: ``[stem_act, layer1.0.act2, layer1.1.act2, layer1.2.act2]``,
    ``[layer2.0.act2, layer2.1.act2, layer2.2.act2]``, ``[layer3.0.act2, ...]``.
    """
    blocks = post_blocks(model)
    if not blocks:
        return []
    chains: list[list[str]] = [["stem_act"]]
    for name, block in blocks:
        out = f"{name}.act2"
        if block.identity:
            chains[-1].append(out)
        else:
            chains.append([out])
    return [c for c in chains if len(c) > 1]


def restructure(body: nn.Module, option: str, v_init: str = "half") -> list[list[str]]:
    """Apply a residual restructuring option to a converted body (IF neurons already in place).

    ``"shortcut_if"`` inserts an :class:`IFNeuron` as ``shortcut_act`` of every identity-shortcut
    post-activation block (threshold = that of the block's ``act2``). Returns the groups of IF
    layer names whose thresholds are tied (non-empty only for ``"shared_threshold"``).
    """
    if option not in RESIDUAL_OPTIONS:
        raise InvalidParameterError(f"residual option must be one of {RESIDUAL_OPTIONS}, got {option!r}")
    blocks = post_blocks(body)
    if option != "standard" and not blocks:
        raise InvalidParameterError(
            f"residual option {option!r} needs a post-activation ResNet (block='post')")
    if option == "shortcut_if":
        for _, block in blocks:
            if block.identity and not isinstance(block.shortcut_act, IFNeuron):
                block.shortcut_act = IFNeuron(float(block.act2.threshold), v_init,
                                              signed=block.act2.signed)
        return []
    if option == "shared_threshold":
        return residual_chains(body)
    return []


def tie_thresholds(body: nn.Module, groups: Sequence[Sequence[str]]) -> None:
    """Set every threshold of a group to the group's largest threshold."""
    modules = dict(body.named_modules())
    for g in groups:
        theta = max(float(modules[n].threshold) for n in g)
        for n in g:
            modules[n].threshold.fill_(theta)


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.mse_loss(a, b))


def _calibrate_bias(neuron: IFNeuron, cur: torch.Tensor, target: torch.Tensor, theta: float,
                    iters: int) -> torch.Tensor:
    """Set ``neuron.bias`` (per channel, axis 2 of ``cur [T, B, C, ...]``) so that the mean rate
    per channel approaches the ANN's; returns the shifted current."""
    c = cur.shape[2]
    dims = [0] + list(range(2, target.dim()))
    delta = torch.zeros(c, dtype=cur.dtype)
    shape = (c, *([1] * (cur.dim() - 3)))
    for _ in range(iters):
        rate = if_rate(cur + delta.view(shape), theta, neuron.v_init, neuron.signed)
        delta += (target - rate).mean(dim=dims)
    neuron.bias = neuron.bias + delta if neuron.bias.numel() else delta
    return cur + delta.view(shape)


@torch.no_grad()
def tune_thresholds(snn: SpikingNetwork, ann: nn.Module, x: torch.Tensor, T: int,
                    grid: Sequence[float] = DEFAULT_GRID,
                    groups: Sequence[Sequence[str]] = (), refine: bool = True,
                    bias_correction: bool = False, bias_iters: int = 2,
                    ) -> dict[str, dict[str, float]]:
    """Greedy per-layer threshold scaling for ``T`` steps on calibration images ``x``
    ``[B, C, H, W]`` (in place on ``snn``).

    ANN targets are the outputs of the ANN modules with the same names as the IF layers (for a
    ``shortcut_if`` neuron, the identity slot, i.e. the shortcut activation). Each layer tries
    the scales in ``grid`` and then (``refine``) the best one ± 0.05.

    ``bias_correction`` (an addition to TTRBR, after Li et al. 2021's bias calibration): once θ is
    chosen, a per-channel input current ``δ_c`` is added to the layer so that its mean output rate
    per channel matches the ANN's, ``δ_c += mean(a − rate)`` repeated ``bias_iters`` times. Returns
    ``{layer: {"scale", "threshold", "mse_before", "mse_after"}}``.
    """
    if T < 1:
        raise InvalidParameterError(f"T must be >= 1, got {T}")
    layers = snn.spiking_layers()
    names = [n for n, _ in layers]
    targets = collect_outputs(ann, x, names)
    group_of = {n: tuple(g) for g in groups for n in g}
    chosen: dict[tuple[str, ...], float] = {}
    report: dict[str, dict[str, float]] = {}

    def make_hook(name: str, neuron: IFNeuron):
        def hook(_m, inputs):
            cur = neuron.add_bias(inputs[0])
            cur = cur.reshape(T, -1, *cur.shape[1:])
            target = targets[name]
            theta0 = float(neuron.threshold)
            before = _mse(if_rate(cur, theta0, neuron.v_init, neuron.signed), target)
            g = group_of.get(name)
            if g is not None and g in chosen:
                best_theta = chosen[g]
            else:
                errs = {s: _mse(if_rate(cur, s * theta0, neuron.v_init, neuron.signed), target) for s in grid}
                best = min(errs, key=errs.get)
                if refine:  # one refinement step around the best grid point
                    for s in (best - REFINE_STEP, best + REFINE_STEP):
                        if s > 0 and s not in errs:
                            errs[s] = _mse(if_rate(cur, s * theta0, neuron.v_init, neuron.signed), target)
                    best = min(errs, key=errs.get)
                best_theta = best * theta0
                if g is not None:
                    chosen[g] = best_theta
            neuron.threshold.fill_(best_theta)
            if bias_correction and cur.dim() >= 3:
                cur = _calibrate_bias(neuron, cur, target, best_theta, bias_iters)
            report[name] = {"scale": best_theta / theta0, "threshold": best_theta,
                            "mse_before": before,
                            "mse_after": _mse(if_rate(cur, best_theta, neuron.v_init, neuron.signed), target)}
        return hook

    handles = [m.register_forward_pre_hook(make_hook(n, m)) for n, m in layers]
    try:
        snn.forward_static(x, T)
    finally:
        for h in handles:
            h.remove()
    return report


OUTPUT_GRID: tuple[float, ...] = (0.6, 0.75, 0.9, 1.1, 1.25)


def _kl(out: torch.Tensor, ref: torch.Tensor) -> float:
    """KL(softmax(ref) || softmax(out)), mean over the batch."""
    return float(torch.nn.functional.kl_div(out.log_softmax(-1), ref.log_softmax(-1),
                                            log_target=True, reduction="batchmean"))


def _output_kl(stages: Sequence[nn.Module], neurons: Sequence[tuple[str, IFNeuron]], T: int,
               ref: torch.Tensor, k: int, h: torch.Tensor) -> float:
    """KL of the network output against ``ref`` when the input ``h`` ``[T*B, ...]`` of stage
    ``k`` is run through stages ``k..`` (every neuron reset first)."""
    for _, m in neurons:
        m.reset()
    for stage in stages[k:]:
        h = stage(h)
    return _kl(h.reshape(T, -1, h.shape[-1]).mean(0), ref)


def _groups_at(stage: nn.Module, name_of: dict[int, str], group_of: dict[str, list[str]],
               done_groups: set[str]) -> Iterator[list[str]]:
    """The layer names to scale together for each IF neuron of ``stage``, in execution order: its
    tied group, or the layer alone; a group already visited this sweep is skipped."""
    for m in [m for m in stage.modules() if isinstance(m, IFNeuron)]:
        name = name_of[id(m)]
        members = group_of.get(name, [name])
        if members[0] in done_groups:
            continue
        if len(members) > 1:
            done_groups.add(members[0])
        yield members


def _best_scale(members: Sequence[str], modules: dict[str, nn.Module], grid: Sequence[float],
                loss: Callable[[], float]) -> tuple[float, float]:
    """Scale the thresholds of ``members`` together by each value of ``grid`` (relative to their
    current thresholds), keep the scale with the lowest ``loss()`` (1 when none beats it) and
    return ``(loss before, loss after)``."""
    theta0 = {n: float(modules[n].threshold) for n in members}
    before = loss()
    best = (before, 1.0)
    for s in grid:
        for n in members:
            modules[n].threshold.fill_(s * theta0[n])
        value = loss()
        if value < best[0]:
            best = (value, s)
    for n in members:
        modules[n].threshold.fill_(best[1] * theta0[n])
    return before, best[0]


@torch.no_grad()
def tune_thresholds_output(snn: SpikingNetwork, ann: nn.Module, x: torch.Tensor, T: int,
                           grid: Sequence[float] = OUTPUT_GRID, sweeps: int = 1,
                           groups: Sequence[Sequence[str]] = (),
                           ) -> dict[str, dict[str, float]]:
    """Greedy coordinate search of per-layer threshold scales on the network output.

    Layers are visited in execution order; for each, the scales in ``grid`` (relative to its
    current threshold) are tried and the one giving the lowest KL divergence between the ANN's
    and the SNN's (mean over T) softmax outputs on ``x`` is kept. Only the part of the network
    from the layer's stage onwards is re-run (the body must provide ``stages()``, a chain of
    modules, as the eventsnn models do). Tied ``groups`` are scaled together at their first
    layer. Returns ``{layer: {"scale", "threshold", "kl_before", "kl_after"}}``.
    """
    body = snn.body
    if not hasattr(body, "stages"):
        raise InvalidParameterError("output-objective tuning needs a body with stages()")
    stages = body.stages()
    ann.eval()
    ref = ann(x)
    neurons = snn.spiking_layers()
    for _, m in neurons:
        m.T = T
    name_of = {id(m): n for n, m in neurons}
    modules = dict(body.named_modules())
    group_of = {n: list(g) for g in groups for n in g}
    done_groups: set[str] = set()
    theta_start = {n: float(m.threshold) for n, m in neurons}
    report: dict[str, dict[str, float]] = {}

    for _ in range(sweeps):
        h = x.unsqueeze(0).expand(T, *x.shape).reshape(T * len(x), *x.shape[1:])
        for k, stage in enumerate(stages):
            for members in _groups_at(stage, name_of, group_of, done_groups):
                loss = functools.partial(_output_kl, stages, neurons, T, ref, k, h)
                before, after = _best_scale(members, modules, grid, loss)
                for n in members:
                    report[n] = {"scale": float(modules[n].threshold) / theta_start[n],
                                 "threshold": float(modules[n].threshold),
                                 "kl_before": before, "kl_after": after}
            for _, m in neurons:
                m.reset()
            h = stage(h)
        done_groups.clear()
    snn.reset()
    return report


@torch.no_grad()
def conversion_error(snn: SpikingNetwork, ann: nn.Module, x: torch.Tensor, T: int,
                     ) -> dict[str, float | dict[str, float]]:
    """Error of the SNN (T steps) against the ANN on images ``x``.

    Returns ``{"layers": {name: MSE(rate, ANN activation)}, "layer_mean": mean of those,
    "logits": MSE(mean-over-T output, ANN logits)}``.
    """
    layers = snn.spiking_layers()
    names = [n for n, _ in layers]
    targets = collect_outputs(ann, x, names)
    ann.eval()
    ann_logits = ann(x)
    with LastOutputs(snn, layers) as last:
        out = snn.forward_static(x, T).mean(0)
    rates = {n: o.reshape(T, -1, *o.shape[1:]).mean(0) for n, o in last.outputs.items()}
    per_layer = {n: _mse(rates[n], targets[n]) for n in names}
    return {"layers": per_layer,
            "layer_mean": sum(per_layer.values()) / max(1, len(per_layer)),
            "logits": _mse(out, ann_logits)}
