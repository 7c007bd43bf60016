"""Plotting names that moved into eventsnn.viz still work from their old modules, with a warning."""

from __future__ import annotations

import pytest

from eventsnn import viz


def test_moved_plotting_names_still_work_with_a_warning():
    import importlib

    evaluate = importlib.import_module("eventsnn.train.evaluate")  # eventsnn.train.evaluate: the function
    moved = [(evaluate, "plot_confusion", viz.plot_confusion),
             ("eventsnn.train.metrics", "plot_curves", viz.plot_curves),
             ("eventsnn.bench.sweep", "plot_results", viz.plot_bench_results),
             ("eventsnn.bench", "plot_results", viz.plot_bench_results),
             ("eventsnn.convert.report", "plot_accuracy_vs_T", viz.plot_accuracy_vs_T),
             (evaluate, "run_model", evaluate.evaluation_sums)]
    for module, name, new in moved:
        module = importlib.import_module(module) if isinstance(module, str) else module
        with pytest.warns(DeprecationWarning, match=name):
            assert getattr(module, name) is new
