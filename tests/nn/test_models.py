"""The deprecated ``eventsnn.nn.models`` module still re-exports the moved names."""

from __future__ import annotations


def test_models_module_still_re_exports_the_moved_names() -> None:
    import eventsnn.nn.models as old
    from eventsnn.nn import convnet, introspect, plif, presets

    assert old.build_model is presets.build_model and old.PRESETS is presets.PRESETS
    assert old.SpikingConvNet is convnet.SpikingConvNet and old.PLIFNet is plif.PLIFNet
    assert old.spike_layers is introspect.spike_layers and old.input_shape is presets.input_shape
