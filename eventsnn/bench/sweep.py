"""The time-step sweep behind ``eventsnn bench``: accuracy, latency, time to decision and cost per T.

Python API::

    from eventsnn.bench import bench_checkpoint
    res = bench_checkpoint("runs/nmnist-T4/best.pt", split="val", T=[1, 2, 4, 8], out="bench/")
    for row in res["rows"]:
        print(row["T"], row["accuracy"], row["total_ms_median"], row["synops"], row["energy_uj"])

For every ``T`` (:func:`bench_model`):

- ``accuracy``: the offline model on STC frames with the training settings at this ``T`` (window:
  each recording's first to last event, as in training and ``eventsnn eval``);
- latency per recording at batch size 1 (STC / network / total, median and p95, ms) on
  ``latency_samples`` recordings, the compute time of one streaming step (on up to 20 of
  them), and throughput at ``throughput_batch`` (:mod:`eventsnn.bench.latency`);
- streaming: steps of fixed duration ``step_us = ceil(median recording duration / T)``; the
  per-step outputs are what :class:`~eventsnn.bench.streaming.StreamingClassifier` produces
  (tested equal), giving ``stream_accuracy``, the time to decision and the early-exit accuracy
  (:func:`~eventsnn.bench.streaming.decision_stats`);
- NeuroBench-style cost per recording (:mod:`eventsnn.bench.metrics`).

:func:`write_results` writes ``results.json``, ``results.csv`` and the plots
``accuracy_vs_T.png``, ``latency_vs_T.png``, ``accuracy_vs_energy.png``
(:func:`eventsnn.viz.plot_bench_results`; ``plot_results``, its old name here, warns for one
release).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from eventsnn._deprecation import deprecated_names, renamed_keyword
from eventsnn.bench.latency import (
    load_average,
    measure_latency,
    measure_stream_step,
    measure_throughput,
)
from eventsnn.bench.metrics import CostMeter, static_cost
from eventsnn.bench.streaming import decision_stats, offline_outputs, step_us_for
from eventsnn.datasets.selection import checkpoint_split
from eventsnn.datasets.slicing import recording_table
from eventsnn.datasets.splits import spread_indices
from eventsnn.errors import InvalidParameterError
from eventsnn.outputs import write_csv, write_json
from eventsnn.run.forward import run_model
from eventsnn.transforms import STC

__all__ = [
    "CSV_FIELDS",
    "bench_checkpoint",
    "bench_model",
    "format_table",
    "load_eval_recordings",
    "write_results",
]

#: Scalar columns of ``results.csv`` (per T), in order.
CSV_FIELDS = [
    "model", "T", "n", "accuracy", "recording_accuracy", "stream_accuracy", "early_exit_accuracy", "early_exit_step_mean",
    "early_exit_ms_mean", "decision_step_mean", "decision_ms_mean", "step_ms",
    "compress_ms_median", "compress_ms_p95", "network_ms_median", "network_ms_p95",
    "total_ms_median", "total_ms_p95", "stream_step_ms_median", "stream_step_ms_p95", "throughput_per_s", "synops", "effective_acs",
    "effective_macs", "dense_synops", "graded_spike_events", "acs_if_graded_unrolled",
    "energy_uj", "energy_uj_graded_as_acs", "activation_sparsity", "footprint_bytes",
    "parameter_count", "connection_sparsity",
]


def load_eval_recordings(
    info: dict[str, Any],
    dataset: str | None = None,
    root: str | Path | None = None,
    split: str = "val",
    limit: int | None = None,
    progress: bool = False,
) -> tuple[list[np.ndarray], torch.Tensor, list[str], tuple[int, int, int], dict[str, Any]]:
    """The raw recordings of a split, for a checkpoint's ``info`` (from ``load_model``).

    ``split="val"`` = the training run's validation recordings (its test split, or its seeded
    hold-out rebuilt from the indices stored in the checkpoint), as ``eventsnn eval`` does
    (:func:`eventsnn.datasets.checkpoint_split`). ``limit`` keeps that many recordings spread
    evenly over the split.

    Returns:
        ``(recordings, targets [N], classes, sensor_size (W, H, P), description)``; when the
        samples are windows of long recordings the description has ``sample_recordings``: the
        recording id of each sample.
    """
    data_info = info["config"]["data"]
    if dataset is None and data_info.get("source") == "file":
        raise InvalidParameterError(
            "eventsnn bench needs the event recordings: this checkpoint was trained from a "
            "compressed file, so give --dataset (and --root)"
        )
    ds, idx, where = checkpoint_split(data_info, dataset, root, None, split, None, progress)
    if limit is not None:
        if limit < 1:
            raise InvalidParameterError(f"limit must be >= 1, got {limit}")
        idx = idx[spread_indices(len(idx), limit)]
    name = where["dataset"]
    recs = [ds.read(int(i)) for i in tqdm(idx, desc=f"read {name} {split}", disable=not progress, leave=False)]
    targets = torch.as_tensor(np.asarray(ds.targets, dtype=np.int64)[idx])
    desc: dict[str, Any] = {"dataset": name, "root": where["root"], "split": split, "n": len(recs)}
    ids = getattr(ds, "recording_ids", None)
    if ids is not None:
        desc["sample_recordings"] = [str(ids[int(i)]) for i in idx]
    return recs, targets, [str(c) for c in ds.classes], tuple(int(s) for s in ds.sensor_size), desc


def _accuracy_and_cost(
    model: nn.Module, frames: torch.Tensor, targets: torch.Tensor, batch_size: int, device: torch.device
) -> tuple[torch.Tensor, dict[str, Any]]:
    """The predictions ``[N]`` and the cost report."""
    with CostMeter(model) as meter:
        outputs = run_model(model, frames, batch_size=batch_size, device=device)
    meter.add_samples(len(frames))
    return outputs.mean(0).argmax(-1).cpu(), meter.report().to_dict()


@renamed_keyword("Ts", "T")
def bench_model(
    model: nn.Module,
    recordings: Sequence[np.ndarray],
    targets: torch.Tensor,
    stc: STC,
    T: Sequence[int],
    name: str = "model",
    latency_samples: int = 100,
    throughput_batch: int = 128,
    warmup: int = 5,
    stable_steps: int = 2,
    confidence_threshold: float | None = None,
    step_us: int | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    progress: bool = True,
    recording_ids: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One result row per value of ``T`` (see the module docstring); ``name`` labels the rows.

    Args:
        model: ``[T, B, P, H, W] -> [T, B, C]``.
        recordings, targets: the evaluation recordings (structured arrays) and labels ``[N]``.
        stc: the STC settings the model was trained with, with the recordings' sensor (its
            ``T`` is replaced by each value swept).
        T: the time steps to sweep (``Ts=``: deprecated name, one release).
        latency_samples: recordings timed at batch size 1 (evenly spread; 0 = skip latency).
        throughput_batch: batch of the throughput measurement (0 = skip).
        step_us: streaming step duration; default ``ceil(median duration / T)`` per T.
        recording_ids: when the recordings are windows of long recordings, the recording id of
            each: the rows then also hold ``recording_accuracy`` (majority vote over its
            windows) and ``recordings`` (a row per recording,
            :func:`eventsnn.datasets.slicing.recording_table`; ``classes`` names the classes).
    """
    if not recordings or len(recordings) != len(targets):
        raise InvalidParameterError(f"need recordings with one label each, got {len(recordings)} and {len(targets)}")
    dev = torch.device(device)
    readout = getattr(model, "readout", "logits")
    model.eval()
    st = static_cost(model)
    lat_idx = spread_indices(len(recordings), latency_samples) if latency_samples else []
    lat_recs = [recordings[int(i)] for i in lat_idx]
    rows = []
    for t in tqdm(list(T), desc=f"bench {name}", disable=not progress, leave=False, unit="T"):
        t = int(t)
        if t < 1:
            raise InvalidParameterError(f"T must be >= 1, got {t}")
        at_t = stc.with_T(t)
        frames = torch.from_numpy(at_t.frames(recordings))
        pred, cost = _accuracy_and_cost(model, frames, targets, batch_size, dev)
        acc = int((pred == targets).sum()) / len(recordings)
        del frames
        s_us = int(step_us) if step_us else step_us_for(recordings, t)
        outs = offline_outputs(model, recordings, at_t, s_us, t, batch_size, dev)
        dec = decision_stats(outs, targets, s_us, stable_steps, confidence_threshold, readout)
        row: dict[str, Any] = {"model": name, "T": t, "n": len(recordings), "accuracy": acc,
                               "stream_accuracy": dec.pop("accuracy"), **dec}
        if recording_ids is not None:  # windows of long recordings: majority vote per recording
            row["recording_accuracy"], row["recordings"] = recording_table(
                pred.numpy(), recording_ids, targets.numpy(), classes or [str(c) for c in range(int(pred.max()) + 1)])
        row.update({k: cost[k] for k in (
            "synops", "effective_acs", "effective_macs", "dense_synops", "graded_spike_events",
            "graded_spike_count", "acs_if_graded_unrolled", "energy_uj", "energy_uj_graded_as_acs",
            "activation_sparsity")})
        row["cost_layers"] = cost["layers"]
        row["activation_by_layer"] = cost["activation_by_layer"]
        row.update(st)
        if lat_recs:
            lat = measure_latency(model, lat_recs, at_t, warmup=warmup, device=dev)
            row.update({k: v for k, v in lat.to_dict().items() if k not in ("T", "n", "warmup")})
            row["latency_n"] = lat.n
            row.update(measure_stream_step(model, lat_recs[:20], at_t, s_us, t, device=dev))
        if throughput_batch:
            row["throughput_per_s"] = measure_throughput(
                model, recordings, at_t, batch_size=throughput_batch, device=dev)
            row["throughput_batch"] = int(throughput_batch)
        rows.append(row)
    return rows


@renamed_keyword("Ts", "T")
def bench_checkpoint(
    checkpoint: str | Path,
    dataset: str | None = None,
    root: str | Path | None = None,
    split: str = "val",
    T: Sequence[int] = (1, 2, 4, 8),
    out: str | Path | None = None,
    limit: int | None = None,
    latency_samples: int = 100,
    throughput_batch: int = 128,
    stable_steps: int = 2,
    confidence_threshold: float | None = None,
    step_us: int | None = None,
    batch_size: int = 32,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """``eventsnn bench``: rebuild the model from ``checkpoint``, sweep the time steps ``T`` on
    ``split`` (``Ts=``: deprecated name, one release).

    Returns ``{"meta": {...}, "rows": [one dict per T]}``; with ``out`` also writes the files
    (see :func:`write_results`).
    """
    from eventsnn.train.checkpoint import load_model

    model, info = load_model(checkpoint, device)
    recs, targets, classes, sensor, desc = load_eval_recordings(info, dataset, root, split, limit, progress)
    recording_ids = desc.pop("sample_recordings", None)
    stc = STC.from_dict(info["config"]["stc"], sensor)
    preset = info["config"]["model"].get("preset", "model")
    label = f"{preset} (trained T={stc.T})"
    rows = bench_model(
        model, recs, targets, stc, T, label, latency_samples, throughput_batch,
        stable_steps=stable_steps, confidence_threshold=confidence_threshold, step_us=step_us,
        batch_size=batch_size, device=device, progress=progress, recording_ids=recording_ids, classes=classes,
    )
    meta = {
        "checkpoint": str(checkpoint), "model_config": info["config"]["model"], "stc": stc.to_dict(),
        "trained_T": stc.T, **desc, "sensor_size": list(sensor),
        "threads": torch.get_num_threads(), "load_avg_end": load_average(),
        "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
        "energy_note": "estimate: 45 nm fp32, 0.9 pJ/AC, 4.6 pJ/MAC (Horowitz 2014), synaptic ops only",
        "latency_note": "wall time on this machine at batch size 1 after warm-up; CPU shared with other jobs",
    }
    result = {"meta": meta, "rows": rows}
    if out is not None:
        write_results(result, out)
    return result


def write_results(result: dict[str, Any], out: str | Path, plots: bool = True) -> dict[str, Path]:
    """Write ``results.json`` (everything), ``results.csv`` (:data:`CSV_FIELDS`) and the PNGs
    (:func:`eventsnn.viz.plot_bench_results`), each atomically."""
    out = Path(out)
    paths = {"json": write_json(out / "results.json", result),
             "csv": write_csv(out / "results.csv", result["rows"], CSV_FIELDS)}
    if plots:
        from eventsnn.viz.bench import plot_bench_results

        paths.update(plot_bench_results(result["rows"], out))
    return paths


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of the main columns, one line per row.

    Columns: accuracy offline / per recording (windows of long recordings; majority vote) /
    streaming / early exit (%), mean exit step, mean time to decision (sensor ms), latency at batch 1 (STC and network medians, total p95, ms), compute time of one
    streaming step (ms), throughput (recordings/s), synaptic ops, ACs, MACs (millions per
    recording), energy estimate (µJ per recording), activation sparsity.
    """
    head = (f"{'model':<26} {'T':>3} {'acc%':>6} {'rec%':>6} {'strm%':>6} {'exit%':>6} {'exit@':>5} {'dec ms':>7} "
            f"{'STC ms':>7} {'net ms':>7} {'p95 ms':>7} {'step ms':>7} {'rec/s':>7} {'SynOps M':>9} {'ACs M':>7} "
            f"{'MACs M':>7} {'µJ':>7} {'sparsity':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        def g(k: str, scale: float = 1.0, fmt: str = ".2f", r: dict[str, Any] = r) -> str:
            v = r.get(k)
            return "-" if v is None else format(v * scale, fmt)

        lines.append(
            f"{str(r['model'])[:26]:<26} {r['T']:>3} {g('accuracy', 100):>6} {g('recording_accuracy', 100):>6} "
            f"{g('stream_accuracy', 100):>6} "
            f"{g('early_exit_accuracy', 100):>6} {g('early_exit_step_mean', 1, '.2f'):>5} "
            f"{g('decision_ms_mean', 1, '.1f'):>7} {g('compress_ms_median', 1, '.3f'):>7} "
            f"{g('network_ms_median'):>7} {g('total_ms_p95'):>7} {g('stream_step_ms_median'):>7} "
            f"{g('throughput_per_s', 1, '.0f'):>7} "
            f"{g('synops', 1e-6):>9} {g('effective_acs', 1e-6):>7} {g('effective_macs', 1e-6):>7} "
            f"{g('energy_uj'):>7} {g('activation_sparsity', 1, '.3f'):>8}"
        )
    return "\n".join(lines)


def _plot_bench_results() -> Any:
    from eventsnn.viz.bench import plot_bench_results

    return plot_bench_results


__getattr__ = deprecated_names(__name__, {
    "plot_results": (_plot_bench_results, "moved to eventsnn.viz.plot_bench_results"),
})
