"""``eventsnn show``: pictures of one recording (and of a trained model on it).

Writes into ``--out``: ``recording.gif`` (animation), ``frames_T<T>.png`` (the T STC frames),
``event_rate.png``; with ``--model``: ``spike_rates.png``, ``spike_raster.png``,
``membrane.png`` and ``tau.png``.

Event files are read by :func:`eventsnn.io.read_events`. When a file does not state its sensor,
or its events do not fit the sensor its format implies (an N-MNIST ``.bin`` with x beyond 33),
the sensor is guessed from the coordinates and a one-line warning says so: the pictures are
still useful, and ``--sensor W H`` sets the sensor (refusing events off it). Every input is read
and checked before ``--out`` is created; a failure removes what this run wrote.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from eventsnn.cli._options import add_overwrite, output_dir, set_threads, warn
from eventsnn.datasets.registry import DATASETS
from eventsnn.errors import EmptyRecordingError, InvalidParameterError
from eventsnn.events import SensorSize
from eventsnn.io import EVENT_SUFFIXES, SensorSizeWarning, check_sensor_size, read_events

MODEL_PICTURES = ("spike_rates.png", "spike_raster.png", "membrane.png", "tau.png")


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
    p.add_argument("--sensor", type=int, nargs="+", default=None, metavar="N",
                   help="sensor of the event file: W H [P] (default: the file's or its format's; "
                   "guessed, with a warning, when the events do not fit it)")
    p.add_argument("--dataset", choices=list(DATASETS), default=None, help="take a sample of this dataset")
    p.add_argument("--index", type=int, default=0, help="sample index in the dataset split (default 0)")
    p.add_argument("--split", default=None,
                   help="dataset split (default train, or the dataset's only split, e.g. all for dvs128objects)")
    p.add_argument("--root", default=None, help="folder holding the dataset (default: shared data folder)")
    p.add_argument("--model", default=None, help="a checkpoint (.pt) written by eventsnn train")
    p.add_argument("--T", type=int, default=None,
                   help="time steps of the STC frames (default: the model's training T, else 4)")
    p.add_argument("--out", default="pictures", help="output folder (default pictures/)")
    p.add_argument("--dpi", type=int, default=100, help="dots per inch of the PNGs (default 100)")
    p.add_argument("--frame-ms", type=float, default=10.0, help="animation frame length in ms (default 10)")
    p.add_argument("--max-frames", type=int, default=100,
                   help="at most this many animation frames (longer frames for long recordings; default 100)")
    p.add_argument("--no-animation", action="store_true", help="skip the GIF")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    add_overwrite(p, "pictures")
    p.set_defaults(func=run)


def _check_options(args: argparse.Namespace) -> None:
    if (args.file is None) == (args.dataset is None):
        raise InvalidParameterError("give either an event file or --dataset NAME [--index i]")
    if args.sensor is not None and args.file is None:
        raise InvalidParameterError(f"--sensor is for event files; dataset {args.dataset} knows its sensor")
    for option, value, least in (("--T", args.T, 1), ("--dpi", args.dpi, 1), ("--max-frames", args.max_frames, 1)):
        if value is not None and value < least:
            raise InvalidParameterError(f"{option} must be >= {least}, got {value}")
    if not args.frame_ms > 0:
        raise InvalidParameterError(f"--frame-ms must be > 0, got {args.frame_ms}")


def _read_file(path: str, sensor: list[int] | None) -> tuple[np.ndarray, SensorSize]:
    """Read an event file; a guessed sensor becomes a one-line warning."""
    given = None if sensor is None else check_sensor_size(sensor, "--sensor")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SensorSizeWarning)
        events, sensor_size = read_events(path, given)
    for w in caught:
        if issubclass(w.category, SensorSizeWarning):
            warn("show", f"{w.message}; give --sensor W H to set the sensor (events off it are then refused)")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return events, sensor_size


def _recording(args: argparse.Namespace) -> tuple[np.ndarray, SensorSize, str, tuple[str, ...] | None]:
    """``(events with t from 0, sensor, title, the dataset's classes or None)``."""
    if args.file is not None:
        events, sensor = _read_file(args.file, args.sensor)
        label, classes = Path(args.file).name, None
    else:
        from eventsnn.datasets import dataset_spec, get_dataset

        splits = dataset_spec(args.dataset).splits
        args.split = args.split or ("train" if "train" in splits else splits[0])
        ds = get_dataset(args.dataset, args.root, args.split)
        if not 0 <= args.index < len(ds):
            raise InvalidParameterError(
                f"--index {args.index} out of range: {args.dataset} {args.split} has {len(ds)} samples")
        events, target = ds[args.index]
        if len(events) == 0:
            raise EmptyRecordingError(f"{ds.describe(args.index)}: holds no events")
        sensor, classes = tuple(ds.sensor_size), tuple(str(c) for c in ds.classes)
        name = classes[target] if target < len(classes) else str(target)
        label = f"{args.dataset} {args.split}[{args.index}], class {name}"
        if getattr(ds, "recording_ids", None) is not None:  # a window of a long recording
            label += f": {ds.describe(args.index)}"
    events = events.copy()
    events["t"] -= events["t"][0]
    return events, sensor, label, classes  # type: ignore[return-value]


def _load_model(path: str) -> tuple[Any, dict]:
    """The model of ``--model`` and its checkpoint info."""
    from eventsnn.checkpoints import read_checkpoint
    from eventsnn.train import load_model

    read_checkpoint(path, "snn-train", mmap=True)  # a clear error for an ANN / converted SNN file
    return load_model(path)


def run(args: argparse.Namespace) -> int:
    from eventsnn import viz
    from eventsnn.transforms import STC

    _check_options(args)
    set_threads(args.threads)
    events, sensor, label, classes = _recording(args)
    model = info = None
    stc = STC(sensor, args.T or 4)
    if args.model is not None:
        model, info = _load_model(args.model)
        if "stc" in info["config"]:  # the training settings, on this recording's sensor
            stc = STC.from_dict(info["config"]["stc"], sensor)
    T = args.T or stc.T
    stc = stc.with_T(T)
    frames = stc(events)
    if model is not None:
        from eventsnn.checkpoints import training_data_mismatch
        from eventsnn.nn import input_shape

        expect = input_shape(model.config)
        if tuple(frames.shape[1:]) != expect:
            raise InvalidParameterError(
                f"{args.model}: the model expects frames [T, {expect[0]}, {expect[1]}, {expect[2]}] but "
                f"{label} compresses to {list(frames.shape)} (sensor {sensor[0]}x{sensor[1]})"
            )
        mismatch = training_data_mismatch(info["config"], sensor, classes, args.dataset)
        if mismatch:  # it runs, but was trained on other recordings
            warn("show", f"{args.model}: {mismatch}")
    names = ([] if args.no_animation else ["recording.gif"]) + [f"frames_T{T}.png", "event_rate.png"]
    names += list(MODEL_PICTURES) if model is not None else []
    dur_ms = (int(events["t"][-1]) - int(events["t"][0]) + 1) / 1000.0
    step_ms = dur_ms / T
    written: list[Path] = []
    with output_dir(args.out, args.overwrite, names, "pictures") as out:
        try:
            if not args.no_animation:
                written.append(viz.animate_recording(events, sensor, out / "recording.gif", frame_ms=args.frame_ms,
                                                     max_frames=args.max_frames, title=label))
            written.append(viz.plot_frames(frames, out / f"frames_T{T}.png", step_ms=step_ms, dpi=args.dpi,
                                           title=f"{label}: {T} compressed frames"))
            written.append(viz.plot_event_rate(events, out / "event_rate.png", T=T, dpi=args.dpi,
                                               title=f"{label}: event rate"))
            if model is not None:
                pred = _show_model(viz, model, info, frames, out, label, step_ms, args.dpi, written)
                print(f"model {args.model}: predicted {pred} (T={T})")
        except BaseException:
            for p in written:  # a failed run leaves none of its pictures
                p.unlink(missing_ok=True)
            raise
    print(f"{label}: {len(events)} events, {dur_ms:.0f} ms, sensor {sensor[0]}x{sensor[1]}")
    for p in written:
        print(f"wrote {p}")
    return 0


def _show_model(viz: Any, model: Any, info: dict, frames: np.ndarray, out: Path, label: str,
                step_ms: float, dpi: int, written: list[Path]) -> str:
    """Write the model's pictures (appending to ``written``); returns the predicted class."""
    classes = info["config"].get("classes") or [str(i) for i in range(model.config["n_classes"])]
    rec = viz.record_activity(model, frames)
    pred = classes[rec.prediction] if rec.prediction < len(classes) else str(rec.prediction)
    what = f"{label} -> predicted {pred}"
    written.append(viz.plot_spike_rates(rec, out / "spike_rates.png", step_ms=step_ms, dpi=dpi,
                                        title=f"{what}: spike rate per layer"))
    written.append(viz.plot_spike_raster(rec, out / "spike_raster.png", dpi=dpi, title=f"{what}: spike raster"))
    written.append(viz.plot_membrane(rec, out / "membrane.png", dpi=dpi))
    written.append(viz.plot_tau(model, out / "tau.png", step_ms=step_ms, dpi=dpi))
    return str(pred)
