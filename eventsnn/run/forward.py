"""Running a network over frames: the one loop every evaluation, sweep, timing and benchmark uses.

Networks follow SpikingJelly's multi-step convention: input ``[T, B, ...]`` -> output
``[T, B, ...]``, with state in their stateful layers (SpikingJelly ``MemoryModule``) that
persists between calls until ``reset_net``. Data comes sample-first, ``[N, T, ...]``.

- :func:`run_model` batches ``[N, T, ...]`` frames, moves each batch to the device, transposes
  it to ``[T, B, ...]``, calls the network (under ``no_grad`` unless training, under autocast
  when asked) and resets its state after every batch. It returns the per-step outputs
  ``[T, N, ...]``, or what ``reduce`` makes of each batch.
- :func:`step` and :func:`reset_state` are the stateful primitives for running a network one
  time step at a time on purpose (streaming inference, recording the activity of each step):
  state is kept between :func:`step` calls until :func:`reset_state`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.utils.data
from spikingjelly.activation_based import functional as sj_functional
from torch import nn
from tqdm.auto import tqdm

from eventsnn.errors import InvalidParameterError

__all__ = ["Batch", "Frames", "model_device", "reset_state", "run_model", "step"]

#: What :func:`run_model` accepts as data: frames ``[N, T, ...]``; frames with labels
#: ``([N, T, ...], [N])``; a dataset whose batched indexing ``data[index_tensor]`` gives
#: ``(x [B, T, ...], y [B])`` (:class:`eventsnn.datasets.FrameSet`); or an iterable of ready
#: batches ``[B, T, ...]`` / ``(x, y)``.
Frames = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | torch.utils.data.Dataset | Iterable[Any]


@dataclass(frozen=True)
class Batch:
    """One batch as the network saw it.

    Attributes:
        x: the input ``[T, B, ...]``, on the device.
        y: the labels ``[B]`` as given (None without labels).
    """

    x: torch.Tensor
    y: torch.Tensor | None

    @property
    def size(self) -> int:
        """``B``: samples in the batch."""
        return int(self.x.shape[1])


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def reset_state(model: nn.Module) -> None:
    """Forget the state of every stateful layer (SpikingJelly ``reset_net``)."""
    sj_functional.reset_net(model)


def step(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One time step ``x [B, ...]`` -> output ``[B, ...]``, keeping the state of the network for
    the next step (a multi-step call on ``[1, B, ...]``). Call :func:`reset_state` before an
    independent sequence; the outputs of ``T`` steps are those of one ``[T, B, ...]`` call."""
    return model(x.unsqueeze(0))[0]


def _count(data: Any, indices: torch.Tensor | None) -> int | None:
    if indices is not None:
        return len(indices)
    if isinstance(data, tuple):
        return len(data[0])
    return len(data) if isinstance(data, (torch.Tensor, torch.utils.data.Dataset)) else None


def _batches(
    data: Frames, indices: torch.Tensor | None, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """``(x [B, T, ...], y [B] or None)`` batches of ``data``, in order (or in ``indices`` order)."""
    if isinstance(data, torch.Tensor):
        def take(b: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
            return data[b], None
    elif isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        x_all, y_all = data

        def take(b: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
            return x_all[b], y_all[b]
    elif isinstance(data, torch.utils.data.Dataset):
        def take(b: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
            if isinstance(b, slice):
                b = torch.arange(b.start, b.stop)
            return data[b]  # type: ignore[index]
    else:
        if indices is not None:
            raise InvalidParameterError("run_model: indices need indexable frames, not an iterable of batches")
        for item in data:  # type: ignore[union-attr]
            yield (item[0], item[1]) if isinstance(item, (tuple, list)) else (item, None)
        return
    n = _count(data, indices)
    assert n is not None
    for s in range(0, n, batch_size):
        yield take(slice(s, min(s + batch_size, n)) if indices is None else indices[s : s + batch_size])


def run_model(
    model: nn.Module,
    data: Frames,
    *,
    indices: Sequence[int] | torch.Tensor | None = None,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    amp_dtype: torch.dtype | None = None,
    train: bool = False,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    reduce: Callable[[torch.Tensor, Batch], Any] | None = None,
    progress: bool | None = False,
    desc: str = "run",
) -> torch.Tensor | list[Any]:
    """Run ``model`` over ``data`` in batches, resetting its state after every batch.

    Per batch: ``x [B, T, ...]`` -> ``transform(x)`` (on the CPU, e.g. augmentation) -> moved to
    ``device`` -> ``[T, B, ...]`` -> ``out = model(x)`` (under ``torch.autocast`` with
    ``amp_dtype`` when given) -> ``reduce(out, batch)`` -> ``reset_net``. The model runs in eval
    mode under ``no_grad`` (``train=True``: train mode with gradients, so ``reduce`` can
    back-propagate); its mode is restored at the end.

    Args:
        model: ``[T, B, ...] -> [T, B, ...]``.
        data: see :data:`Frames` (sample-first, ``[N, T, ...]``).
        indices: run only these samples, in this order (indexable data only).
        batch_size: samples per batch (ignored for an iterable of ready batches).
        device: where the network runs (default: where its parameters are).
        reduce: what to keep of each batch (default: the per-step outputs as float32 on the CPU).
        progress: a tqdm bar over the batches (``None``: only on a terminal).

    Returns:
        without ``reduce``: the per-step outputs ``[T, N, ...]`` (float32, CPU; empty when there
        is no sample); with it, the list of its results, one per batch.
    """
    if batch_size < 1:
        raise InvalidParameterError(f"batch_size must be >= 1, got {batch_size}")
    dev = model_device(model) if device is None else torch.device(device)
    idx = None if indices is None else torch.as_tensor(indices, dtype=torch.long)
    n = _count(data, idx)
    total = None if n is None else -(-n // batch_size)
    results: list[Any] = []
    was_training = model.training
    model.train(train)
    try:
        with torch.set_grad_enabled(train):
            for xb, yb in tqdm(_batches(data, idx, batch_size), total=total, desc=desc, unit="batch",
                               disable=None if progress is None else not progress, leave=False):
                if transform is not None:
                    xb = transform(xb)
                x = xb.to(dev, non_blocking=True).transpose(0, 1)
                try:
                    with torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                        out = model(x)
                    results.append(out.float().cpu() if reduce is None else reduce(out, Batch(x, yb)))
                finally:
                    reset_state(model)
    finally:
        model.train(was_training)
    if reduce is not None:
        return results
    return torch.cat(results, 1) if results else torch.zeros(0)
