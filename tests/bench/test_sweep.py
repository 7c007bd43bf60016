"""The T sweep of ``eventsnn bench``: its accuracy at the trained T is ``eventsnn eval``'s."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventsnn.train import load_model


@pytest.mark.slow
def test_bench_accuracy_matches_eval_at_trained_T(tiny_nmnist_checkpoint: Path, data_dir: Path) -> None:
    from eventsnn.bench import bench_checkpoint
    from eventsnn.train import evaluate_checkpoint

    res = bench_checkpoint(tiny_nmnist_checkpoint, split="val", T=[2], latency_samples=0, throughput_batch=0,
                           progress=False)
    ev = evaluate_checkpoint(tiny_nmnist_checkpoint, split="val", T=2)
    assert res["rows"][0]["accuracy"] == pytest.approx(ev.accuracy)
    with pytest.warns(DeprecationWarning, match="Ts="):  # the old name of the swept time steps
        old = bench_checkpoint(tiny_nmnist_checkpoint, split="val", Ts=[2], latency_samples=0, throughput_batch=0,
                               progress=False)
    assert old["rows"][0]["accuracy"] == res["rows"][0]["accuracy"] and old["meta"]["trained_T"] == 2
    model, _ = load_model(tiny_nmnist_checkpoint)
    assert res["rows"][0]["parameter_count"] == sum(p.numel() for p in model.parameters())
