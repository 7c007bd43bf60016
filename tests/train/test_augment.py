"""eventsnn.train.augment: frame augmentations keep shapes, counts, polarity and are seeded."""

from __future__ import annotations

import pytest
import torch

from eventsnn.errors import InvalidParameterError
from eventsnn.train.augment import FrameAugment, random_affine, random_translate


def _frames(b: int = 6, t: int = 3, h: int = 12, w: int = 10) -> torch.Tensor:
    x = torch.zeros(b, t, 2, h, w)
    x[:, :, 0, 4:8, 3:7] = torch.arange(1, t + 1, dtype=torch.float32)[None, :, None, None]  # ON blob
    x[:, :, 1, 5, 5] = 7.0  # one OFF pixel
    return x


def test_translate_moves_whole_sample_and_keeps_counts() -> None:
    x = _frames()
    g = torch.Generator().manual_seed(0)
    y = random_translate(x, 2, g)
    assert y.shape == x.shape and y.dtype == x.dtype
    # content stays inside the frame for shifts <= 2, so every count is preserved per step/polarity
    torch.testing.assert_close(y.sum((3, 4)), x.sum((3, 4)))
    for b in range(len(x)):
        on = torch.nonzero(y[b, 0, 0])
        off = torch.nonzero(y[b, 0, 1])
        dy, dx = (on.min(0).values - torch.tensor([4, 3])).tolist()
        assert -2 <= dy <= 2 and -2 <= dx <= 2
        # the same shift for both polarities and all time steps
        assert off.tolist() == [[5 + dy, 5 + dx]]
        for t in range(x.shape[1]):
            torch.testing.assert_close(y[b, t, 0], torch.roll(x[b, t, 0], (dy, dx), (0, 1)))


def test_translate_is_seeded_and_zero_shift_is_identity() -> None:
    x = _frames()
    a = random_translate(x, 3, torch.Generator().manual_seed(5))
    b = random_translate(x, 3, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)
    assert random_translate(x, 0) is x
    with pytest.raises(InvalidParameterError):
        random_translate(x, -1)
    with pytest.raises(InvalidParameterError):
        random_translate(x[0], 1)


def test_affine_keeps_polarity_and_roughly_the_counts() -> None:
    x = _frames(h=24, w=24)
    y = random_affine(x, max_shift=1, max_rotation_deg=10, max_scale=0.1, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape
    assert (y >= 0).all()
    ratio = y.sum((3, 4)) / x.sum((3, 4))
    assert ((ratio > 0.7) & (ratio < 1.3)).all()
    # identity transform reproduces the input exactly
    torch.testing.assert_close(random_affine(x), x)


def test_frame_augment_spec() -> None:
    assert not FrameAugment.from_spec("").active
    assert not FrameAugment.from_spec("none").active
    a = FrameAugment.from_spec("shift=2")
    assert a == FrameAugment(shift=2) and a.active
    assert FrameAugment.from_spec("shift=1,rotation=10,scale=0.1") == FrameAugment(1, 10.0, 0.1)
    x = _frames()
    torch.testing.assert_close(a(x, torch.Generator().manual_seed(3)), random_translate(x, 2, torch.Generator().manual_seed(3)))
    for bad in ("shift", "zoom=2", "scale=1.5"):
        with pytest.raises(InvalidParameterError):
            FrameAugment.from_spec(bad)
