"""`eventsnn compress` and CompressedDataset on the real N-MNIST recordings."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from eventsnn.datasets import NMNIST, CompressedDataset, spread_indices
from eventsnn.datasets.compressed import compress_dataset, compress_datasets, read_attributes
from eventsnn.errors import CompressedFileError, CorruptRecordingError, InvalidParameterError
from eventsnn.functional.stc import stc_numpy
from eventsnn.transforms import STC

SENSOR = (34, 34, 2)


@pytest.fixture(scope="module")
def nmnist_h5(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("h5") / "nmnist_T4.h5"
    compress_dataset("nmnist", out, STC(SENSOR, 4), root=data_dir, limit=200, progress=False)
    return out


def test_frames_sum_to_exact_event_counts(nmnist_h5, data_dir):
    ds = CompressedDataset(nmnist_h5, "train")
    assert len(ds) == 200 and ds.frame_shape == (4, 2, 34, 34)
    raw = NMNIST(data_dir, "train")
    idx = spread_indices(len(raw), 200)  # --limit keeps 200 recordings spread over all classes
    assert sorted(set(ds.targets.tolist())) == list(range(10))
    sizes = np.array([__import__("os").path.getsize(raw.describe(int(i))) // 5 for i in idx])
    np.testing.assert_array_equal(ds.n_events, sizes)
    np.testing.assert_array_equal(ds.all_frames().sum(axis=(1, 2, 3, 4)).astype(np.int64), sizes)
    x, y = ds[5]
    assert x.dtype == torch.float32 and x.shape == (4, 2, 34, 34) and y == raw.targets[idx[5]]
    np.testing.assert_array_equal(x.numpy(), stc_numpy(raw[int(idx[5])][0], (34, 34, 2), 4))


def test_attributes_record_every_parameter(nmnist_h5):
    a = read_attributes(nmnist_h5)
    assert a["stc"] == {"T": 4, "ratio": 1, "mode": "sum", "decay": 0.5, "sensor_size": [34, 34, 2],
                        "spatial_factor": 1, "merge_polarity": False, "carry": False}
    assert a["format_version"] == 2 and CompressedDataset(nmnist_h5).stc == STC(SENSOR, 4)
    assert a["dataset"] == "nmnist" and a["split_names"] == ["train"] and len(a["classes"]) == 10
    assert a["eventsnn_version"] and a["n_samples"] == 200


def test_a_version_1_file_still_reads(tmp_path):
    """A file as eventsnn wrote it before format version 2: STC settings with n_time_steps and no
    sensor size."""
    path = tmp_path / "v1.h5"
    frames = np.arange(6 * 3 * 2 * 4 * 5, dtype=np.uint8).reshape(6, 3, 2, 4, 5) % 7
    with h5py.File(path, "w") as f:
        f.attrs.update(
            format="eventsnn-compressed", format_version=1, eventsnn_version="0.1.0",
            sensor_size=np.array([10, 8, 2]), frame_shape=np.array([3, 2, 4, 5]),
            classes=json.dumps(["a", "b"]), split_names=json.dumps(["train", "test"]),
            stc=json.dumps({"n_time_steps": 3, "ratio": 1, "mode": "sum", "decay": 0.5, "spatial_factor": 2,
                            "merge_polarity": False, "carry": False}),
            dataset="hand-made", root="(none)", created="2026-01-01T00:00:00+00:00",
        )
        f["frames"] = frames
        f["labels"] = np.array([0, 1, 0, 1, 0, 1], dtype=np.int64)
        f["split"] = np.array([0, 0, 0, 0, 1, 1], dtype=np.uint8)
        f["n_events"] = frames.reshape(6, -1).sum(1).astype(np.int64)
        f["source"] = np.array([f"s{i}" for i in range(6)], dtype=h5py.string_dtype())
    a = read_attributes(path)
    assert a["format_version"] == 1 and a["stc"]["T"] == 3 and a["stc"]["sensor_size"] == [10, 8, 2]
    ds = CompressedDataset(path, "train")
    assert ds.stc == STC((10, 8, 2), 3, spatial_factor=2) and ds.T == 3 and len(ds) == 4
    np.testing.assert_array_equal(ds[2][0].numpy(), frames[2].astype(np.float32))
    with pytest.warns(DeprecationWarning, match="CompressedDataset.T"):
        assert ds.n_time_steps == 3
    # and trains as before: the file's settings fill the training config
    from eventsnn.train.config import TrainConfig, resolve_config

    cfg = resolve_config(TrainConfig(data=str(path)), a)
    assert (cfg.T, cfg.spatial_factor, cfg.mode) == (3, 2, "sum")
    newer = tmp_path / "v3.h5"
    newer.write_bytes(path.read_bytes())
    with h5py.File(newer, "a") as f:
        f.attrs["format_version"] = 3
    with pytest.raises(CompressedFileError, match="format version 3"):
        CompressedDataset(newer)


def test_deprecated_compress_module_and_stcparams_still_work(tmp_path, nmnist_h5, data_dir):
    import eventsnn
    import eventsnn.compress as old

    with pytest.warns(DeprecationWarning, match="STCParams"):
        params = old.STCParams(4)
    with pytest.warns(DeprecationWarning, match="compress_dataset"):
        old_compress = old.compress_dataset
    assert old_compress is compress_dataset
    with pytest.warns(DeprecationWarning, match="STCParams"):
        assert eventsnn.STCParams is type(params)
    out = old_compress("nmnist", tmp_path / "old.h5", params, root=data_dir, limit=200, progress=False)
    with h5py.File(out) as a, h5py.File(nmnist_h5) as b:
        np.testing.assert_array_equal(a["frames"][:], b["frames"][:])
    raw = NMNIST(data_dir, "train")
    recs = [raw.read(i) for i in (0, 500)]
    np.testing.assert_array_equal(params.frames(recs, SENSOR), STC(SENSOR, 4).frames(recs))


def test_workers_give_identical_file(tmp_path, data_dir, nmnist_h5):
    out = compress_dataset("nmnist", tmp_path / "w.h5", STC(SENSOR, 4), root=data_dir, limit=200,
                           workers=2, progress=False)
    with h5py.File(out) as a, h5py.File(nmnist_h5) as b:
        np.testing.assert_array_equal(a["frames"][:], b["frames"][:])
        np.testing.assert_array_equal(a["labels"][:], b["labels"][:])


def test_exp_mode_and_spatial_factor(tmp_path):
    out = compress_dataset("synthetic", tmp_path / "s.h5", STC(SENSOR, 2, ratio=4, mode="exp", decay=0.7,
                           spatial_factor=2, merge_polarity=True), progress=False,
                           dataset_kwargs={"n_samples": 20})
    ds = CompressedDataset(out, "test")
    assert ds.frame_shape == (2, 1, 17, 17) and len(ds) == 20
    assert CompressedDataset(out, None).__len__() == 40


def test_dataloader_workers_open_lazily(nmnist_h5):
    ds = CompressedDataset(nmnist_h5, "train", preload_limit=0)
    loader = torch.utils.data.DataLoader(ds, batch_size=50, num_workers=2)
    xs, ys = zip(*loader, strict=True)
    assert torch.cat(xs).shape == (200, 4, 2, 34, 34)
    assert torch.cat(ys).tolist() == ds.targets.tolist()


def test_interrupted_compress_leaves_nothing(tmp_path, data_dir, nmnist_files):
    tree = tmp_path / "NMNIST" / "Train" / "0"
    tree.mkdir(parents=True)
    for f in nmnist_files[:70]:
        (tree / f.name).write_bytes(f.read_bytes())
    (tree / "99999.bin").write_bytes(nmnist_files[0].read_bytes()[:7])  # truncated, sorts last
    out = tmp_path / "out" / "n.h5"
    with pytest.raises(CorruptRecordingError, match="99999.bin"):
        compress_dataset("nmnist", out, STC(SENSOR, 2), root=tmp_path, progress=False)
    assert list(out.parent.iterdir()) == []


def test_bad_files_and_arguments(tmp_path, nmnist_h5):
    with pytest.raises(FileNotFoundError):
        CompressedDataset(tmp_path / "none.h5")
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(nmnist_h5.read_bytes()[:2000])
    with pytest.raises(CompressedFileError, match="trunc.h5"):
        CompressedDataset(trunc)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = [1]
    with pytest.raises(CompressedFileError, match="not an eventsnn"):
        CompressedDataset(tmp_path / "other.h5")
    with pytest.raises(InvalidParameterError, match="no split 'test'"):
        CompressedDataset(nmnist_h5, "test")
    with pytest.raises(InvalidParameterError, match="T"):
        compress_datasets({"train": NMNIST(None, "train")}, tmp_path / "x.h5", STC(SENSOR, 0))
    with pytest.raises(InvalidParameterError, match="128x128x2 sensor"):
        compress_datasets({"train": NMNIST(None, "train")}, tmp_path / "x.h5", STC((128, 128, 2), 2))


def test_storage_widens_for_hot_pixels(tmp_path):
    from eventsnn.datasets.base import EventDataset
    from eventsnn.events import make_events

    class Hot(EventDataset):
        name, sensor_size, classes = "hot", (4, 4, 2), ("a",)

        def __init__(self, counts):
            super().__init__("train")
            self.counts = counts
            self.targets = [0] * len(counts)

        def read(self, i):
            n = self.counts[i]
            return make_events(np.zeros(n), np.zeros(n), np.arange(n), np.ones(n))

    counts = [10] * 70 + [300] + [70_000]  # uint8 -> uint16 -> float32, across chunks
    out = compress_datasets({"train": Hot(counts)}, tmp_path / "hot.h5", STC(Hot.sensor_size, 1), progress=False)
    ds = CompressedDataset(out)
    assert ds.storage_dtype == np.float32
    np.testing.assert_array_equal(ds.all_frames()[:, 0, 1, 0, 0], counts)
    assert ds[71][0][0, 1, 0, 0].item() == 70_000
    small = compress_datasets({"train": Hot([3, 200])}, tmp_path / "s.h5", STC(Hot.sensor_size, 1), progress=False)
    assert CompressedDataset(small).storage_dtype == np.uint8


def test_an_existing_file_is_refused_before_any_work_unless_overwrite(tmp_path, monkeypatch, capsys):
    import eventsnn.datasets.compressed as compressed
    from eventsnn.cli import main
    from eventsnn.errors import OutputExistsError

    out = tmp_path / "s.h5"
    out.write_bytes(b"earlier results")
    opened = []
    real_get = compressed.get_dataset
    monkeypatch.setattr(compressed, "get_dataset", lambda *a, **k: opened.append(a) or real_get(*a, **k))
    with pytest.raises(OutputExistsError, match=r"s\.h5.*--overwrite"):
        compress_dataset("synthetic", out, STC(SENSOR, 2), progress=False, overwrite=False)
    assert opened == [] and out.read_bytes() == b"earlier results"
    args = ["compress", "--dataset", "synthetic", "--T", "2", "--limit", "10", "--out", str(out), "--no-progress"]
    assert main(args) == 2 and opened == [] and out.read_bytes() == b"earlier results"
    assert main([*args, "--overwrite", "--threads", "1"]) == 0
    assert len(CompressedDataset(out, None)) == 20 and "wrote" in capsys.readouterr().out


def test_simulated_datasets_simulate_only_what_limit_keeps(tmp_path, monkeypatch, data_dir):
    from eventsnn.datasets import SaccadeSimulator

    simulated = []
    real = SaccadeSimulator.simulate
    monkeypatch.setattr(SaccadeSimulator, "simulate",
                        lambda self, images, seed=0: simulated.append(len(images)) or real(self, images, seed))
    out = compress_dataset("nmnist-sim", tmp_path / "n.h5", STC(SENSOR, 2), root=data_dir, limit=20, progress=False)
    assert simulated == [20, 20]  # train and test: 20 images each, not 9,000 + 1,000
    assert len(CompressedDataset(out, "train")) == 20 and len(CompressedDataset(out, "test")) == 20
    simulated.clear()
    out = compress_dataset("cifar10dvs-sim", tmp_path / "c.h5", STC((128, 128, 2), 2, spatial_factor=4),
                           root=data_dir, splits=["test"], limit=20, progress=False)
    assert simulated == [20]  # 2 of each class, not 5,000
    assert sorted(CompressedDataset(out, "test").targets.tolist()) == sorted(list(range(10)) * 2)


def test_tasks_follow_the_simulation_batches(data_dir):
    from eventsnn.datasets import simulated_nmnist
    from eventsnn.datasets._compressed_write import EvenSubset, read_chunks

    ds = simulated_nmnist(data_dir, "test", limit=450)
    assert read_chunks(ds) == [list(range(0, 200)), list(range(200, 400)), list(range(400, 450))]
    sub = EvenSubset(ds, 7)
    batches = [i // 200 for i in sub.indices]
    expected = [[k for k in range(7) if batches[k] == b] for b in sorted(set(batches))]
    assert read_chunks(sub) == expected and len(expected) > 1
    assert read_chunks(NMNIST(data_dir, "train"))[:2] == [list(range(16)), list(range(16, 32))]


def test_workers_are_sent_one_batch_of_source_images_at_a_time(data_dir):
    """Memory bounded by a batch, not the dataset (issue 16, item 3): a worker gets each
    simulated batch's source images with its task, never a copy of every image of the split,
    and computes from them exactly the frames of the whole dataset's recordings."""
    import pickle

    from eventsnn.datasets import simulated_nmnist
    from eventsnn.datasets._compressed_write import (
        EvenSubset,
        compress_chunk,
        make_task,
        read_chunks,
        worker_datasets,
    )

    full = simulated_nmnist(data_dir, "train", limit=1000)
    sub, real, stc = EvenSubset(full, 30), NMNIST(data_dir, "train"), STC(SENSOR, 2)
    datasets = {"sim": sub, "real": real}
    assert worker_datasets(datasets) == {"real": real}  # sent once to every worker: no images
    tasks = [make_task(datasets, "sim", idx, stc) for idx in read_chunks(sub)]
    assert len(tasks) == 5  # one per simulated batch of 200
    for (name, indices, _, part), idx in zip(tasks, read_chunks(sub), strict=True):
        assert name == "sim" and indices == [sub.indices[i] for i in idx]
        assert part._images.shape[0] == 200 and full._images.shape[0] == 1000
        assert len(pickle.dumps(part)) < len(pickle.dumps(full)) / 4
    frames, counts = compress_chunk(tasks[2])
    expected = [full.read(i) for i in tasks[2][1]]
    np.testing.assert_array_equal(frames, stc.frames(expected))
    assert counts.tolist() == [len(r) for r in expected]
    assert make_task(datasets, "real", [0, 1], stc) == ("real", [0, 1], stc, None)


def test_workers_simulate_their_own_batches_with_identical_results(tmp_path):
    kw = {"splits": ["train"], "progress": False, "dataset_kwargs": {"n_samples": 260}}
    a = compress_dataset("synthetic", tmp_path / "a.h5", STC(SENSOR, 2), **kw)
    b = compress_dataset("synthetic", tmp_path / "b.h5", STC(SENSOR, 2), workers=2, **kw)
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for key in ("frames", "labels", "n_events"):
            np.testing.assert_array_equal(fa[key][:], fb[key][:])


def test_a_damaged_chunk_is_one_error_naming_the_file(tmp_path, nmnist_h5):
    out = compress_dataset("nmnist", tmp_path / "g.h5", STC(SENSOR, 2), root=None, limit=100,
                           compression="gzip", progress=False)
    with h5py.File(out) as f:
        info = f["frames"].id.get_chunk_info(1)
        per_chunk = f["frames"].chunks[0]
    raw = bytearray(out.read_bytes())
    raw[info.byte_offset + info.size // 3 : info.byte_offset + info.size // 3 + 64] = b"\x55" * 64
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(raw))
    with pytest.raises(CompressedFileError, match=r"bad\.h5: cannot read the frames"):
        CompressedDataset(bad, "train").all_frames()
    lazy = CompressedDataset(bad, "train", preload_limit=0)
    lazy[0]  # chunk 0 is intact
    with pytest.raises(CompressedFileError, match=rf"bad\.h5: cannot read the frames of sample {per_chunk}"):
        lazy[per_chunk]


def test_a_file_cut_at_a_chunk_boundary_is_told_from_a_short_one(tmp_path):
    """HDF5 records where the file ends: a compressed file cut exactly where a chunk of whole
    samples starts (what a killed copy leaves) is refused naming it, not read as a shorter one."""
    out = compress_dataset("synthetic", tmp_path / "s.h5", STC(SENSOR, 2), splits=["train"], progress=False,
                           dataset_kwargs={"n_samples": 40})
    with h5py.File(out) as f:
        frames = f["frames"]
        starts = sorted(frames.id.get_chunk_info(i).byte_offset for i in range(frames.id.get_num_chunks()))
    assert len(starts) == 3 and out.stat().st_size > starts[-1]
    cut = tmp_path / "cut.h5"
    cut.write_bytes(out.read_bytes()[: starts[-1]])
    with pytest.raises(CompressedFileError, match=r"cut\.h5: not a readable HDF5 file \(truncated.*truncated file"):
        CompressedDataset(cut, None)
    with pytest.raises(CompressedFileError, match=r"cut\.h5"):
        read_attributes(cut)
