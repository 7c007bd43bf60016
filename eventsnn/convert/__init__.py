"""ANN-to-SNN conversion for static images: models, training, BN folding, calibration,
IF simulation and TTRBR (threshold tuning + residual-block restructuring).

Typical use::

    ann, meta = load_ann("runs/r20/ann.pt")
    snn = convert(ann, calib_images, T=8)            # SpikingNetwork
    out = snn.forward_static(images, T=8)            # [T, B, n_classes]
    save_snn(snn, "snn_T8.pt"); snn = load_snn("snn_T8.pt")
"""

from eventsnn.convert.checkpoint import load_ann, save_ann
from eventsnn.convert.converter import (
    base_thresholds,
    convert,
    evaluate_ann,
    evaluate_snn,
    load_snn,
    save_snn,
)
from eventsnn.convert.fold import fold_bn
from eventsnn.convert.ifsim import IFNeuron, SpikingNetwork, if_multistep
from eventsnn.convert.images import ConversionImages, conversion_images, load_image_splits
from eventsnn.convert.models import QCFS, ModelConfig, build_model
from eventsnn.convert.ttrbr import RESIDUAL_OPTIONS, conversion_error, tune_thresholds

__all__ = [
    "QCFS", "RESIDUAL_OPTIONS", "ConversionImages", "IFNeuron", "ModelConfig", "SpikingNetwork",
    "base_thresholds", "build_model", "conversion_error", "conversion_images", "convert",
    "evaluate_ann", "evaluate_snn", "fold_bn", "if_multistep", "load_ann", "load_image_splits",
    "load_snn", "save_ann", "save_snn", "tune_thresholds",
]
