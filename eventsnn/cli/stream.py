"""``eventsnn stream``: classify a long recording as a live stream, a decision every few ms."""

from __future__ import annotations

import argparse
from pathlib import Path

from eventsnn.cli._options import add_overwrite, output_dir, set_threads
from eventsnn.errors import InvalidParameterError

#: files ``eventsnn stream`` writes into --out
STREAM_FILES = ("stream.json", "stream.csv", "stream.png")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stream",
        help="replay a long recording as if live and classify it continuously (a decision every --step-ms)",
        description="Replay RECORDING (any event file eventsnn reads) as a live stream, wall-clock "
        "paced (--realtime) or as fast as possible, run the model on it continuously and write the "
        "decision over time (stream.png with the true class, stream.csv), the compute time of each "
        "decision and the real-time factor (stream.json). --mode window (default): each decision is "
        "the model on the last window (as trained: exact, T network steps per decision); continuous: "
        "the network runs one step per decision on the last training step's events, never reset "
        "(T times cheaper, approximate).",
    )
    p.add_argument("recording", help="event file (.aedat, .aedat4, .npy, .bin, .bs2)")
    p.add_argument("--model", required=True, help="checkpoint written by eventsnn train (best.pt / last.pt)")
    p.add_argument("--label", default=None,
                   help="true class name (default: the recording's folder name when it is a class, e.g. "
                   "DVS128Objects/<session>/<class>/x.aedat; else unknown)")
    p.add_argument("--step-ms", type=float, default=10.0, help="a decision every STEP ms of sensor time (default 10)")
    p.add_argument("--mode", choices=["window", "continuous"], default="window",
                   help="how the model decides every step (default window: exact)")
    p.add_argument("--window-ms", type=float, default=None,
                   help="window length (default: the one the model was trained on)")
    p.add_argument("--realtime", action="store_true",
                   help="pace the replay by the wall clock (default: as fast as possible)")
    p.add_argument("--speed", type=float, default=1.0, help="--realtime: x real time (default 1)")
    p.add_argument("--out", default=None,
                   help="output folder (default: <checkpoint folder>/stream-<recording name>)")
    add_overwrite(p)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _microseconds(option: str, ms: float | None) -> int | None:
    if ms is None:
        return None
    us = round(float(ms) * 1000)
    if not us >= 1:
        raise InvalidParameterError(f"{option} must be > 0 (at least 0.001 ms), got {ms}")
    return int(us)


def _label(args: argparse.Namespace, classes: list[str]) -> int | None:
    if args.label is None:
        folder = Path(args.recording).parent.name
        return classes.index(folder) if folder in classes else None
    if args.label not in classes:
        raise InvalidParameterError(f"--label {args.label!r} is not a class of the model ({', '.join(classes)})")
    return classes.index(args.label)


def run(args: argparse.Namespace) -> int:
    from eventsnn.bench.replay import CSV_FIELDS, WindowPipeline, stream_recording

    step_us = _microseconds("--step-ms", args.step_ms)
    window_us = _microseconds("--window-ms", args.window_ms)
    if not args.speed > 0:
        raise InvalidParameterError(f"--speed must be > 0, got {args.speed}")
    set_threads(args.threads)
    if not Path(args.recording).is_file():
        raise FileNotFoundError(f"recording not found: {args.recording}")
    from eventsnn.io import read_events
    from eventsnn.outputs import write_csv, write_json
    from eventsnn.train.checkpoint import load_model
    from eventsnn.viz.stream import plot_stream

    model, info = load_model(args.model)
    pipeline = WindowPipeline.from_checkpoint(info, window_us)
    classes = [str(c) for c in info["config"]["classes"]]
    label = _label(args, classes)
    out = Path(args.out) if args.out else Path(args.model).resolve().parent / f"stream-{Path(args.recording).stem}"
    with output_dir(out, args.overwrite, STREAM_FILES):
        events, _ = read_events(args.recording, pipeline.stc.sensor_size)
        result = stream_recording(model, events, pipeline, classes, int(step_us or 0), args.mode, label,
                                  args.realtime, args.speed, progress=not args.no_progress)
        result.extra = {"recording": str(args.recording), "checkpoint": str(args.model), "threads": args.threads,
                        "realtime": bool(args.realtime)}
        write_json(out / "stream.json", {**result.summary(), "classes": classes})
        write_csv(out / "stream.csv", result.rows(), CSV_FIELDS)
        plot_stream(result, out / "stream.png", f"{Path(args.recording).name}: {result.mode} mode, a decision "
                    f"every {step_us / 1000:g} ms")
    s = result.summary()
    right = "" if s["accuracy"] is None else f", {100 * s['accuracy']:.1f}% right ({s['label']})"
    lag = "" if s["lag_ms_median"] is None else f", decision {s['lag_ms_median']:.2f} ms after its tick (median)"
    print(f"{Path(args.recording).name}: {s['ticks']} decisions ({args.mode} mode, every {step_us / 1000:g} ms){right}; "
          f"{s['step_ms_median']:.3f} ms per decision (median, p95 {s['step_ms_p95']:.3f}) = "
          f"{s['realtime_factor']:.1f}x real time on {args.threads} thread(s){lag}")
    print(f"saved {out / 'stream.json'}, {out / 'stream.csv'}, {out / 'stream.png'}")
    return 0
