"""Pre-training as a stage of the run: the cache (keys, corrupt entries, concurrent writers), a
second run that skips straight to fine-tuning, resuming in either stage, refusing a run folder.

Tiny settings throughout: 40 real N-MNIST recordings (30 train, 10 held out), 40 + 40 simulated
ones, 4/8 channels, 2 + 2 epochs, and a cache folder of the test's own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _runs import same_state, strip_time

from eventsnn.cli import main
from eventsnn.datasets.simulator import SaccadeSimulator
from eventsnn.errors import OutputExistsError
from eventsnn.train import TrainConfig, load_checkpoint, train
from eventsnn.train import cache as cache_mod
from eventsnn.train.cache import TrainCache, frames_key, key_hash, weights_key
from eventsnn.train.config import resolve_config
from eventsnn.train.pretrain import pretrain_config
from eventsnn.train.stage import Stage

pytestmark = pytest.mark.slow


def _cfg(tmp_path: Path, data_dir: Path, name: str, cache: str = "cache", **kw) -> TrainConfig:
    """The N-MNIST recipe at T = 1 (pre-training included), shrunk."""
    base = dict(dataset="nmnist", T=1, root=str(data_dir), limit=40, val_split="holdout", val_fraction=0.25,
                model={"channels": [4, 8]}, pretrain_epochs=2, epochs=2, batch_size=8, progress=False,
                out=str(tmp_path / name), cache_dir=str(tmp_path / cache), seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _same_run(a: Path, b: Path) -> None:
    """Run folders ``a`` and ``b`` end with the same weights, metrics and best epoch, in both stages."""
    for stage in ("pretrain/last.pt", "last.pt", "best.pt"):
        ca, cb = load_checkpoint(a / stage), load_checkpoint(b / stage)
        assert same_state(ca["model_state"], cb["model_state"]), stage
        assert strip_time(ca["metrics"]) == strip_time(cb["metrics"]), stage
        assert ca["best"] == cb["best"], stage


@pytest.fixture(scope="module")
def cold(tmp_path_factory, data_dir: Path):
    """One uninterrupted run with an empty cache: it simulates, pre-trains, fine-tunes."""
    tmp = tmp_path_factory.mktemp("cold")
    return tmp, train(_cfg(tmp, data_dir, "run"))


def test_the_run_pretrains_in_its_own_folder_and_records_everything(cold) -> None:
    tmp, r = cold
    assert r.config.recipe == "nmnist-T1" and r.config.pretrain_dataset == "nmnist-sim"
    assert r.pretrain["source"] == "trained" and r.pretrain["frames"] == "simulated"
    assert Path(r.pretrain["checkpoint"]) == tmp / "run" / "pretrain" / "last.pt"
    for name in ("last.pt", "metrics.csv", "metrics.json", "curves.png", "config.json"):
        assert (tmp / "run" / "pretrain" / name).is_file(), name
    saved = load_checkpoint(tmp / "run" / "last.pt")["config"]
    assert saved["train"]["recipe"] == "nmnist-T1" and saved["train"]["augment"] == "shift=2,rotation=15"
    assert saved["pretrain"]["weights_key"] == r.pretrain["weights_key"]
    assert json.loads((tmp / "run" / "config.json").read_text())["train"]["ratio"] == 8
    pre = load_checkpoint(tmp / "run" / "pretrain" / "last.pt")["config"]
    assert pre["data"]["dataset"] == "nmnist-sim" and pre["data"]["val"]["kind"] == "test"
    assert pre["train"]["epochs"] == 2 and pre["train"]["synops_penalty"] == 0.0
    assert (pre["train"]["lr"], saved["train"]["lr"]) == (1e-3, 3e-4)  # the recipe's pretrain_lr, then lr
    # CPU-s accumulate over both stages: fine-tuning's start where pre-training's end
    pre_cpu = [row["cpu_s"] for row in load_checkpoint(tmp / "run" / "pretrain" / "last.pt")["metrics"]]
    cpu = [row["cpu_s"] for row in r.history]
    assert 0 < pre_cpu[0] <= pre_cpu[1] <= cpu[0] <= cpu[1]
    csv_header = (tmp / "run" / "metrics.csv").read_text().splitlines()[0]
    assert csv_header.endswith(",cpu_s")
    # the entries: one frames and one weights entry, nothing temporary left
    entries = sorted(p.relative_to(tmp / "cache").as_posix() for p in (tmp / "cache").glob("*/*"))
    assert [e.split("/")[0] for e in entries] == ["frames", "weights"] and all(".tmp-" not in e for e in entries)


def test_a_second_identical_run_skips_simulation_and_pretraining(cold, data_dir: Path, capsys, monkeypatch) -> None:
    tmp, r = cold

    def no_simulation(*a, **k):
        raise AssertionError("simulated although the cache holds the pre-trained weights")

    monkeypatch.setattr(SaccadeSimulator, "simulate", no_simulation)
    epochs_run: list[str] = []
    run_epoch = Stage.run_epoch

    def counted(self, epoch):
        epochs_run.append(self.saved_config["stage"])
        return run_epoch(self, epoch)

    monkeypatch.setattr(Stage, "run_epoch", counted)
    capsys.readouterr()
    warm = train(_cfg(tmp, data_dir, "warm"))
    log = capsys.readouterr().out
    assert "skipping simulation and pre-training" in log and "cache: pre-trained weights" in log
    assert warm.pretrain["source"] == "cache" and warm.pretrain["frames"] is None
    # straight to fine-tuning: no simulation (patched to fail), no pre-training epoch
    assert epochs_run == ["train", "train"]
    _same_run(tmp / "run", tmp / "warm")
    assert strip_time(warm.history) == strip_time(r.history)


def test_cache_keys_change_with_every_setting_that_changes_an_entry(tmp_path: Path, data_dir: Path,
                                                                    monkeypatch) -> None:
    root = tmp_path / "data"
    shutil.copytree(data_dir / "MNIST", root / "MNIST")
    base = _cfg(tmp_path, root, "k")

    def keys(cfg: TrainConfig = base, world: int = 1) -> tuple[str, str]:
        p = pretrain_config(resolve_config(cfg))
        f = frames_key(p)
        return key_hash(f), key_hash(weights_key(p, f, world, "cpu"))

    f0, w0 = keys()
    assert keys() == (f0, w0)  # deterministic
    # settings of the fine-tuning alone, or of where the run goes, change neither entry
    for same in (dict(epochs=9), dict(out=str(tmp_path / "elsewhere")), dict(threads=1), dict(progress=True),
                 dict(val_fraction=0.5, split_seed=4), dict(synops_penalty=1.0), dict(overwrite=True),
                 dict(lr=1e-4)):  # the recipe pre-trains with its own pretrain_lr
        assert keys(dataclasses.replace(base, **same)) == (f0, w0), same
    # the simulated set: both entries change
    frames_changes = [dict(limit=30), dict(mode="sum"), dict(ratio=4), dict(T=2), dict(decay=0.25),
                      dict(pretrain_limit=20), dict(root=str(data_dir))]
    weights_only = [dict(seed=4), dict(model={"channels": [4, 16]}), dict(pretrain_lr=3e-4), dict(pretrain_epochs=3),
                    dict(batch_size=16), dict(label_smoothing=0.0), dict(augment="shift=1"), dict(preset="synthetic")]
    seen = {(f0, w0)}
    for change in frames_changes + weights_only:
        f, w = keys(dataclasses.replace(base, **change))
        assert (f != f0) == (change in frames_changes) and w != w0, change
        seen.add((f, w))
    assert len(seen) == 1 + len(frames_changes) + len(weights_only)
    assert keys(world=2)[1] != w0
    # the files the simulated set is made from (size and time of each)
    image_file = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    st = image_file.stat()
    os.utime(image_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    f, w = keys()
    assert f != f0 and w != w0
    # the simulator's version and eventsnn's cache format version
    monkeypatch.setattr("eventsnn.datasets.simulator.SIMULATOR_VERSION", 999)
    assert keys()[0] != f
    monkeypatch.undo()
    monkeypatch.setattr(cache_mod, "CACHE_FORMAT_VERSION", 999)
    assert keys()[0] != f
    # the dataset (same sensor, other recordings)
    syn = dataclasses.replace(base, pretrain_dataset="synthetic")
    assert keys(syn)[0] != f0


def test_a_corrupt_entry_is_logged_and_rebuilt_never_used(cold, data_dir: Path, capsys) -> None:
    tmp, _ = cold
    scratch = tmp / "cache-corrupt"
    shutil.copytree(tmp / "cache", scratch)
    weights = next((scratch / "weights").glob("*/pretrained.pt"))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    weights.write_bytes(bytes(data))
    frames_manifest = next((scratch / "frames").glob("*/manifest.json"))
    frames_manifest.write_text(frames_manifest.read_text()[:40])  # truncated
    capsys.readouterr()
    again = train(_cfg(tmp, data_dir, "rebuilt", cache="cache-corrupt"))
    log = capsys.readouterr().out
    assert "is corrupt or stale (pretrained.pt fails its checksum); rebuilding it" in log
    assert "is corrupt or stale (unreadable manifest (JSONDecodeError)); rebuilding it" in log
    assert again.pretrain["source"] == "trained" and again.pretrain["frames"] == "simulated"
    _same_run(tmp / "run", tmp / "rebuilt")
    # rebuilt entries are valid again: the next run reads both
    p = pretrain_config(resolve_config(_cfg(tmp, data_dir, "x", cache="cache-corrupt")))
    store = TrainCache(scratch, log=lambda m: None)
    cached = store.read_weights(weights_key(p, frames_key(p), 1, "cpu"), "nmnist-sim")
    assert cached == store.entry(weights_key(p, frames_key(p), 1, "cpu"), "nmnist-sim") / "pretrained.pt"
    assert same_state(load_checkpoint(cached)["model_state"],
                      load_checkpoint(tmp / "rebuilt" / "pretrain" / "last.pt")["model_state"])
    bundle = store.read_frames(frames_key(p), "nmnist-sim")
    assert bundle is not None and len(bundle.train) == 40 and len(bundle.val) == 40
    # a stale entry (its manifest holds other settings) is not used either
    manifest = next((scratch / "frames").glob("*/manifest.json"))
    doc = json.loads(manifest.read_text())
    doc["key"]["limit"] = 41
    manifest.write_text(json.dumps(doc))
    said: list[str] = []
    assert TrainCache(scratch, log=said.append).read_frames(frames_key(p), "nmnist-sim") is None
    assert "stale" in said[0] and not manifest.exists()


_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from eventsnn.train.cache import TrainCache
    key = {"kind": "weights", "what": "concurrency test"}
    folder, tag = Path(sys.argv[1]), sys.argv[2]
    (folder / f"ready-{tag}").touch()
    deadline = time.time() + 60
    while len(list(folder.glob("ready-*"))) < 2 and time.time() < deadline:
        time.sleep(0.01)  # start writing together
    def slow(path: Path) -> None:
        path.write_bytes(tag.encode() * 100_000)
        time.sleep(1.0)  # both writers are inside their temporary folder at once
    cache = TrainCache(folder, log=print)
    print("ENTRY", cache.write(key, "x", [("pretrained.pt", slow)]))
""")


def test_concurrent_writers_leave_one_valid_entry(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), tag], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for tag in ("A", "B")]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    entries = [line.split(" ", 1)[1] for out, _ in outs for line in out.splitlines() if line.startswith("ENTRY")]
    assert len(entries) == 2 and entries[0] == entries[1]
    assert sum("written meanwhile by another run" in out for out, _ in outs) == 1
    assert [p.name for p in (tmp_path / "weights").iterdir()] == [Path(entries[0]).name]  # no temporaries
    assert len(list(tmp_path.glob("ready-*"))) == 2
    key = {"kind": "weights", "what": "concurrency test"}
    content = (Path(entries[0]) / "pretrained.pt").read_bytes()
    assert content in (b"A" * 100_000, b"B" * 100_000)
    files = TrainCache(tmp_path, log=print).read(key, "x", lambda e, m: m["files"])
    assert files == {"pretrained.pt": {"bytes": 100_000, "sha256": hashlib.sha256(content).hexdigest()}}


@pytest.mark.parametrize("stage", ["pretrain", "train"])
def test_resume_after_a_kill_in_either_stage_ends_like_the_uninterrupted_run(
        cold, data_dir: Path, stage: str, monkeypatch, capsys) -> None:
    tmp, _ = cold
    name, cache = f"killed-in-{stage}", f"cache-{stage}"  # an empty cache: the stage really runs again
    save = Stage.save

    def save_then_die(self, epoch, row):
        save(self, epoch, row)
        if self.saved_config["stage"] == stage and epoch == 0:
            raise KeyboardInterrupt  # killed right after the first checkpoint of that stage

    monkeypatch.setattr(Stage, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(tmp, data_dir, name, cache=cache))
    monkeypatch.undo()
    out = tmp / name
    assert load_checkpoint(out / ("pretrain/last.pt" if stage == "pretrain" else "last.pt"))["epoch"] == 0
    assert (out / "last.pt").exists() == (stage == "train")
    with pytest.raises(OutputExistsError, match="--resume"):  # not without being asked
        train(_cfg(tmp, data_dir, name, cache=cache))
    capsys.readouterr()
    resumed = train(_cfg(tmp, data_dir, name, cache=cache, resume=True))
    log = capsys.readouterr().out
    where = out / "pretrain" if stage == "pretrain" else out
    assert f"resuming {where} after epoch 1 of 2" in log
    assert resumed.pretrain["source"] == ("resumed" if stage == "pretrain" else "trained")
    _same_run(tmp / "run", out)
    cpu = [row["cpu_s"] for row in resumed.history]
    assert cpu[0] <= cpu[1]


def test_an_earlier_run_folder_is_refused_before_any_work(cold, data_dir: Path, capsys, monkeypatch) -> None:
    tmp, r = cold
    import eventsnn.train.stage as stage_mod

    def no_data(*a, **k):
        raise AssertionError("data prepared before the run folder was checked")

    monkeypatch.setattr(stage_mod, "prepare_data", no_data)
    before = (tmp / "run" / "best.pt").read_bytes()
    with pytest.raises(OutputExistsError) as err:
        train(_cfg(tmp, data_dir, "run", epochs=1))
    assert str(tmp / "run") in str(err.value) and "--resume" in str(err.value) and "--overwrite" in str(err.value)
    rc = main(["train", "--dataset", "nmnist", "--out", str(tmp / "run"), "--no-progress"])
    msg = capsys.readouterr().err.strip()
    assert rc == 2 and len(msg.splitlines()) == 1 and "holds earlier results (last.pt, best.pt" in msg
    assert (tmp / "run" / "best.pt").read_bytes() == before  # untouched
    rc = main(["train", "--dataset", "nmnist", "--threads", "0", "--out", str(tmp / "t0"), "--no-progress"])
    msg = capsys.readouterr().err.strip()
    assert rc == 2 and msg == "eventsnn train: error: threads must be an integer >= 1, got 0"
    monkeypatch.undo()
    # --overwrite replaces the earlier results (the cache gives the pre-training at once)
    shutil.copytree(tmp / "run", tmp / "run-copy")
    again = train(_cfg(tmp, data_dir, "run-copy", overwrite=True, epochs=1))
    assert again.pretrain["source"] == "cache"
    assert len(load_checkpoint(tmp / "run-copy" / "last.pt")["metrics"]) == 1


def test_pretrain_root_reads_the_simulated_set_from_another_folder(cold, data_dir: Path, capsys) -> None:
    """A run whose --root holds only its own recordings pre-trains from --pretrain-root (the
    same source files: the cache entry of the cold run is reused and the run ends identical);
    without it the error names the folder searched."""
    tmp, _ = cold
    only_nmnist = tmp / "only_nmnist"
    only_nmnist.mkdir()
    (only_nmnist / "NMNIST").symlink_to(data_dir / "NMNIST", target_is_directory=True)
    r = train(_cfg(tmp, data_dir, "elsewhere", root=str(only_nmnist), pretrain_root=str(data_dir)))
    assert r.pretrain["source"] == "cache"
    _same_run(tmp / "run", tmp / "elsewhere")
    assert load_checkpoint(tmp / "elsewhere" / "last.pt")["config"]["train"]["pretrain_root"] == str(data_dir)
    capsys.readouterr()
    argv = ["train", "--dataset", "nmnist", "--T", "1", "--root", str(only_nmnist), "--limit", "40",
            "--channels", "4", "8", "--epochs", "1", "--pretrain-epochs", "1", "--out", str(tmp / "nowhere"),
            "--cache-dir", str(tmp / "cache"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MNIST test files not found" in err[0] and str(only_nmnist) in err[0]
    assert not (tmp / "nowhere").exists()
    assert main([*argv, "--pretrain-root", str(data_dir)]) == 0  # the option reaches the stage
    assert load_checkpoint(tmp / "nowhere" / "last.pt")["config"]["train"]["pretrain_root"] == str(data_dir)
