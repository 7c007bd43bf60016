"""Torch modules: MT-LIF neurons, synaptic currents, spiking conv blocks and model presets."""

from eventsnn.nn.models import (
    PRESETS,
    build_model,
    default_config,
    input_shape,
    preset_names,
    spike_layers,
    stateful_layers,
)
from eventsnn.nn.neuron import MTLIF
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
]
