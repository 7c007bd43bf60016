"""Readers for the static image sets the simulator (and ANN conversion) use.

- MNIST IDX files (``t10k-images-idx3-ubyte.gz`` …), parsed with numpy (no pickle);
- an ImageFolder layout ``<root>/<class>/*.jpg|png`` decoded with Pillow.

Both return ``uint8`` arrays and integer labels; nothing is downloaded.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from eventsnn.errors import CorruptRecordingError, DatasetNotFoundError

__all__ = ["read_idx", "load_mnist", "load_image_folder", "to_grey"]

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise CorruptRecordingError(f"{path}: cannot be decompressed ({exc})") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise CorruptRecordingError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * ndim :]
    if len(body) != expected:
        raise CorruptRecordingError(f"{path}: {len(body)} data bytes, header announces {expected}")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def load_mnist(root: str | Path, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images ``[N, 28, 28]`` uint8 and labels ``[N]`` from ``<root>/MNIST/raw`` or ``<root>``."""
    root = Path(root)
    prefix = "t10k" if split == "test" else "train"
    for folder in (root / "MNIST" / "raw", root / "raw", root):
        img = folder / f"{prefix}-images-idx3-ubyte.gz"
        lab = folder / f"{prefix}-labels-idx1-ubyte.gz"
        if img.is_file() and lab.is_file():
            images, labels = read_idx(img), read_idx(lab)
            if len(images) != len(labels):
                raise CorruptRecordingError(f"{img}: {len(images)} images but {len(labels)} labels")
            return images, labels.astype(np.int64)
    raise DatasetNotFoundError(
        f"MNIST {split} files not found under {root}: expected "
        f"{root}/MNIST/raw/{prefix}-images-idx3-ubyte.gz and {prefix}-labels-idx1-ubyte.gz"
    )


def load_image_folder(
    root: str | Path, limit_per_class: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images ``[N, H, W, C]`` uint8, labels ``[N]`` and class names from ``<root>/<class>/*``.

    Classes are the sub-folders in sorted order; all images must have one size.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir()) if root.is_dir() else []
    if not classes:
        raise DatasetNotFoundError(f"no class folders in {root}: expected {root}/<class>/<image>.jpg")
    images, labels = [], []
    for label, cls in enumerate(classes):
        files = sorted(f for f in (root / cls).iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
        for f in files[:limit_per_class]:
            try:
                with Image.open(f) as im:
                    images.append(np.asarray(im.convert("RGB")))
            except (UnidentifiedImageError, OSError) as exc:
                raise CorruptRecordingError(f"{f}: not a readable image ({exc})") from exc
            labels.append(label)
    if not images:
        raise DatasetNotFoundError(f"no .jpg/.png images under {root}/<class>/")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise CorruptRecordingError(f"{root}: images of different sizes {sorted(shapes)[:3]}")
    return np.stack(images), np.asarray(labels, dtype=np.int64), classes


def to_grey(images: np.ndarray) -> np.ndarray:
    """``[N, H, W, 3]`` or ``[N, H, W]`` uint8 -> ``[N, H, W]`` float32 in ``[0, 1]`` (ITU-R 601)."""
    x = images.astype(np.float32) / 255.0
    if x.ndim == 4:
        x = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return x
