"""Pictures of a spiking network at work on one sample, and of what it learned.

:func:`record_activity` (from :mod:`eventsnn.run.activity`) runs a network step by step and keeps
the spikes of every spiking layer and the membrane potential after each step; from its
:class:`ActivityRecord`:

- :func:`plot_spike_rates`: mean spikes per neuron and step, per layer, over the time steps;
- :func:`plot_spike_raster`: spikes of a sample of neurons of every layer over the time steps;
- :func:`plot_membrane`: membrane potential of a few neurons of one layer, with the thresholds;

and from the network itself :func:`plot_tau`: the learned membrane time constant τ per layer
(every channel's when τ is per channel). Each writes one file and returns its path; the image is
``figsize * dpi`` pixels.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from torch import nn

from eventsnn.errors import InvalidParameterError
from eventsnn.nn.introspect import layer_dynamics
from eventsnn.run.activity import ActivityRecord, record_activity
from eventsnn.viz.figure import check_size, new_figure, save

__all__ = [
    "ActivityRecord",
    "record_activity",
    "plot_spike_rates",
    "plot_spike_raster",
    "plot_membrane",
    "plot_tau",
    "tau_per_layer",
]


def plot_spike_rates(
    record: ActivityRecord,
    path: str | Path,
    *,
    step_ms: float | None = None,
    figsize: tuple[float, float] = (6.0, 3.5),
    dpi: int = 100,
    title: str | None = None,
) -> Path:
    """Mean spikes per neuron and time step, one line per spiking layer."""
    w_in, h_in = check_size(figsize, dpi)
    fig = new_figure((w_in, h_in))
    ax = fig.subplots()
    steps = np.arange(1, record.T + 1)
    for n, r in record.rates().items():
        ax.plot(steps, r, marker="o", lw=1.4, label=f"{n} ({record.spikes[n].shape[1]} neurons)")
    ax.set_xticks(steps)
    ax.set_xlabel("time step t" + (f" ({step_ms:.0f} ms each)" if step_ms else ""))
    ax.set_ylabel("spikes per neuron per step")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", frameon=False)
    ax.set_title(title or "spike rate per layer", fontsize="small")
    fig.tight_layout()
    return save(fig, path, dpi)


def plot_spike_raster(
    record: ActivityRecord,
    path: str | Path,
    *,
    n_neurons: int = 64,
    seed: int = 0,
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
    title: str | None = None,
) -> Path:
    """Spikes of ``n_neurons`` neurons per layer over the time steps; colour = spike count (0..K,
    graded MT-LIF spikes). Neurons are a seeded random sample of those that spiked at least once
    (topped up with silent ones), ordered by first spike."""
    layers = record.layers
    if figsize is None:
        figsize = (min(2.0 + 1.6 * len(layers), 12.0), 4.0)
    w_in, h_in = check_size(figsize, dpi)
    fig = new_figure((w_in, h_in))
    axes = fig.subplots(1, len(layers), squeeze=False)
    rng = np.random.default_rng(seed)
    kmax = max(k for _, k in record.thresholds.values())
    cmap = matplotlib.colormaps["Greys"].resampled(kmax + 1)
    im = None
    for ax, n in zip(axes[0], layers, strict=True):
        s = record.spikes[n]
        active = np.flatnonzero(s.sum(axis=0) > 0)
        silent = np.flatnonzero(s.sum(axis=0) == 0)
        k = min(n_neurons, s.shape[1])
        pick = rng.permutation(active)[:k]
        if len(pick) < k:
            pick = np.concatenate([pick, rng.permutation(silent)[: k - len(pick)]])
        # order rows by first spike time, then by spike count (a readable raster)
        first = np.where(s[:, pick].any(axis=0), s[:, pick].argmax(axis=0), record.T)
        pick = pick[np.lexsort((-s[:, pick].sum(axis=0), first))]
        im = ax.imshow(s[:, pick].T, aspect="auto", interpolation="nearest", cmap=cmap,
                       vmin=-0.5, vmax=kmax + 0.5, extent=(0.5, record.T + 0.5, len(pick) - 0.5, -0.5))
        ax.set_xticks(np.arange(1, record.T + 1))
        ax.set_xlabel("time step t", fontsize="small")
        ax.set_title(f"{n}\n{len(pick)} of {s.shape[1]} neurons ({len(active)} spiked)", fontsize="x-small")
        ax.tick_params(labelsize="x-small")
    axes[0][0].set_ylabel("neuron (sample of active ones)", fontsize="small")
    fig.suptitle(title or "spike raster", fontsize="small")
    fig.subplots_adjust(left=0.08, right=0.88, top=1 - 0.7 / h_in, bottom=0.55 / h_in, wspace=0.35)
    cax = fig.add_axes((0.9, 0.55 / h_in, 0.02, 1 - 1.25 / h_in))
    cb = fig.colorbar(im, cax=cax, ticks=np.arange(kmax + 1))
    cb.set_label("spikes per step", fontsize="small")
    cb.ax.tick_params(labelsize="x-small")
    return save(fig, path, dpi)


def plot_membrane(
    record: ActivityRecord,
    path: str | Path,
    *,
    layer: str | None = None,
    n_neurons: int = 4,
    figsize: tuple[float, float] = (6.0, 3.5),
    dpi: int = 100,
    title: str | None = None,
) -> Path:
    """Membrane potential after each step of the ``n_neurons`` most active neurons of ``layer``
    (default: the first spiking layer), with the thresholds θ..Kθ dashed; spikes are marked
    with their count above the curve."""
    w_in, h_in = check_size(figsize, dpi)
    layer = layer or record.layers[0]
    if layer not in record.membrane:
        raise InvalidParameterError(f"no spiking layer {layer!r}; layers: {record.layers}")
    v, s = record.membrane[layer], record.spikes[layer]
    theta, K = record.thresholds[layer]
    picks = np.argsort(-s.sum(axis=0) - 1e-6 * np.abs(v).sum(axis=0), kind="stable")[:n_neurons]
    steps = np.arange(1, record.T + 1)
    fig = new_figure((w_in, h_in))
    ax = fig.subplots()
    colors = matplotlib.colormaps["tab10"]
    for j, i in enumerate(picks):
        c = colors(j % 10)
        ax.plot(steps, v[:, i], marker="o", lw=1.4, color=c, label=f"neuron {int(i)}")
        for t in np.flatnonzero(s[:, i] > 0):
            ax.annotate(f"{int(round(s[t, i]))}", (steps[t], v[t, i]), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize="x-small", color=c)
    for k in range(1, K + 1):
        ax.axhline(k * theta, color="0.4", ls="--", lw=0.8, label=(f"thresholds θ..{K}θ" if K > 1 else "threshold θ") if k == 1 else None)
    ax.set_xticks(steps)
    ax.set_xlabel("time step t")
    ax.set_ylabel("membrane potential after step (θ units)" if theta == 1.0 else "membrane potential after step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", frameon=False, loc="best")
    ax.set_title(title or f"{layer}: membrane potential (numbers = spikes emitted)", fontsize="small")
    fig.tight_layout()
    return save(fig, path, dpi)


def tau_per_layer(model: nn.Module) -> dict[str, np.ndarray]:
    """layer -> membrane time constant(s) τ (time steps), one value or one per channel, for every
    leaky spiking layer (MT-LIF and SpikingJelly (parametric) LIF: ``1/sigmoid(w)`` or the fixed
    ``tau``; whatever :func:`eventsnn.nn.neuron_dynamics` reports)."""
    out: dict[str, np.ndarray] = {}
    for name, d in layer_dynamics(model).items():
        if d.tau is not None:
            out[name] = np.atleast_1d(d.tau.numpy().astype(np.float64))
    return out


def plot_tau(
    model: nn.Module,
    path: str | Path,
    *,
    step_ms: float | None = None,
    figsize: tuple[float, float] = (6.0, 3.5),
    dpi: int = 100,
    title: str | None = None,
) -> Path:
    """Learned membrane time constant τ per layer (bar), and every channel's τ (dots) when τ is
    learned per channel; the initial τ is dashed. ``step_ms`` adds a right axis in ms."""
    w_in, h_in = check_size(figsize, dpi)
    taus = tau_per_layer(model)
    if not taus:
        raise InvalidParameterError("the model has no LIF layers with a time constant τ")
    names = list(taus)
    init = {n: d.init_tau for n, d in layer_dynamics(model).items() if d.init_tau is not None}
    fig = new_figure((w_in, h_in))
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    xs = np.arange(len(names))
    per_channel = False
    for i, n in enumerate(names):
        t = taus[n]
        ax.bar(i, float(np.median(t)), color="#8fb3d9", width=0.6, edgecolor="#3b6ea5")
        if t.size > 1:
            per_channel = True
            ax.scatter(i + rng.uniform(-0.22, 0.22, t.size), t, s=6, color="#1f3f66", alpha=0.6, zorder=3)
        else:
            ax.text(i, float(t[0]), f"{float(t[0]):.2f}", ha="center", va="bottom", fontsize="x-small")
        if init.get(n):
            ax.hlines(init[n], i - 0.35, i + 0.35, colors="0.3", linestyles="--", lw=1,
                      label="initial τ" if i == 0 else None)
    ax.set_xticks(xs)
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize="x-small")
    ax.set_ylabel("τ (time steps)")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.15)
    if step_ms:
        sec = ax.secondary_yaxis("right", functions=(lambda v: v * step_ms, lambda v: v / step_ms))
        sec.set_ylabel("τ (ms)")
    if init:
        ax.legend(fontsize="x-small", frameon=False, loc="upper left")
    ax.set_title(title or ("learned τ per layer (bar: median, dots: channels)" if per_channel
                           else "learned τ per layer"), fontsize="small")
    fig.tight_layout()
    return save(fig, path, dpi)
