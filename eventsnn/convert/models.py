"""ANN models for ANN-to-SNN conversion: CIFAR-style ResNets and VGG-style nets.

Every activation is its own ``nn.ReLU`` (or :class:`QCFS`) module, so converters (ours and
SpikingJelly's FX converter) find one activation module per spiking layer. Convolutions are
always followed by batch norm inside a :class:`ConvBN` unit, which :mod:`eventsnn.convert.fold`
folds into the convolution.

A model is fully described by a :class:`ModelConfig`; ``build_model(config)`` rebuilds it, which
is how checkpoints and converted SNN files are made loadable from the file alone.

Residual block layouts (``ModelConfig.block``):

* ``"post"`` (He et al. 2016): ``out = act(F(x) + shortcut(x))``; a spiking neuron sits after
  the addition. ``shortcut_act`` is an identity slot where the converter may insert an extra
  IF neuron on identity shortcuts (restructuring option 2).
* ``"pre"`` (no activation after the addition, restructuring option 1): the residual stream is
  never passed through a neuron; every block starts with its own activation,
  ``s = act1(x)``, ``out = shortcut(x or s) + bn2(conv2(act2(bn1(conv1(s)))))``. A final
  activation precedes the pooling and classifier, so every convolution and the classifier
  receive spikes in the converted SNN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from eventsnn.errors import InvalidParameterError

RESNET_DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet44": 7, "resnet56": 9, "resnet110": 18}
VGG_CFGS: dict[str, list[int | str]] = {
    "vgg5": [32, "M", 64, "M", 128, "M"],
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
}
ARCHS = tuple(RESNET_DEPTHS) + tuple(VGG_CFGS)
ACTIVATIONS = ("relu", "qcfs")
BLOCKS = ("post", "pre")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild an ANN (and the structure of its converted SNN).

    Attributes:
        arch: one of :data:`ARCHS` (``resnet20`` ... ``resnet110``, ``vgg5``, ``vgg11``, ``vgg16``).
        in_channels: image channels (3 for CIFAR-10, 1 for MNIST).
        n_classes: number of output classes.
        act: ``"relu"`` or ``"qcfs"`` (quantisation clip-floor-shift activation, Bu et al. 2022).
        levels: QCFS quantisation levels L.
        lam_init: initial QCFS clip level λ.
        block: residual block layout, ``"post"`` or ``"pre"`` (ignored by VGG).
        width: channel multiplier (ResNet base width 16 at 1.0; VGG widths scaled).
    """

    arch: str = "resnet20"
    in_channels: int = 3
    n_classes: int = 10
    act: str = "relu"
    levels: int = 4
    lam_init: float = 4.0
    block: str = "post"
    width: float = 1.0

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise InvalidParameterError(f"unknown arch {self.arch!r}; choose from {ARCHS}")
        if self.act not in ACTIVATIONS:
            raise InvalidParameterError(f"unknown activation {self.act!r}; choose from {ACTIVATIONS}")
        if self.block not in BLOCKS:
            raise InvalidParameterError(f"unknown block {self.block!r}; choose from {BLOCKS}")
        if self.levels < 1 or self.in_channels < 1 or self.n_classes < 2 or self.width <= 0:
            raise InvalidParameterError(f"invalid model config {self}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class _QCFSFunction(torch.autograd.Function):
    """Fused QCFS forward with the straight-through gradient of Bu et al. (2022).

    ``u = x/λ``, ``q = clamp(floor(u·L + 1/2), 0, L)``, ``y = λ·q/L``;
    ``dy/dx = 1[0 < u < 1]`` and ``dy/dλ = q/L − u·1[0 < u < 1]`` (floor passed straight through).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: torch.Tensor, levels: int) -> torch.Tensor:  # noqa: D102
        u = x / lam
        q = torch.floor(u * levels + 0.5).clamp_(0, levels)
        ctx.save_for_backward(u, q, lam)
        ctx.levels = levels
        return q * (lam / levels)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: D102
        u, q, lam = ctx.saved_tensors
        inside = (u > 0) & (u < 1)
        grad_x = grad * inside if ctx.needs_input_grad[0] else None
        grad_lam = None
        if ctx.needs_input_grad[1]:
            grad_lam = (grad * (q / ctx.levels - u * inside)).sum().reshape(lam.shape)
        return grad_x, grad_lam, None


class QCFS(nn.Module):
    """Quantisation clip-floor-shift activation ``λ·clip(floor(z·L/λ + 1/2)/L, 0, 1)``.

    λ (``lam``) is learnable; the gradient of floor is passed straight through. An IF neuron with
    threshold λ, reset by subtraction and initial membrane λ/2 reproduces it in expectation.
    """

    def __init__(self, levels: int = 4, lam_init: float = 4.0) -> None:
        super().__init__()
        self.levels = int(levels)
        self.lam = nn.Parameter(torch.tensor(float(lam_init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _QCFSFunction.apply(x, self.lam, self.levels)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, lam={float(self.lam):.4f}"


def make_act(config: ModelConfig) -> nn.Module:
    """A fresh activation module of the kind the config asks for."""
    if config.act == "qcfs":
        return QCFS(config.levels, config.lam_init)
    return nn.ReLU()


class ConvBN(nn.Module):
    """``bn(conv(x))``; :func:`eventsnn.convert.fold.fold_bn` folds ``bn`` into ``conv``."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class PostBlock(nn.Module):
    """``act2(shortcut_act(shortcut(x)) + cb2(act1(cb1(x))))`` (activation after the add)."""

    def __init__(self, cin: int, cout: int, stride: int, config: ModelConfig) -> None:
        super().__init__()
        self.cb1 = ConvBN(cin, cout, 3, stride)
        self.act1 = make_act(config)
        self.cb2 = ConvBN(cout, cout, 3, 1)
        self.identity = stride == 1 and cin == cout
        self.shortcut: nn.Module = nn.Identity() if self.identity else ConvBN(cin, cout, 1, stride)
        self.shortcut_act: nn.Module = nn.Identity()
        self.act2 = make_act(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.cb2(self.act1(self.cb1(x)))
        return self.act2(self.shortcut_act(self.shortcut(x)) + branch)


class PreBlock(nn.Module):
    """``shortcut + cb2(act2(cb1(act1(x))))`` with no activation after the addition.

    The identity shortcut carries the (non-spiking) residual stream ``x``; a projection
    shortcut ``ConvBN`` reads the activated ``act1(x)`` so that it receives spikes in the SNN.
    """

    def __init__(self, cin: int, cout: int, stride: int, config: ModelConfig) -> None:
        super().__init__()
        self.act1 = make_act(config)
        self.cb1 = ConvBN(cin, cout, 3, stride)
        self.act2 = make_act(config)
        self.cb2 = ConvBN(cout, cout, 3, 1)
        self.identity = stride == 1 and cin == cout
        self.shortcut: nn.Module = nn.Identity() if self.identity else ConvBN(cin, cout, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.act1(x)
        branch = self.cb2(self.act2(self.cb1(s)))
        return (self.shortcut(x) if self.identity else self.shortcut(s)) + branch


class CifarResNet(nn.Module):
    """CIFAR ResNet-(6n+2) (He et al. 2016): 3 stages of n basic blocks, widths 16/32/64.

    Input ``[B, C, H, W]``; output logits ``[B, n_classes]``. Projection (1x1 conv + BN)
    shortcuts where the shape changes.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        n = RESNET_DEPTHS[config.arch]
        widths = [max(1, round(w * config.width)) for w in (16, 32, 64)]
        self.stem = ConvBN(config.in_channels, widths[0], 3, 1)
        self.stem_act: nn.Module = make_act(config) if config.block == "post" else nn.Identity()
        block_cls = PostBlock if config.block == "post" else PreBlock
        cin = widths[0]
        stages = []
        for i, w in enumerate(widths):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block_cls(cin, w, stride, config))
                cin = w
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.final_act: nn.Module = make_act(config) if config.block == "pre" else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, config.n_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_act(self.stem(x))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.head(x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.final_act(x)), 1))

    def stages(self) -> list[nn.Module]:
        """The forward pass as a chain of modules (stem, every block, head):
        ``forward(x) == reduce(lambda h, s: s(h), stages(), x)``."""
        return [nn.Sequential(self.stem, self.stem_act), *self.layer1, *self.layer2,
                *self.layer3, nn.Sequential(self.final_act, self.pool, nn.Flatten(1), self.fc)]


class VGG(nn.Module):
    """VGG-style net: [ConvBN + act] stages with 2x2 average pooling, global average pool, linear.

    Average (not max) pooling keeps the network linear between activations, which conversion
    needs. Input ``[B, C, H, W]``; output ``[B, n_classes]``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        cin = config.in_channels
        for v in VGG_CFGS[config.arch]:
            if v == "M":
                layers.append(nn.AvgPool2d(2))
            else:
                cout = max(1, round(int(v) * config.width))
                layers += [ConvBN(cin, cout, 3, 1), make_act(config)]
                cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, config.n_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(x), 1))

    def stages(self) -> list[nn.Module]:
        """The forward pass as a chain of modules (every feature layer, head)."""
        return [*self.features, nn.Sequential(self.pool, nn.Flatten(1), self.fc)]


def _init_weights(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_model(config: ModelConfig) -> nn.Module:
    """Build the ANN described by ``config`` (random weights)."""
    if config.arch in RESNET_DEPTHS:
        return CifarResNet(config)
    return VGG(config)


def activation_names(model: nn.Module) -> list[str]:
    """Names of the activation modules (ReLU / QCFS) in execution order."""
    return [n for n, m in model.named_modules() if isinstance(m, (nn.ReLU, QCFS))]


def count_layers(model: nn.Module) -> int:
    """Weight layers (convolutions + linear), the usual "depth" of a ResNet (110 for ResNet-110,
    plus projection shortcuts)."""
    return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
