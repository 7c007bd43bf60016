"""ANN / SNN checkpoint files: atomic writes, ``torch.load(weights_only=True)`` reads.

An ANN file holds ``{"format": "eventsnn-ann", "config": ModelConfig dict, "state_dict",
"mean", "std", "classes", "data", "test_acc", "epoch"}``; everything needed to rebuild the model
and feed it correctly normalised images.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from eventsnn.checkpoints import (
    ANN_FORMAT,
    CHECKPOINT_KINDS,
    SNN_FORMAT,
    describe_kind,
    error_summary,
    load_weights_only,
    payload_format,
)
from eventsnn.convert.models import ModelConfig, build_model
from eventsnn.errors import CheckpointError
from eventsnn.outputs import save_torch

__all__ = ["ANN_FORMAT", "SNN_FORMAT", "atomic_save", "load_ann", "load_payload", "save_ann"]


def atomic_save(obj: object, path: str | Path) -> Path:
    """``torch.save`` to ``path`` through a temporary file renamed on success (never
    half-written; :func:`eventsnn.outputs.save_torch`)."""
    return save_torch(path, obj)


def load_payload(path: str | Path, fmt: str) -> dict:
    """Load a file with ``torch.load(weights_only=True)`` and check its ``format`` field is ``fmt``.

    Raises:
        CheckpointError: one line naming the file: missing, not a PyTorch archive, pickled
            objects (refused), damaged, or of another format (named, with what wrote it when
            it is an eventsnn kind).
    """
    payload = load_weights_only(path)
    found = payload_format(payload)
    if found != fmt:
        kind = CHECKPOINT_KINDS.get(found) if found is not None else None
        what = describe_kind(kind) if kind is not None else (
            f"format={found!r}" if isinstance(payload, dict) else f"a {type(payload).__name__}")
        raise CheckpointError(f"{path}: is {what}, not an {fmt} file" if kind is not None else
                              f"{path}: not an {fmt} file ({what})")
    return payload


def save_ann(path: str | Path, model: nn.Module, *, mean, std, classes=(), data: str = "",
             test_acc: float | None = None, epoch: int | None = None) -> Path:
    """Write a trained ANN built by :func:`~eventsnn.convert.models.build_model`."""
    payload = {
        "format": ANN_FORMAT, "version": 1, "config": model.config.to_dict(),
        "state_dict": model.state_dict(),
        "mean": [float(v) for v in mean], "std": [float(v) for v in std],
        "classes": list(classes), "data": str(data),
        "test_acc": None if test_acc is None else float(test_acc),
        "epoch": None if epoch is None else int(epoch),
    }
    return atomic_save(payload, path)


def load_ann(path: str | Path) -> tuple[nn.Module, dict]:
    """Rebuild an ANN from its file: ``(model in eval mode, metadata dict without weights)``."""
    payload = load_payload(path, ANN_FORMAT)
    try:
        model = build_model(ModelConfig.from_dict(payload["config"]))
        model.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild the ANN: {error_summary(exc)}") from exc
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model.eval(), meta
