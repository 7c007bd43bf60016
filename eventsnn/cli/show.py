"""``eventsnn show``: pictures of one recording (and of a trained model on it).

Writes into ``--out``: ``recording.gif`` (animation), ``frames_T<T>.png`` (the T STC frames),
``event_rate.png``; with ``--model``: ``spike_rates.png``, ``spike_raster.png``,
``membrane.png`` and ``tau.png``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from eventsnn.datasets.registry import DATASETS
from eventsnn.errors import (
    CorruptRecordingError,
    EmptyRecordingError,
    EventFormatError,
    InvalidParameterError,
)
from eventsnn.events import SensorSize, validate_events

EVENT_SUFFIXES = (".bin", ".bs2", ".aedat4", ".npy")


def infer_sensor_size(events: np.ndarray) -> SensorSize:
    """Smallest common sensor holding the events: 34×34 (N-MNIST), 128×128 (DVS128), 346×260
    (DAVIS346), 640×480, else the coordinate range; 2 polarities."""
    w, h = int(events["x"].max()) + 1, int(events["y"].max()) + 1
    for sw, sh in ((34, 34), (128, 128), (240, 180), (346, 260), (640, 480), (1280, 720)):
        if w <= sw and h <= sh:
            return (sw, sh, 2)
    return (w, h, 2)


def load_event_file(path: str | Path) -> tuple[np.ndarray, SensorSize]:
    """Read a recording from a file: N-MNIST ``.bin`` / SLAYER ``.bs2`` (40-bit events), AEDAT 4
    ``.aedat4``, or ``.npy`` (a structured array with fields x, y, t[µs], p, or a numeric
    ``[N, 4]`` array x, y, p, t[ms] as in Tonic's DVS Gesture files).

    Returns ``(events, sensor_size)``; ``sensor_size`` is inferred from the coordinates
    (:func:`infer_sensor_size`). Timestamps are shifted to start at 0 µs.

    Raises:
        FileNotFoundError, EventFormatError (unknown suffix), CorruptRecordingError,
        EmptyRecordingError.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"event file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".bin", ".bs2"):
        from eventsnn.events import read_bin_events

        events = read_bin_events(path)
    elif suffix == ".aedat4":
        from eventsnn.datasets.cifar10dvs import read_aedat4_events

        events = read_aedat4_events(path)
    elif suffix == ".npy":
        try:
            raw = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise CorruptRecordingError(f"{path}: cannot be read as a .npy array ({exc})") from exc
        if raw.dtype.names is not None:
            events = validate_events(raw, name=str(path))
        elif raw.ndim == 2 and raw.shape[1] == 4 and np.issubdtype(raw.dtype, np.number):
            ev = np.empty(len(raw), dtype=[("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
            ev["x"], ev["y"], ev["p"] = raw[:, 0], raw[:, 1], raw[:, 2]
            ev["t"] = np.round(raw[:, 3] * 1000)
            events = validate_events(ev, name=str(path))
        else:
            raise CorruptRecordingError(
                f"{path}: expected a structured array (x, y, t, p) or a numeric [N, 4] array "
                f"(x, y, p, t[ms]), got {raw.dtype} {raw.shape}"
            )
    else:
        raise EventFormatError(f"{path}: unknown event file type {suffix or '(no suffix)'!r}; "
                               f"use one of {', '.join(EVENT_SUFFIXES)}")
    if len(events) == 0:
        raise EmptyRecordingError(f"{path}: holds no events")
    events = events.copy()
    events["t"] -= events["t"][0]
    return events, infer_sensor_size(events)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "show",
        help="write pictures of a recording (and of a trained model on it)",
        description="Write an animation (GIF), the T compressed frames and the event rate of one "
        "recording - an event file or a dataset sample - and, with --model, the spike rates, "
        "spike raster, membrane potentials and learned time constants of a trained network on it.",
    )
    p.add_argument("file", nargs="?", default=None,
                   help=f"an event file ({', '.join(EVENT_SUFFIXES)}); or use --dataset/--index")
    p.add_argument("--dataset", choices=list(DATASETS), default=None, help="take a sample of this dataset")
    p.add_argument("--index", type=int, default=0, help="sample index in the dataset split (default 0)")
    p.add_argument("--split", default="train", help="dataset split (default train)")
    p.add_argument("--root", default=None, help="folder holding the dataset (default: shared data folder)")
    p.add_argument("--model", default=None, help="a checkpoint (.pt) written by eventsnn train")
    p.add_argument("--T", type=int, default=None,
                   help="time steps of the STC frames (default: the model's training T, else 4)")
    p.add_argument("--out", default="pictures", help="output folder (default pictures/)")
    p.add_argument("--dpi", type=int, default=100, help="dots per inch of the PNGs (default 100)")
    p.add_argument("--frame-ms", type=float, default=10.0, help="animation frame length in ms (default 10)")
    p.add_argument("--no-animation", action="store_true", help="skip the GIF")
    p.set_defaults(func=run)


def _recording(args: argparse.Namespace) -> tuple[np.ndarray, SensorSize, str]:
    if (args.file is None) == (args.dataset is None):
        raise InvalidParameterError("give either an event file or --dataset NAME [--index i]")
    if args.file is not None:
        events, sensor = load_event_file(args.file)
        return events, sensor, Path(args.file).name
    from eventsnn.datasets import get_dataset

    ds = get_dataset(args.dataset, args.root, args.split)
    if not 0 <= args.index < len(ds):
        raise InvalidParameterError(f"--index {args.index} out of range: {args.dataset} {args.split} has {len(ds)} samples")
    events, label = ds[args.index]
    if len(events) == 0:
        raise EmptyRecordingError(f"{ds.describe(args.index)}: holds no events")
    events = events.copy()
    events["t"] -= events["t"][0]
    name = ds.classes[label] if label < len(ds.classes) else str(label)
    return events, tuple(ds.sensor_size), f"{args.dataset} {args.split}[{args.index}], class {name}"


def run(args: argparse.Namespace) -> int:
    from eventsnn import viz
    from eventsnn.transforms import STC

    if args.T is not None and args.T < 1:
        raise InvalidParameterError(f"--T must be >= 1, got {args.T}")
    events, sensor, label = _recording(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = info = None
    stc = STC(sensor, args.T or 4)
    if args.model is not None:
        from eventsnn.train import load_model

        model, info = load_model(args.model)
        if "stc" in info["config"]:  # the training settings, on this recording's sensor
            stc = STC.from_dict(info["config"]["stc"], sensor)
    T = args.T or stc.T
    stc = stc.with_T(T)
    dur_ms = (int(events["t"][-1]) - int(events["t"][0]) + 1) / 1000.0
    step_ms = dur_ms / T
    written: list[Path] = []
    if not args.no_animation:
        written.append(viz.animate_recording(events, sensor, out / "recording.gif", frame_ms=args.frame_ms,
                                             title=label))
    frames = stc(events)
    written.append(viz.plot_frames(frames, out / f"frames_T{T}.png", step_ms=step_ms, dpi=args.dpi,
                                   title=f"{label}: {T} compressed frames"))
    written.append(viz.plot_event_rate(events, out / "event_rate.png", T=T, dpi=args.dpi,
                                       title=f"{label}: event rate"))
    if model is not None:
        from eventsnn.nn import input_shape

        expect = input_shape(model.config)
        if tuple(frames.shape[1:]) != expect:
            raise InvalidParameterError(
                f"{args.model}: the model expects frames [T, {expect[0]}, {expect[1]}, {expect[2]}] but "
                f"this recording compresses to {list(frames.shape)} (sensor {sensor[0]}x{sensor[1]})"
            )
        classes = info["config"].get("classes") or [str(i) for i in range(model.config["n_classes"])]
        rec = viz.record_activity(model, frames)
        pred = classes[rec.prediction] if rec.prediction < len(classes) else str(rec.prediction)
        what = f"{label} -> predicted {pred}"
        written.append(viz.plot_spike_rates(rec, out / "spike_rates.png", step_ms=step_ms, dpi=args.dpi,
                                            title=f"{what}: spike rate per layer"))
        written.append(viz.plot_spike_raster(rec, out / "spike_raster.png", dpi=args.dpi, title=f"{what}: spike raster"))
        written.append(viz.plot_membrane(rec, out / "membrane.png", dpi=args.dpi))
        written.append(viz.plot_tau(model, out / "tau.png", step_ms=step_ms, dpi=args.dpi))
        print(f"model {args.model}: predicted {pred} (T={T})")
    print(f"{label}: {len(events)} events, {dur_ms:.0f} ms, sensor {sensor[0]}x{sensor[1]}")
    for p in written:
        print(f"wrote {p}")
    return 0
