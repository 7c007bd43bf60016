"""Pictures of recordings (``events``: structured array ``x, y, t, p``, ``t`` in µs;
``sensor_size = (W, H, P)``):

- :func:`animate_recording`: the recording as an animation of fixed-duration frames (GIF through
  matplotlib's ``PillowWriter``; MP4 through ``FFMpegWriter`` when ffmpeg is installed);
- :func:`plot_frames`: the ``T`` STC frames ``[T, P, H, W]`` side by side, ON events red and OFF
  events blue on white;
- :func:`plot_event_rate`: ON/OFF event rate over time (events/ms), with the STC step edges.

Figures are drawn with Agg through the object-oriented API (:mod:`eventsnn.viz.figure`). Every
function writes one file (atomically) and returns its path; the image is exactly
``figsize[0] * dpi`` × ``figsize[1] * dpi`` pixels (no tight bounding box), so sizes are
predictable.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib import animation
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from eventsnn._deprecation import renamed_keyword
from eventsnn.errors import EmptyRecordingError, InvalidParameterError
from eventsnn.events import SensorSize, validate_events
from eventsnn.functional.stc import stc_numpy
from eventsnn.outputs import atomic_path
from eventsnn.viz.figure import check_size, new_figure, save

__all__ = ["ON_COLOR", "OFF_COLOR", "frames_to_rgb", "animate_recording", "plot_frames", "plot_event_rate"]

ON_COLOR = "#d62728"  # red: ON (brighter)
OFF_COLOR = "#1f5fbf"  # blue: OFF (darker)
_ON_RGB = np.array(matplotlib.colors.to_rgb(ON_COLOR))
_OFF_RGB = np.array(matplotlib.colors.to_rgb(OFF_COLOR))


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
    w_in, h_in = check_size(figsize, dpi)
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
    fig = new_figure((w_in, h_in))
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
    with atomic_path(path) as tmp:
        anim.save(str(tmp), writer=writer, dpi=dpi, savefig_kwargs={"facecolor": "white"})
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
    w_in, h_in = check_size(figsize, dpi)
    rgb = frames_to_rgb(f)
    fig = new_figure((w_in, h_in))
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
    return save(fig, path, dpi)


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
    w_in, h_in = check_size(figsize, dpi)
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
    fig = new_figure((w_in, h_in))
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
    return save(fig, path, dpi)
