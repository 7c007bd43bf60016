"""Training and evaluation of spiking networks on event datasets (``eventsnn train`` / ``eval``).

Python API::

    from eventsnn.train import TrainConfig, train, evaluate_checkpoint, load_model

    result = train(TrainConfig(dataset="nmnist", T=2, out="runs/nmnist-T2"))   # the N-MNIST T=2 recipe
    print(result.best_val_acc, result.best_checkpoint)
    model, info = load_model(result.best_checkpoint)           # rebuilt from the file alone
    r = evaluate_checkpoint(result.best_checkpoint, split="val", T=1)   # same hold-out, T=1
    print(r.accuracy, r.spike_rates)

Modules: :mod:`~eventsnn.train.config` (settings), :mod:`~eventsnn.train.recipes` (the settings
chosen by measurement, per dataset and T), :mod:`~eventsnn.train.data` (the run's train and
validation frames; which recordings is up to :mod:`eventsnn.datasets.selection`),
:mod:`~eventsnn.train.loop` (the run and its stages), :mod:`~eventsnn.train.stage` (one stage: the
epochs), :mod:`~eventsnn.train.pretrain` (the pre-training stage), :mod:`~eventsnn.train.cache`
(simulated sets and pre-trained weights on disk), :mod:`~eventsnn.train.checkpoint` (atomic save,
``weights_only`` load, ``load_model``), :mod:`~eventsnn.train.distributed` (torchrun/DDP),
:mod:`~eventsnn.train.metrics` (CSV/JSON/PNG), :mod:`~eventsnn.train.evaluate` (accuracy, confusion
matrix, spike rates), :mod:`~eventsnn.train.regularize` (the penalty on synaptic operations,
``TrainConfig(synops_penalty=...)`` / ``--synops-penalty``).
"""

import sys
import types
from typing import Any

from eventsnn._deprecation import deprecated_names
from eventsnn.train.checkpoint import load_checkpoint, load_model, save_checkpoint
from eventsnn.train.config import TrainConfig, _legacy_defaults, resolve_config
from eventsnn.train.data import DataBundle, FrameSet, eval_frames, load_frames, prepare_data
from eventsnn.train.evaluate import EvalResult, evaluate, evaluate_checkpoint, save_eval
from eventsnn.train.loop import TrainResult, model_config_for, seed_everything, train
from eventsnn.train.recipes import RECIPES, Recipe, find_recipe, get_recipe
from eventsnn.train.regularize import SynOpsPenalty

__all__ = [
    "DataBundle",
    "EvalResult",
    "FrameSet",
    "RECIPES",
    "Recipe",
    "SynOpsPenalty",
    "TrainConfig",
    "TrainResult",
    "eval_frames",
    "evaluate",
    "evaluate_checkpoint",
    "find_recipe",
    "get_recipe",
    "load_checkpoint",
    "load_frames",
    "load_model",
    "model_config_for",
    "prepare_data",
    "resolve_config",
    "save_checkpoint",
    "save_eval",
    "seed_everything",
    "train",
]


__getattr__ = deprecated_names(__name__, {
    "DATASET_DEFAULTS": (_legacy_defaults, "use eventsnn.datasets.DATASETS[name].training"),
})


class _TrainPackage(types.ModuleType):
    """``eventsnn.train`` is this package and, as ``from eventsnn import train``, the function
    :func:`train`: calling the package calls it."""

    def __call__(self, config: TrainConfig | dict[str, Any]) -> TrainResult:
        return train(config)


sys.modules[__name__].__class__ = _TrainPackage
