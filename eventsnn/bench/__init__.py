"""Latency and cost at few time steps: NeuroBench-style metrics, streaming inference, T sweeps.

Modules: :mod:`~eventsnn.bench.metrics` (footprint, activation sparsity, effective ACs/MACs,
dense SynOps, energy estimate - probes (:mod:`eventsnn.run.probes`) on any ``[T, B, ...]`` model),
:mod:`~eventsnn.bench.latency` (per-recording latency at batch 1, throughput),
:mod:`~eventsnn.bench.streaming` (:class:`StreamingClassifier`, time to decision, early exit),
:mod:`~eventsnn.bench.sweep` (``eventsnn bench``: the sweep over T, results files and plots),
:mod:`~eventsnn.bench.replay` (``eventsnn stream``: a long recording classified as a live stream),
:mod:`~eventsnn.bench.methods` (the methods the accuracy benchmarks compare - eventsnn's recipes and
SpikingJelly's PLIF reference on Tonic frames, all trained by :func:`eventsnn.train.train` - and their
results files; imported on its own, it imports the training package).
"""

from eventsnn._deprecation import deprecated_names
from eventsnn.bench.latency import (
    LatencyResult,
    load_average,
    measure_latency,
    measure_stream_step,
    measure_throughput,
)
from eventsnn.bench.metrics import (
    E_AC_PJ,
    E_MAC_PJ,
    CostMeter,
    CostReport,
    activation_layers,
    measure_cost,
    static_cost,
    synaptic_layers,
)
from eventsnn.bench.replay import StreamResult, WindowPipeline, stream_recording
from eventsnn.bench.streaming import (
    StepResult,
    StreamingClassifier,
    confidence,
    decision_stats,
    fixed_window_frames,
    offline_outputs,
    running_predictions,
    step_us_for,
)
from eventsnn.bench.sweep import (
    _plot_bench_results,
    bench_checkpoint,
    bench_model,
    format_table,
    load_eval_recordings,
    write_results,
)

__all__ = [
    "E_AC_PJ",
    "E_MAC_PJ",
    "CostMeter",
    "CostReport",
    "LatencyResult",
    "StepResult",
    "StreamResult",
    "StreamingClassifier",
    "WindowPipeline",
    "activation_layers",
    "bench_checkpoint",
    "bench_model",
    "confidence",
    "decision_stats",
    "fixed_window_frames",
    "format_table",
    "load_average",
    "load_eval_recordings",
    "measure_cost",
    "measure_latency",
    "measure_stream_step",
    "measure_throughput",
    "offline_outputs",
    "running_predictions",
    "static_cost",
    "step_us_for",
    "stream_recording",
    "synaptic_layers",
    "write_results",
]

__getattr__ = deprecated_names(__name__, {
    "plot_results": (_plot_bench_results, "moved to eventsnn.viz.plot_bench_results"),
})
