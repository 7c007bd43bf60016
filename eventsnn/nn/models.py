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
import math
from typing import Any

import torch
from spikingjelly.activation_based import layer as sj_layer
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.neuron import MTLIF
from eventsnn.nn.scb import ConvBlock, SeqToANN
from eventsnn.nn.synapse import Synapse

__all__ = [
    "PRESETS",
    "build_model",
    "default_config",
    "preset_names",
    "spike_layers",
    "stateful_layers",
    "input_shape",
    "SpikingConvNet",
    "PLIFNet",
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


def _mtlif_preset(**kw: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "arch": "mtlif",
        "in_channels": 2,
        "sensor_size": [34, 34],
        "spatial_factor": 1,
        "n_classes": 10,
        "channels": [128, 128],
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
    "plif": {
        "arch": "plif",
        "in_channels": 2,
        "sensor_size": [34, 34],
        "spatial_factor": 1,
        "n_classes": 10,
        "channels": [128, 128],
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


def input_shape(config: dict[str, Any]) -> tuple[int, int, int]:
    """``(P, H, W)`` expected per time step: ``H = ceil(sensor_h / spatial_factor)``."""
    h, w = config["sensor_size"]
    f = config["spatial_factor"]
    return int(config["in_channels"]), math.ceil(h / f), math.ceil(w / f)


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


def _flat_size(cfg: dict[str, Any], pool_size: int = 2) -> tuple[int, int, int]:
    _, h, w = input_shape(cfg)
    for _ in cfg["channels"]:
        if cfg.get("pool", "max") not in (None, "none"):
            h, w = h // pool_size, w // pool_size
        if h < 1 or w < 1:
            raise InvalidParameterError(
                f"input {input_shape(cfg)} is too small for {len(cfg['channels'])} pooled blocks"
            )
    return cfg["channels"][-1], h, w


class SpikingConvNet(nn.Module):
    """eventsnn network: conv blocks (SCB or plain, MT-LIF neurons) + linear readout.

    ``[T, B, P, H, W]`` -> per-step logits ``[T, B, n_classes]`` (see module docstring).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = copy.deepcopy(config)
        self.readout = config["readout"]
        self.log1p_input = config["input_transform"] == "log1p"
        neuron = {
            "n_thresholds": config["n_thresholds"],
            "v_threshold": config["v_threshold"],
            "init_tau": config["init_tau"],
            "learn_tau": config["learn_tau"],
            "per_channel": config["per_channel_tau"],
            "reset": config["reset"],
            "surrogate": config["surrogate"],
            "surrogate_width": config["surrogate_width"],
            "decay_input": config["decay_input"],
            "detach_reset": config["detach_reset"],
        }
        syn = {
            "init_alpha": config["init_alpha"],
            "learn_alpha": config["learn_alpha"],
            "per_channel": config["per_channel_alpha"],
        }
        blocks = []
        c_in = config["in_channels"]
        for i, c_out in enumerate(config["channels"]):
            use_syn = config["scb"] == "all" or (config["scb"] == "first" and i == 0)
            blocks.append(ConvBlock(
                c_in, c_out, kernel_size=config["kernel_size"], synapse=use_syn,
                pool=config["pool"], neuron=neuron, synapse_kwargs=syn,
            ))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        c, h, w = _flat_size(config)
        head: list[nn.Module] = [nn.Flatten(1)]
        n_in = c * h * w
        if config["dropout"] > 0:
            head.append(nn.Dropout(config["dropout"]))
        self.head = SeqToANN(*head)
        self.hidden: nn.Module | None = None
        if config["fc_hidden"]:
            hid = int(config["fc_hidden"])
            n_kw = dict(neuron, per_channel=neuron["per_channel"], n_channels=hid)
            self.hidden = nn.Sequential(
                SeqToANN(nn.Linear(n_in, hid, bias=False), nn.BatchNorm1d(hid)), MTLIF(**n_kw)
            )
            n_in = hid
        self.classifier = SeqToANN(nn.Linear(n_in, config["n_classes"]))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``[T, B, P, H, W]`` -> per-step logits ``[T, B, n_classes]``."""
        expect = input_shape(self.config)
        if x_seq.ndim != 5 or tuple(x_seq.shape[2:]) != expect:
            raise InvalidParameterError(
                f"model {self.config['preset']!r} expects input [T, B, {expect[0]}, {expect[1]}, "
                f"{expect[2]}], got {tuple(x_seq.shape)}"
            )
        if self.log1p_input:
            x_seq = torch.log1p(x_seq.clamp(min=0))
        y = self.head(self.features(x_seq))
        if self.hidden is not None:
            y = self.hidden(y)
        return self.classifier(y)


class PLIFNet(nn.Module):
    """SpikingJelly PLIF reference network (Fang et al. 2021, N-MNIST recipe), step mode 'm'.

    {Conv(c)-BN-PLIF-MaxPool2} per entry of ``channels`` - Dropout - FC(fc_hidden) - PLIF -
    Dropout - FC(fc_vote) - PLIF - VotingLayer(voting_size). PLIF = ``ParametricLIFNode(init_tau,
    v_reset=0 (hard), surrogate ATan(), detach_reset)``; dropout masks are shared over time
    (SpikingJelly ``layer.Dropout``). ``[T, B, P, H, W]`` -> spike rates ``[T, B, n_classes]``.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = copy.deepcopy(config)
        self.readout = config["readout"]
        if config["fc_vote"] != config["n_classes"] * config["voting_size"]:
            raise InvalidParameterError(
                f"fc_vote ({config['fc_vote']}) must equal n_classes * voting_size "
                f"({config['n_classes']} * {config['voting_size']})"
            )

        def plif() -> nn.Module:
            return sj_neuron.ParametricLIFNode(
                init_tau=float(config["init_tau"]), detach_reset=bool(config["detach_reset"]),
                surrogate_function=sj_surrogate.ATan(), step_mode="m",
            )

        layers: list[nn.Module] = []
        c_in = config["in_channels"]
        for c_out in config["channels"]:
            layers += [
                sj_layer.Conv2d(c_in, c_out, 3, padding=1, bias=False, step_mode="m"),
                sj_layer.BatchNorm2d(c_out, step_mode="m"),
                plif(),
                sj_layer.MaxPool2d(2, 2, step_mode="m"),
            ]
            c_in = c_out
        c, h, w = _flat_size(dict(config, pool="max"))
        layers += [
            sj_layer.Flatten(step_mode="m"),
            sj_layer.Dropout(config["dropout"], step_mode="m"),
            sj_layer.Linear(c * h * w, config["fc_hidden"], bias=False, step_mode="m"),
            plif(),
            sj_layer.Dropout(config["dropout"], step_mode="m"),
            sj_layer.Linear(config["fc_hidden"], config["fc_vote"], bias=False, step_mode="m"),
            plif(),
            sj_layer.VotingLayer(config["voting_size"], step_mode="m"),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """``[T, B, P, H, W]`` -> per-step voting-layer rates ``[T, B, n_classes]``."""
        expect = input_shape(self.config)
        if x_seq.ndim != 5 or tuple(x_seq.shape[2:]) != expect:
            raise InvalidParameterError(
                f"model 'plif' expects input [T, B, {expect[0]}, {expect[1]}, {expect[2]}], "
                f"got {tuple(x_seq.shape)}"
            )
        return self.net(x_seq)


def spike_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(qualified name, module)`` of every spiking layer (MT-LIF or SpikingJelly neuron), in
    forward order. Set ``m.record = True`` on MT-LIF layers to keep their ``last_spikes``."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, (MTLIF, sj_neuron.BaseNode))
    ]


def stateful_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every module with time state (neurons and synapses)."""
    return [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, (MTLIF, Synapse, sj_neuron.BaseNode))
    ]
