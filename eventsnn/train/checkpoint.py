"""Checkpoints: atomic writes, ``weights_only`` loading, and rebuilding a model from one file.

A checkpoint is a dict of tensors and plain Python values only (so
``torch.load(path, weights_only=True)`` reads it)::

    format="eventsnn-checkpoint", format_version, eventsnn_version
    epoch                 last finished epoch (0-based)
    model_state           state_dict of the (unwrapped) model
    optimizer_state, scheduler_state, scaler_state (None without a GradScaler)
    rng                   {"torch": ByteTensor, "numpy": {...}, "python": tuple, "cuda": [ByteTensor] | None}
    config                {"model": model.config, "stc": STC.to_dict(), "train": TrainConfig fields,
                           "data": DataBundle.info, "classes": [...], "sensor_size": [W, H, P]}

Checkpoints written before the settings object was :class:`eventsnn.transforms.STC` store
``config["stc"]`` with ``n_time_steps`` and no ``sensor_size``; :func:`load_checkpoint` hands it
back in the current form, so they load, evaluate and fine-tune as before.
    metrics               list of per-epoch dicts (see eventsnn.train.metrics)
    best                  {"epoch": int, "val_acc": float} or None
    world_size            processes that trained it

Writes go to ``<path>.tmp-<pid>`` in the same folder, are flushed and fsync'ed, then renamed over
``path`` with :func:`os.replace`, so a killed process never leaves a half-written checkpoint.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eventsnn._version import __version__
from eventsnn.errors import CheckpointError, EventsnnError
from eventsnn.nn.presets import build_model
from eventsnn.outputs import save_torch
from eventsnn.transforms import STC

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "get_rng_state",
    "set_rng_state",
]

FORMAT = "eventsnn-checkpoint"
FORMAT_VERSION = 1
_REQUIRED = ("epoch", "model_state", "config")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus format fields) to ``path`` atomically (:func:`eventsnn.outputs.save_torch`:
    a temporary file, flushed, fsync'ed and renamed); returns ``path``."""
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "eventsnn_version": __version__, **payload}
    return save_torch(path, data)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``; ``config["stc"]`` comes back as
    :meth:`STC.to_dict <eventsnn.transforms.STC.to_dict>` gives it, whatever wrote the file
    (a hand-made one without any sensor size keeps its dict, which
    ``STC.from_dict(d, sensor_size)`` reads).

    Raises:
        CheckpointError: the file is missing, unreadable/corrupt, or not an eventsnn checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (no zip archive inside; truncated or corrupt?)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: holds objects other than tensors and plain Python values; not an eventsnn "
            f"checkpoint (refusing to unpickle it)"
        ) from exc
    except Exception as exc:  # torch raises many types for truncated / damaged archives
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0].split(". ")[0]
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): {first}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an eventsnn checkpoint (no format={FORMAT!r} field)")
    if int(ckpt.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {ckpt.get('format_version')} is newer than this "
            f"eventsnn understands ({FORMAT_VERSION})"
        )
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing or "model" not in ckpt.get("config", {}):
        raise CheckpointError(f"{path}: checkpoint lacks {missing or ['config.model']}")
    config = ckpt["config"]
    stc = config.get("stc")
    if isinstance(stc, dict) and (config.get("sensor_size") is not None or "sensor_size" in stc):
        try:
            config["stc"] = STC.from_dict(stc, config.get("sensor_size")).to_dict()
        except (EventsnnError, TypeError) as exc:
            raise CheckpointError(f"{path}: unreadable STC settings: {exc}") from exc
    return ckpt


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint from the checkpoint alone.

    Returns:
        ``(model, info)``: the model in eval mode on ``device`` with the saved weights, and the
        checkpoint without its state dicts (``config``, ``epoch``, ``metrics``, ``best``, ...).
        ``info["config"]["stc"]`` holds the STC settings the model was trained with
        (``STC.from_dict(info["config"]["stc"])``).
    """
    ckpt = load_checkpoint(path)
    try:
        model = build_model(**ckpt["config"]["model"])
        model.load_state_dict(ckpt["model_state"])
    except (EventsnnError, RuntimeError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"{path}: the model cannot be rebuilt from this checkpoint: {first}") from exc
    model.to(device).eval()
    info = {k: v for k, v in ckpt.items() if not k.endswith("_state") and k != "rng"}
    info["path"] = str(path)
    return model, info


def get_rng_state() -> dict[str, Any]:
    """Every random state a training run uses, as tensors and plain Python values."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "numpy": {
            "name": str(np_state[0]),
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned."""
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
