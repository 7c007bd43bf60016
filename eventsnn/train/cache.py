"""The on-disk cache of a run's pre-training: the simulated set (as STC frames) and the weights.

Simulating 9,000 N-MNIST recordings costs ≈ 9 CPU-s and pre-training on them minutes; both
are pure functions of their settings, so a second run with the same settings reads them back.

Entries live under the cache folder (:func:`eventsnn.paths.cache_dir`: ``--cache-dir``, else
``$EVENTSNN_CACHE``, else the user's cache folder) as ``<kind>/<dataset>-<hash>/`` with

- ``manifest.json``: format and version, the full key (canonical JSON), and the size and SHA-256
  of every other file of the entry;
- ``frames.pt`` (kind ``frames``: the train and validation frames of a simulated set, stored as
  uint8 / float16 when that is exact, else float32) or ``pretrained.pt`` (kind ``weights``: the
  pre-training stage's final checkpoint).

The key holds every setting that changes the entry: for frames the dataset, its root and the
identity of the files it is made from (relative path, size and modification time of each),
``limit``, the validation choice, the STC settings, the simulator (its version
:data:`~eventsnn.datasets.simulator.SIMULATOR_VERSION` and the source of the simulator modules),
eventsnn's version and :data:`CACHE_FORMAT_VERSION`; for weights the frames key plus the model
(preset defaults and overrides), every optimisation setting, the epochs, the seed, the number of
processes and the device type. ``<hash>`` is the SHA-256 of the key's canonical JSON.

An entry is written into a temporary folder and renamed into place in one step
(:func:`eventsnn.outputs.atomic_dir`): two runs filling the same entry leave one valid entry (the
first rename wins, the second process uses it). Reading validates the manifest (format, the
whole key, sizes and checksums) and decodes the files with ``weights_only=True``; a corrupt or
stale entry is logged, removed and rebuilt, never used.

Why frames and not events: the 9,000 simulated recordings are 576 MB of events (1.4 CPU-s to
read with ``np.load``, plus 0.5 CPU-s of STC) but 83 MB of T = 1 frames as float32 (0.04 CPU-s),
and the key has to hold the STC settings anyway for the weights.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

from eventsnn._version import __version__
from eventsnn.datasets.frames import FrameSet
from eventsnn.datasets.registry import dataset_spec
from eventsnn.outputs import atomic_dir, write_json
from eventsnn.paths import cache_dir, shared_data_dir
from eventsnn.train.checkpoint import load_checkpoint
from eventsnn.train.config import TrainConfig
from eventsnn.train.data import DataBundle
from eventsnn.transforms import STC

__all__ = ["CACHE_FORMAT", "CACHE_FORMAT_VERSION", "TrainCache", "canonical_json", "frames_key", "key_hash",
           "source_identity", "simulator_identity", "weights_key"]

CACHE_FORMAT = "eventsnn-cache"
#: raise when what an entry holds, or how, changes: every earlier entry is then ignored
CACHE_FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_CHUNK = 1 << 22


class CacheEntryError(Exception):
    """An entry cannot be used (the message says why); it is rebuilt."""


def canonical_json(obj: Any) -> str:
    """``obj`` as JSON with sorted keys and no spaces: equal settings give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def key_hash(key: dict[str, Any]) -> str:
    """The first 24 hex digits of the SHA-256 of ``key``'s canonical JSON."""
    return hashlib.sha256(canonical_json(key).encode()).hexdigest()[:24]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def source_identity(dataset: str, root: str | Path | None) -> dict[str, Any]:
    """The files simulated dataset ``dataset`` is made from, under ``root`` (default: the shared
    data folder): the folder, how many files, and a hash of their relative paths, sizes and
    modification times (:attr:`DatasetSpec.source_patterns <eventsnn.datasets.registry.DatasetSpec>`)."""
    base = (Path(root).expanduser() if root is not None else shared_data_dir()).resolve()
    files = sorted({p for pattern in dataset_spec(dataset).source_patterns for p in base.glob(pattern) if p.is_file()})
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(base)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return {"root": str(base), "n_files": len(files), "files": h.hexdigest()}


def simulator_identity() -> dict[str, Any]:
    """The simulator's version and a hash of the source of the modules that simulate."""
    from eventsnn.datasets import images, simulator, synthetic

    h = hashlib.sha256()
    for module in (simulator, synthetic, images):
        h.update(Path(str(module.__file__)).read_bytes())
    return {"version": simulator.SIMULATOR_VERSION, "code": h.hexdigest()}


def frames_key(cfg: TrainConfig) -> dict[str, Any]:
    """Key of the frames of a resolved config's simulated dataset (its train and validation sets)."""
    return {
        "kind": "frames", "format_version": CACHE_FORMAT_VERSION, "eventsnn": __version__,
        "dataset": cfg.dataset, "source": source_identity(str(cfg.dataset), cfg.root),
        "simulator": simulator_identity(), "limit": cfg.limit,
        "validation": {"split": cfg.val_split, "fraction": float(cfg.val_fraction), "seed": int(cfg.split_seed)},
        "stc": cfg.stc().to_dict(),
    }


#: the settings of a training stage that change its weights (besides its frames)
WEIGHT_SETTINGS = ("preset", "model", "epochs", "batch_size", "lr", "weight_decay", "scheduler", "loss",
                   "label_smoothing", "augment", "synops_penalty", "seed", "amp")


def weights_key(cfg: TrainConfig, frames: dict[str, Any], world_size: int, device_type: str) -> dict[str, Any]:
    """Key of the final weights of a resolved (pre-training) config trained on ``frames``."""
    from eventsnn.nn.presets import default_config

    train = {k: getattr(cfg, k) for k in WEIGHT_SETTINGS}
    train["amp"] = bool(cfg.amp if cfg.amp is not None else device_type == "cuda")  # as the stage resolves it
    return {
        "kind": "weights", "format_version": CACHE_FORMAT_VERSION, "eventsnn": __version__, "frames": frames,
        "train": train,
        "preset_defaults": default_config(str(cfg.preset)),
        "world_size": int(world_size), "device": device_type,
    }


def _pack(x: torch.Tensor) -> torch.Tensor:
    """``x`` (float32) as uint8 or float16 when that holds it exactly, else as it is."""
    for dtype in (torch.uint8, torch.float16):
        y = x.to(dtype)
        if torch.equal(y.float(), x):
            return y
    return x


def _bundle_tensors(bundle: DataBundle) -> dict[str, torch.Tensor]:
    return {"train_x": _pack(bundle.train.x), "train_y": bundle.train.y,
            "val_x": _pack(bundle.val.x), "val_y": bundle.val.y}


def _bundle_meta(bundle: DataBundle) -> dict[str, Any]:
    return {"classes": list(bundle.classes), "sensor_size": list(bundle.sensor_size), "stc": bundle.stc.to_dict(),
            "info": bundle.info}


class TrainCache:
    """The cache folder of a run (see the module docstring).

    Args:
        folder: the cache folder (``None``: :func:`eventsnn.paths.cache_dir`'s default).
        log: where to say what is used, stored or rebuilt, and why.
    """

    def __init__(self, folder: str | Path | None = None, log: Callable[[str], None] = print) -> None:
        self.folder = cache_dir(folder)
        self.log = log

    def entry(self, key: dict[str, Any], name: str) -> Path:
        """The folder of the entry of ``key`` (``name``: a readable prefix, the dataset)."""
        return self.folder / str(key["kind"]) / f"{name}-{key_hash(key)}"

    # ---------------------------------------------------------------------------------- reading

    def _validated(self, entry: Path, key: dict[str, Any]) -> dict[str, Any]:
        """The manifest of ``entry`` if everything in it checks out; raises CacheEntryError."""
        try:
            manifest = json.loads((entry / _MANIFEST).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CacheEntryError(f"unreadable manifest ({type(exc).__name__})") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT:
            raise CacheEntryError("not an eventsnn cache entry")
        if manifest.get("format_version") != CACHE_FORMAT_VERSION:
            raise CacheEntryError(f"format version {manifest.get('format_version')}, not {CACHE_FORMAT_VERSION}")
        if canonical_json(manifest.get("key")) != canonical_json(key):
            raise CacheEntryError("stale: made with other settings")
        for name, want in dict(manifest.get("files", {})).items():
            path = entry / name
            if not path.is_file() or path.stat().st_size != int(want["bytes"]):
                raise CacheEntryError(f"{name} is missing or has the wrong size")
            if _sha256(path) != want["sha256"]:
                raise CacheEntryError(f"{name} fails its checksum")
        return manifest

    def read(self, key: dict[str, Any], name: str, decode: Callable[[Path, dict[str, Any]], Any]) -> Any:
        """``decode(entry, manifest)`` of the valid entry of ``key``, or ``None`` when there is
        none; an invalid one is logged and removed (the caller rebuilds it)."""
        entry = self.entry(key, name)
        if not entry.exists():
            return None
        try:
            manifest = self._validated(entry, key)
            return decode(entry, manifest)
        except CacheEntryError as exc:
            reason = str(exc)
        except Exception as exc:  # a file that passed its checksum but does not decode
            reason = f"cannot be decoded: {(str(exc).strip() or type(exc).__name__).splitlines()[0]}"
        self.log(f"cache: {entry} is corrupt or stale ({reason}); rebuilding it")
        self.remove(entry)
        return None

    def remove(self, entry: Path) -> None:
        """Remove ``entry``: renamed aside first (one step), then deleted."""
        aside = entry.with_name(f"{entry.name}.removed-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(entry, aside)
            shutil.rmtree(aside, ignore_errors=True)

    # ---------------------------------------------------------------------------------- writing

    def write(self, key: dict[str, Any], name: str, files: Iterable[tuple[str, Callable[[Path], Any]]],
              meta: dict[str, Any] | None = None) -> Path:
        """Write the entry of ``key``: each ``(file name, writer(path))``, then the manifest, in a
        temporary folder renamed into place. When another process wrote it meanwhile, its entry
        is kept. Returns the entry's folder."""
        entry = self.entry(key, name)
        try:
            with atomic_dir(entry) as tmp:
                sums = {}
                for fname, writer in files:
                    writer(tmp / fname)
                    sums[fname] = {"bytes": (tmp / fname).stat().st_size, "sha256": _sha256(tmp / fname)}
                write_json(tmp / _MANIFEST, {
                    "format": CACHE_FORMAT, "format_version": CACHE_FORMAT_VERSION, "eventsnn_version": __version__,
                    "key": json.loads(canonical_json(key)), "key_hash": key_hash(key), "files": sums,
                    "meta": meta or {},
                })
        except FileExistsError:
            self.log(f"cache: {entry} was written meanwhile by another run; using that one")
            return entry
        self.log(f"cache: stored {entry}")
        return entry

    # ---------------------------------------------------------------------------------- kinds

    def read_frames(self, key: dict[str, Any], name: str) -> DataBundle | None:
        """The cached train / validation frames of ``key``, or ``None``."""

        def decode(entry: Path, manifest: dict[str, Any]) -> DataBundle:
            t = torch.load(entry / "frames.pt", map_location="cpu", weights_only=True)
            meta = manifest["meta"]
            stc = STC.from_dict(meta["stc"])
            train, val = FrameSet(t["train_x"].float(), t["train_y"]), FrameSet(t["val_x"].float(), t["val_y"])
            if tuple(train.x.shape[1:]) != stc.output_shape or val.x.shape[1:] != train.x.shape[1:]:
                raise CacheEntryError(f"frames of shape {tuple(train.x.shape)} do not match {stc}")
            sensor = tuple(int(s) for s in meta["sensor_size"])
            return DataBundle(train, val, [str(c) for c in meta["classes"]], sensor, stc, dict(meta["info"]))  # type: ignore[arg-type]

        return self.read(key, name, decode)

    def write_frames(self, key: dict[str, Any], name: str, bundle: DataBundle) -> Path:
        def save(path: Path) -> None:
            torch.save(_bundle_tensors(bundle), path)

        return self.write(key, name, [("frames.pt", save)], _bundle_meta(bundle))

    def read_weights(self, key: dict[str, Any], name: str) -> Path | None:
        """The cached pre-training checkpoint of ``key`` (a path inside the entry), or ``None``."""

        def decode(entry: Path, manifest: dict[str, Any]) -> Path:
            from eventsnn.errors import CheckpointError

            path = entry / "pretrained.pt"
            try:
                load_checkpoint(path)
            except CheckpointError as exc:
                raise CacheEntryError(str(exc)) from exc
            return path

        return self.read(key, name, decode)

    def write_weights(self, key: dict[str, Any], name: str, checkpoint: Path) -> Path:
        return self.write(key, name, [("pretrained.pt", lambda p: shutil.copyfile(checkpoint, p))])
