"""Training curves are titled with the run, the dataset and T."""

from __future__ import annotations


def test_curves_are_titled_with_run_dataset_and_T(tmp_path, monkeypatch):
    from eventsnn.train.metrics import run_title, write_metrics

    config = {"model": {"preset": "nmnist"}, "stc": {"T": 2}, "data": {"dataset": "nmnist", "data": None}}
    assert run_title(tmp_path / "nmnist-T2", config) == "run nmnist-T2: nmnist, T=2 (nmnist model)"
    from_file = {"model": {"preset": "synthetic"}, "stc": {"T": 4}, "data": {"dataset": None, "data": "/d/x.h5"}}
    assert run_title("runs/a", from_file) == "run a: x.h5, T=4 (synthetic model)"
    titles = []
    import eventsnn.viz.training as training

    monkeypatch.setattr(training, "save", lambda fig, path, dpi: titles.append(fig._suptitle.get_text()) or path)
    hist = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0, "train_acc": 0.5, "val_acc": 0.5}]
    paths = write_metrics(tmp_path / "nmnist-T2", hist, {"epoch": 1, "val_acc": 0.5}, config)
    assert titles == ["run nmnist-T2: nmnist, T=2 (nmnist model)"] and paths["csv"].is_file() and paths["json"].is_file()
