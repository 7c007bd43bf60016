"""Every check of eventsnn that needs a CUDA GPU, with figures; run through ``scripts/gpu-check.sh``.

``python scripts/gpu_check.py probe --out DIR`` exits 2 (and writes ``DIR/gpu_check.json``)
unless torch sees a CUDA device; ``python scripts/gpu_check.py run --out DIR`` runs the checks:

1. ``cuda_tests``: the CUDA tests of the suite (``pytest -k cuda``: MT-LIF on CUDA against the
   CPU, ``stc_torch`` on CUDA against the numpy path); every one must run and pass, none skip.
2. ``mtlif_cuda_vs_cpu``: MT-LIF + synaptic current, forward and backward on a training-size
   batch, CUDA against the CPU and the fast path against the reference on CUDA.
3. ``stc_cuda_vs_numpy``: ``stc_torch`` on CUDA against ``stc_numpy_batch`` on the same
   recordings (real N-MNIST when the data is found, else random events): equal in ``sum`` mode.
4. ``train_step_cuda_amp``: one training step of the N-MNIST model, CUDA (fp32 and AMP fp16)
   against the CPU: same loss and gradients within float tolerance.
5. ``train_run_cuda_amp``: ``eventsnn train --device cuda --amp`` and the same run on the CPU
   (same seed and data): both finish, losses finite, validation accuracies close.
6. ``ddp_nccl``: with 2+ GPUs, ``torchrun --nproc_per_node 2 -m eventsnn train --device cuda``;
   with one, a one-process NCCL group: DDP gradients of the eventsnn model equal plain ones.
7. ``throughput`` (figures, no pass/fail): training samples/s CUDA+AMP vs CPU, inference
   samples/s, MT-LIF forward+backward against SpikingJelly's PLIF neuron in the same run, STC
   events/s on CUDA against the numpy path.

Writes ``DIR/gpu_check.json`` (everything) and ``DIR/gpu_check.md`` (a table), logs of the
sub-runs in ``DIR/logs``. Exit status: 0 every check ran and passed, 1 a check failed or could
not run, 2 nothing could run (no CUDA device, a package missing).

``--device cpu`` runs the same code with the CPU standing in for the GPU (bf16 autocast, gloo
instead of NCCL, tiny sizes, no pytest step): a dry run that the test suite uses to keep this
script working on machines without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NO_CUDA = 2
FAILED = 1


def _write(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1, default=str))
    lines = [f"# eventsnn GPU check: {report['status']}", ""]
    for key in ("device", "torch", "cuda", "python", "reason"):
        if report.get(key):
            lines.append(f"- {key}: {report[key]}")
    if report.get("checks"):
        lines += ["", "| check | status | seconds | details |", "| --- | --- | ---: | --- |"]
        for name, c in report["checks"].items():
            details = "; ".join(f"{k}={_fmt(v)}" for k, v in c.items() if k not in ("status", "seconds"))
            lines.append(f"| {name} | {c['status']} | {c.get('seconds', 0):.1f} | {details} |")
    if report.get("figures"):
        lines += ["", "## Figures", ""]
        lines += [f"- {k}: {_fmt(v)}" for k, v in report["figures"].items()]
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n")


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return str(v).replace("|", "/").replace("\n", " ")[:300]


def probe(out: Path) -> int:
    """Exit 0 when torch sees a CUDA device, else 2 with one line on stderr and a JSON record."""
    report: dict = {"status": "not run", "python": platform.python_version()}
    try:
        import torch
    except ImportError as exc:
        report["reason"] = f"torch cannot be imported ({exc})"
    else:
        report["torch"] = torch.__version__
        if torch.cuda.is_available():
            report.update(status="cuda found", device=torch.cuda.get_device_name(0),
                          cuda=torch.version.cuda)
            print(f"gpu-check: {torch.cuda.device_count()} CUDA device(s): {report['device']}, "
                  f"torch {torch.__version__}, CUDA {torch.version.cuda}")
            return 0
        report["reason"] = (f"no CUDA device: torch {torch.__version__} (CUDA build "
                            f"{torch.version.cuda or 'none'}) sees no GPU; run it on a machine with "
                            "an NVIDIA GPU")
    _write(out, report)
    print(f"gpu-check: {report['reason']}; nothing was checked", file=sys.stderr)
    return NO_CUDA


# ------------------------------------------------------------------------------------ helpers


class Context:
    """Settings shared by the checks."""

    def __init__(self, args: argparse.Namespace) -> None:
        import torch

        self.out: Path = args.out
        self.logs = args.out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(args.device)
        self.dry = self.device.type == "cpu"
        self.python = sys.executable
        self.figures: dict[str, object] = {}
        from eventsnn.paths import shared_data_dir

        self.data = shared_data_dir()
        self.has_data = (self.data / "NMNIST" / "Train").is_dir()
        self.timeout = args.timeout

    def sync(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def run(self, name: str, cmd: list[str]) -> subprocess.CompletedProcess:
        """Run a sub-process from the repository root, its output in ``logs/<name>.log``."""
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        full_env = {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}
        with (self.logs / f"{name}.log").open("w") as log:
            log.write("$ " + " ".join(cmd) + "\n")
            log.flush()
            return subprocess.run(cmd, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=self.timeout, check=False)

    def timed(self, fn: Callable[[], object]) -> float:
        """Median seconds of ``fn()`` (device synchronised) over 10 calls after 3 (dry run: 2, 1)."""
        repeats, warmup = (2, 1) if self.dry else (10, 3)
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            self.sync()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)


def _rel(a, b) -> float:  # noqa: ANN001 (tensors)
    """``|a - b| / |b|`` (Frobenius norms, float64, on the CPU)."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def _recordings(ctx: Context, n: int) -> tuple[list, tuple[int, int, int], str]:
    """``n`` recordings: real N-MNIST when the data is there, else random sorted events."""
    import numpy as np

    from eventsnn.events import make_events, read_bin_events

    sensor = (34, 34, 2)
    if ctx.has_data:
        files = sorted((ctx.data / "NMNIST" / "Train").glob("*/*.bin"))[:n]
        return [read_bin_events(f, sensor) for f in files], sensor, f"{len(files)} N-MNIST recordings"
    rng = np.random.default_rng(0)
    recs = []
    for _ in range(n):
        k = int(rng.integers(1000, 6000))
        recs.append(make_events(rng.integers(0, 34, k), rng.integers(0, 34, k),
                                np.sort(rng.integers(0, 300_000, k)), rng.integers(0, 2, k)))
    return recs, sensor, f"{n} random recordings (no data at {ctx.data})"


# ------------------------------------------------------------------------------------ checks


def check_cuda_tests(ctx: Context) -> dict:
    if ctx.dry:
        return {"status": "skipped", "why": "dry run on the CPU"}
    files = ["tests/nn/test_neuron.py"] + (["tests/functional/test_stc.py"] if ctx.has_data else [])
    xml = ctx.out / "cuda_tests.xml"
    proc = ctx.run("cuda_tests", [ctx.python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-k", "cuda",
                                  f"--junitxml={xml}", *files])
    if not xml.is_file():
        return {"status": "failed", "why": f"pytest exited {proc.returncode} without a report (logs/cuda_tests.log)"}
    suite = ET.parse(xml).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    ok = proc.returncode == 0 and counts["tests"] > 0 and counts["failures"] == counts["errors"] == counts["skipped"] == 0
    res = {"status": "passed" if ok else "failed", **counts}
    if not ctx.has_data:
        res.update(status="failed", why=f"the STC CUDA tests need the N-MNIST data (not found at {ctx.data}; "
                                        "set EVENTSNN_DATA); only tests/nn/test_neuron.py ran")
    return res


def check_mtlif(ctx: Context) -> dict:
    import torch

    from eventsnn.functional.neuron import MTLIFParams, mtlif_multistep, mtlif_multistep_reference
    from eventsnn.nn import MTLIF, Synapse

    T, B, C, H = (4, 2, 8, 8) if ctx.dry else (8, 16, 32, 16)
    res: dict = {"shape": [T, B, C, H, H]}
    worst = 0.0
    for k in (1, 2, 4):
        torch.manual_seed(k)
        x = torch.randn(T, B, C, H, H) * 2
        gs = torch.randn_like(x)
        outs = []
        for dev in ("cpu", ctx.device):
            m = MTLIF(k, per_channel=True, n_channels=C).to(dev)
            syn = Synapse(per_channel=True, n_channels=C).to(dev)
            xx = x.to(dev).requires_grad_()
            s = m(syn(xx))
            (s * gs.to(dev)).sum().backward()
            outs.append((s.detach().cpu(), xx.grad.cpu(), m.w.grad.cpu(), syn.a.grad.cpu()))
        (s0, *g0), (s1, *g1) = outs
        flips = float((s0 != s1).float().mean())  # a membrane within float error of a threshold may flip
        rel = max(_rel(a, b) for a, b in zip(g1, g0, strict=True))
        res[f"K{k}"] = {"spike_mismatch_fraction": flips, "grad_rel_err": rel}
        worst = max(worst, rel if flips <= 1e-4 else float("inf"))
    # the fast custom-autograd path against the plain-autograd reference, on the device
    p = MTLIFParams(n_thresholds=2)
    x = (torch.randn(T, B, C, H, H, device=ctx.device) * 2).requires_grad_()
    w = torch.zeros(C, device=ctx.device, requires_grad=True)
    grads = []
    for fn in (mtlif_multistep, mtlif_multistep_reference):
        s, v = fn(x, None, w, p)
        gx, gw = torch.autograd.grad((s * s.detach().roll(1)).sum() + v.sum(), (x, w))
        grads.append((s, v, gx, gw))
    fast_vs_ref = max(_rel(a, b) for a, b in zip(grads[0], grads[1], strict=True))
    res["fast_vs_reference_rel_err"] = fast_vs_ref
    res["status"] = "passed" if worst < 1e-3 and fast_vs_ref < 1e-4 else "failed"
    return res


STC_CONFIGS = [  # (T, keyword settings) as the CUDA test; T positional (its keyword is being renamed)
    (1, {}), (4, {}), (3, dict(ratio=5, mode="exp", decay=0.7)),
    (4, dict(ratio=2, mode="exp", decay=0.5, carry=True)), (2, dict(spatial_factor=3)),
    (5, dict(merge_polarity=True, spatial_factor=4)),
]


def check_stc(ctx: Context) -> dict:
    import numpy as np

    from eventsnn.functional.stc import stc_numpy_batch, stc_torch
    from eventsnn.transforms import batch_to_tensors

    recs, sensor, what = _recordings(ctx, 8 if ctx.dry else 64)
    x, y, t, p, sample = batch_to_tensors(recs, device=ctx.device)
    res: dict = {"recordings": what, "events": int(len(t))}
    ok = True
    for T, kw in STC_CONFIGS:
        ref = stc_numpy_batch(recs, sensor, T, **kw)
        out = stc_torch(x, y, t, p, sensor, T, sample=sample, batch_size=len(recs), **kw)
        got = out.cpu().numpy()
        err = float(np.abs(got - ref).max())
        exact = bool(np.array_equal(got, ref))
        name = f"T{T}" + "".join(f"_{k}={v}" for k, v in kw.items())
        res[name] = {"max_abs_err": err, "equal": exact}
        ok &= out.device.type == ctx.device.type and (exact if kw.get("mode", "sum") == "sum"
                                                       else bool(np.allclose(got, ref, rtol=1e-5, atol=1e-6)))
    res["status"] = "passed" if ok else "failed"
    return res


def _model(ctx: Context):  # noqa: ANN202 (torch module)
    """The N-MNIST preset without dropout (random masks differ between devices); tiny in a dry run."""
    from eventsnn.nn import build_model

    return build_model("nmnist", dropout=0.0, **({"channels": [8, 8]} if ctx.dry else {}))


def _step(model, x, y, device, amp_dtype):  # noqa: ANN001, ANN202
    """Loss and gradients of one training step as ``eventsnn.train`` takes it."""
    import torch
    from spikingjelly.activation_based import functional as sj_functional

    model.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        out = model(x.to(device))
    loss = torch.nn.functional.cross_entropy(out.float().mean(0), y.to(device))
    loss.backward()
    sj_functional.reset_net(model)
    return loss.item(), {n: q.grad.detach().cpu() for n, q in model.named_parameters() if q.grad is not None}


def check_train_step(ctx: Context) -> dict:
    """Loss and gradients of one step on the device, fp32 (TF32 off) and AMP, against the CPU.

    Spikes are thresholds: a membrane within rounding error of one flips a spike, so gradients
    are compared as whole vectors (cosine similarity), strictly in fp32, loosely under AMP
    (float16 on CUDA, bfloat16 with its 8-bit mantissa in a CPU dry run)."""
    import copy

    import torch

    torch.manual_seed(0)
    B = 4 if ctx.dry else 32
    model = _model(ctx)
    x = (torch.rand(4, B, 2, 34, 34) < 0.1).float() * torch.randint(1, 4, (4, B, 2, 34, 34))  # [T, B, P, H, W]
    y = torch.randint(0, 10, (B,))
    loss_cpu, g_cpu = _step(copy.deepcopy(model), x, y, torch.device("cpu"), None)
    ref = torch.cat([g_cpu[n].flatten().double() for n in sorted(g_cpu)])
    amp = torch.float16 if ctx.device.type == "cuda" else torch.bfloat16
    res: dict = {"loss_cpu": loss_cpu, "params_with_grad": len(g_cpu)}
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    limits = {"fp32": (1e-3, 0.999), "amp": (0.02, 0.95 if amp == torch.float16 else 0.8)}
    for label, dtype in (("fp32", None), ("amp", amp)):
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = dtype is not None
        try:
            loss, g = _step(copy.deepcopy(model).to(ctx.device), x, y, ctx.device, dtype)
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
        got = torch.cat([g[n].flatten().double() for n in sorted(g_cpu) if n in g])
        cos = float(got @ ref / (got.norm() * ref.norm()).clamp_min(1e-30)) if got.shape == ref.shape else 0.0
        loss_err, (max_loss_err, min_cos) = abs(loss - loss_cpu) / loss_cpu, limits[label]
        res[label] = {"loss": loss, "loss_rel_err": loss_err, "grad_cosine": cos,
                      "grad_rel_err": _rel(got, ref) if got.shape == ref.shape else None,
                      "ok": bool(set(g) == set(g_cpu) and loss_err < max_loss_err and cos > min_cos),
                      "limits": {"loss_rel_err": max_loss_err, "grad_cosine": min_cos}}
    res["status"] = "passed" if res["fp32"]["ok"] and res["amp"]["ok"] else "failed"
    return res


def _train_cmd(ctx: Context, device: str, out: Path, amp: bool) -> list[str]:
    limit = "40" if ctx.dry else "1000"  # N-MNIST here: 900 training, 100 validation recordings
    data = ["--dataset", "nmnist" if ctx.has_data else "synthetic", "--recipe", "none", "--limit", limit]
    return [ctx.python, "-m", "eventsnn", "train", *data, "--T", "4", "--epochs", "1" if ctx.dry else "3",
            "--batch-size", "16" if ctx.dry else "32", "--seed", "0", "--no-progress", "--device", device,
            "--amp" if amp else "--no-amp", "--out", str(out)]


def _metrics(out: Path) -> dict:
    hist = json.loads((out / "metrics.json").read_text())["history"]
    rates = [h["train_samples"] / h["epoch_time_s"] for h in hist]
    return {"val_acc": hist[-1]["val_acc"], "train_loss": hist[-1]["train_loss"],
            "train_samples_per_s": statistics.median(rates[1:] or rates), "epochs": len(hist)}


def check_train_run(ctx: Context) -> dict:
    import math

    threads = str(os.cpu_count() or 1)
    runs = {}
    for label, device, amp in (("cpu", "cpu", False), ("device_amp", str(ctx.device), True)):
        out = ctx.out / f"train_{label}"
        cmd = _train_cmd(ctx, device, out, amp) + ["--threads", threads]
        t0 = time.perf_counter()
        proc = ctx.run(f"train_{label}", cmd)
        if proc.returncode != 0:
            return {"status": "failed", "why": f"{label} run exited {proc.returncode} (logs/train_{label}.log)"}
        runs[label] = {**_metrics(out), "wall_s": time.perf_counter() - t0}
    a, b = runs["cpu"], runs["device_amp"]
    diff = abs(a["val_acc"] - b["val_acc"])
    limit = 1.0 if ctx.dry else 0.15  # 100 validation samples, float16 vs float32 trajectories
    floor = 0.0 if ctx.dry else 0.5  # chance is 0.1: both runs must learn
    ok = all(math.isfinite(r["train_loss"]) and r["val_acc"] >= floor for r in runs.values()) and diff <= limit
    ctx.figures["train_samples_per_s"] = {k: r["train_samples_per_s"] for k, r in runs.items()}
    return {"status": "passed" if ok else "failed", **runs, "val_acc_diff": diff, "allowed_diff": limit,
            "min_val_acc": floor,
            "data": "nmnist" if ctx.has_data else "synthetic"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_ddp(ctx: Context) -> dict:
    import copy

    import torch
    import torch.distributed as dist

    n_gpu = torch.cuda.device_count() if ctx.device.type == "cuda" else 0
    if n_gpu >= 2:
        out = ctx.out / "train_ddp"
        cmd = [ctx.python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
               *_train_cmd(ctx, "cuda", out, True)[2:]]
        proc = ctx.run("train_ddp", cmd)
        if proc.returncode != 0 or not (out / "metrics.json").is_file():
            return {"status": "failed", "why": f"torchrun exited {proc.returncode} (logs/train_ddp.log)"}
        return {"status": "passed", "mode": "torchrun, 2 processes, nccl", **_metrics(out)}
    backend = "nccl" if ctx.device.type == "cuda" else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False  # same sums both times
    try:
        torch.manual_seed(0)
        model = _model(ctx).to(ctx.device)
        ids = [ctx.device.index or 0] if ctx.device.type == "cuda" else None
        ddp = torch.nn.parallel.DistributedDataParallel(copy.deepcopy(model), device_ids=ids)
        x = (torch.rand(4, 8, 2, 34, 34) < 0.1).float()
        y = torch.randint(0, 10, (8,))
        _, g_plain = _step(model, x, y, ctx.device, None)
        _, g_ddp = _step(ddp, x, y, ctx.device, None)
        rel = max(_rel(g_ddp[f"module.{n}"], g) for n, g in g_plain.items())
        t = torch.ones(3, device=ctx.device)
        dist.all_reduce(t)
        ok = rel < 1e-4 and bool((t.cpu() == 1).all())
        return {"status": "passed" if ok else "failed", "grad_rel_err": rel,
                "mode": f"one process, {backend} group of 1 (torchrun with 2 processes needs 2 GPUs, "
                        f"{n_gpu} found)"}
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        dist.destroy_process_group()


def check_throughput(ctx: Context) -> dict:
    import torch
    from spikingjelly.activation_based import functional as sj_functional
    from spikingjelly.activation_based import neuron as sj_neuron
    from spikingjelly.activation_based import surrogate as sj_surrogate

    from eventsnn.functional.stc import stc_numpy_batch, stc_torch
    from eventsnn.nn import MTLIF
    from eventsnn.transforms import batch_to_tensors

    fig: dict = {}
    # inference: the N-MNIST model, T = 4
    B = 8 if ctx.dry else 256
    model = _model(ctx).to(ctx.device).eval()
    x = (torch.rand(4, B, 2, 34, 34, device=ctx.device) < 0.1).float()
    amp = torch.float16 if ctx.device.type == "cuda" else torch.bfloat16
    for label, dtype in (("fp32", None), ("amp", amp)):
        def infer(dtype=dtype) -> None:
            with torch.no_grad(), torch.autocast(ctx.device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                model(x)
            sj_functional.reset_net(model)
        fig[f"inference_samples_per_s_{label}"] = B / ctx.timed(infer)
    # one spiking layer, forward + backward: MT-LIF (K = 1, SpikingJelly's settings) against
    # SpikingJelly's PLIF neuron, the identical neuron (as benchmarks/bench_mtlif.py)
    shape = (4, 2, 8, 8, 8) if ctx.dry else (8, 64, 128, 32, 32)
    xs = torch.randn(shape, device=ctx.device)
    layers = {"eventsnn_mtlif_K1": MTLIF(1, init_tau=2.0, reset="hard", surrogate="arctan"),
              "spikingjelly_plif": sj_neuron.ParametricLIFNode(
                  init_tau=2.0, surrogate_function=sj_surrogate.ATan(), step_mode="m")}
    times, spikes = {}, {}
    for name, layer in layers.items():
        layer = layer.to(ctx.device)
        with torch.no_grad():
            spikes[name] = layer(xs)
        sj_functional.reset_net(layer)

        def fwd_bwd(layer=layer) -> None:
            xx = xs.detach().requires_grad_()
            layer(xx).sum().backward()
            sj_functional.reset_net(layer)
        try:
            times[name] = ctx.timed(fwd_bwd)
        except Exception as exc:  # noqa: BLE001 (report a reference that fails, keep the rest)
            fig[f"{name}_failed"] = f"{type(exc).__name__}: {exc}"
    fig["neuron_same_spikes"] = bool(torch.equal(*spikes.values()))
    fig["neuron_fwd_bwd_ms"] = {k: 1e3 * v for k, v in times.items()}
    fig["neuron_shape"] = list(shape)
    if "eventsnn_mtlif_K1" in times:
        fig["neuron_speedup_vs"] = {k: v / times["eventsnn_mtlif_K1"] for k, v in times.items()
                                    if k != "eventsnn_mtlif_K1"}
    # STC: stc_torch on the device against the numpy path on the CPU, same recordings
    recs, sensor, what = _recordings(ctx, 8 if ctx.dry else 256)
    x_, y_, t_, p_, s_ = batch_to_tensors(recs, device=ctx.device)
    n_ev = len(t_)
    dev_s = ctx.timed(lambda: stc_torch(x_, y_, t_, p_, sensor, 4, sample=s_, batch_size=len(recs)))
    cpu_s = ctx.timed(lambda: stc_numpy_batch(recs, sensor, 4))
    fig["stc_events_per_s"] = {f"stc_torch_{ctx.device.type}": n_ev / dev_s, "stc_numpy_batch_cpu": n_ev / cpu_s}
    fig["stc_recordings"] = what
    ctx.figures.update(fig)
    return {"status": "measured"}


CHECKS: dict[str, Callable[[Context], dict]] = {
    "cuda_tests": check_cuda_tests,
    "mtlif_cuda_vs_cpu": check_mtlif,
    "stc_cuda_vs_numpy": check_stc,
    "train_step_cuda_amp": check_train_step,
    "train_run_cuda_amp": check_train_run,
    "ddp_nccl": check_ddp,
    "throughput": check_throughput,
}


def run(args: argparse.Namespace) -> int:
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return probe(args.out)
    sys.path.insert(0, str(REPO))
    ctx = Context(args)
    torch.set_num_threads(os.cpu_count() or 1)
    report: dict = {"status": "running", "python": platform.python_version(), "torch": torch.__version__,
                    "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0)
                    if ctx.device.type == "cuda" else "cpu (dry run)", "data": str(ctx.data) if ctx.has_data
                    else f"not found ({ctx.data})", "checks": {}, "figures": ctx.figures}
    for name in args.checks:
        t0 = time.perf_counter()
        try:
            res = CHECKS[name](ctx)
        except Exception as exc:  # noqa: BLE001 (one failing check must not hide the others)
            res = {"status": "failed", "why": f"{type(exc).__name__}: {exc}"}
            (ctx.logs / f"{name}.traceback").write_text(traceback.format_exc())
        res["seconds"] = time.perf_counter() - t0
        report["checks"][name] = res
        print(f"gpu-check: {name}: {res['status']} ({res['seconds']:.1f} s)", flush=True)
        _write(ctx.out, report)
    bad = [n for n, c in report["checks"].items() if c["status"] not in ("passed", "measured", "skipped")]
    report["status"] = "failed: " + ", ".join(bad) if bad else "passed"
    _write(ctx.out, report)
    print(f"gpu-check: {report['status']}; report in {ctx.out / 'gpu_check.md'}")
    return FAILED if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("probe", "run"))
    ap.add_argument("--out", type=Path, default=REPO / "gpu-check")
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for a dry run")
    ap.add_argument("--checks", nargs="+", default=list(CHECKS), choices=list(CHECKS))
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds allowed to each sub-process")
    args = ap.parse_args(argv)
    return probe(args.out) if args.command == "probe" else run(args)


if __name__ == "__main__":
    sys.exit(main())
