"""``eventsnn bench`` for converted SNNs (static images): the same rows as for event models.

A converted SNN (``eventsnn convert`` / :func:`eventsnn.convert.save_snn`) sees each image as a
constant input current for T steps, so there is no event-to-frame compression
(``compress_ms_* = 0``) and no sensor time (``*_ms`` decision times are left out). Per T:
accuracy after T steps, the running prediction after each step (time to decision, early exit),
latency per image at batch size 1 (median / p95 after warm-up), and the NeuroBench-style cost of
:mod:`eventsnn.bench.metrics` (signed ±1 spikes are binary events: ACs).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from eventsnn._deprecation import renamed_keyword
from eventsnn.bench.latency import load_average
from eventsnn.bench.metrics import CostMeter, static_cost
from eventsnn.bench.streaming import decision_stats
from eventsnn.convert.converter import load_snn
from eventsnn.convert.ifsim import SpikingNetwork, cumulative_mean
from eventsnn.convert.images import load_image_splits
from eventsnn.datasets.splits import spread_indices
from eventsnn.errors import InvalidParameterError

__all__ = ["bench_snn", "bench_snn_file"]

_COST_KEYS = ("synops", "effective_acs", "effective_macs", "dense_synops", "energy_uj",
              "energy_uj_graded_as_acs", "activation_sparsity")


@renamed_keyword("Ts", "T")
@torch.no_grad()
def bench_snn(snn: SpikingNetwork, x: torch.Tensor, y: torch.Tensor, T: Sequence[int],
              name: str = "snn", latency_samples: int = 50, warmup: int = 5,
              batch_size: int = 100, stable_steps: int = 2, progress: bool = True,
              ) -> list[dict[str, Any]]:
    """One result row per value of ``T`` (time steps; ``Ts=``: deprecated name, one release) for a
    converted SNN on images ``x [N, C, H, W]``, labels ``y [N]``."""
    if len(x) == 0 or len(x) != len(y):
        raise InvalidParameterError(f"need images with one label each, got {len(x)} and {len(y)}")
    snn.eval()
    st = static_cost(snn)
    lat_idx = [int(i) for i in spread_indices(len(x), latency_samples)] if latency_samples else []
    rows = []
    for t in tqdm([int(v) for v in T], desc=f"bench {name}", disable=not progress, unit="T"):
        if t < 1:
            raise InvalidParameterError(f"T must be >= 1, got {t}")
        chunks = []
        with CostMeter(snn) as meter:  # one pass gives the outputs and the cost
            for i in range(0, len(x), batch_size):
                chunks.append(snn.forward_static(x[i:i + batch_size], t))
                meter.add_samples(len(chunks[-1][0]))
        cost = meter.report().to_dict()
        outs = torch.cat(chunks, dim=1)  # per-step outputs [T, N, classes]
        dec = decision_stats(outs, y, 1.0, stable_steps)
        acc = float((cumulative_mean(outs)[-1].argmax(-1) == y).double().mean())
        row: dict[str, Any] = {"model": name, "T": t, "n": len(x), "accuracy": acc,
                               "stream_accuracy": dec.pop("accuracy"),
                               **{k: v for k, v in dec.items() if not k.endswith("_ms_mean")}}
        row.update({k: cost[k] for k in _COST_KEYS})
        row["activation_by_layer"] = cost["activation_by_layer"]
        row.update(st)
        if lat_idx:
            for i in lat_idx[:warmup]:
                snn.forward_static(x[i:i + 1], t)
            ms = []
            for i in lat_idx:
                t0 = time.perf_counter()
                snn.forward_static(x[i:i + 1], t)
                ms.append(1e3 * (time.perf_counter() - t0))
            med, p95 = float(np.median(ms)), float(np.percentile(ms, 95))
            row.update({"compress_ms_median": 0.0, "compress_ms_p95": 0.0, "network_ms_median": med,
                        "network_ms_p95": p95, "total_ms_median": med, "total_ms_p95": p95,
                        "latency_n": len(ms), "threads": torch.get_num_threads(),
                        "load_avg": load_average()})
        rows.append(row)
    return rows


@renamed_keyword("Ts", "T")
def bench_snn_file(path: str | Path, data: str | Path, T: Sequence[int] = (1, 2, 4, 8),
                   limit: int | None = 1000, **kwargs: Any) -> dict[str, Any]:
    """Load a converted SNN file and :func:`bench_snn` it on the test images of ``data``
    (``limit`` images spread over the test split). Returns ``{"meta", "rows"}``."""
    snn = load_snn(path)
    if snn.mean is None or snn.std is None:
        raise InvalidParameterError(f"{path}: the SNN does not record its input normalisation")
    _, test = load_image_splits(data, augment=False, mean=np.asarray(snn.mean),
                                std=np.asarray(snn.std))
    x, y = test.tensors()
    idx = torch.as_tensor(spread_indices(len(x), limit), dtype=torch.long)
    x, y = x[idx], y[idx]
    rows = bench_snn(snn, x, y, T, name=Path(path).stem, **kwargs)
    meta = {"checkpoint": str(path), "dataset": str(data), "split": "test", "n": len(x),
            "trained_T": snn.T, "threads": torch.get_num_threads(), "load_avg_end": load_average(),
            "kind": "converted SNN (static images)", "options": {
                k: v for k, v in snn.options.items() if k != "tuning"}}
    return {"meta": meta, "rows": rows}
