"""scripts/gpu-check.sh: refuses clearly without a GPU; its checks run (CPU standing in)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from eventsnn.cli import build_parser

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPTS / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_a_cuda_device_it_exits_2_and_says_why(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(["bash", str(SCRIPTS / "gpu-check.sh"), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gpu-check: no CUDA device") and "nothing was checked" in err[0]
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert report["status"] == "not run" and "no CUDA device" in report["reason"]
    assert "no CUDA device" in (tmp_path / "out" / "gpu_check.md").read_text()


def test_checks_run_with_the_cpu_standing_in(tmp_path, gpu_check, data_dir):
    checks = ["mtlif_cuda_vs_cpu", "stc_cuda_vs_numpy", "train_step_cuda_amp", "ddp_nccl", "throughput"]
    assert gpu_check.main(["run", "--device", "cpu", "--out", str(tmp_path), "--checks", *checks]) == 0
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["status"] == "passed" and list(report["checks"]) == checks
    assert report["checks"]["stc_cuda_vs_numpy"]["recordings"] == "8 N-MNIST recordings"
    assert all(v["equal"] for k, v in report["checks"]["stc_cuda_vs_numpy"].items() if k.startswith("T"))
    fig = report["figures"]
    assert fig["neuron_same_spikes"] and set(fig["neuron_fwd_bwd_ms"]) == {"eventsnn_mtlif_K1", "spikingjelly_plif"}
    assert fig["inference_samples_per_s_fp32"] > 0 and fig["stc_events_per_s"]["stc_numpy_batch_cpu"] > 0
    assert "| train_step_cuda_amp | passed |" in (tmp_path / "gpu_check.md").read_text()


def test_training_runs_use_flags_the_cli_has(tmp_path, gpu_check):
    ctx = type("Ctx", (), {"dry": False, "has_data": True, "python": sys.executable})()
    for device, amp in (("cpu", False), ("cuda", True)):
        cmd = gpu_check._train_cmd(ctx, device, tmp_path, amp)
        assert cmd[1:4] == ["-m", "eventsnn", "train"]
        args = build_parser().parse_args(cmd[3:] + ["--threads", "2"])
        assert args.device == device and args.amp is amp and args.dataset == "nmnist"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CUDA tests run here")
def test_cuda_tests_check_fails_when_they_skip(tmp_path, gpu_check, data_dir):
    """Here the seven CUDA tests skip; the check must count them and fail, not pass."""
    import argparse

    ctx = gpu_check.Context(argparse.Namespace(out=tmp_path, device="cpu", timeout=300))
    ctx.dry = False
    res = gpu_check.check_cuda_tests(ctx)
    assert res["status"] == "failed" and res["tests"] == res["skipped"] == 7, res
    assert res["failures"] == res["errors"] == 0
