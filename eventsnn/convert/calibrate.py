"""Per-layer activation statistics of an ANN on calibration data.

These give the data-based starting thresholds of conversion: the maximum activation
(Diehl et al. 2015) or a high percentile of it ("robust normalisation", Rueckauer et al. 2017).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.run.probes import LastOutputs

STAT_MODES = ("max", "percentile")


def take_images(data: Iterable | torch.Tensor, n: int) -> torch.Tensor:
    """The first ``n`` images ``[n, C, H, W]`` from a tensor, a dataset or a DataLoader
    (items may be ``(x, y)`` tuples)."""
    if isinstance(data, torch.Tensor):
        return data[:n]
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not hasattr(data, "batch_size"):
        items = [data[i] for i in range(min(n, len(data)))]
        return torch.stack([it[0] if isinstance(it, (tuple, list)) else it for it in items])
    chunks, got = [], 0
    for batch in data:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        chunks.append(x)
        got += len(x)
        if got >= n:
            break
    if not chunks:
        raise InvalidParameterError("calibration data is empty")
    return torch.cat(chunks)[:n]


@torch.no_grad()
def collect_outputs(model: nn.Module, x: torch.Tensor, names: Sequence[str],
                    batch_size: int = 256) -> dict[str, torch.Tensor]:
    """Outputs of the named sub-modules of ``model`` (eval mode) for inputs ``x`` ``[N, ...]``.

    Returns ``{name: tensor [N, ...]}``. A module called more than once keeps its last call.
    """
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise InvalidParameterError(f"no sub-modules named {missing}")
    store: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    was_training = model.training
    model.eval()
    try:
        with LastOutputs(model, [(n, modules[n]) for n in names]) as last:
            for i in range(0, len(x), batch_size):
                last.outputs.clear()
                model(x[i:i + batch_size])
                for n in names:
                    store[n].append(last.outputs[n])
    finally:
        model.train(was_training)
    return {n: torch.cat(v) for n, v in store.items()}


def statistic(values: torch.Tensor, mode: str = "max", percentile: float = 99.99,
              max_samples: int = 1 << 22, generator: torch.Generator | None = None) -> float:
    """``max`` or the ``percentile``-th percentile of ``values`` (a random subsample of at most
    ``max_samples`` entries is used for percentiles)."""
    flat = values.reshape(-1).float()
    if mode == "max":
        return float(flat.max())
    if mode != "percentile":
        raise InvalidParameterError(f"statistic mode must be one of {STAT_MODES}, got {mode!r}")
    if not 0.0 < percentile <= 100.0:
        raise InvalidParameterError(f"percentile must be in (0, 100], got {percentile}")
    if flat.numel() > max_samples:
        idx = torch.randint(0, flat.numel(), (max_samples,), generator=generator)
        flat = flat[idx]
    k = max(1, min(flat.numel(), int(round(percentile / 100.0 * flat.numel()))))
    return float(flat.kthvalue(k).values)


def activation_statistics(model: nn.Module, x: torch.Tensor, names: Sequence[str],
                          mode: str = "max", percentile: float = 99.99,
                          batch_size: int = 256) -> dict[str, float]:
    """``{name: max or percentile of the module's output}`` over calibration images ``x``."""
    outs = collect_outputs(model, x, names, batch_size)
    g = torch.Generator().manual_seed(0)
    return {n: statistic(v, mode, percentile, generator=g) for n, v in outs.items()}
