"""Pictures (matplotlib, Agg canvas, files only): every plot eventsnn draws.

Modules, by what they show:

- :mod:`~eventsnn.viz.events`: recordings and their STC frames (animation, frames, event rate);
- :mod:`~eventsnn.viz.activity`: a network at work on one sample (spike rates, raster, membrane,
  learned τ), from :func:`record_activity`;
- :mod:`~eventsnn.viz.training`: training curves (``curves.png``);
- :mod:`~eventsnn.viz.confusion`: the confusion matrix of an evaluation (``confusion.png``);
- :mod:`~eventsnn.viz.bench`: accuracy, latency and cost against T (``eventsnn bench``, the
  benchmarks);
- :mod:`~eventsnn.viz.conversion`: ANN-to-SNN accuracy against T;
- :mod:`~eventsnn.viz.stream`: a long recording classified as a live stream (``eventsnn stream``);
- :mod:`~eventsnn.viz.figure`: the figure and file helpers they share.

Figures are drawn through the object-oriented API (no pyplot, no global backend switch, so
notebooks keep their inline backend), and every file is written atomically
(:mod:`eventsnn.outputs`). Each function writes its file(s) and returns the path(s).
"""

import matplotlib  # noqa: F401 - viz.matplotlib (colours, colormaps) as before the split

from eventsnn.viz.activity import (
    ActivityRecord,
    plot_membrane,
    plot_spike_raster,
    plot_spike_rates,
    plot_tau,
    record_activity,
    tau_per_layer,
)
from eventsnn.viz.bench import plot_accuracy_vs_cost, plot_bench_results, plot_method_accuracy
from eventsnn.viz.confusion import plot_confusion
from eventsnn.viz.conversion import plot_accuracy_vs_T, plot_conversion_panels
from eventsnn.viz.events import (
    OFF_COLOR,
    ON_COLOR,
    animate_recording,
    frames_to_rgb,
    plot_event_rate,
    plot_frames,
)
from eventsnn.viz.figure import new_figure, save
from eventsnn.viz.stream import plot_stream
from eventsnn.viz.training import plot_curves

__all__ = [
    "ON_COLOR",
    "OFF_COLOR",
    "ActivityRecord",
    "frames_to_rgb",
    "animate_recording",
    "plot_frames",
    "plot_event_rate",
    "record_activity",
    "plot_spike_rates",
    "plot_spike_raster",
    "plot_membrane",
    "plot_tau",
    "tau_per_layer",
    "plot_curves",
    "plot_confusion",
    "plot_bench_results",
    "plot_method_accuracy",
    "plot_accuracy_vs_cost",
    "plot_accuracy_vs_T",
    "plot_conversion_panels",
    "plot_stream",
    "new_figure",
    "save",
]
