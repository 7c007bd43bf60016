"""ANN training for conversion: seeded repeats, batch-norm statistics of the final weights."""

from __future__ import annotations

import numpy as np
import torch
from _conversion_files import tiny_image_folder
from torch import nn

from eventsnn.convert import (
    ModelConfig,
    evaluate_ann,
    fold_bn,
    load_ann,
    load_image_splits,
)
from eventsnn.convert.train_ann import TrainConfig, train_ann

torch.set_num_threads(2)


def _train_tiny(root, out, **kw):
    train_set, test_set = load_image_splits(root, augment=True)
    cfg = ModelConfig(arch="vgg5", width=0.25, n_classes=2)
    model, _ = train_ann(cfg, train_set, test_set, out, TrainConfig(epochs=1, batch_size=4, lr=0.1, **kw),
                         progress=False)
    return model, train_set


def test_train_ann_repeats_with_its_seed(tmp_path) -> None:
    """Augmentation draws from torch's seeded generator: the same seed gives the same network
    (it drew from numpy's unseeded global generator: one-epoch MNIST VGG-5 runs with seed 0
    scored 67.1% to 88.9%)."""
    tiny_image_folder(tmp_path / "data")
    a, _ = _train_tiny(tmp_path / "data", tmp_path / "a")
    np.random.seed(1)  # numpy's global state must not matter
    b, _ = _train_tiny(tmp_path / "data", tmp_path / "b")
    for (name, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), name


def test_saved_ann_bn_statistics_are_those_of_its_final_weights(tmp_path) -> None:
    """The ANN that ``convert`` folds is scored with BN statistics of its final weights.

    After one epoch at a high learning rate the moving-average BN statistics lag the weights;
    a VGG-5 trained one epoch on MNIST scored 71.8% with them in eval mode but 92.9% with
    statistics recomputed for its weights, and its SNNs (folded with the stale statistics) scored
    36-77%, above the ANN at T = 4: the SNN was not better, the ANN was badly calibrated.
    ``train_ann`` now recomputes them (``recalibrate_bn``) before scoring and saving."""
    tiny_image_folder(tmp_path / "data")
    model, train_set = _train_tiny(tmp_path / "data", tmp_path / "run")
    ann, _ = load_ann(tmp_path / "run" / "ann.pt")
    x, _ = train_set.tensors()
    bns = {n: m for n, m in ann.named_modules() if isinstance(m, nn.BatchNorm2d)}
    inputs: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda _m, i, _o, n=n: inputs.__setitem__(n, i[0])) for n, m in bns.items()]
    with torch.no_grad():
        ann.eval()(x)  # all 12 training images, no augmentation
    for h in hooks:
        h.remove()
    assert len(bns) == 3
    for n, bn in bns.items():
        # (recomputed in train mode, where earlier BN layers use batch statistics: close, not equal)
        torch.testing.assert_close(bn.running_mean, inputs[n].mean((0, 2, 3)), rtol=0.02, atol=1e-3)
        # batch variances (4 images each) average a little below the variance over all 12
        ratio = bn.running_var / inputs[n].var((0, 2, 3))
        assert float(ratio.min()) > 0.5 and float(ratio.max()) < 1.2, (n, ratio)
    # same mode, same images: the ANN scores what its folded weights score, to the image
    x_test, y_test = load_image_splits(tmp_path / "data", augment=False)[1].tensors()
    assert evaluate_ann(ann, x_test, y_test) == evaluate_ann(fold_bn(ann), x_test, y_test)
