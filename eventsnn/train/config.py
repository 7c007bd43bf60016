"""Training settings: one flat, JSON-able dataclass, filled from the per-dataset defaults.

``TrainConfig`` is what :func:`eventsnn.train.train` takes (or a plain dict of its fields) and
what every checkpoint records (``checkpoint["config"]["train"]``). Fields left ``None`` are
filled by :func:`resolve_config` from the dataset's training defaults
(:attr:`eventsnn.datasets.DatasetSpec.training`) and from the model preset (``spatial_factor``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from eventsnn._deprecation import deprecated_names
from eventsnn.datasets.registry import DATASETS, TrainingDefaults, dataset_spec
from eventsnn.errors import InvalidParameterError
from eventsnn.events import SensorSize
from eventsnn.transforms import STC

__all__ = ["TrainConfig", "DEFAULT_DATASET", "resolve_config", "as_config", "dataset_defaults"]

DEFAULT_DATASET = "synthetic"


@dataclass
class TrainConfig:
    """Everything a training run depends on.

    Data (one of):
        dataset: registered dataset name (:data:`eventsnn.datasets.DATASETS`); with neither
            ``dataset`` nor ``data`` the embedded default ``"synthetic"`` is used.
        root: folder holding the dataset (default: the shared data folder).
        data: a compressed HDF5 file (``eventsnn compress``); its STC settings are used.
        limit: keep ``limit`` samples of each split (evenly spread over the split, so class-sorted
            datasets keep every class; simulated sets generate only that many).

    Validation:
        val_split: ``"auto"`` (the dataset's test split when present, else a hold-out),
            ``"holdout"`` (always hold out part of train) or ``"test"``.
        val_fraction: fraction of each class held out from train for validation.
        split_seed: seed of the stratified hold-out (kept apart from ``seed`` so that runs with
            different seeds validate on the same recordings).

    Model:
        preset: model preset (default from the dataset, see :func:`dataset_defaults`).
        model: overrides of :func:`eventsnn.nn.build_model` (e.g. ``{"n_thresholds": 4}``).
        init_from: checkpoint whose weights (and model config) start the run (fine-tuning).

    STC (see :class:`eventsnn.transforms.STC`): ``T, ratio, mode, decay, spatial_factor,
    merge_polarity, carry``. ``spatial_factor=None`` takes the dataset default, else the preset's.

    Optimisation: ``epochs, batch_size, lr, weight_decay`` (Adam), ``scheduler`` ("cosine" over
    the epochs, or "none"), ``loss`` ("auto": cross-entropy for logits readouts, MSE to one-hot
    for rate readouts; or "ce" / "mse"), ``label_smoothing`` (cross-entropy only), ``augment``
    (training-batch augmentation spec of :class:`eventsnn.train.augment.FrameAugment`, e.g.
    ``"shift=2"``; random per sample from ``(seed, epoch, rank)``, so resumable),
    ``synops_penalty`` (weight of the synaptic-operation fraction added to the loss, see
    :class:`eventsnn.train.regularize.SynOpsPenalty`; 0 = off), ``seed``.

    Runtime: ``out`` (run folder), ``device`` ("auto" | "cpu" | "cuda" | "cuda:N"), ``amp``
    (mixed precision; ``None`` = on for CUDA, off for CPU), ``workers`` (DataLoader processes),
    ``resume`` (continue from ``out/last.pt``), ``progress`` (tqdm bars), ``threads`` (torch CPU
    threads; ``None`` leaves torch's default, or cores / local processes under torchrun).
    """

    out: str = "runs/demo"
    dataset: str | None = None
    root: str | None = None
    data: str | None = None
    limit: int | None = None
    val_split: str = "auto"
    val_fraction: float = 0.1
    split_seed: int = 0
    preset: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = None
    T: int | None = None
    ratio: int = 1
    mode: str = "sum"
    decay: float = 0.5
    spatial_factor: int | None = None
    merge_polarity: bool = False
    carry: bool = False
    epochs: int | None = None
    batch_size: int | None = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    loss: str = "auto"
    label_smoothing: float = 0.0
    augment: str | None = None
    synops_penalty: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None
    workers: int = 0
    resume: bool = False
    progress: bool = True
    threads: int | None = None

    def stc(self, sensor_size: SensorSize | None = None) -> STC:
        """The STC settings for recordings of ``sensor_size`` (default: the registered
        dataset's); ``T`` and ``spatial_factor`` must be resolved."""
        if self.T is None or self.spatial_factor is None:
            raise InvalidParameterError("STC settings are not resolved yet (call resolve_config)")
        if sensor_size is None:
            if self.dataset is None:
                raise InvalidParameterError("the sensor size of a compressed file's recordings must be given")
            sensor_size = dataset_spec(self.dataset).sensor_size
        return STC(
            sensor_size, int(self.T), int(self.ratio), self.mode, float(self.decay), int(self.spatial_factor),
            bool(self.merge_polarity), bool(self.carry),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_config(config: TrainConfig | Mapping[str, Any]) -> TrainConfig:
    """A :class:`TrainConfig` from itself or from a mapping of its fields (unknown keys raise)."""
    if isinstance(config, TrainConfig):
        return dataclasses.replace(config, model=dict(config.model))
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise InvalidParameterError(f"unknown training option(s) {unknown}; valid: {sorted(names)}")
    return TrainConfig(**dict(config))


def dataset_defaults(name: str | None) -> TrainingDefaults:
    """The training defaults of dataset ``name``; for an unknown or no name (a compressed file
    from elsewhere), :class:`TrainingDefaults`' own."""
    spec = DATASETS.get(name or "")
    return spec.training if spec is not None else TrainingDefaults()


def _legacy_defaults() -> Mapping[str, Mapping[str, Any]]:
    """``DATASET_DEFAULTS`` as it was: name -> {preset, T, epochs, batch_size[, spatial_factor]
    [, n_samples]}, read-only, derived from the dataset specs."""
    table = {}
    for name, spec in DATASETS.items():
        d = {k: v for k, v in asdict(spec.training).items() if v is not None}
        if spec.sizes:
            d["n_samples"] = MappingProxyType(dict(spec.sizes))
        table[name] = MappingProxyType(d)
    return MappingProxyType(table)


__getattr__ = deprecated_names(__name__, {
    "DATASET_DEFAULTS": (_legacy_defaults, "use eventsnn.datasets.DATASETS[name].training "
                         "(and .sizes for the simulated sets)"),
})


def resolve_config(config: TrainConfig, file_attrs: Mapping[str, Any] | None = None) -> TrainConfig:
    """Fill the ``None`` fields and check every value; returns a new config.

    ``file_attrs``: attributes of the compressed file when ``config.data`` is set
    (:func:`eventsnn.datasets.compressed.read_attributes`; its STC settings replace the STC
    fields; an explicit ``T`` or ``spatial_factor`` that disagrees with the file raises).
    """
    from eventsnn.nn.presets import default_config

    cfg = as_config(config)
    if cfg.data is not None and cfg.dataset is not None:
        raise InvalidParameterError("give either a dataset name or a compressed file (--data), not both")
    if cfg.data is None and cfg.dataset is None:
        cfg.dataset = DEFAULT_DATASET
    if cfg.dataset is not None:
        dataset_spec(cfg.dataset)  # raises on an unknown name
    source_name = cfg.dataset if cfg.dataset is not None else str((file_attrs or {}).get("dataset", ""))
    defaults = dataset_defaults(source_name)
    if cfg.data is not None:
        stc = dict((file_attrs or {}).get("stc", {}))
        if not stc:
            raise InvalidParameterError(f"{cfg.data}: no STC settings stored in the file")
        for key in ("T", "spatial_factor"):
            given = getattr(cfg, key)
            if given is not None and int(given) != int(stc[key]):
                raise InvalidParameterError(
                    f"{cfg.data} holds frames with {key}={stc[key]}, but {key}={given} "
                    f"was asked for; compress again with that setting or train from --dataset"
                )
        cfg.T = int(stc["T"])
        cfg.ratio, cfg.mode, cfg.decay = int(stc["ratio"]), str(stc["mode"]), float(stc["decay"])
        cfg.spatial_factor = int(stc["spatial_factor"])
        cfg.merge_polarity, cfg.carry = bool(stc["merge_polarity"]), bool(stc["carry"])
    if cfg.preset is None:
        cfg.preset = defaults.preset
    preset_cfg = default_config(cfg.preset)
    for key in ("T", "epochs", "batch_size"):
        if getattr(cfg, key) is None:
            setattr(cfg, key, int(getattr(defaults, key)))
    if cfg.spatial_factor is None:
        sf = defaults.spatial_factor if defaults.spatial_factor is not None else preset_cfg["spatial_factor"]
        cfg.spatial_factor = int(cfg.model.get("spatial_factor", sf))
    _check(cfg)
    return cfg


def _check(cfg: TrainConfig) -> None:
    for name in ("T", "epochs", "batch_size", "ratio", "spatial_factor"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidParameterError(f"{name} must be an integer >= 1, got {v!r}")
    if cfg.limit is not None and (not isinstance(cfg.limit, int) or cfg.limit < 2):
        raise InvalidParameterError(f"limit must be an integer >= 2, got {cfg.limit!r}")
    if not 0.0 < float(cfg.val_fraction) < 1.0:
        raise InvalidParameterError(f"val_fraction must be in (0, 1), got {cfg.val_fraction}")
    if cfg.val_split not in ("auto", "holdout", "test"):
        raise InvalidParameterError(f"val_split must be auto, holdout or test, got {cfg.val_split!r}")
    if not float(cfg.lr) > 0.0:
        raise InvalidParameterError(f"lr must be > 0, got {cfg.lr}")
    if float(cfg.weight_decay) < 0.0:
        raise InvalidParameterError(f"weight_decay must be >= 0, got {cfg.weight_decay}")
    if cfg.scheduler not in ("cosine", "none"):
        raise InvalidParameterError(f"scheduler must be cosine or none, got {cfg.scheduler!r}")
    if not 0.0 <= float(cfg.label_smoothing) < 1.0:
        raise InvalidParameterError(f"label_smoothing must be in [0, 1), got {cfg.label_smoothing}")
    if not float(cfg.synops_penalty) >= 0.0:
        raise InvalidParameterError(f"synops_penalty must be >= 0, got {cfg.synops_penalty}")
    if cfg.loss not in ("auto", "ce", "mse"):
        raise InvalidParameterError(f"loss must be auto, ce or mse, got {cfg.loss!r}")
    if cfg.workers < 0:
        raise InvalidParameterError(f"workers must be >= 0, got {cfg.workers}")
    if cfg.threads is not None and cfg.threads < 1:
        raise InvalidParameterError(f"threads must be >= 1, got {cfg.threads}")
    if not (cfg.device in ("auto", "cpu", "cuda") or cfg.device.startswith("cuda:")):
        raise InvalidParameterError(f"device must be auto, cpu, cuda or cuda:N, got {cfg.device!r}")
    from eventsnn.train.augment import FrameAugment

    FrameAugment.from_spec(cfg.augment)  # raises on a bad spec, before any data is read
    if not isinstance(cfg.model, dict):
        raise InvalidParameterError(f"model overrides must be a dict, got {type(cfg.model).__name__}")
