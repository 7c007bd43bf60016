"""``eventsnn train-ann`` keeps an earlier run unless asked (--resume continues it, --overwrite
replaces it) and checks its settings before reading any image."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from eventsnn.cli import main
from eventsnn.convert.train_ann import TrainConfig, check_run_folder
from eventsnn.errors import InvalidParameterError, OutputExistsError


def _images(root) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for k, cls in enumerate(("dark", "light")):
            (root / split / cls).mkdir(parents=True)
            for i in range(4):
                arr = np.clip(40 + 160 * k + rng.normal(0, 20, (12, 12, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(root / split / cls / f"{i}.png")


def test_an_earlier_run_is_kept_unless_resume_or_overwrite(tmp_path, capsys) -> None:
    _images(tmp_path / "data")
    run = tmp_path / "run"
    args = ["train-ann", "--data", str(tmp_path / "data"), "--arch", "vgg5", "--width", "0.25",
            "--batch-size", "4", "--threads", "1", "--out", str(run)]
    assert main([*args, "--epochs", "1"]) == 0
    first = (run / "ann.pt").read_bytes()
    capsys.readouterr()
    assert main([*args, "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(run) in err and "--resume" in err and "--overwrite" in err
    assert (run / "ann.pt").read_bytes() == first
    assert main([*args, "--epochs", "1", "--overwrite", "--seed", "1"]) == 0
    assert (run / "ann.pt").read_bytes() != first
    assert [h["epoch"] for h in json.loads((run / "history.json").read_text())] == [1]
    with pytest.raises(OutputExistsError):
        check_run_folder(run)
    assert check_run_folder(run, resume=True) == run


def test_settings_out_of_range_name_the_setting() -> None:
    for kw, name in (({"epochs": 0}, "epochs"), ({"lr": 0.0}, "lr"), ({"threads": 0}, "threads"),
                     ({"momentum": 1.0}, "momentum"), ({"weight_decay": -1.0}, "weight_decay")):
        with pytest.raises(InvalidParameterError, match=f"^{name} must be"):
            TrainConfig(**kw).check()
