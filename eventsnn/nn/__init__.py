"""Torch modules: MT-LIF neurons, synaptic currents, spiking conv blocks and model presets.

Modules: :mod:`~eventsnn.nn.neuron` (MTLIF), :mod:`~eventsnn.nn.synapse`, :mod:`~eventsnn.nn.scb`
(conv blocks), :mod:`~eventsnn.nn.convnet` and :mod:`~eventsnn.nn.plif` (architectures),
:mod:`~eventsnn.nn.presets` (presets and ``build_model``), :mod:`~eventsnn.nn.registry`
(spiking-neuron types), :mod:`~eventsnn.nn.introspect` (which layers spike / keep state),
:mod:`~eventsnn.nn.synops` (synaptic fan-out geometry).
"""

from eventsnn.nn.introspect import spike_layers, stateful_layers
from eventsnn.nn.neuron import MTLIF
from eventsnn.nn.presets import PRESETS, build_model, default_config, input_shape, preset_names
from eventsnn.nn.registry import NeuronDynamics, is_neuron, neuron_dynamics, register_neuron
from eventsnn.nn.scb import SCB, ConvBlock, SeqToANN
from eventsnn.nn.synapse import Synapse

__all__ = [
    "MTLIF",
    "Synapse",
    "ConvBlock",
    "SCB",
    "SeqToANN",
    "PRESETS",
    "build_model",
    "default_config",
    "input_shape",
    "preset_names",
    "spike_layers",
    "stateful_layers",
    "NeuronDynamics",
    "register_neuron",
    "is_neuron",
    "neuron_dynamics",
]
