"""Pictures of recordings and of spiking networks (matplotlib, Agg canvas, files only).

Recordings (``events``: structured array ``x, y, t, p``, ``t`` in µs; ``sensor_size = (W, H, P)``):

- :func:`animate_recording`: the recording as an animation of fixed-duration frames (GIF through
  matplotlib's ``PillowWriter``; MP4 through ``FFMpegWriter`` when ffmpeg is installed);
- :func:`plot_frames`: the ``T`` STC frames ``[T, P, H, W]`` side by side, ON events red and OFF
  events blue on white;
- :func:`plot_event_rate`: ON/OFF event rate over time (events/ms), with the STC step edges.

A trained network on one recording (:func:`record_activity` runs it step by step and keeps the
spikes of every spiking layer and the membrane potential after each step):

- :func:`plot_spike_rates`: mean spikes per neuron and step, per layer, over the time steps;
- :func:`plot_spike_raster`: spikes of a sample of neurons of every layer over the time steps;
- :func:`plot_membrane`: membrane potential of a few neurons of one layer, with the thresholds;
- :func:`plot_tau`: the learned membrane time constant τ per layer (every channel's when τ is
  per channel).

Figures are drawn with Agg through the object-oriented API (no pyplot, no global backend switch,
so notebooks keep their inline backend). Every function writes one file and returns its path;
the image is exactly
``figsize[0] * dpi`` × ``figsize[1] * dpi`` pixels (no tight bounding box), so sizes are
predictable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
import torch
from matplotlib import animation
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from torch import nn

from eventsnn._deprecation import renamed_keyword
from eventsnn.errors import EmptyRecordingError, InvalidParameterError
from eventsnn.events import SensorSize, validate_events
from eventsnn.functional.stc import stc_numpy

if TYPE_CHECKING:
    from eventsnn.nn import NeuronDynamics

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
]

ON_COLOR = "#d62728"  # red: ON (brighter)
OFF_COLOR = "#1f5fbf"  # blue: OFF (darker)
_ON_RGB = np.array(matplotlib.colors.to_rgb(ON_COLOR))
_OFF_RGB = np.array(matplotlib.colors.to_rgb(OFF_COLOR))


# ---------------------------------------------------------------------------------------------
# helpers


def _check_size(figsize: Sequence[float], dpi: float) -> tuple[float, float]:
    if len(figsize) != 2 or min(figsize) <= 0 or dpi <= 0:
        raise InvalidParameterError(f"figsize must be (width, height) > 0 inches and dpi > 0, got {figsize}, {dpi}")
    return float(figsize[0]), float(figsize[1])


def _figure(w_in: float, h_in: float) -> Figure:
    """A figure drawn by Agg without pyplot: no global backend switch, nothing left open, and
    notebooks keep their own (inline) backend."""
    fig = Figure(figsize=(w_in, h_in))
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path, dpi: float) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path


def _polarity_legend(fig: Figure, loc: str = "lower center", ncol: int = 2) -> None:
    fig.legend(
        handles=[Patch(color=ON_COLOR, label="ON (brighter)"), Patch(color=OFF_COLOR, label="OFF (darker)")],
        loc=loc, ncol=ncol, frameon=False, fontsize="small",
    )


def frames_to_rgb(frames: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """ON/OFF counts ``[..., P, H, W]`` -> RGB images ``[..., H, W, 3]`` in [0, 1] on white.

    ``P = 2``: channel 1 (ON) tints towards red, channel 0 (OFF) towards blue, both -> dark
    purple; ``P = 1`` (merged polarity): grey levels. Intensities are ``count / vmax`` clipped
    to 1; ``vmax`` defaults to the 99th percentile of the non-zero counts (at least 1).
    """
    f = np.asarray(frames, dtype=np.float32)
    if f.ndim < 3 or f.shape[-3] not in (1, 2):
        raise InvalidParameterError(f"expected frames [..., P, H, W] with P in (1, 2), got shape {f.shape}")
    if vmax is None:
        nz = f[f > 0]
        vmax = float(np.percentile(nz, 99)) if nz.size else 1.0
    vmax = max(float(vmax), 1e-12)
    a = np.clip(f / vmax, 0.0, 1.0)
    if f.shape[-3] == 1:
        g = 1.0 - a[..., 0, :, :]
        return np.repeat(g[..., None], 3, axis=-1)
    on, off = a[..., 1, :, :, None], a[..., 0, :, :, None]
    rgb = 1.0 - on * (1.0 - _ON_RGB) - off * (1.0 - _OFF_RGB)
    return np.clip(rgb, 0.0, 1.0)


def _time_frames(events: np.ndarray, sensor_size: SensorSize, frame_ms: float, max_frames: int
                 ) -> tuple[np.ndarray, float, int]:
    """Fixed-duration frames ``[N, P, H, W]`` of a recording; returns ``(frames, frame_ms, t0)``."""
    if len(events) == 0:
        raise EmptyRecordingError("the recording holds no events")
    t0, t1 = int(events["t"][0]), int(events["t"][-1])
    dur_ms = max((t1 - t0 + 1) / 1000.0, 1e-3)
    n = math.ceil(dur_ms / frame_ms)
    if n > max_frames:
        frame_ms = dur_ms / max_frames
        n = max_frames
    frame_us = frame_ms * 1000.0
    t_end = t0 + max(int(math.ceil(n * frame_us)), 1)
    frames = stc_numpy(events, sensor_size, n, t_start=t0, t_end=t_end)
    return frames, frame_ms, t0


# ---------------------------------------------------------------------------------------------
# recordings


def animate_recording(
    events: np.ndarray,
    sensor_size: SensorSize,
    path: str | Path,
    *,
    frame_ms: float = 10.0,
    fps: int = 10,
    max_frames: int = 100,
    figsize: tuple[float, float] = (3.2, 3.6),
    dpi: int = 80,
    title: str | None = None,
) -> Path:
    """Write a recording as an animation of ``frame_ms``-long frames (ON red, OFF blue).

    The suffix of ``path`` picks the format: ``.gif`` (Pillow, always available) or ``.mp4``
    (needs ffmpeg on the PATH). Recordings longer than ``max_frames * frame_ms`` get longer
    frames so that at most ``max_frames`` are written. Each frame is
    ``figsize * dpi`` pixels.

    Raises:
        InvalidParameterError: unknown suffix, MP4 without ffmpeg, bad sizes.
        EmptyRecordingError: no events.
    """
    path = Path(path)
    w_in, h_in = _check_size(figsize, dpi)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        writer = animation.PillowWriter(fps=fps)
    elif suffix == ".mp4":
        if not animation.writers.is_available("ffmpeg"):
            raise InvalidParameterError(f"{path}: MP4 needs ffmpeg, which is not installed; write a .gif instead")
        writer = animation.FFMpegWriter(fps=fps)
    else:
        raise InvalidParameterError(f"{path}: animation format must be .gif or .mp4, got {suffix or 'no suffix'!r}")
    if frame_ms <= 0 or max_frames < 1 or fps < 1:
        raise InvalidParameterError(f"frame_ms > 0, max_frames >= 1 and fps >= 1 needed, got {frame_ms}, {max_frames}, {fps}")
    events = validate_events(events, sensor_size)
    frames, frame_ms, _ = _time_frames(events, sensor_size, frame_ms, max_frames)
    rgb = frames_to_rgb(frames)
    fig = _figure(w_in, h_in)
    ax = fig.add_axes((0.08, 0.16, 0.84, 0.72))
    img = ax.imshow(rgb[0], interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"x ({sensor_size[0]} px)", fontsize="small")
    ax.set_ylabel(f"y ({sensor_size[1]} px)", fontsize="small")
    label = ax.set_title("", fontsize="small")
    if title:
        fig.suptitle(title, fontsize="small", y=0.98)
    _polarity_legend(fig, loc="lower center")

    def update(i: int):
        img.set_data(rgb[i])
        label.set_text(f"{i * frame_ms:.0f}–{(i + 1) * frame_ms:.0f} ms")
        return img, label

    anim = animation.FuncAnimation(fig, update, frames=len(rgb), blit=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    anim.save(str(path), writer=writer, dpi=dpi, savefig_kwargs={"facecolor": "white"})
    return path


def plot_frames(
    frames: np.ndarray | torch.Tensor,
    path: str | Path,
    *,
    step_ms: float | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
    title: str | None = None,
    max_cols: int = 8,
) -> Path:
    """Grid of the ``T`` compressed frames ``[T, P, H, W]`` (ON red, OFF blue, shared scale).

    Args:
        frames: STC output of one recording; ``P = 1`` (merged polarity) is drawn in grey.
        step_ms: duration of one time step in ms (labels each panel with its time window).
        figsize: inches; default ``(1.8 * cols, 1.8 * rows + 0.7)``.
        dpi: dots per inch (image = ``figsize * dpi`` pixels).
        max_cols: panels per row.
    """
    f = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if f.ndim != 4:
        raise InvalidParameterError(f"expected frames [T, P, H, W], got shape {f.shape}")
    T = f.shape[0]
    cols = min(T, max_cols)
    rows = math.ceil(T / cols)
    if figsize is None:
        figsize = (1.8 * cols, 1.8 * rows + 0.7)
    w_in, h_in = _check_size(figsize, dpi)
    rgb = frames_to_rgb(f)
    fig = _figure(w_in, h_in)
    axes = fig.subplots(rows, cols, squeeze=False)
    bottom = 0.45 / h_in if f.shape[1] == 2 else 0.15 / h_in
    fig.subplots_adjust(left=0.02, right=0.98, top=1 - 0.55 / h_in, bottom=bottom, wspace=0.06, hspace=0.3)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= T:
            ax.axis("off")
            continue
        ax.imshow(rgb[i], interpolation="nearest")
        n = int(round(float(f[i].sum())))
        if step_ms is not None:
            ax.set_title(f"t={i + 1}: {i * step_ms:.0f}–{(i + 1) * step_ms:.0f} ms\n{n} events", fontsize="x-small")
        else:
            ax.set_title(f"t={i + 1}\n{n} events", fontsize="x-small")
    fig.suptitle(title or f"{T} compressed frames" + (" (ON+OFF merged; darker = more events)" if f.shape[1] == 1 else ""),
                 fontsize="small")
    if f.shape[1] == 2:
        _polarity_legend(fig)
    return _save(fig, path, dpi)


@renamed_keyword("n_time_steps", "T")
def plot_event_rate(
    events: np.ndarray,
    path: str | Path,
    *,
    bin_ms: float = 5.0,
    T: int | None = None,
    figsize: tuple[float, float] = (6.0, 3.0),
    dpi: int = 100,
    title: str | None = None,
) -> Path:
    """ON and OFF event rate (events/ms) of a recording over time (ms from its first event).

    ``T``: draw the edges of the ``T`` STC time steps (dashed) over the window (``n_time_steps=``:
    deprecated name, one release).
    """
    w_in, h_in = _check_size(figsize, dpi)
    if bin_ms <= 0:
        raise InvalidParameterError(f"bin_ms must be > 0, got {bin_ms}")
    ev = validate_events(events)
    if len(ev) == 0:
        raise EmptyRecordingError("the recording holds no events")
    t_ms = (ev["t"] - ev["t"][0]) / 1000.0
    dur = float(t_ms[-1])
    edges = np.arange(0.0, dur + bin_ms, bin_ms)
    if len(edges) < 2:
        edges = np.array([0.0, bin_ms])
    centres = 0.5 * (edges[:-1] + edges[1:])
    fig = _figure(w_in, h_in)
    ax = fig.subplots()
    p = ev["p"]
    for value, color, name in ((1, ON_COLOR, "ON"), (0, OFF_COLOR, "OFF")):
        counts, _ = np.histogram(t_ms[p == value], bins=edges)
        ax.plot(centres, counts / bin_ms, color=color, lw=1.2, label=f"{name} ({int((p == value).sum())} events)")
    if T:
        for k in range(T + 1):
            ax.axvline(dur * k / T, color="0.5", ls="--", lw=0.8,
                       label=f"STC step edges (T={T})" if k == 0 else None)
    ax.set_xlabel("time since first event (ms)")
    ax.set_ylabel("event rate (events/ms)")
    ax.set_xlim(0, max(dur, bin_ms))
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="x-small", loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    fig.suptitle(title or f"event rate ({len(ev)} events, {dur:.0f} ms, {bin_ms:g} ms bins)", fontsize="small")
    fig.tight_layout()
    return _save(fig, path, dpi)


# ---------------------------------------------------------------------------------------------
# network activity


@dataclass
class ActivityRecord:
    """What a network did on one input, step by step.

    Attributes:
        layers: names of the spiking layers, in forward order.
        spikes: layer -> spikes ``[T, N]`` (float; graded counts 0..K for MT-LIF), ``N`` = the
            layer's neurons (channels × positions) for the one sample.
        membrane: layer -> membrane potential after each step (after the reset) ``[T, N]``.
        thresholds: layer -> ``(theta, K)``: first threshold and number of thresholds.
        output: the network output ``[T, n_classes]``.
        shapes: layer -> the per-sample neuron shape ``(C, H, W)`` or ``(C,)``.
    """

    layers: list[str]
    spikes: dict[str, np.ndarray]
    membrane: dict[str, np.ndarray]
    thresholds: dict[str, tuple[float, int]]
    output: np.ndarray
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def T(self) -> int:
        return int(self.output.shape[0])

    def rates(self) -> dict[str, np.ndarray]:
        """layer -> mean spikes per neuron at each step ``[T]``."""
        return {n: s.mean(axis=1) for n, s in self.spikes.items()}

    @property
    def prediction(self) -> int:
        """Predicted class: argmax of the mean output over T."""
        return int(self.output.mean(axis=0).argmax())


@torch.no_grad()
def record_activity(model: nn.Module, frames: np.ndarray | torch.Tensor) -> ActivityRecord:
    """Run ``model`` on one sample ``frames [T, P, H, W]`` one time step at a time.

    The model is reset (``reset_net``), then called with ``x[t:t+1]`` (``[1, 1, P, H, W]``) for
    each step; neuron state persists between the calls, so this gives exactly the multi-step
    output while exposing each layer's membrane ``v`` after every step. Works for the eventsnn
    presets (MT-LIF) and the SpikingJelly ``plif`` preset. The model is reset again at the end.
    """
    from spikingjelly.activation_based import functional as sj_functional

    from eventsnn.nn import spike_layers

    x = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.asarray(frames, dtype=np.float32))
    if x.ndim != 4:
        raise InvalidParameterError(f"expected frames [T, P, H, W] of one sample, got shape {tuple(x.shape)}")
    layers = spike_layers(model)
    if not layers:
        raise InvalidParameterError("the model has no spiking layers (MTLIF, SpikingJelly or other "
                                    "registered neurons)")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = x.to(device=device, dtype=torch.float32)
    was_training = model.training
    model.eval()
    captured: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, n=n: captured.__setitem__(n, out.detach()))
             for n, m in layers]
    spikes: dict[str, list[np.ndarray]] = {n: [] for n, _ in layers}
    membrane: dict[str, list[np.ndarray]] = {n: [] for n, _ in layers}
    shapes: dict[str, tuple[int, ...]] = {}
    outputs = []
    sj_functional.reset_net(model)
    try:
        for t in range(x.shape[0]):
            captured.clear()
            out = model(x[t:t + 1].unsqueeze(1))  # [1, 1, P, H, W] -> [1, 1, n_classes]
            outputs.append(out.reshape(-1).float().cpu().numpy())
            for n, m in layers:
                s = captured[n]
                shapes[n] = tuple(s.shape[2:])
                spikes[n].append(s.reshape(-1).float().cpu().numpy())
                v = m.v
                v = v if isinstance(v, torch.Tensor) else torch.full_like(s, float(v))
                membrane[n].append(v.reshape(-1).float().cpu().numpy())
    finally:
        for h in hooks:
            h.remove()
        sj_functional.reset_net(model)
        model.train(was_training)
    names = [n for n, _ in layers]
    return ActivityRecord(
        layers=names,
        spikes={n: np.stack(spikes[n]) for n in names},
        membrane={n: np.stack(membrane[n]) for n in names},
        thresholds={n: (d.v_threshold, d.n_thresholds) for n, d in _dynamics_per_layer(model).items()},
        output=np.stack(outputs),
        shapes=shapes,
    )


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
    w_in, h_in = _check_size(figsize, dpi)
    fig = _figure(w_in, h_in)
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
    return _save(fig, path, dpi)


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
    w_in, h_in = _check_size(figsize, dpi)
    fig = _figure(w_in, h_in)
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
    return _save(fig, path, dpi)


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
    w_in, h_in = _check_size(figsize, dpi)
    layer = layer or record.layers[0]
    if layer not in record.membrane:
        raise InvalidParameterError(f"no spiking layer {layer!r}; layers: {record.layers}")
    v, s = record.membrane[layer], record.spikes[layer]
    theta, K = record.thresholds[layer]
    picks = np.argsort(-s.sum(axis=0) - 1e-6 * np.abs(v).sum(axis=0), kind="stable")[:n_neurons]
    steps = np.arange(1, record.T + 1)
    fig = _figure(w_in, h_in)
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
    return _save(fig, path, dpi)


def tau_per_layer(model: nn.Module) -> dict[str, np.ndarray]:
    """layer -> membrane time constant(s) τ (time steps), one value or one per channel, for every
    leaky spiking layer (MT-LIF and SpikingJelly (parametric) LIF: ``1/sigmoid(w)`` or the fixed
    ``tau``; whatever :func:`eventsnn.nn.neuron_dynamics` reports)."""
    out: dict[str, np.ndarray] = {}
    for name, d in _dynamics_per_layer(model).items():
        if d.tau is not None:
            out[name] = np.atleast_1d(d.tau.numpy().astype(np.float64))
    return out


def _dynamics_per_layer(model: nn.Module) -> dict[str, NeuronDynamics]:
    """layer -> :class:`eventsnn.nn.NeuronDynamics` of every spiking layer."""
    from eventsnn.nn import neuron_dynamics, spike_layers

    return {name: neuron_dynamics(m) for name, m in spike_layers(model)}


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
    w_in, h_in = _check_size(figsize, dpi)
    taus = tau_per_layer(model)
    if not taus:
        raise InvalidParameterError("the model has no LIF layers with a time constant τ")
    names = list(taus)
    init = {n: d.init_tau for n, d in _dynamics_per_layer(model).items() if d.init_tau is not None}
    fig = _figure(w_in, h_in)
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
    return _save(fig, path, dpi)
