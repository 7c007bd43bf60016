"""Public conversion API: ANN -> :class:`~eventsnn.convert.ifsim.SpikingNetwork`, save/load,
evaluation.

Pipeline of :func:`convert`: copy the ANN, fold BN into the convolutions, replace every
activation by an IF neuron (reset by subtraction, initial membrane 0 or θ/2), set base
thresholds (QCFS λ, or activation max / percentile on calibration images), apply the residual
restructuring option, tie thresholds if asked, then tune per-layer threshold scales for the
target T (:mod:`eventsnn.convert.ttrbr`).

A saved SNN file stores the ANN architecture config, the conversion options (incl. T) and the
state dict (folded weights and thresholds), so :func:`load_snn` rebuilds it from the file alone.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from eventsnn.checkpoints import error_summary
from eventsnn.convert.calibrate import activation_statistics, take_images
from eventsnn.convert.checkpoint import SNN_FORMAT, atomic_save, load_payload
from eventsnn.convert.fold import fold_bn
from eventsnn.convert.ifsim import V_INITS, IFNeuron, SpikingNetwork, cumulative_mean
from eventsnn.convert.models import QCFS, ModelConfig, build_model
from eventsnn.convert.ttrbr import (
    DEFAULT_GRID,
    RESIDUAL_OPTIONS,
    restructure,
    tie_thresholds,
    tune_thresholds,
    tune_thresholds_output,
)
from eventsnn.errors import CheckpointError, InvalidParameterError

THRESHOLD_MODES = ("auto", "lambda", "max", "percentile")
OBJECTIVES = ("layer", "output", "both")


def _set_submodule(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, leaf, module)


def snn_structure(config: ModelConfig, options: dict) -> nn.Module:
    """A body with the layout of a converted SNN (folded convs, IF neurons, restructuring),
    random weights and unit thresholds; ``load_state_dict`` then fills it in."""
    body = fold_bn(build_model(config))
    _replace_activations(body, {}, options.get("v_init", "half"), bool(options.get("signed", False)))
    restructure(body, options.get("residual", "standard"), options.get("v_init", "half"))
    return body


def _replace_activations(body: nn.Module, thresholds: dict[str, float], v_init: str,
                         signed: bool = False) -> None:
    names = [n for n, m in body.named_modules() if isinstance(m, (nn.ReLU, QCFS))]
    for n in names:
        _set_submodule(body, n, IFNeuron(thresholds.get(n, 1.0), v_init, signed=signed))


def base_thresholds(ann: nn.Module, x: torch.Tensor, mode: str = "auto",
                    percentile: float = 99.99) -> dict[str, float]:
    """Starting thresholds per activation name.

    ``"lambda"``: the QCFS clip level λ of each activation (QCFS ANNs only); ``"max"`` /
    ``"percentile"``: statistics of the ANN activations on ``x``; ``"auto"``: λ for QCFS ANNs,
    the ``percentile`` statistic otherwise.
    """
    if mode not in THRESHOLD_MODES:
        raise InvalidParameterError(f"threshold mode must be one of {THRESHOLD_MODES}, got {mode!r}")
    acts = {n: m for n, m in ann.named_modules() if isinstance(m, (nn.ReLU, QCFS))}
    is_qcfs = all(isinstance(m, QCFS) for m in acts.values())
    if mode == "auto":
        mode = "lambda" if is_qcfs else "percentile"
    if mode == "lambda":
        if not is_qcfs:
            raise InvalidParameterError("threshold mode 'lambda' needs a QCFS ANN (act='qcfs')")
        return {n: float(m.lam.detach().abs()) for n, m in acts.items()}
    stats = activation_statistics(ann, x, list(acts), mode, percentile)
    return {n: max(v, 1e-3) for n, v in stats.items()}


def convert(ann: nn.Module, calib: Iterable | torch.Tensor, T: int = 8, *,
            v_init: str = "half", threshold: str = "auto", percentile: float = 99.99,
            residual: str = "standard", signed: bool = False, tune: bool = True, objective: str = "output",
            n_output: int = 128, sweeps: int = 1, bias_correction: bool = False,
            grid: Sequence[float] = DEFAULT_GRID, n_calib: int = 256,
            mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
            ) -> SpikingNetwork:
    """Convert an eventsnn ANN (built by ``build_model``) into an SNN for ``T`` time steps.

    Args:
        ann: trained ANN with ``.config`` (ReLU or QCFS activations); not modified.
        calib: calibration images: a tensor ``[N, C, H, W]``, a dataset or a DataLoader of
            ``(x, y)``; the first ``n_calib`` images are used (for statistics and tuning).
        T: number of time steps the SNN will run (thresholds are tuned for it).
        v_init: initial membrane potential, ``"half"`` (θ/2) or ``"zero"``.
        threshold: base thresholds, see :func:`base_thresholds`.
        percentile: percentile for ``threshold="percentile"`` (and ``"auto"`` on ReLU nets).
        residual: restructuring option, one of :data:`~eventsnn.convert.ttrbr.RESIDUAL_OPTIONS`.
        signed: signed IF neurons (negative spikes take back premature positive ones, see
            :func:`~eventsnn.convert.ifsim.if_multistep`); an addition to TTRBR that removes most
            of the deviation error at T <= 8.
        tune: run threshold tuning (else the base thresholds are kept).
        objective: ``"layer"`` (per-layer rate error, one greedy pass), ``"output"`` (greedy
            coordinate search on the KL divergence between ANN and SNN outputs over the first
            ``n_output`` calibration images, ``sweeps`` passes) or ``"both"`` (layer, then
            output); see :mod:`eventsnn.convert.ttrbr`.
        bias_correction: with tuning, also calibrate a per-channel bias current per layer
            (see :func:`~eventsnn.convert.ttrbr.tune_thresholds`).
        grid: candidate threshold scales for tuning.
        mean, std: input normalisation to record in the SNN (for saved files).

    Returns:
        :class:`SpikingNetwork`; ``snn.options["tuning"]`` holds the per-layer tuning report.
    """
    if not hasattr(ann, "config") or not isinstance(ann.config, ModelConfig):
        raise InvalidParameterError("convert() needs an ANN built by eventsnn.convert.build_model")
    if int(T) < 1:
        raise InvalidParameterError(f"T must be >= 1, got {T}")
    if v_init not in V_INITS:
        raise InvalidParameterError(f"v_init must be one of {V_INITS}, got {v_init!r}")
    if objective not in OBJECTIVES:
        raise InvalidParameterError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if residual not in RESIDUAL_OPTIONS:
        raise InvalidParameterError(f"residual must be one of {RESIDUAL_OPTIONS}, got {residual!r}")
    x = take_images(calib, n_calib).float()
    thetas = base_thresholds(ann, x, threshold, percentile)
    body = fold_bn(copy.deepcopy(ann))  # the ANN itself is left untouched
    _replace_activations(body, thetas, v_init, signed)
    groups = restructure(body, residual, v_init)
    tie_thresholds(body, groups)
    options = {"T": int(T), "v_init": v_init, "threshold": threshold, "percentile": percentile,
               "residual": residual, "signed": bool(signed), "tuned": bool(tune),
               "objective": objective if tune else None,
               "bias_correction": bool(tune and bias_correction), "n_calib": int(len(x))}
    snn = SpikingNetwork(body, ann.config.to_dict(), options, mean, std).eval()
    if tune:
        report: dict[str, dict[str, float]] = {}
        if objective in ("layer", "both"):
            report = tune_thresholds(snn, ann, x, int(T), grid, groups,
                                     bias_correction=bias_correction)
        if objective in ("output", "both"):
            out = tune_thresholds_output(snn, ann, x[:n_output], int(T), sweeps=sweeps,
                                         groups=groups)
            for n, r in out.items():
                report.setdefault(n, {}).update({f"output_{k}": v for k, v in r.items()})
        snn.options["tuning"] = {n: {k: float(v) for k, v in r.items()} for n, r in report.items()}
    return snn


def save_snn(snn: SpikingNetwork, path: str | Path) -> Path:
    """Write ``snn`` so that :func:`load_snn` can rebuild it from the file alone."""
    payload = {"format": SNN_FORMAT, "version": 1, "arch": snn.arch, "options": snn.options,
               "mean": snn.mean, "std": snn.std, "state_dict": snn.body.state_dict()}
    return atomic_save(payload, path)


def load_snn(path: str | Path) -> SpikingNetwork:
    """Rebuild a converted SNN saved by :func:`save_snn` (``torch.load(weights_only=True)``)."""
    payload = load_payload(path, SNN_FORMAT)
    try:
        config = ModelConfig.from_dict(payload["arch"])
        body = snn_structure(config, payload["options"])
        state = payload["state_dict"]
        for name, m in body.named_modules():  # size the optional per-channel bias currents
            key = f"{name}.bias"
            if isinstance(m, IFNeuron) and key in state:
                m.bias = torch.zeros_like(state[key])
        body.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: cannot rebuild the SNN: {error_summary(exc)}") from exc
    return SpikingNetwork(body, payload["arch"], payload["options"],
                          payload.get("mean"), payload.get("std")).eval()


@torch.no_grad()
def evaluate_ann(ann: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy (0..1) of ``ann`` on images ``x`` ``[N, C, H, W]``, labels ``y`` ``[N]``."""
    ann.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        correct += int((ann(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
    return correct / len(x)


@torch.no_grad()
def evaluate_snn(snn: SpikingNetwork, x: torch.Tensor, y: torch.Tensor, T: int | None = None,
                 max_batch_steps: int = 4096, progress: bool = False) -> np.ndarray:
    """Accuracy (0..1) after each of ``1..T`` steps: ``acc[t-1]`` uses the mean output of the
    first t steps. Batches hold at most ``max_batch_steps`` image-steps (``T·B``)."""
    T = snn.T if T is None else int(T)
    bs = max(1, max_batch_steps // T)
    correct = torch.zeros(T, dtype=torch.long)
    starts = range(0, len(x), bs)
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc=f"SNN T={T}", leave=False)
    for i in starts:
        out = cumulative_mean(snn.forward_static(x[i:i + bs], T))
        correct += (out.argmax(-1) == y[i:i + bs].unsqueeze(0)).sum(1)
    return (correct.double() / len(x)).numpy()
