"""Recipes: the table, which recipe a run gets, and how given settings override it (no training)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from eventsnn.cli import build_parser, main
from eventsnn.cli.train import config_from_args
from eventsnn.datasets import DATASETS
from eventsnn.errors import InvalidParameterError
from eventsnn.train import RECIPES, TrainConfig, find_recipe, get_recipe
from eventsnn.train.config import BARE_DEFAULTS, resolve_config
from eventsnn.train.recipes import recipes_markdown

#: the recipe table lives in the command reference (the README links it)
CLI_DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _resolved(*argv: str) -> TrainConfig:
    """The resolved settings of ``eventsnn train ARGV``."""
    return resolve_config(config_from_args(build_parser().parse_args(["train", *argv])))


def test_lookup_by_dataset_and_T() -> None:
    assert find_recipe("nmnist", 1).name == "nmnist-T1"
    assert find_recipe("nmnist", 2).name == "nmnist-T2"
    assert find_recipe("nmnist", 10).name == "nmnist-T10"
    assert find_recipe("nmnist", None).name == "nmnist-T1"  # the default T
    assert find_recipe("nmnist", 3) is None  # not measured at T = 3: bare defaults
    assert find_recipe("dvsgesture", 8).name == "dvsgesture"  # the dataset's any-T entry
    for T in (None, 1, 2, 4):  # measured on the simulated set at T = 1, 2, 4; the real set gets the same
        assert find_recipe("cifar10dvs-sim", T).name == "cifar10dvs-sim"
        assert find_recipe("cifar10dvs", T).settings == find_recipe("cifar10dvs-sim", T).settings
    assert find_recipe(None, 1) is None
    assert get_recipe("plif").dataset is None
    with pytest.raises(InvalidParameterError, match="unknown recipe 'nope'.*nmnist-T1"):
        get_recipe("nope")


def test_the_table_is_complete_and_every_entry_resolves() -> None:
    names = [r.name for r in RECIPES]
    assert len(names) == len(set(names))
    recipe_fields = {f.name for f in dataclasses.fields(TrainConfig) if f.default is None} | {"model",
                                                                                              "dataset_options"}
    for dataset in DATASETS:  # every dataset has its entry, measured or flagged as not
        assert find_recipe(dataset, None) is not None, dataset
    for r in RECIPES:
        assert set(r.settings) <= recipe_fields, (r.name, set(r.settings) - recipe_fields)
        assert r.result and r.chosen_by
        if not r.settings:
            assert r.result == "not measured" or "not compared" in r.result
        cfg = resolve_config(TrainConfig(dataset=r.dataset or "nmnist", recipe=r.name))
        assert cfg.recipe == r.name
        for key, value in r.config_values().items():
            if key == "dataset_options":  # merged over the dataset's defaults
                assert cfg.dataset_options.items() >= value.items(), (r.name, key)
            else:
                assert getattr(cfg, key) == value, (r.name, key)
    assert sum(r.default for r in RECIPES if r.dataset == "nmnist") == 1


def test_python_api_applies_the_recipe_and_none_gives_the_bare_defaults() -> None:
    cfg = resolve_config(TrainConfig(dataset="nmnist", T=1))
    assert cfg.recipe == "nmnist-T1"
    assert (cfg.ratio, cfg.mode, cfg.decay, cfg.batch_size, cfg.epochs) == (8, "exp", 0.5, 32, 15)
    assert (cfg.label_smoothing, cfg.augment) == (0.1, "shift=2,rotation=15")
    assert cfg.model == {"n_thresholds": 2, "scb": "first", "input_transform": "log1p", "channels": [32, 128]}
    assert (cfg.pretrain_dataset, cfg.pretrain_epochs) == ("nmnist-sim", 4)
    assert (cfg.lr, cfg.pretrain_lr) == (3e-4, 1e-3)  # pre-training at 1e-3, fine-tuning at 3e-4
    t2 = resolve_config(TrainConfig(dataset="nmnist", T=2))
    assert (t2.lr, t2.pretrain_lr, t2.model["channels"]) == (1e-3, 1e-3, [32, 128])  # pretrain_lr: lr's
    assert (t2.pretrain_dataset, t2.pretrain_epochs, t2.epochs) == ("nmnist-sim", 16, 15)  # T = 2 pre-trains longer
    assert resolve_config(cfg) == cfg  # resolving twice changes nothing
    assert resolve_config(TrainConfig(dataset="nmnist")).T == 1  # no T: the default recipe's
    c10 = resolve_config(TrainConfig(dataset="cifar10dvs-sim", T=2))
    assert (c10.recipe, c10.T, c10.ratio, c10.mode, c10.batch_size, c10.augment) == (
        "cifar10dvs-sim", 2, 8, "exp", 32, "shift=2")
    assert c10.model == {"n_thresholds": 2, "scb": "first", "input_transform": "log1p"}
    assert resolve_config(TrainConfig(dataset="cifar10dvs")).T == 4  # no T: the dataset's
    bare = resolve_config(TrainConfig(dataset="nmnist", recipe="none"))
    assert bare.recipe == "none" and bare.model == {} and bare.augment is None
    assert (bare.preset, bare.T, bare.epochs, bare.batch_size, bare.pretrain_epochs) == ("nmnist", 4, 15, 16, 0)
    assert {k: getattr(bare, k) for k in BARE_DEFAULTS} == dict(BARE_DEFAULTS)
    # T without a recipe: bare defaults, said in the resolved settings
    assert resolve_config(TrainConfig(dataset="nmnist", T=3)).recipe == "none"
    # a named recipe sets the dataset; one for another dataset is refused
    assert resolve_config(TrainConfig(recipe="nmnist-T2")).dataset == "nmnist"
    with pytest.raises(InvalidParameterError, match="recipe nmnist-T1 is for nmnist, not dvsgesture"):
        resolve_config(TrainConfig(dataset="dvsgesture", recipe="nmnist-T1"))
    # init_from replaces the recipe's pre-training; given together they are refused
    assert resolve_config(TrainConfig(dataset="nmnist", T=1, init_from="x.pt")).pretrain_epochs == 0
    with pytest.raises(InvalidParameterError, match="not both"):
        resolve_config(TrainConfig(dataset="nmnist", T=1, init_from="x.pt", pretrain_epochs=2))
    with pytest.raises(InvalidParameterError, match="sensors differ"):
        resolve_config(TrainConfig(dataset="dvsgesture", pretrain_dataset="nmnist-sim", pretrain_epochs=1))


def test_each_flag_overrides_one_setting() -> None:
    recipe = _resolved("--dataset", "nmnist", "--T", "1").to_dict()
    assert recipe["recipe"] == "nmnist-T1"
    for argv, changed in [
        (["--epochs", "3"], {"epochs": 3}),
        (["--lr", "1e-4"], {"lr": 1e-4}),
        (["--pretrain-lr", "3e-4"], {"pretrain_lr": 3e-4}),
        (["--mode", "sum"], {"mode": "sum"}),
        (["--augment", "none"], {"augment": "none"}),
        (["--pretrain-epochs", "2"], {"pretrain_epochs": 2}),
        (["--batch-size", "8", "--label-smoothing", "0"], {"batch_size": 8, "label_smoothing": 0.0}),
    ]:
        got = _resolved("--dataset", "nmnist", "--T", "1", *argv).to_dict()
        assert {k: v for k, v in got.items() if got[k] != recipe[k]} == changed, argv
    # model options merge over the recipe's model overrides, key by key
    k4 = _resolved("--dataset", "nmnist", "--T", "1", "--K", "4", "--channels", "8", "16")
    assert k4.model == {"n_thresholds": 4, "scb": "first", "input_transform": "log1p", "channels": [8, 16]}
    # --pretrain-epochs 0: no pre-training at all
    none = _resolved("--dataset", "nmnist", "--T", "1", "--pretrain-epochs", "0")
    assert none.pretrain_dataset is None and none.pretrain_lr is None
    # --recipe none: exactly the bare defaults of the Python API
    assert _resolved("--dataset", "nmnist", "--recipe", "none").to_dict() == dataclasses.replace(
        resolve_config(TrainConfig(dataset="nmnist", recipe="none")), out="runs/nmnist").to_dict()
    plif = _resolved("--dataset", "nmnist", "--T", "2", "--recipe", "plif")
    assert (plif.preset, plif.loss, plif.batch_size, plif.epochs, plif.mode, plif.pretrain_epochs) == (
        "plif", "mse", 16, 15, "sum", 0)


def test_help_and_docs_list_the_recipes(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for r in RECIPES:
        assert r.name in out
    assert "98.1 ± 0.9%" in out and "--cache-dir" in out and "--pretrain-lr" in out and "--overwrite" in out
    assert recipes_markdown() in CLI_DOC.read_text(), "docs/cli.md's recipe table is not recipes_markdown()"
    readme = (CLI_DOC.parents[1] / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `")]
    for r in RECIPES:  # the README's short list names every recipe
        assert any(f"`{r.name}`" in line for line in table), r.name


def test_bad_values_raise_before_any_work() -> None:
    with pytest.raises(InvalidParameterError, match="threads"):
        resolve_config(TrainConfig(threads=0))
    with pytest.raises(InvalidParameterError, match="pretrain_epochs"):
        resolve_config(TrainConfig(dataset="nmnist", pretrain_epochs=-1))
    with pytest.raises(InvalidParameterError, match="pretrain_limit"):
        resolve_config(TrainConfig(dataset="nmnist", pretrain_limit=1))
    with pytest.raises(InvalidParameterError, match="pretrain_lr must be > 0"):
        resolve_config(TrainConfig(dataset="nmnist", pretrain_lr=0.0))
