"""MT-LIF (eventsnn) vs SpikingJelly 2.0 ParametricLIFNode: forward+backward time and memory.

Same process, same input ``[T, B, C, H, W]``, CPU. For every neuron shape ``[B, C, H, W]`` and
time-step count T, each variant runs forward + backward (``s.backward(grad)``) once per round;
rounds interleave the variants so machine load hits them alike, and the reported time is the
median over rounds (the first round is warm-up). Speed-up = median(SpikingJelly) / median(variant).

The machine is shared (other jobs run at the same time), so two settings are measured:

- ``threads=1`` timed with ``time.thread_time()``: CPU time of the computing thread, immune to the
  process being descheduled - the most reproducible number;
- ``threads=2`` timed with wall-clock ``time.perf_counter()``: what a user waits for on the two
  cores (noisy when other jobs compete for them).

Memory: bytes of the tensors each implementation saves for backward, counted exactly with
``torch.autograd.graph.saved_tensors_hooks`` (unique storages) - what a layer keeps alive between
forward and backward.

Variants:

- ``sj_plif``: ``neuron.ParametricLIFNode(init_tau=2, surrogate_function=ATan(), step_mode='m')``
  (SpikingJelly defaults otherwise: hard reset to 0, no detach_reset);
- ``k1``: ``MTLIF(1, reset='hard', surrogate='arctan')`` - the identical neuron (identical spikes,
  checked for every case);
- ``k4``: ``MTLIF(4)`` with the model presets' neuron settings (soft reset, rectangular surrogate);
- ``k4_atan``: ``MTLIF(4, surrogate='arctan')`` (arctan has unbounded support, so all K terms of
  the surrogate sum are evaluated: the slowest setting).

``--models`` instead times whole presets (training step: forward + cross-entropy + backward +
Adam step, train mode) on a batch of 32 random event frames at T = 1, 2, 4 and writes
benchmarks/results/models_speed_t{threads}.json - the budget check for training on CPU
(``--models --threads 1``: main-thread CPU time is the load-independent number).

    .venv/bin/python benchmarks/bench_mtlif.py            # writes results/mtlif.{json,csv,png}
    .venv/bin/python benchmarks/bench_mtlif.py --quick    # smoke run (results/mtlif_quick.*)
    .venv/bin/python benchmarks/bench_mtlif.py --models --threads 1   # per-batch time, presets
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from tqdm import tqdm

from eventsnn.functional.neuron import mtlif_cpu_chunk
from eventsnn.nn import MTLIF, build_model, input_shape
from eventsnn.outputs import write_csv, write_json
from eventsnn.run import reset_state
from eventsnn.viz import new_figure, save

warnings.filterwarnings("ignore", message=".*Triton.*")

RESULTS = Path(__file__).resolve().parent / "results"
SHAPES = [(32, 128, 17, 17), (16, 64, 34, 34), (64, 128, 8, 8)]
TS = [1, 2, 4, 8]
OURS = ("k1", "k4", "k4_atan")


def make_variants() -> dict[str, Callable[[], torch.nn.Module]]:
    return {
        "sj_plif": lambda: sj_neuron.ParametricLIFNode(
            init_tau=2.0, surrogate_function=sj_surrogate.ATan(), step_mode="m"
        ),
        "k1": lambda: MTLIF(1, init_tau=2.0, reset="hard", surrogate="arctan"),
        "k4": lambda: MTLIF(4, init_tau=2.0, reset="soft", surrogate="rectangular"),
        "k4_atan": lambda: MTLIF(4, init_tau=2.0, reset="soft", surrogate="arctan"),
    }


def fwd_bwd(module: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor,
            clock: Callable[[], float]) -> float:
    """Seconds (of ``clock``) for one forward + backward from a fresh state."""
    reset_state(module)
    module.zero_grad(set_to_none=True)
    xx = x.detach().requires_grad_()
    t0 = clock()
    s = module(xx)
    s.backward(grad)
    return clock() - t0


def saved_bytes(module: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of the unique storages saved for backward by one forward."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
        return t

    reset_state(module)
    xx = x.detach().requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        s = module(xx)
    del s
    reset_state(module)
    return sum(seen.values())


def bench_case(shape: tuple[int, ...], T: int, rounds: int, threads: int, seed: int = 0) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x = torch.randn(T, *shape) * 1.5 + 0.5
    grad = torch.randn_like(x)
    mods = {name: make() for name, make in make_variants().items()}
    with torch.no_grad():  # the identical neuron must give identical spikes
        reset_state(mods["sj_plif"])
        reset_state(mods["k1"])
        same = torch.equal(mods["sj_plif"](x), mods["k1"](x))
    clock = time.thread_time if threads == 1 else time.perf_counter
    times: dict[str, list[float]] = {k: [] for k in mods}
    for r in range(rounds + 1):
        for name, m in mods.items():
            dt = fwd_bwd(m, x, grad, clock)
            if r > 0:
                times[name].append(dt)
    row: dict = {"threads": threads, "timer": "thread_time" if threads == 1 else "wall",
                 "shape": "x".join(map(str, (T, *shape))), "T": T, "elements": x.numel(),
                 "k1_spikes_equal_sj": same}
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, m in mods.items():
        row[f"{name}_ms"] = round(med[name] * 1e3, 3)
        row[f"{name}_min_ms"] = round(min(times[name]) * 1e3, 3)
        row[f"{name}_saved_MB"] = round(saved_bytes(m, x) / 2**20, 3)
    for name in OURS:
        row[f"{name}_speedup"] = round(med["sj_plif"] / med[name], 3)
        row[f"{name}_mem_ratio"] = round(row[f"{name}_saved_MB"] / row["sj_plif_saved_MB"], 3)
    return row


def plot(rows: list[dict], path: Path) -> None:
    labels = {"k1": "K=1 (same neuron as SJ PLIF)", "k4": "K=4, rectangular",
              "k4_atan": "K=4, arctan"}
    settings = sorted({r["threads"] for r in rows})
    n_cases = max(sum(r["threads"] == th for r in rows) for th in settings)
    fig = new_figure((max(8.0, 0.75 * n_cases), 4.2 * len(settings)))
    axes = fig.subplots(len(settings), 1, squeeze=False)
    width = 0.8 / len(OURS)
    for ax, th in zip(axes[:, 0], settings, strict=True):
        sub = [r for r in rows if r["threads"] == th]
        for i, key in enumerate(OURS):
            xs = [j + (i - (len(OURS) - 1) / 2) * width for j in range(len(sub))]
            ax.bar(xs, [r[f"{key}_speedup"] for r in sub], width, label=labels[key])
        ax.axhline(2.0, color="k", ls="--", lw=1, label="2x target")
        ax.axhline(1.0, color="grey", ls=":", lw=1)
        if max(r[f"{k}_speedup"] for r in sub for k in OURS) > 8:
            ax.set_yscale("log")
        ax.set_xticks(range(len(sub)), [r["shape"] for r in sub], rotation=45, ha="right",
                      fontsize=8)
        ax.set_ylabel("speed-up vs SJ PLIF")
        timer = "CPU time" if th == 1 else "wall time"
        ax.set_title(f"MT-LIF vs SpikingJelly 2.0 ParametricLIFNode, forward+backward, "
                     f"{th} thread(s), {timer}", fontsize=10)
        ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    axes[-1, 0].set_xlabel("input [T, B, C, H, W]")
    fig.tight_layout()
    save(fig, path, 120)


MODEL_CASES: list[tuple[str, dict]] = [
    ("synthetic", {}),
    ("nmnist", {}),
    ("nmnist", {"channels": [64, 64]}),
    ("nmnist", {"n_thresholds": 4, "scb": "all"}),
    ("plif", {}),
    ("dvsgesture", {}),
]


def bench_models(threads: int, rounds: int, out: Path, batch: int = 32) -> int:
    """Seconds per training step (batch of ``batch``) for several presets and T."""
    torch.set_num_threads(threads)
    rows = []
    cases = [(p, o, T) for p, o in MODEL_CASES for T in (1, 2, 4)]
    for preset, over, T in tqdm(cases, desc="model bench", unit="case"):
        torch.manual_seed(0)
        model = build_model(preset, **over)
        model.train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = (torch.rand(T, batch, *input_shape(model.config)) < 0.1).float() * 3
        y = torch.randint(0, model.config["n_classes"], (batch,))
        wall, cpu, tcpu = [], [], []
        for r in range(rounds + 1):
            t0, c0, d0 = time.perf_counter(), time.process_time(), time.thread_time()
            reset_state(model)
            loss = torch.nn.functional.cross_entropy(model(x).mean(0), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if r > 0:
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                tcpu.append(time.thread_time() - d0)
        rows.append({"preset": preset, "overrides": over, "T": T, "batch": batch,
                     "params": sum(p.numel() for p in model.parameters()),
                     "wall_s": round(statistics.median(wall), 4),
                     "min_wall_s": round(min(wall), 4),
                     "process_cpu_s": round(statistics.median(cpu), 4),
                     "main_thread_cpu_s": round(statistics.median(tcpu), 4)})
    out.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "threads": threads, "rounds": rounds, "batch": batch,
            "note": "median seconds per training step (fwd + CE + bwd + Adam), random input; "
                    "process_cpu_s sums all threads; main_thread_cpu_s is the robust number "
                    "with --threads 1"}
    write_json(out / f"models_speed_t{threads}.json", {"meta": meta, "rows": rows}, indent=1)
    print(f"{'preset':>10} {'overrides':>36} {'T':>2} {'params':>9} {'wall s':>7} {'min s':>7} "
          f"{'cpu s':>7} {'thr cpu':>7}")
    for r in rows:
        print(f"{r['preset']:>10} {json.dumps(r['overrides']):>36} {r['T']:>2} {r['params']:>9} "
              f"{r['wall_s']:7.3f} {r['min_wall_s']:7.3f} {r['process_cpu_s']:7.3f} "
              f"{r['main_thread_cpu_s']:7.3f}")
    print(f"wrote {out}/models_speed_t{threads}.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7, help="timed rounds per case (after 1 warm-up)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                    help="thread settings to measure (1 is timed in CPU time, more in wall time)")
    ap.add_argument("--quick", action="store_true", help="one small shape, T in {1, 4}, 3 rounds")
    ap.add_argument("--models", action="store_true", help="time training steps of the presets")
    ap.add_argument("--replot", action="store_true", help="redraw the PNG from the saved JSON")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.replot:
        stem = "mtlif_quick" if args.quick else "mtlif"
        rows = json.loads((args.out / f"{stem}.json").read_text())["rows"]
        plot(rows, args.out / f"{stem}.png")
        print(f"wrote {args.out / stem}.png")
        return 0
    if args.models:  # one thread setting: the largest given
        return bench_models(max(args.threads), min(args.rounds, 3), args.out)
    shapes, ts, rounds = SHAPES, TS, args.rounds
    if args.quick:
        shapes, ts, rounds = [(8, 32, 8, 8)], [1, 4], 3
    cases = [(th, s, t) for th in args.threads for s in shapes for t in ts]
    rows = [bench_case(s, t, rounds, th)
            for th, s, t in tqdm(cases, desc="mtlif bench", unit="case")]
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "torch": torch.__version__, "threads": args.threads, "rounds": rounds,
        "python": sys.version.split()[0], "machine": platform.processor() or platform.machine(),
        "cpu_chunk": mtlif_cpu_chunk(),
        "note": "median fwd+bwd time over interleaved rounds (threads=1: thread CPU time, "
                "threads>1: wall time); speedup = SJ / variant; saved_MB = unique storages "
                "saved for backward",
    }
    stem = "mtlif_quick" if args.quick else "mtlif"
    write_json(args.out / f"{stem}.json", {"meta": meta, "rows": rows}, indent=1)
    write_csv(args.out / f"{stem}.csv", rows, list(rows[0]))
    plot(rows, args.out / f"{stem}.png")
    print(f"{'thr':>3} {'input [T,B,C,H,W]':>20} {'SJ ms':>8} {'K1 ms':>8} {'K1 x':>6} "
          f"{'K4 ms':>8} {'K4 x':>6} {'K4atan x':>8} {'SJ MB':>7} {'K1 MB':>7} {'K4 MB':>7} same")
    for r in rows:
        print(f"{r['threads']:>3} {r['shape']:>20} {r['sj_plif_ms']:8.1f} {r['k1_ms']:8.1f} "
              f"{r['k1_speedup']:6.2f} {r['k4_ms']:8.1f} {r['k4_speedup']:6.2f} "
              f"{r['k4_atan_speedup']:8.2f} {r['sj_plif_saved_MB']:7.1f} "
              f"{r['k1_saved_MB']:7.1f} {r['k4_saved_MB']:7.1f} {r['k1_spikes_equal_sj']}")
    for th in args.threads:
        worst = {k: min(r[f"{k}_speedup"] for r in rows if r["threads"] == th) for k in OURS}
        print(f"threads={th}: minimum speed-up over cases {worst}")
    mem = max(r[f"{k}_mem_ratio"] for r in rows for k in OURS)
    print(f"largest saved-for-backward memory ratio (MT-LIF / SJ): {mem}")
    print(f"wrote {args.out / stem}.json .csv .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
