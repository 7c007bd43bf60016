"""ANN / SNN checkpoint files: atomic writes, ``torch.load(weights_only=True)`` reads.

An ANN file holds ``{"format": "eventsnn-ann", "config": ModelConfig dict, "state_dict",
"mean", "std", "classes", "data", "test_acc", "epoch"}``; everything needed to rebuild the model
and feed it correctly normalised images.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch
from torch import nn

from eventsnn.convert.models import ModelConfig, build_model
from eventsnn.errors import CheckpointError

ANN_FORMAT = "eventsnn-ann"
SNN_FORMAT = "eventsnn-snn"


def atomic_save(obj: object, path: str | Path) -> Path:
    """``torch.save`` to ``path`` via a temporary file and ``os.replace`` (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_payload(path: str | Path, fmt: str) -> dict:
    """Load a checkpoint dict with ``weights_only=True`` and check its ``format`` field."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path} is not an {fmt} file (format={found!r})")
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
        raise CheckpointError(f"{path}: cannot rebuild the ANN: {exc}") from exc
    meta = {k: v for k, v in payload.items() if k != "state_dict"}
    return model.eval(), meta
