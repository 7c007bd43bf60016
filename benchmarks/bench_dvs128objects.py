"""DVS128Objects across recording sessions: eventsnn's recipe against SpikingJelly's PLIF recipe.

Both methods train through the public API (:class:`eventsnn.train.TrainConfig` + :func:`train`)
on the same 300 ms windows of the same recordings with their own recipe:

- ``eventsnn``: ``eventsnn train --dataset dvs128objects --T n`` (recipe ``dvs128objects-Tn``);
- ``plif``: ``eventsnn train --dataset dvs128objects --recipe plif --T n``: SpikingJelly's PLIF
  reference (two Conv64-BN-PLIF-MaxPool blocks, voting layer, MSE on the voting rates, Adam 1e-3,
  cosine, batch 16, 15 epochs, no augmentation) on summed frames of the raw windows down-sampled
  4x (= Tonic ``Downsample(1/4)`` + ``ToFrame(n_time_bins=T)``, see ``--check-frames``).

Training windows: every 50 ms (both methods, the dataset's default); test windows: consecutive,
non-overlapping 300 ms. The model reported is the one after the last epoch (no selection on the
test windows). Protocols (recordings are never split):

- ``A``: train session DataSet2 (7 recordings, 7 classes), test session DataSet (box, mouse x2,
  scissors): ``--val-split session:DataSet``;
- ``B``: train session DataSet (box, mouse, scissors), test the recordings of those classes in
  DataSet2: ``--val-split session:DataSet2 --dataset-option classes=box,mouse,scissors``;
- stress: each protocol-A model on synthetic session shifts of its test recordings (whole
  recordings changed before the filter and the windows: moved, scaled, mirrored, noisier, hot
  pixels, half the events, half / twice the speed, polarity swapped; camera rotations reported
  apart), made with Tonic's transforms and :func:`eventsnn.functional.events.normalize_position`.
  They stand in for the held-back third session, which we cannot measure here.

Accuracy per window and per recording (majority vote over its windows); training CPU-seconds
(``cpu_s`` of the run: data, training and the per-epoch validation, one torch thread).

``--ablation``: the settings table at T = 1: the eventsnn recipe with one ingredient removed per
row (each with its ``eventsnn train`` command), on A, B and the stress mean.

``--loro``: leave one recording out over the 11 recordings of both sessions (eventsnn at T = 1
unless ``--methods`` / ``--T`` say otherwise): per fold ``--val-split recording:ID``, the held-out
recording's window accuracy, whether its majority vote is right, and training CPU-seconds. A
class with a single recording (box_cutter, cellphone, mech_pencil, mug) is absent from training
when that recording is left out: those folds are reported apart, and the mean is given over the
folds whose class is in training too.

Usage::

    python benchmarks/bench_dvs128objects.py --threads 1                # ~40 min CPU
    python benchmarks/bench_dvs128objects.py --ablation --threads 1     # ~15 min CPU
    python benchmarks/bench_dvs128objects.py --loro --threads 1         # ~10 min CPU
    python benchmarks/bench_dvs128objects.py --quick                    # smoke run (~1 min)

Writes ``benchmarks/results/dvs128objects.{json,csv,png}`` (``dvs128objects_settings.*`` for
``--ablation``, ``dvs128objects_loro.*`` for ``--loro``; ``*_quick.*`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import platform
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tonic.transforms as tt
import torch

from eventsnn.datasets import selection_frames
from eventsnn.datasets.dvs128objects import DVS128Objects
from eventsnn.datasets.slicing import SlicedRecordings, TimeWindows
from eventsnn.functional.events import normalize_position
from eventsnn.outputs import write_csv, write_json
from eventsnn.train import TrainConfig, evaluate, evaluate_checkpoint, train
from eventsnn.transforms import STC, window_preprocessing
from eventsnn.viz import new_figure, save

RESULTS = Path(__file__).resolve().parent / "results"
SENSOR = DVS128Objects.sensor_size
SHARED = "box,mouse,scissors"  # the classes both shared sessions have
PROTOCOLS: dict[str, dict[str, Any]] = {
    "A": {"val_split": "session:DataSet", "dataset_options": {}, "train": "DataSet2", "test": "DataSet"},
    "B": {"val_split": "session:DataSet2", "dataset_options": {"classes": SHARED}, "train": "DataSet",
          "test": f"DataSet2 ({SHARED})"},
}
METHODS = {"eventsnn": "auto", "plif": "plif"}


def protocol_spec(protocol: str) -> dict[str, Any]:
    """A protocol of :data:`PROTOCOLS`, or a recording id: leave that one recording out."""
    if protocol in PROTOCOLS:
        return PROTOCOLS[protocol]
    return {"val_split": f"recording:{protocol}", "dataset_options": {}, "train": f"all but {protocol}",
            "test": protocol}


# ------------------------------------------------------------------------------------------------
# synthetic session shifts of whole recordings


@dataclass(frozen=True)
class Seeded:
    """A Tonic transform with NumPy's global generator (which Tonic draws from) seeded first."""

    transform: Callable[[np.ndarray], np.ndarray]
    seed: int = 0

    def __call__(self, events: np.ndarray) -> np.ndarray:
        np.random.seed(self.seed)
        return self.transform(events)


@dataclass(frozen=True)
class HotPixels:
    """``n_pixels`` random pixels firing ``rate_hz`` events/s each (random polarity) over the
    recording (Tonic has no hot-pixel transform)."""

    n_pixels: int = 8
    rate_hz: float = 300.0
    seed: int = 1

    def __call__(self, events: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        t0, t1 = int(events["t"][0]), int(events["t"][-1]) + 1
        k = int(self.rate_hz * (t1 - t0) / 1e6)
        hot = np.zeros(self.n_pixels * k, dtype=events.dtype)
        xy = rng.integers(0, SENSOR[0], (self.n_pixels, 2))
        hot["x"], hot["y"] = np.repeat(xy[:, 0], k), np.repeat(xy[:, 1], k)
        hot["t"], hot["p"] = rng.integers(t0, t1, len(hot)), rng.integers(0, 2, len(hot))
        out = np.concatenate([events, hot])
        return out[np.argsort(out["t"], kind="stable")]


def _similarity(scale: float = 1.0, degrees: float = 0.0, dx: float = 0.0, dy: float = 0.0,
                mirror: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """Move the events about the sensor centre (nearest pixel; events off the sensor dropped)."""
    return functools.partial(normalize_position, sensor_size=SENSOR, mode="none",
                             similarity=(scale, math.radians(degrees), dx, dy, mirror))


def _noise(rate_hz: float) -> Callable[[np.ndarray], np.ndarray]:
    def add(events: np.ndarray) -> np.ndarray:
        n = int(rate_hz * (int(events["t"][-1]) - int(events["t"][0])) / 1e6)
        return Seeded(tt.UniformNoise(SENSOR, n=n), seed=0)(events)
    return add


#: the shifts averaged into "stress mean" (those of the research behind the recipe, stress.py)
STRESS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "scale0.7": ("object 0.7x as large (farther away)", _similarity(scale=0.7)),
    "scale1.4": ("object 1.4x as large (closer)", _similarity(scale=1.4)),
    "shift": ("held elsewhere: moved +22, -18 px", _similarity(dx=22, dy=-18)),
    "mirror": ("mirror image (Tonic RandomFlipLR p=1)", tt.RandomFlipLR(SENSOR, p=1.0)),
    "noise": ("+10 kHz uniform noise (Tonic UniformNoise)", _noise(10_000)),
    "hot": ("8 hot pixels at 300 Hz", HotPixels()),
    "thin0.5": ("half the events (Tonic DropEvent p=0.5)", Seeded(tt.DropEvent(p=0.5), seed=2)),
    "slow2": ("half the speed (Tonic TimeSkew x2)", tt.TimeSkew(coefficient=2.0)),
    "fast2": ("twice the speed (Tonic TimeSkew x0.5)", tt.TimeSkew(coefficient=0.5)),
    "polarity": ("ON and OFF swapped (Tonic RandomFlipPolarity p=1)", tt.RandomFlipPolarity(p=1.0)),
}
#: camera mounted turned: reported, not in the mean
ROTATIONS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "rot30": ("camera turned 30 deg", _similarity(degrees=30)),
    "rot90": ("camera turned 90 deg", _similarity(degrees=90)),
}


def stressed_windows(root: str | None, session: str, options: dict[str, Any],
                     stress: Callable[[np.ndarray], np.ndarray]) -> SlicedRecordings:
    """The test windows of ``session`` after ``stress`` changed each whole recording, then the
    run's own preprocessing (``options``: its dataset options; filter, windows, normalisation)."""
    source = DVS128Objects(root, sessions=[session], classes=options.get("classes", "all"))
    denoise, norm = window_preprocessing(source.sensor_size, int(options["denoise_us"]), str(options["normalize"]),
                                         float(options["target_spread"]))
    steps = [stress] + ([denoise] if denoise is not None else [])
    return SlicedRecordings(source, TimeWindows(int(options["window_us"])), recording_transform=tt.Compose(steps),
                            window_transform=norm, cache_size=len(source))


def stress_rows(model: torch.nn.Module, stc: STC, root: str | None, session: str, options: dict[str, Any],
                names: list[str]) -> list[dict[str, Any]]:
    """Window and majority-vote accuracy of ``model`` on each stressed copy of the test session."""
    rows = []
    for name in names:
        what, fn = {**STRESS, **ROTATIONS}[name]
        ds = stressed_windows(root, session, options, fn)
        frames = selection_frames(ds, np.arange(len(ds)), stc)
        r = evaluate(model, frames, list(ds.classes), recordings=ds.recording_ids)
        rows.append({"stress": name, "what": what, "accuracy": r.accuracy, "n": r.n,
                     "correct": int(round(r.accuracy * r.n)), "recording_accuracy": r.recording_accuracy,
                     "votes_ok": sum(x["correct"] for x in r.recordings or []), "n_recordings": len(r.recordings or [])})
    return rows


# ------------------------------------------------------------------------------------------------
# runs


def train_command(cfg: TrainConfig) -> str:
    """The ``eventsnn train`` command line of the fields a benchmark run sets."""
    parts = ["eventsnn", "train", "--dataset", str(cfg.dataset)]
    if cfg.recipe != "auto":
        parts += ["--recipe", cfg.recipe]
    parts += ["--T", str(cfg.T), "--val-split", cfg.val_split]
    parts += [f"--dataset-option={k}={v}" for k, v in cfg.dataset_options.items()]
    flags = {"event_augment": "--event-augment", "epochs": "--epochs", "limit": "--limit",
             "label_smoothing": "--label-smoothing"}
    parts += [x for k, f in flags.items() if getattr(cfg, k) is not None for x in (f, str(getattr(cfg, k)))]
    if cfg.balance is not None:
        parts.append("--balance" if cfg.balance else "--no-balance")
    for key, value in cfg.model.items():
        if key == "channels":
            parts += ["--channels", *map(str, value)]
        elif key in ("n_thresholds", "scb"):
            parts += ["--K" if key == "n_thresholds" else "--scb", str(value)]
        else:
            parts += ["--model-arg", f"{key}={value}"]
    parts += ["--threads", str(cfg.threads), "--out", cfg.out]
    return " ".join(shlex.quote(p) for p in parts)


def run_one(label: str, protocol: str, T: int, recipe: str, args: argparse.Namespace, stresses: list[str],
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train one model on a protocol, evaluate its last epoch on the test session (and the
    stressed copies of it for protocol A)."""
    p = protocol_spec(protocol)
    extra = dict(extra or {})
    options = {**p["dataset_options"], **extra.pop("dataset_options", {})}
    cfg = TrainConfig(out=str(Path(args.runs) / f"{label}_{protocol.replace('/', '-')}_T{T}"), dataset="dvs128objects", root=args.root,
                      recipe=recipe, T=T, val_split=p["val_split"], dataset_options=options, threads=args.threads,
                      progress=False, overwrite=True, seed=args.seed, **extra)
    if args.quick:
        cfg.epochs, cfg.limit = 1, 240
    command = train_command(cfg)
    print(f"== {label} protocol {protocol} T={T}: {command}", flush=True)
    res = train(cfg)
    c0 = time.process_time()
    ev = evaluate_checkpoint(res.last_checkpoint, split="val")
    row = {
        "method": label, "protocol": protocol, "T": T, "recipe": res.config.recipe, "train": p["train"],
        "test": p["test"], "accuracy": ev.accuracy, "n": ev.n, "correct": int(round(ev.accuracy * ev.n)),
        "recording_accuracy": ev.recording_accuracy, "votes_ok": sum(r["correct"] for r in ev.recordings or []),
        "n_recordings": len(ev.recordings or []), "recordings": ev.recordings,
        "train_acc_last": res.final["train_acc"], "train_cpu_s": round(float(res.final["cpu_s"]), 1),
        "epochs": res.config.epochs, "last_epoch_model": True, "command": command,
        "config": res.config.to_dict(),
    }
    if protocol == "A" and stresses:
        session = p["val_split"].partition(":")[2]
        row["stress"] = stress_rows(res.model, res.config.stc(), args.root, session, res.config.dataset_options,
                                    stresses)
        in_mean = [s["accuracy"] for s in row["stress"] if s["stress"] in STRESS]
        row["stress_mean"] = float(np.mean(in_mean)) if in_mean else None
        worst = min((s for s in row["stress"] if s["stress"] in STRESS), key=lambda s: s["accuracy"], default=None)
        row["stress_worst"] = None if worst is None else f"{100 * worst['accuracy']:.0f}% {worst['stress']}"
    row["eval_cpu_s"] = round(time.process_time() - c0, 1)
    print(f"=> {label} {protocol} T={T}: {row['correct']}/{row['n']} = {100 * row['accuracy']:.1f}% windows, "
          f"votes {row['votes_ok']}/{row['n_recordings']}, train {row['train_cpu_s']} CPU-s"
          + (f", stress mean {100 * row['stress_mean']:.1f}% (worst {row['stress_worst']})"
             if row.get("stress_mean") is not None else ""), flush=True)
    return row


#: the settings table: the recipe with one ingredient removed (TrainConfig fields)
ABLATION: dict[str, tuple[str, dict[str, Any]]] = {
    "recipe": ("the dvs128objects-T1 recipe", {}),
    "no_normalisation": ("no position/size/orientation normalisation", {"dataset_options": {"normalize": "none"}}),
    "no_rotation": ("normalise position and size only (normalize=scale)", {"dataset_options": {"normalize": "scale"}}),
    "no_denoise": ("no background-activity filter", {"dataset_options": {"denoise_us": 0}}),
    "no_event_aug": ("no event augmentation (nor start jitter)", {"event_augment": "none"}),
    "no_balance": ("no class balancing", {"balance": False}),
    "stride300": ("training windows every 300 ms (no overlap)", {"dataset_options": {"train_stride_us": 300_000}}),
    "jitter_only": ("event augmentation: start jitter only", {"event_augment": "jitter"}),
    "K1": ("K = 1 threshold (plain LIF spikes)", {"model": {"n_thresholds": 1}}),
    "scb_none": ("no synaptic current block", {"model": {"scb": "none"}}),
    "no_smoothing": ("no label smoothing", {"label_smoothing": 0.0}),
}


# ------------------------------------------------------------------------------------------------
# outputs


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def flat_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One CSV row per (method, protocol or stress, T)."""
    out = []
    for r in rows:
        base = {"method": r["method"], "T": r["T"], "train_cpu_s": r["train_cpu_s"], "command": r["command"]}
        out.append({**base, "condition": r["protocol"], "accuracy": r["accuracy"], "correct": r["correct"],
                    "n": r["n"], "votes_ok": r["votes_ok"], "n_recordings": r["n_recordings"]})
        for s in r.get("stress", []):
            out.append({**base, "condition": f"A@{s['stress']}", "accuracy": s["accuracy"], "correct": s["correct"],
                        "n": s["n"], "votes_ok": s["votes_ok"], "n_recordings": s["n_recordings"]})
    return out


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Grouped bars: accuracy per condition (A, B, stress mean, each stress) for each method x T."""
    conds = ["A", "B", "stress mean", *STRESS, *ROTATIONS]
    series: dict[str, dict[str, float]] = {}
    for r in _method_order(rows):
        key = f"{r['method']} T={r['T']}"
        s = series.setdefault(key, {})
        s[r["protocol"]] = r["accuracy"]
        if r.get("stress_mean") is not None:
            s["stress mean"] = r["stress_mean"]
        for st in r.get("stress", []):
            s[st["stress"]] = st["accuracy"]
    conds = [c for c in conds if any(c in s for s in series.values())]
    fig = new_figure((max(8.0, 0.75 * len(conds) + 2.5), 4.6))
    ax = fig.subplots()
    width = 0.8 / max(1, len(series))
    cmaps = {"eventsnn": "Blues", "plif": "Oranges"}
    for k, (key, s) in enumerate(series.items()):
        method, T = key.split(" T=")
        cmap = matplotlib_cmap(cmaps.get(method, "Greys"))
        shade = 0.45 + 0.5 * (math.log2(int(T)) / 2 if int(T) > 0 else 0)
        xs = [i + (k - (len(series) - 1) / 2) * width for i, c in enumerate(conds) if c in s]
        ys = [100 * s[c] for c in conds if c in s]
        ax.bar(xs, ys, width, label=key, color=cmap(min(shade, 0.95)), edgecolor="black", linewidth=0.3)
    ax.set_xticks(range(len(conds)), [("A@" + c if c in STRESS or c in ROTATIONS else c) for c in conds],
                  rotation=35, ha="right", fontsize=8)
    ax.axvline(2.5, color="grey", lw=0.6, ls=":")
    return finish_bars(fig, ax, "window accuracy (%)", 105, title, path)


def finish_bars(fig, ax, ylabel: str, top: float, title: str, path: Path) -> Path:  # noqa: ANN001 (matplotlib)
    """Label, grid and legend (right of the axes) of a vertical bar chart; save it."""
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, top)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return save(fig, path, 150)


def matplotlib_cmap(name: str):  # noqa: ANN201 (matplotlib type)
    import matplotlib

    return matplotlib.colormaps[name]


def plot_ablation(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Horizontal bars per setting: A, B and stress mean at T = 1."""
    fig = new_figure((7.5, 0.45 * len(rows) + 1.5))
    ax = fig.subplots()
    names = [r["setting"] for r in rows]
    for j, (key, label) in enumerate((("A", "A (DataSet2 -> DataSet)"), ("B", "B (DataSet -> DataSet2, 3 classes)"),
                                      ("stress_mean", "stress mean (A models)"))):
        ys = [i + (j - 1) * 0.27 for i in range(len(rows))]
        ax.barh(ys, [100 * (r[key] or 0) for r in rows], 0.27, label=label)
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 105)
    ax.set_xlabel("window accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)
    fig.tight_layout()
    return save(fig, path, 150)


def environment(args: argparse.Namespace, t0: float, c0: float) -> dict[str, Any]:
    return {"threads": args.threads, "seed": args.seed, "quick": args.quick, "cpu": platform.processor() or
            platform.machine(), "torch": torch.__version__, "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(time.process_time() - c0, 1), "model": "last epoch (no selection on the test windows)",
            "stress": {k: v[0] for k, v in {**STRESS, **ROTATIONS}.items()}}


def check_frames(root: str | None, T: int = 4, n: int = 20) -> float:
    """Largest difference between the PLIF recipe's frames (STC, sum, ratio 1, down-sampled 4x)
    and Tonic ``Downsample(1/4)`` + ``ToFrame(n_time_bins=T)`` over ``n`` raw test windows."""
    ds = stressed_windows(root, "DataSet", {"window_us": 300_000, "denoise_us": 0, "normalize": "none",
                                            "target_spread": 16.0}, lambda e: e)
    stc = STC(SENSOR, T, spatial_factor=4)
    small = (SENSOR[0] // 4, SENSOR[1] // 4, 2)
    worst = 0.0
    for i in np.linspace(0, len(ds) - 1, n).astype(int):
        ev = ds.read(int(i))
        ours = stc(ev)
        raw = np.zeros(len(ev), dtype=[("x", "<i8"), ("y", "<i8"), ("t", "<i8"), ("p", "<i8")])
        for f in raw.dtype.names:
            raw[f] = ev[f]
        ref = tt.ToFrame(small, n_time_bins=T)(tt.Downsample(spatial_factor=0.25)(raw)).astype(np.float32)
        diff = np.abs(ours - ref)
        worst = max(worst, float(diff.sum() / max(1.0, ref.sum())))
    return worst


def reused_recipe_runs(path: Path, seed: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The eventsnn T = 1 runs of protocols A and B of the side-by-side results at ``path``
    (the same runs as the ablation's "recipe" row: same settings and seed), if it has them."""
    if not path.exists():
        return None
    rows = json.loads(path.read_text())["rows"]
    found = {r["protocol"]: r for r in rows if r["method"] == "eventsnn" and r["T"] == 1 and r["config"]["seed"] == seed}
    if "A" not in found or "B" not in found:
        return None
    print("== ablation row 'recipe': the eventsnn T=1 runs of", path, flush=True)
    return found["A"], found["B"]


def ablation_row(name: str, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {"setting": name, "what": ABLATION[name][0], "A": a["accuracy"], "A_correct": a["correct"], "A_n": a["n"],
            "A_votes": f"{a['votes_ok']}/{a['n_recordings']}", "B": b["accuracy"], "B_correct": b["correct"],
            "B_n": b["n"], "B_votes": f"{b['votes_ok']}/{b['n_recordings']}", "stress_mean": a.get("stress_mean"),
            "stress_worst": a.get("stress_worst"), "train_cpu_s_A": a["train_cpu_s"], "train_cpu_s_B": b["train_cpu_s"],
            "command_A": a["command"], "command_B": b["command"], "runs": [a, b]}


def _method_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (list(METHODS).index(r["method"]) if r["method"] in METHODS else 99, r["T"]))


def markdown(rows: list[dict[str, Any]], ablation: bool) -> str:
    """The tables of the docs page from the result rows."""
    if ablation:
        lines = ["| setting (T = 1) | A: DataSet2 -> DataSet | B: DataSet -> DataSet2 (3 classes) | stress mean (A) | "
                 "worst stress | A@rot30 / rot90 | train CPU-s (A) | command (protocol A) |",
                 "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            rot = {s["stress"]: s["accuracy"] for s in r["runs"][0].get("stress", []) if s["stress"] in ROTATIONS}
            lines.append(f"| {r['setting']}: {r['what']} | {_pct(r['A'])} ({r['A_correct']}/{r['A_n']}) v{r['A_votes']} | "
                         f"{_pct(r['B'])} ({r['B_correct']}/{r['B_n']}) v{r['B_votes']} | {_pct(r['stress_mean'])} | "
                         f"{r['stress_worst']} | {' / '.join(_pct(rot.get(k)) for k in ROTATIONS)} | "
                         f"{r['train_cpu_s_A']:.0f} | `{r['command_A']}` |")
        return "\n".join(lines)
    rows = _method_order(rows)
    by = {(r["method"], r["protocol"], r["T"]): r for r in rows}
    Ts = sorted({r["T"] for r in rows})
    lines = ["| method | T | A: DataSet2 -> DataSet (windows, votes) | B: DataSet -> DataSet2, 3 classes | "
             "stress mean (A models) | worst stress | train CPU-s A / B |", "|---|---|---|---|---|---|---|"]
    for method in METHODS:
        for T in Ts:
            a, b = by.get((method, "A", T)), by.get((method, "B", T))
            if a is None and b is None:
                continue

            def cell(r: dict[str, Any] | None) -> str:
                return "not run" if r is None else (f"{_pct(r['accuracy'])} ({r['correct']}/{r['n']}), "
                                                    f"{r['votes_ok']}/{r['n_recordings']}")
            cpu = " / ".join("-" if r is None else f"{r['train_cpu_s']:.0f}" for r in (a, b))
            lines.append(f"| {method} | {T} | {cell(a)} | {cell(b)} | {_pct(a.get('stress_mean') if a else None)} | "
                         f"{(a or {}).get('stress_worst') or '-'} | {cpu} |")
    stress = [(k, r) for k in (*STRESS, *ROTATIONS) for r in rows if r["protocol"] == "A"
              and any(s["stress"] == k for s in r.get("stress", []))]
    if stress:
        heads = [f"{r['method']} T={r['T']}" for r in rows if r["protocol"] == "A" and r.get("stress")]
        lines += ["", "| protocol A test recordings ... | " + " | ".join(heads) + " |",
                  "|---|" + "---|" * len(heads)]
        lines.append("| unchanged | " + " | ".join(f"{_pct(r['accuracy'])} v{r['votes_ok']}/{r['n_recordings']}"
                                                   for r in rows if r["protocol"] == "A" and r.get("stress")) + " |")
        for k, (what, _) in {**STRESS, **ROTATIONS}.items():
            cells = []
            for r in rows:
                if r["protocol"] != "A" or not r.get("stress"):
                    continue
                s = next((s for s in r["stress"] if s["stress"] == k), None)
                cells.append("-" if s is None else f"{_pct(s['accuracy'])} v{s['votes_ok']}/{s['n_recordings']}")
            lines.append(f"| {k}: {what} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(out: Path, suffix: str, ablation: bool, quick: bool, seed: int) -> None:
    """CSV, PNG and the Markdown tables (printed) from the JSON results."""
    name = f"dvs128objects{'_settings' if ablation else ''}{suffix}"
    rows = json.loads((out / f"{name}.json").read_text())["rows"]
    if ablation:
        rows.sort(key=lambda r: list(ABLATION).index(r["setting"]))
        write_csv(out / f"{name}.csv", rows, [k for k in rows[0] if k != "runs"])
        plot_ablation(rows, out / f"{name}.png",
                      "DVS128Objects settings at T = 1 (eventsnn recipe, one ingredient removed per row; last epoch)")
    else:
        flat = flat_rows(rows)
        write_csv(out / f"{name}.csv", flat, list(flat[0]))
        plot(rows, out / f"{name}.png",
             "DVS128Objects across sessions. A: train DataSet2, test DataSet; B: train DataSet, test DataSet2\n"
             f"({SHARED}); A@x: A's test recordings shifted (last-epoch models, window accuracy, "
             f"{'quick smoke run' if quick else 'seed ' + str(seed)})")
    print(markdown(rows, ablation))


def run_ablation(args: argparse.Namespace, rows: list[dict[str, Any]], path: Path, stresses: list[str]) -> None:
    """The settings table: each row of :data:`ABLATION` not in ``rows`` on protocols A and B."""
    t0, c0 = time.perf_counter(), time.process_time()
    names = list(ABLATION) if args.settings == "all" else args.settings.split(",")
    for name in names[:2] if args.quick else names:
        if any(r["setting"] == name for r in rows):
            continue
        extra = ABLATION[name][1]
        side = path.with_name(path.name.replace("_settings", ""))
        same = reused_recipe_runs(side, args.seed) if name == "recipe" else None
        a, b = same or (run_one(f"ablation-{name}", "A", 1, "auto", args, stresses, extra),
                        run_one(f"ablation-{name}", "B", 1, "auto", args, [], extra))
        rows.append(ablation_row(name, a, b))
        write_json(path, {"rows": rows, "environment": environment(args, t0, c0)})


def run_side_by_side(args: argparse.Namespace, rows: list[dict[str, Any]], path: Path, stresses: list[str]) -> None:
    """Each (T, method, protocol) not in ``rows``."""
    t0, c0 = time.perf_counter(), time.process_time()
    for T in [int(t) for t in args.T.split(",")]:
        for method in args.methods.split(","):
            for protocol in args.protocols.split(","):
                if any((r["method"], r["protocol"], r["T"]) == (method, protocol, T) for r in rows):
                    continue
                rows.append(run_one(method, protocol, T, METHODS[method], args, stresses))
                write_json(path, {"rows": rows, "environment": environment(args, t0, c0)})


# ------------------------------------------------------------------------------------------------
# leave one recording out


def loro_folds(root: str | None) -> list[dict[str, Any]]:
    """One fold per recording of every session: its id, class, and whether another recording of
    its class is left to train on."""
    source = DVS128Objects(root)
    names = [source.classes[t] for t in source.targets]
    return [{"held_out": rid, "class": cls, "class_in_training": names.count(cls) > 1}
            for rid, cls in zip(source.recording_ids, names, strict=True)]


def loro_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (method, T): mean window accuracy and votes over the folds whose class is in training,
    and over all folds; the folds whose class is not."""
    out = []
    for method, T in sorted({(r["method"], r["T"]) for r in rows}, key=lambda k: (list(METHODS).index(k[0]), k[1])):
        mine = [r for r in rows if (r["method"], r["T"]) == (method, T)]
        seen = [r for r in mine if r["class_in_training"]]
        out.append({"method": method, "T": T, "folds": len(mine), "folds_class_in_training": len(seen),
                    "mean_accuracy_class_in_training": float(np.mean([r["accuracy"] for r in seen])) if seen else None,
                    "votes_ok_class_in_training": sum(r["vote_correct"] for r in seen),
                    "mean_accuracy_all": float(np.mean([r["accuracy"] for r in mine])),
                    "votes_ok_all": sum(r["vote_correct"] for r in mine),
                    "class_not_in_training": [r["held_out"] for r in mine if not r["class_in_training"]],
                    "train_cpu_s_total": round(sum(r["train_cpu_s"] for r in mine), 1)})
    return out


def run_loro(args: argparse.Namespace, rows: list[dict[str, Any]], path: Path) -> None:
    """Each (T, method, held-out recording) not in ``rows``."""
    t0, c0 = time.perf_counter(), time.process_time()
    folds = loro_folds(args.root)
    for T in [int(t) for t in args.T.split(",")]:
        for method in args.methods.split(","):
            for fold in folds[:2] if args.quick else folds:
                if any((r["method"], r["held_out"], r["T"]) == (method, fold["held_out"], T) for r in rows):
                    continue
                row = run_one(method, fold["held_out"], T, METHODS[method], args, [])
                row.update(fold, vote_correct=bool(row["votes_ok"]))
                rows.append(row)
                write_json(path, {"rows": rows, "summary": loro_summary(rows),
                                  "environment": environment(args, t0, c0)})


def _mark_absent_classes(ax, rows: list[dict[str, Any]], folds: list[str]) -> None:  # noqa: ANN001 (matplotlib)
    """Grey band and a note over the folds whose class has no other recording to train on."""
    absent = {r["held_out"] for r in rows if not r["class_in_training"]}
    for i, fold in enumerate(folds):
        if fold in absent:
            ax.axvspan(i - 0.45, i + 0.45, color="0.9", zorder=0)
            ax.text(i, 4, "class absent from training", rotation=90, ha="center", va="bottom", fontsize=7)


def plot_loro(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Bars per held-out recording (grey band, hatched: its class is absent from training), one series per
    method x T; a star where the majority vote is right; dashed: mean over the folds whose class
    is in training."""
    folds = list(dict.fromkeys(r["held_out"] for r in rows))
    series = {(r["method"], r["T"]) for r in rows}
    keys = sorted(series, key=lambda k: (list(METHODS).index(k[0]), k[1]))
    fig = new_figure((max(8.0, 0.7 * len(folds) + 3.0), 4.8))
    ax = fig.subplots()
    width = 0.8 / len(keys)
    for k, (method, T) in enumerate(keys):
        by = {r["held_out"]: r for r in rows if (r["method"], r["T"]) == (method, T)}
        color = matplotlib_cmap({"eventsnn": "Blues", "plif": "Oranges"}[method])(0.45 + 0.2 * k)
        for i, fold in enumerate(folds):
            r = by.get(fold)
            if r is None:
                continue
            x = i + (k - (len(keys) - 1) / 2) * width
            ax.bar(x, 100 * r["accuracy"], width, color=color, edgecolor="black", linewidth=0.3,
                   hatch=None if r["class_in_training"] else "//", label=f"{method} T={T}" if i == 0 else None)
            if r["vote_correct"]:
                ax.plot(x, 100 * r["accuracy"] + 3, marker="*", color="black", ms=6)
        seen = [r["accuracy"] for r in by.values() if r["class_in_training"]]
        if seen:
            ax.axhline(100 * float(np.mean(seen)), color=color, ls="--", lw=1,
                       label=f"mean, class in training ({100 * float(np.mean(seen)):.1f}%)")
    _mark_absent_classes(ax, rows, folds)
    ax.set_xticks(range(len(folds)), folds, rotation=35, ha="right", fontsize=7)
    return finish_bars(fig, ax, "held-out recording: window accuracy (%)", 110, title, path)


def markdown_loro(rows: list[dict[str, Any]], summary: list[dict[str, Any]]) -> str:
    """The leave-one-recording-out tables of the docs page: per fold, then the means."""
    keys = [(s["method"], s["T"]) for s in summary]
    by = {(r["method"], r["T"], r["held_out"]): r for r in rows}
    folds = list(dict.fromkeys(r["held_out"] for r in rows))
    fold_class = {r["held_out"]: r for r in rows}
    lines = ["| held-out recording | class in training | " + " | ".join(
        f"{m} T={T}: windows, vote, train CPU-s" for m, T in keys) + " |", "|---|---|" + "---|" * len(keys)]
    for fold in folds:
        cells = []
        for m, T in keys:
            r = by.get((m, T, fold))
            cells.append("not run" if r is None else f"{_pct(r['accuracy'])} ({r['correct']}/{r['n']}), "
                         f"{'right' if r['vote_correct'] else 'wrong'}, {r['train_cpu_s']:.0f}")
        lines.append(f"| {fold} | {'yes' if fold_class[fold]['class_in_training'] else 'no (single recording)'} | "
                     + " | ".join(cells) + " |")
    lines += ["", "| method | T | mean, class in training (folds) | votes right | mean, all folds | votes right, "
              "all | train CPU-s (all folds) |", "|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['method']} | {s['T']} | {_pct(s['mean_accuracy_class_in_training'])} "
                     f"({s['folds_class_in_training']}) | {s['votes_ok_class_in_training']}/"
                     f"{s['folds_class_in_training']} | {_pct(s['mean_accuracy_all'])} ({s['folds']}) | "
                     f"{s['votes_ok_all']}/{s['folds']} | {s['train_cpu_s_total']:.0f} |")
    return "\n".join(lines)


def report_loro(out: Path, suffix: str) -> None:
    """CSV, PNG and the Markdown tables (printed) of the leave-one-recording-out JSON."""
    name = f"dvs128objects_loro{suffix}"
    data = json.loads((out / f"{name}.json").read_text())
    rows, summary = data["rows"], loro_summary(data["rows"])
    fields = ["method", "T", "held_out", "class", "class_in_training", "accuracy", "correct", "n", "vote_correct",
              "train_acc_last", "train_cpu_s", "command"]
    write_csv(out / f"{name}.csv", [{k: r[k] for k in fields} for r in rows], fields)
    plot_loro(rows, out / f"{name}.png",
              f"DVS128Objects, leave one recording out ({len({r['held_out'] for r in rows})} folds, last-epoch "
              "models)\ngrey: the class has no other recording (absent from training); *: majority vote right")
    print(markdown_loro(rows, summary))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--T", default=None, help="comma list of T (default 1,2,4; --loro: 1)")
    ap.add_argument("--methods", default=None, help="comma list of methods (default eventsnn,plif; --loro: eventsnn)")
    ap.add_argument("--protocols", default="A,B")
    ap.add_argument("--stress", default="all", help="comma list of stress names, 'all' (+ rotations) or 'none'")
    ap.add_argument("--ablation", action="store_true", help="the settings table at T = 1 instead")
    ap.add_argument("--loro", action="store_true", help="leave one recording out over both sessions instead")
    ap.add_argument("--settings", default="all", help="--ablation: comma list of rows (default all)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 epoch, 240 windows, T = 1, two stresses "
                    "(--loro: two folds)")
    ap.add_argument("--report", action="store_true", help="only write the CSV/PNG and print the tables from the JSON")
    ap.add_argument("--append", action="store_true", help="add to the rows of the JSON there (runs not yet in it)")
    ap.add_argument("--root", default=None, help="data folder (default: the shared data folder)")
    ap.add_argument("--runs", default="runs/bench_dvs128objects", help="run folders (checkpoints)")
    ap.add_argument("--out", default=str(RESULTS), help="results folder")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check-frames", action="store_true", help="only compare PLIF's frames with Tonic's and exit")
    args = ap.parse_args(argv)
    args.T = "1" if args.quick or (args.loro and args.T is None) else (args.T or "1,2,4")
    args.methods = args.methods or ("eventsnn" if args.loro else "eventsnn,plif")
    torch.set_num_threads(args.threads)
    if args.check_frames:
        for T in (1, 2, 4):
            print(f"T={T}: largest |STC - Tonic| / Tonic events over 20 windows = {check_frames(args.root, T):.5f}")
        return 0
    return run_and_report(args, "_quick" if args.quick else "", Path(args.out))


def run_and_report(args: argparse.Namespace, suffix: str, out: Path) -> int:
    """Run what ``args`` ask for (unless ``--report``), then write CSV/PNG and print the tables."""
    kind = "_loro" if args.loro else "_settings" if args.ablation else ""
    path = out / f"dvs128objects{kind}{suffix}.json"
    if not args.report:
        rows = json.loads(path.read_text())["rows"] if args.append and path.exists() else []
        stresses = [] if args.stress == "none" else (list(STRESS) + list(ROTATIONS) if args.stress == "all"
                                                      else args.stress.split(","))
        if args.loro:
            run_loro(args, rows, path)
        else:
            (run_ablation if args.ablation else run_side_by_side)(args, rows, path,
                                                                  ["shift", "noise"] if args.quick else stresses)
    if args.loro:
        report_loro(out, suffix)
    else:
        report(out, suffix, args.ablation, args.quick, args.seed)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
