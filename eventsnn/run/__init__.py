"""Running networks over frames and watching their layers: the layer between ``nn`` and
``train`` / ``bench`` / ``convert``.

Modules: :mod:`~eventsnn.run.forward` (:func:`run_model`: the one batched ``[N, T, ...]`` ->
``[T, B, ...]`` loop with a state reset after every batch; :func:`step` / :func:`reset_state`,
the stateful single-step primitives), :mod:`~eventsnn.run.probes` (forward hooks through one
mechanism: spike counts, synaptic operations, the differentiable operation fraction, the latest
layer outputs), :mod:`~eventsnn.run.activity` (:func:`record_activity`: one sample step by step).
"""

from eventsnn.run.activity import ActivityRecord, record_activity
from eventsnn.run.forward import Batch, Frames, model_device, reset_state, run_model, step
from eventsnn.run.probes import (
    LastOutputs,
    LayerOps,
    LayerSpikes,
    OpsFraction,
    Probe,
    SpikeCounts,
    SynapticOps,
    probing,
)

__all__ = [
    "ActivityRecord",
    "Batch",
    "Frames",
    "LastOutputs",
    "LayerOps",
    "LayerSpikes",
    "OpsFraction",
    "Probe",
    "SpikeCounts",
    "SynapticOps",
    "model_device",
    "probing",
    "record_activity",
    "reset_state",
    "run_model",
    "step",
]
