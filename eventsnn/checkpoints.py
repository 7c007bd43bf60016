"""Which kind of eventsnn file a checkpoint is, read safely.

eventsnn writes three kinds of ``.pt`` files, each a dict with a ``format`` field, read with
``torch.load(weights_only=True)`` (tensors and plain Python values only, nothing unpickled):

================  ======================  ==============================================
kind              ``format``              written by
================  ======================  ==============================================
``snn-train``     ``eventsnn-checkpoint``  ``eventsnn train`` (``best.pt``, ``last.pt``)
``ann``           ``eventsnn-ann``         ``eventsnn train-ann`` (``ann.pt``)
``converted-snn`` ``eventsnn-snn``         ``eventsnn convert`` (``snn_*_T<T>.pt``)
================  ======================  ==============================================

:func:`checkpoint_kind` says which one a file is; :func:`read_checkpoint` loads one (optionally
insisting on a kind). Both raise :class:`~eventsnn.errors.CheckpointError` with one line naming
the file for a missing, truncated/corrupt, pickled (not an eventsnn file) or unknown file.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any, Literal

from eventsnn.errors import CheckpointError

__all__ = [
    "ANN_FORMAT",
    "CHECKPOINT_KINDS",
    "SNN_FORMAT",
    "TRAIN_FORMAT",
    "CheckpointKind",
    "checkpoint_kind",
    "describe_kind",
    "error_summary",
    "load_weights_only",
    "payload_format",
    "read_checkpoint",
    "training_data_mismatch",
]

CheckpointKind = Literal["snn-train", "ann", "converted-snn"]

TRAIN_FORMAT = "eventsnn-checkpoint"
"""``format`` of a training checkpoint (:data:`eventsnn.train.checkpoint.FORMAT`)."""
ANN_FORMAT = "eventsnn-ann"
"""``format`` of an ANN file (:func:`eventsnn.convert.save_ann`)."""
SNN_FORMAT = "eventsnn-snn"
"""``format`` of a converted SNN (:func:`eventsnn.convert.save_snn`)."""

CHECKPOINT_KINDS: dict[str, CheckpointKind] = {
    TRAIN_FORMAT: "snn-train",
    ANN_FORMAT: "ann",
    SNN_FORMAT: "converted-snn",
}
"""``format`` field -> kind."""

_DESCRIPTIONS: dict[CheckpointKind, str] = {
    "snn-train": "an SNN training checkpoint (eventsnn train)",
    "ann": "an ANN (eventsnn train-ann)",
    "converted-snn": "a converted SNN (eventsnn convert)",
}


def error_summary(exc: BaseException) -> str:
    """The first line (first sentence) of an exception's message, for one-line errors."""
    return (str(exc).strip() or type(exc).__name__).splitlines()[0].split(". ")[0]


def load_weights_only(path: str | Path, *, mmap: bool = False, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with every failure as one CheckpointError line.

    Raises:
        CheckpointError: the file is missing or a folder, is not a PyTorch zip archive
            (random bytes, truncated, legacy format), holds objects other than tensors and
            plain values (refused without unpickling), or is damaged.
    """
    import torch

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not an eventsnn checkpoint (not a PyTorch zip archive; "
                              "truncated, corrupt or another kind of file)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: not an eventsnn file: it holds objects other than tensors and "
                              "plain Python values, and eventsnn refuses to unpickle them") from exc
    except Exception as exc:  # torch raises many types for damaged archives
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): "
                              f"{error_summary(exc)}") from exc


def payload_format(payload: Any) -> str | None:
    """The ``format`` field of a loaded file, or None."""
    fmt = payload.get("format") if isinstance(payload, dict) else None
    return fmt if isinstance(fmt, str) else None


def read_checkpoint(path: str | Path, kind: CheckpointKind | None = None, *, mmap: bool = False,
                    map_location: Any = "cpu") -> dict[str, Any]:
    """Load an eventsnn ``.pt`` file (:func:`load_weights_only`) and check its kind.

    Args:
        path: the file.
        kind: insist on this kind (None: any of :data:`CHECKPOINT_KINDS`).
        mmap: map the tensors instead of reading them (cheap when only the metadata is wanted).
        map_location: as for ``torch.load``.

    Returns:
        The payload dict (its ``format`` field is one of :data:`CHECKPOINT_KINDS`).

    Raises:
        CheckpointError: see :func:`load_weights_only`; also a file with no known ``format``,
            or of another kind than ``kind``. Every message is one line naming the file.
    """
    payload = load_weights_only(path, mmap=mmap, map_location=map_location)
    fmt = payload_format(payload)
    found = CHECKPOINT_KINDS.get(fmt) if fmt is not None else None
    if found is None:
        what = f"format={fmt!r}" if isinstance(payload, dict) else f"a {type(payload).__name__}"
        raise CheckpointError(f"{path}: not an eventsnn checkpoint ({what}; expected a dict with "
                              f"format one of {', '.join(CHECKPOINT_KINDS)})")
    if kind is not None and found != kind:
        raise CheckpointError(f"{path}: is {_DESCRIPTIONS[found]}, not {_DESCRIPTIONS[kind]}")
    return payload


def checkpoint_kind(path: str | Path) -> CheckpointKind:
    """``"snn-train"``, ``"ann"`` or ``"converted-snn"``: the kind of eventsnn file ``path`` is.

    Reads the file once, with its tensors memory-mapped rather than loaded.

    Raises:
        CheckpointError: see :func:`read_checkpoint`.
    """
    return CHECKPOINT_KINDS[read_checkpoint(path, mmap=True)["format"]]


def describe_kind(kind: CheckpointKind) -> str:
    """What a kind of file is, in words (``"an ANN (eventsnn train-ann)"``)."""
    return _DESCRIPTIONS[kind]


def training_data_mismatch(config: dict[str, Any], sensor_size: Any, classes: Any = None,
                           dataset: str | None = None) -> str | None:
    """Why a model trained with ``config`` (a training checkpoint's ``config``) does not match
    a recording on ``sensor_size`` from ``dataset`` with ``classes``; None when nothing that is
    known on both sides differs.

    Compared: the sensor ``(W, H)`` (``config["sensor_size"]``, else the model's
    ``config["model"]["sensor_size"]``, which is ``[H, W]``) and, when ``classes`` is given, the
    class names. A model run on a recording of another sensor or class list may still give an
    output, which means little: callers warn.
    """
    data = config.get("data") or {}
    trained_on = data.get("dataset") if isinstance(data, dict) else None
    theirs, ours = [], []
    model_sensor = config.get("sensor_size")
    if model_sensor is None and (config.get("model") or {}).get("sensor_size") is not None:
        model_sensor = list(reversed(config["model"]["sensor_size"]))
    if model_sensor is not None and tuple(int(s) for s in model_sensor)[:2] != tuple(int(s) for s in sensor_size)[:2]:
        theirs.append(f"{model_sensor[0]}x{model_sensor[1]} sensor")
        ours.append(f"{sensor_size[0]}x{sensor_size[1]}")
    model_classes = [str(c) for c in config.get("classes") or []]
    if classes is not None and model_classes and model_classes != [str(c) for c in classes]:
        def show(names: list[str]) -> str:
            return f"{len(names)} classes {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"

        theirs.append(show(model_classes))
        ours.append(show([str(c) for c in classes]))
    if not theirs:
        return None
    source = f"{dataset} " if dataset else ""
    return (f"the model was trained on {trained_on or 'other data'} ({'; '.join(theirs)}), this {source}"
            f"recording has {'; '.join(ours)}: its prediction means little")
