"""Model presets: spiking convolutional networks built by name from a plain, JSON-able config.

API::

    model = build_model("nmnist", n_thresholds=4, scb="all")   # preset + overrides
    model.config            # dict, JSON-serialisable, includes "preset"
    same = build_model(**model.config)                         # rebuild (then load_state_dict)

``build_model(**config)`` (or ``build_model(config)``) is the rebuild contract: ``config`` always
carries its ``"preset"`` key, every other key overrides that preset's defaults (unknown keys raise
InvalidParameterError). Rebuild, then ``load_state_dict`` the weights.

Input ``[T, B, P, H, W]`` (``H = ceil(sensor_h / spatial_factor)``, same for W, i.e. the STC
output), output ``[T, B, n_classes]``: one output per time step. The prediction is the mean over
T of the per-step outputs. What that mean is depends on ``model.readout`` (also ``config``):

- ``"logits"`` (eventsnn presets): the last layer is a non-spiking ``Linear``; its per-step output
  is the input current of a non-leaky integrator readout, so the mean over T is that integrator's
  membrane / T - use it as logits (cross-entropy on ``out.mean(0)``).
- ``"rate"`` (``plif`` preset): the outputs are spikes of a voting layer; the mean over T is the
  firing rate in [0, 1] per class (Fang et al. train it with MSE to one-hot targets; cross-entropy
  on the rates also works).

Presets (:func:`preset_names`):

- ``nmnist``: 2x34x34 input, ``channels=[128, 128]`` blocks each conv3x3-BN-[synapse]-MTLIF-maxpool2,
  then dropout + Linear -> 10 classes.
- ``synthetic``: the embedded simulated dataset (2x34x34, 10 classes), small and fast on CPU.
- ``dvsgesture`` (11 classes) / ``cifar10dvs`` (10 classes): 128x128 sensor down-sampled by STC
  (``spatial_factor=4`` -> 32x32 input), four blocks of 64 channels.
- ``dvs128objects`` (7 classes): 128x128 sensor down-sampled by STC (``spatial_factor=4`` -> 32x32
  input), two small blocks of 32 channels (K = 2, SCB on the first block), ``log1p`` input,
  dropout 0.2: the model of the cross-session DVS128Objects recipe, small enough to decide every
  10 ms on one CPU core (``benchmarks/bench_stream.py``).
- ``plif``: the SpikingJelly PLIF reference recipe of Fang et al. 2021 for N-MNIST:
  {Conv128-BN-PLIF-MaxPool2} x 2 - Dropout - FC2048 - PLIF - Dropout - FC100 - PLIF - Voting(10),
  built from SpikingJelly's own ``layer.*`` and ``neuron.ParametricLIFNode`` in step mode 'm'.

Options of the eventsnn presets: ``scb`` ("first" | "all" | "none": which conv blocks carry the
synaptic current), ``n_thresholds`` (K), ``per_channel_tau``, ``learn_tau``, ``init_tau``,
``v_threshold``, ``reset``, ``surrogate``, ``surrogate_width``, ``decay_input``, ``detach_reset``,
``init_alpha``, ``learn_alpha``, ``per_channel_alpha``, ``channels``, ``kernel_size``, ``pool``,
``fc_hidden`` (0 = none, else a spiking hidden Linear layer), ``dropout``.
"""

from __future__ import annotations

import copy
from typing import Any

from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.convnet import SpikingConvNet
from eventsnn.nn.geometry import input_shape
from eventsnn.nn.plif import PLIFNet

__all__ = [
    "PRESETS",
    "build_model",
    "default_config",
    "preset_names",
    "input_shape",
]

_NEURON_DEFAULTS: dict[str, Any] = {
    "n_thresholds": 2,
    "v_threshold": 1.0,
    "init_tau": 2.0,
    "learn_tau": True,
    "per_channel_tau": False,
    "reset": "soft",
    "surrogate": "rectangular",
    "surrogate_width": 1.0,
    "decay_input": True,
    "detach_reset": False,
}
_SYNAPSE_DEFAULTS: dict[str, Any] = {
    "scb": "first",
    "init_alpha": 0.5,
    "learn_alpha": True,
    "per_channel_alpha": False,
}


#: what every preset starts from: N-MNIST's 2x34x34 input and 10 classes, two 128-channel blocks
_NMNIST_SHAPE: dict[str, Any] = {
    "in_channels": 2,
    "sensor_size": [34, 34],
    "spatial_factor": 1,
    "n_classes": 10,
    "channels": [128, 128],
}


def _mtlif_preset(**kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "arch": "mtlif",
        **copy.deepcopy(_NMNIST_SHAPE),
        "kernel_size": 3,
        "pool": "max",
        "fc_hidden": 0,
        "dropout": 0.2,
        "readout": "logits",
        "input_transform": "none",
        **_NEURON_DEFAULTS,
        **_SYNAPSE_DEFAULTS,
    }
    cfg.update(kw)
    return cfg


PRESETS: dict[str, dict[str, Any]] = {
    "nmnist": _mtlif_preset(),
    "synthetic": _mtlif_preset(channels=[16, 32], dropout=0.1),
    "dvsgesture": _mtlif_preset(
        sensor_size=[128, 128], spatial_factor=4, n_classes=11, channels=[64, 64, 64, 64]
    ),
    "cifar10dvs": _mtlif_preset(
        sensor_size=[128, 128], spatial_factor=4, n_classes=10, channels=[64, 64, 64, 64]
    ),
    "dvs128objects": _mtlif_preset(
        sensor_size=[128, 128], spatial_factor=4, n_classes=7, channels=[32, 32], n_thresholds=2, scb="first",
        input_transform="log1p", dropout=0.2,
    ),
    "plif": {
        "arch": "plif",
        **copy.deepcopy(_NMNIST_SHAPE),
        "fc_hidden": 2048,
        "fc_vote": 100,
        "voting_size": 10,
        "dropout": 0.5,
        "init_tau": 2.0,
        "detach_reset": True,
        "readout": "rate",
    },
}


def preset_names() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(PRESETS)


def default_config(preset: str) -> dict[str, Any]:
    """A copy of the default config of ``preset`` (with its ``"preset"`` key)."""
    if preset not in PRESETS:
        raise InvalidParameterError(f"unknown model preset {preset!r}; choose from {preset_names()}")
    return {"preset": preset, **copy.deepcopy(PRESETS[preset])}


def _check_config(cfg: dict[str, Any]) -> None:
    if len(cfg["sensor_size"]) != 2 or min(cfg["sensor_size"]) < 1:
        raise InvalidParameterError(f"sensor_size must be [H, W] >= 1, got {cfg['sensor_size']}")
    if int(cfg["spatial_factor"]) < 1:
        raise InvalidParameterError(f"spatial_factor must be >= 1, got {cfg['spatial_factor']}")
    if int(cfg["n_classes"]) < 2:
        raise InvalidParameterError(f"n_classes must be >= 2, got {cfg['n_classes']}")
    if not cfg["channels"] or min(cfg["channels"]) < 1:
        raise InvalidParameterError(f"channels must be a non-empty list of ints >= 1, got {cfg['channels']}")
    if not 0.0 <= float(cfg["dropout"]) < 1.0:
        raise InvalidParameterError(f"dropout must be in [0, 1), got {cfg['dropout']}")
    if cfg.get("input_transform", "none") not in ("none", "log1p"):
        raise InvalidParameterError(f"input_transform must be 'none' or 'log1p', got {cfg['input_transform']!r}")
    if cfg["arch"] == "mtlif" and cfg["scb"] not in ("first", "all", "none"):
        raise InvalidParameterError(f"scb must be 'first', 'all' or 'none', got {cfg['scb']!r}")


def build_model(preset: str | dict[str, Any] = "nmnist", **overrides: Any) -> nn.Module:
    """Build a preset network; ``overrides`` replace keys of :func:`default_config`.

    The returned module has ``.config`` (JSON-serialisable, with ``"preset"``) such that
    ``build_model(**model.config)`` (or equivalently ``build_model(model.config)``) rebuilds the
    same architecture, and ``.readout``. Input ``[T, B, P, H, W]`` -> output ``[T, B, n_classes]``.
    """
    if isinstance(preset, dict):
        overrides = {**preset, **overrides}
        if "preset" not in overrides:
            raise InvalidParameterError("a model config dict needs its 'preset' key")
        preset = overrides.pop("preset")
    if not isinstance(preset, str):
        raise InvalidParameterError(f"preset must be a name or a config dict, got {type(preset).__name__}")
    cfg = default_config(preset)
    unknown = sorted(set(overrides) - set(cfg))
    if unknown:
        raise InvalidParameterError(
            f"unknown option(s) {unknown} for model preset {preset!r}; valid: {sorted(cfg)}"
        )
    if "arch" in overrides and overrides["arch"] != cfg["arch"]:
        raise InvalidParameterError(f"preset {preset!r} has arch {cfg['arch']!r}, got {overrides['arch']!r}")
    cfg.update(copy.deepcopy(overrides))
    cfg["sensor_size"] = [int(v) for v in cfg["sensor_size"]]
    cfg["channels"] = [int(v) for v in cfg["channels"]]
    _check_config(cfg)
    model: nn.Module = SpikingConvNet(cfg) if cfg["arch"] == "mtlif" else PLIFNet(cfg)
    return model
