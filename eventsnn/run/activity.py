"""What a network does on one sample, step by step: the spikes and membrane of every spiking layer.

:func:`record_activity` runs the network one time step at a time (:func:`eventsnn.run.step`)
with a :class:`~eventsnn.run.probes.LastOutputs` probe on its spiking layers; the pictures of
:mod:`eventsnn.viz` draw the :class:`ActivityRecord` it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.introspect import layer_dynamics, spike_layers
from eventsnn.run.forward import model_device, reset_state, step
from eventsnn.run.probes import LastOutputs

__all__ = ["ActivityRecord", "record_activity"]


@dataclass
class ActivityRecord:
    """What a network did on one input, step by step.

    Attributes:
        layers: names of the spiking layers, in forward order.
        spikes: layer -> spikes ``[T, N]`` (float; graded counts 0..K for MT-LIF), ``N`` = the
            layer's neurons (channels × positions) for the one sample.
        membrane: layer -> membrane potential after each step (after the reset) ``[T, N]``.
        thresholds: layer -> ``(theta, K)``: first threshold and number of thresholds.
        output: the network output ``[T, n_classes]``.
        shapes: layer -> the per-sample neuron shape ``(C, H, W)`` or ``(C,)``.
    """

    layers: list[str]
    spikes: dict[str, np.ndarray]
    membrane: dict[str, np.ndarray]
    thresholds: dict[str, tuple[float, int]]
    output: np.ndarray
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def T(self) -> int:
        return int(self.output.shape[0])

    def rates(self) -> dict[str, np.ndarray]:
        """layer -> mean spikes per neuron at each step ``[T]``."""
        return {n: s.mean(axis=1) for n, s in self.spikes.items()}

    @property
    def prediction(self) -> int:
        """Predicted class: argmax of the mean output over T."""
        return int(self.output.mean(axis=0).argmax())


@torch.no_grad()
def record_activity(model: nn.Module, frames: np.ndarray | torch.Tensor) -> ActivityRecord:
    """Run ``model`` on one sample ``frames [T, P, H, W]`` one time step at a time.

    The model is reset, then stepped with ``x[t]`` (as ``[1, 1, P, H, W]``) for each step;
    neuron state persists between the steps, so this gives exactly the multi-step output while
    exposing each layer's membrane ``v`` after every step. Works for every registered spiking
    neuron type (MT-LIF, SpikingJelly neurons, converted IF layers). The model is reset again at
    the end.
    """
    x = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.asarray(frames, dtype=np.float32))
    if x.ndim != 4:
        raise InvalidParameterError(f"expected frames [T, P, H, W] of one sample, got shape {tuple(x.shape)}")
    layers = spike_layers(model)
    if not layers:
        raise InvalidParameterError("the model has no spiking layers (MTLIF, SpikingJelly or other "
                                    "registered neurons)")
    x = x.to(device=model_device(model), dtype=torch.float32)
    was_training = model.training
    model.eval()
    spikes: dict[str, list[np.ndarray]] = {n: [] for n, _ in layers}
    membrane: dict[str, list[np.ndarray]] = {n: [] for n, _ in layers}
    shapes: dict[str, tuple[int, ...]] = {}
    outputs = []
    reset_state(model)
    try:
        with LastOutputs(model, layers) as last:
            for t in range(x.shape[0]):
                last.outputs.clear()
                out = step(model, x[t:t + 1])  # [1, P, H, W] -> [1, n_classes]
                outputs.append(out.reshape(-1).float().cpu().numpy())
                for n, m in layers:
                    s = last.outputs[n]
                    shapes[n] = tuple(s.shape[2:])
                    spikes[n].append(s.reshape(-1).float().cpu().numpy())
                    v = m.v
                    v = v if isinstance(v, torch.Tensor) else torch.full_like(s, float(v))
                    membrane[n].append(v.reshape(-1).float().cpu().numpy())
    finally:
        reset_state(model)
        model.train(was_training)
    names = [n for n, _ in layers]
    return ActivityRecord(
        layers=names,
        spikes={n: np.stack(spikes[n]) for n in names},
        membrane={n: np.stack(membrane[n]) for n in names},
        thresholds={n: (d.v_threshold, d.n_thresholds) for n, d in layer_dynamics(model).items()},
        output=np.stack(outputs),
        shapes=shapes,
    )
