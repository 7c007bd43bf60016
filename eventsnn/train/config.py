"""Training settings: one flat, JSON-able dataclass, filled from the recipe and the defaults.

``TrainConfig`` is what :func:`eventsnn.train.train` takes (or a plain dict of its fields) and
what every checkpoint records (``checkpoint["config"]["train"]``, every setting resolved, with
the recipe used). Fields left ``None`` are filled by :func:`resolve_config`, in this order:

1. from the run's recipe (:mod:`eventsnn.train.recipes`; ``recipe="auto"`` picks the one declared
   for the dataset and ``T``, ``"none"`` skips this step);
2. from :data:`BARE_DEFAULTS` and the dataset's training defaults
   (:attr:`eventsnn.datasets.DatasetSpec.training`), and from the model preset
   (``spatial_factor``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from eventsnn._deprecation import deprecated_names
from eventsnn.datasets.registry import DATASETS, TrainingDefaults, dataset_spec
from eventsnn.datasets.selection import VAL_SPLIT_FORMS, is_val_split
from eventsnn.errors import InvalidParameterError
from eventsnn.events import SensorSize
from eventsnn.train.recipes import NO_RECIPE, Recipe, find_recipe, get_recipe
from eventsnn.transforms import STC

__all__ = ["TrainConfig", "DEFAULT_DATASET", "BARE_DEFAULTS", "STC_FIELDS", "resolve_config", "as_config",
           "dataset_defaults"]

DEFAULT_DATASET = "synthetic"

#: Values of the settings that neither the run nor its recipe gives (``preset``, ``T``, ``epochs``,
#: ``batch_size`` and ``spatial_factor`` come from the dataset's training defaults instead;
#: ``augment``, ``pretrain_dataset`` and ``pretrain_limit`` stay ``None``: none, all samples).
BARE_DEFAULTS: Mapping[str, Any] = MappingProxyType({
    "ratio": 1, "mode": "sum", "decay": 0.5, "merge_polarity": False, "carry": False,
    "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "scheduler": "cosine", "loss": "auto", "label_smoothing": 0.0,
    "synops_penalty": 0.0, "pretrain_epochs": 0, "balance": False,
})
#: the STC fields (a compressed file's own settings replace them)
STC_FIELDS = ("T", "ratio", "mode", "decay", "spatial_factor", "merge_polarity", "carry")
_PRETRAIN_FIELDS = ("pretrain_dataset", "pretrain_epochs", "pretrain_limit", "pretrain_lr")


@dataclass
class TrainConfig:
    """Everything a training run depends on.

    Fields marked *(recipe)* default to ``None``: "not given". :func:`resolve_config` fills them
    from the run's recipe (:mod:`eventsnn.train.recipes`: ``TrainConfig(dataset="nmnist", T=1)``
    gets the N-MNIST recipe at T = 1), then from :data:`BARE_DEFAULTS` and the dataset's
    training defaults; a value given overrides that one setting of the recipe.

    Data (one of):
        dataset: registered dataset name (:data:`eventsnn.datasets.DATASETS`); with neither
            ``dataset`` nor ``data`` the embedded default ``"synthetic"`` is used.
        root: folder holding the dataset (default: the shared data folder).
        data: a compressed HDF5 file (``eventsnn compress``); its STC settings are used.
        limit: keep ``limit`` samples of each split (evenly spread over the split, so class-sorted
            datasets keep every class; simulated sets generate only that many).
        dataset_options *(recipe, merged)*: the dataset's options (:attr:`DatasetSpec.options
            <eventsnn.datasets.DatasetSpec>`, e.g. ``{"window_us": 300000}`` for
            ``dvs128objects``); unset ones take the dataset's defaults. Recorded resolved, so
            evaluation and benchmarks open the same samples.

    Recipe:
        recipe: ``"auto"`` (the recipe declared for the dataset and ``T``, if any), a recipe
            name (``"nmnist-T1"``, ``"plif"``, ... see :data:`eventsnn.train.recipes.RECIPES`) or
            ``"none"`` (bare defaults). Resolved to the name used, or ``"none"``.

    Validation:
        val_split: ``"auto"`` (the dataset's test split when present, else a hold-out),
            ``"holdout"`` (always hold out part of train), ``"test"``, ``"session:NAME"``
            (leave session ``NAME`` out: validate on its recordings, train on the others) or
            ``"recording:ID"`` (leave one recording out: validate on its windows, train on the
            others; ``ID`` as in the dataset's ``recording_ids``, e.g. ``"DataSet2/mug/Caneca"``).
            Datasets whose samples are windows of long recordings hold out whole recordings.
        val_fraction: fraction of each class held out from train for validation (of its
            recordings, for windows).
        split_seed: seed of the stratified hold-out (kept apart from ``seed`` so that runs with
            different seeds validate on the same recordings).

    Model:
        preset *(recipe)*: model preset (default from the dataset, see :func:`dataset_defaults`).
        model *(recipe, merged)*: overrides of :func:`eventsnn.nn.build_model` (e.g.
            ``{"n_thresholds": 4}``); the recipe's overrides apply under these.
        init_from: checkpoint whose weights (and model config) start the run (fine-tuning);
            replaces the recipe's pre-training.

    Pre-training (a stage of the same run, into ``out/pretrain``; cached, see
    :mod:`eventsnn.train.cache`):
        pretrain_dataset *(recipe)*: the (simulated) dataset pre-trained on first.
        pretrain_epochs *(recipe)*: its epochs (0: no pre-training).
        pretrain_limit *(recipe)*: pre-train on this many of its samples per split (default:
            all, or ``limit``).
        pretrain_lr *(recipe)*: its Adam learning rate (default: ``lr``, the run's).
        pretrain_root: folder holding the pre-training dataset's sources (default: ``root``, the
            run's; e.g. the folder with ``CIFAR10/`` when the run reads ``CIFAR10DVS/`` elsewhere).
        cache_dir: the cache folder (default ``$EVENTSNN_CACHE``, else the user's cache folder).

    STC *(recipe)* (see :class:`eventsnn.transforms.STC`): ``T, ratio, mode, decay,
    spatial_factor, merge_polarity, carry``. ``spatial_factor=None`` takes the dataset default,
    else the preset's.

    Optimisation *(recipe)*: ``epochs, batch_size``, ``optimizer`` ("adam": ``weight_decay`` is an
    L2 term; "adamw": decoupled weight decay), ``lr, weight_decay``, ``scheduler``
    ("cosine" over the epochs, or "none"), ``loss`` ("auto": cross-entropy for logits readouts,
    MSE to one-hot for rate readouts; or "ce" / "mse"), ``label_smoothing`` (cross-entropy only),
    ``augment`` (training-batch augmentation spec of :class:`eventsnn.train.augment.FrameAugment`,
    e.g. ``"shift=2"``, ``"none"``; random per sample from ``(seed, epoch, rank)``, so
    resumable), ``event_augment`` (event-level augmentation of the training windows of a
    windowed dataset, frames made anew every epoch: spec of
    :class:`eventsnn.train.event_augment.EventAugment`, e.g. ``"time=2,drop=0.5,mirror"``),
    ``balance`` (every class drawn equally often per epoch, see
    :class:`eventsnn.train.sampling.BalancedSampler`), ``synops_penalty`` (weight of the synaptic-operation fraction added to the loss,
    see :class:`eventsnn.train.regularize.SynOpsPenalty`; 0 = off). ``seed``.
    ``budget_cpu_s``: CPU-seconds the run may spend (``cpu_s`` of the metrics, both stages;
    ``None``: no limit): no epoch starts once they are spent, and when the first epoch of a stage
    shows that its epochs do not fit in what is left, the stage runs the epochs that fit, with the
    cosine schedule fitted to them (so it still anneals to 0).

    Runtime: ``out`` (run folder), ``overwrite`` (replace the results of an earlier run there),
    ``device`` ("auto" | "cpu" | "cuda" | "cuda:N"), ``amp`` (mixed precision; ``None`` = on
    for CUDA, off for CPU), ``workers`` (DataLoader processes), ``resume`` (continue from
    ``out/last.pt``, or from ``out/pretrain/last.pt`` when killed while pre-training),
    ``progress`` (tqdm bars), ``threads`` (torch CPU threads; ``None`` leaves torch's default, or
    cores / local processes under torchrun).
    """

    out: str = "runs/demo"
    dataset: str | None = None
    root: str | None = None
    data: str | None = None
    limit: int | None = None
    dataset_options: dict[str, Any] = field(default_factory=dict)
    recipe: str = "auto"
    val_split: str = "auto"
    val_fraction: float = 0.1
    split_seed: int = 0
    preset: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = None
    pretrain_dataset: str | None = None
    pretrain_epochs: int | None = None
    pretrain_limit: int | None = None
    pretrain_lr: float | None = None
    pretrain_root: str | None = None
    cache_dir: str | None = None
    T: int | None = None
    ratio: int | None = None
    mode: str | None = None
    decay: float | None = None
    spatial_factor: int | None = None
    merge_polarity: bool | None = None
    carry: bool | None = None
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float | None = None
    scheduler: str | None = None
    loss: str | None = None
    label_smoothing: float | None = None
    augment: str | None = None
    event_augment: str | None = None
    balance: bool | None = None
    synops_penalty: float | None = None
    budget_cpu_s: float | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool | None = None
    workers: int = 0
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    threads: int | None = None

    def stc(self, sensor_size: SensorSize | None = None) -> STC:
        """The STC settings for recordings of ``sensor_size`` (default: the registered
        dataset's); ``T`` and ``spatial_factor`` must be resolved."""
        if any(getattr(self, k) is None for k in STC_FIELDS):
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
        return dataclasses.replace(config, model=dict(config.model), dataset_options=dict(config.dataset_options))
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
        d = {k: v for k, v in asdict(spec.training).items() if v is not None and k != "preset_model"}
        if spec.sizes:
            d["n_samples"] = MappingProxyType(dict(spec.sizes))
        table[name] = MappingProxyType(d)
    return MappingProxyType(table)


__getattr__ = deprecated_names(__name__, {
    "DATASET_DEFAULTS": (_legacy_defaults, "use eventsnn.datasets.DATASETS[name].training "
                         "(and .sizes for the simulated sets)"),
})


def resolve_config(config: TrainConfig, file_attrs: Mapping[str, Any] | None = None) -> TrainConfig:
    """Fill the ``None`` fields (recipe, then defaults) and check every value; returns a new config.

    Resolving a resolved config changes nothing. ``file_attrs``: attributes of the compressed
    file when ``config.data`` is set (:func:`eventsnn.datasets.compressed.read_attributes`; its
    STC settings replace the STC fields; an explicit ``T`` or ``spatial_factor`` that disagrees
    with the file raises).
    """
    cfg = as_config(config)
    recipe = _named_recipe(cfg)
    _choose_source(cfg, recipe)
    defaults = dataset_defaults(cfg.dataset if cfg.dataset is not None else str((file_attrs or {}).get("dataset", "")))
    if cfg.data is not None:
        _apply_file_stc(cfg, file_attrs)
    if cfg.recipe == "auto":
        recipe = find_recipe(cfg.dataset, cfg.T) if cfg.data is None else None
    cfg.recipe = recipe.name if recipe is not None else NO_RECIPE
    if recipe is not None:
        _apply_recipe(cfg, recipe)
    _apply_defaults(cfg, defaults)
    _check(cfg)
    return cfg


def _named_recipe(cfg: TrainConfig) -> Recipe | None:
    """The recipe ``cfg.recipe`` names (``None`` for ``"auto"`` and ``"none"``)."""
    if not isinstance(cfg.recipe, str):
        raise InvalidParameterError(f"recipe must be a name, 'auto' or '{NO_RECIPE}', got {cfg.recipe!r}")
    return None if cfg.recipe in ("auto", NO_RECIPE) else get_recipe(cfg.recipe)


def _choose_source(cfg: TrainConfig, recipe: Recipe | None) -> None:
    """Dataset or compressed file: the one given, else the named recipe's dataset, else the
    embedded default; a named recipe for another dataset raises."""
    if cfg.data is not None and cfg.dataset is not None:
        raise InvalidParameterError("give either a dataset name or a compressed file (--data), not both")
    if cfg.data is None and cfg.dataset is None:
        cfg.dataset = recipe.dataset if recipe is not None and recipe.dataset else DEFAULT_DATASET
    if cfg.dataset is not None:
        dataset_spec(cfg.dataset)  # raises on an unknown name
    if recipe is not None and recipe.dataset is not None and cfg.data is None and recipe.dataset != cfg.dataset:
        raise InvalidParameterError(
            f"recipe {recipe.name} is for {recipe.dataset}, not {cfg.dataset}; "
            f"use --recipe auto, --recipe {NO_RECIPE} or a recipe for {cfg.dataset}"
        )


def _apply_file_stc(cfg: TrainConfig, file_attrs: Mapping[str, Any] | None) -> None:
    """A compressed file's STC settings replace the STC fields."""
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
    cfg.T, cfg.spatial_factor = int(stc["T"]), int(stc["spatial_factor"])
    cfg.ratio, cfg.mode, cfg.decay = int(stc["ratio"]), str(stc["mode"]), float(stc["decay"])
    cfg.merge_polarity, cfg.carry = bool(stc["merge_polarity"]), bool(stc["carry"])


def _apply_recipe(cfg: TrainConfig, recipe: Recipe) -> None:
    """Fill the fields still ``None`` from ``recipe`` (its ``model`` overrides merge under the
    run's); ``init_from`` replaces the recipe's pre-training."""
    for key, value in recipe.config_values().items():
        if key == "model":
            cfg.model = {**value, **cfg.model}
        elif key == "dataset_options":
            cfg.dataset_options = {**value, **cfg.dataset_options}
        elif not (key in _PRETRAIN_FIELDS and cfg.init_from is not None) and getattr(cfg, key) is None:
            setattr(cfg, key, value)


def _apply_defaults(cfg: TrainConfig, defaults: TrainingDefaults) -> None:
    from eventsnn.nn.presets import default_config

    if cfg.preset is None:
        cfg.preset = defaults.preset
    cfg.model = {**defaults.preset_model.get(str(cfg.preset), {}), **cfg.model}
    if cfg.dataset is not None:
        cfg.dataset_options = dataset_spec(cfg.dataset).resolve_options(cfg.dataset_options)
    elif cfg.dataset_options:
        raise InvalidParameterError("dataset options apply to a dataset (--dataset), not to a compressed file")
    for key in ("T", "epochs", "batch_size"):
        if getattr(cfg, key) is None:
            setattr(cfg, key, int(getattr(defaults, key)))
    if cfg.spatial_factor is None:
        sf = defaults.spatial_factor
        if sf is None:
            sf = default_config(cfg.preset)["spatial_factor"]
        cfg.spatial_factor = int(cfg.model.get("spatial_factor", sf))
    for key, value in BARE_DEFAULTS.items():
        if getattr(cfg, key) is None:
            setattr(cfg, key, value)
    if not cfg.pretrain_epochs:
        cfg.pretrain_dataset = cfg.pretrain_limit = cfg.pretrain_lr = None
    elif cfg.pretrain_lr is None:
        cfg.pretrain_lr = cfg.lr


def _check(cfg: TrainConfig) -> None:
    _check_counts(cfg)
    _check_rates(cfg)
    _check_choices(cfg)
    _check_pretraining(cfg)
    from eventsnn.train.augment import FrameAugment

    FrameAugment.from_spec(cfg.augment)  # raises on a bad spec, before any data is read
    _check_event_augment(cfg)
    if not isinstance(cfg.model, dict):
        raise InvalidParameterError(f"model overrides must be a dict, got {type(cfg.model).__name__}")


def _check_counts(cfg: TrainConfig) -> None:
    for name in ("T", "epochs", "batch_size", "ratio", "spatial_factor"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidParameterError(f"{name} must be an integer >= 1, got {v!r}")
    for name in ("limit", "pretrain_limit"):
        v = getattr(cfg, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 2):
            raise InvalidParameterError(f"{name} must be an integer >= 2, got {v!r}")
    if cfg.workers < 0:
        raise InvalidParameterError(f"workers must be >= 0, got {cfg.workers}")
    if cfg.threads is not None and (isinstance(cfg.threads, bool) or not isinstance(cfg.threads, int)
                                    or cfg.threads < 1):
        raise InvalidParameterError(f"threads must be an integer >= 1, got {cfg.threads!r}")


def _check_rates(cfg: TrainConfig) -> None:
    if not 0.0 < float(cfg.val_fraction) < 1.0:
        raise InvalidParameterError(f"val_fraction must be in (0, 1), got {cfg.val_fraction}")
    for name in ("lr", "pretrain_lr"):
        v = getattr(cfg, name)
        if v is not None and not float(v) > 0.0:
            raise InvalidParameterError(f"{name} must be > 0, got {v}")
    if float(cfg.weight_decay) < 0.0:
        raise InvalidParameterError(f"weight_decay must be >= 0, got {cfg.weight_decay}")
    if not 0.0 <= float(cfg.label_smoothing) < 1.0:
        raise InvalidParameterError(f"label_smoothing must be in [0, 1), got {cfg.label_smoothing}")
    if not float(cfg.synops_penalty) >= 0.0:
        raise InvalidParameterError(f"synops_penalty must be >= 0, got {cfg.synops_penalty}")
    if cfg.budget_cpu_s is not None and not float(cfg.budget_cpu_s) > 0.0:
        raise InvalidParameterError(f"budget_cpu_s must be > 0, got {cfg.budget_cpu_s}")


def _check_event_augment(cfg: TrainConfig) -> None:
    from eventsnn.train.event_augment import EventAugment

    if EventAugment.from_spec(cfg.event_augment).active and (
            cfg.dataset is None or not dataset_spec(cfg.dataset).training_kwargs):
        raise InvalidParameterError(
            f"event_augment needs a dataset whose samples are windows of long recordings (e.g. dvs128objects), "
            f"not {cfg.dataset or cfg.data}")


def _check_choices(cfg: TrainConfig) -> None:
    if not is_val_split(cfg.val_split):
        raise InvalidParameterError(f"val_split must be {VAL_SPLIT_FORMS}, got {cfg.val_split!r}")
    if cfg.scheduler not in ("cosine", "none"):
        raise InvalidParameterError(f"scheduler must be cosine or none, got {cfg.scheduler!r}")
    if cfg.optimizer not in ("adam", "adamw"):
        raise InvalidParameterError(f"optimizer must be adam or adamw, got {cfg.optimizer!r}")
    if cfg.loss not in ("auto", "ce", "mse"):
        raise InvalidParameterError(f"loss must be auto, ce or mse, got {cfg.loss!r}")
    if not (cfg.device in ("auto", "cpu", "cuda") or cfg.device.startswith("cuda:")):
        raise InvalidParameterError(f"device must be auto, cpu, cuda or cuda:N, got {cfg.device!r}")


def _check_pretraining(cfg: TrainConfig) -> None:
    epochs = cfg.pretrain_epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise InvalidParameterError(f"pretrain_epochs must be an integer >= 0, got {epochs!r}")
    if not epochs:
        return
    if cfg.init_from is not None:
        raise InvalidParameterError("give either init_from (--init-from) or pre-training (--pretrain-epochs), not both")
    if cfg.pretrain_dataset is None:
        raise InvalidParameterError("pre-training needs a dataset (--pretrain-dataset)")
    spec = dataset_spec(cfg.pretrain_dataset)
    if cfg.data is None and spec.sensor_size != dataset_spec(str(cfg.dataset)).sensor_size:
        raise InvalidParameterError(
            f"pre-training on {spec.name} ({spec.sensor_size}) cannot start a model for {cfg.dataset} "
            f"({dataset_spec(str(cfg.dataset)).sensor_size}): the sensors differ"
        )
