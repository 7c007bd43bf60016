"""Deprecated: the contents of this module moved (it re-exports them for one release).

- presets and the builder (``PRESETS``, ``build_model``, ``default_config``, ``preset_names``,
  ``input_shape``): :mod:`eventsnn.nn.presets` (all also in :mod:`eventsnn.nn`);
- the architectures: :class:`~eventsnn.nn.convnet.SpikingConvNet` (:mod:`eventsnn.nn.convnet`)
  and the SpikingJelly baseline :class:`~eventsnn.nn.plif.PLIFNet` (:mod:`eventsnn.nn.plif`);
- layer introspection (``spike_layers``, ``stateful_layers``): :mod:`eventsnn.nn.introspect`.

Import from :mod:`eventsnn.nn` (or the modules above) instead.
"""

from __future__ import annotations

from eventsnn.nn.convnet import SpikingConvNet
from eventsnn.nn.introspect import spike_layers, stateful_layers
from eventsnn.nn.plif import PLIFNet
from eventsnn.nn.presets import PRESETS, build_model, default_config, input_shape, preset_names

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
